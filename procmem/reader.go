// Package procmem reads another process's memory and the files that describe
// it: /proc/PID/maps, the ELF symbols and sections of its executable and
// shared libraries. It knows nothing about Python; pyabi builds on it.
package procmem

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Reader reads the memory of one address space. A short read is an error:
// callers never see a partially filled buffer as success.
type Reader interface {
	ReadAt(p []byte, addr uint64) (int, error)
}

// Span is one range of a batched read: Buf is filled from Addr.
type Span struct {
	Addr uint64
	Buf  []byte
}

// BatchReader reads many ranges in as few system calls as it can.
// ReadBatch fails if any span could not be read whole.
type BatchReader interface {
	Reader
	ReadBatch(spans []Span) error
}

// ErrFault reports an address that could not be read (unmapped, or a
// short read because the mapping ended).
var ErrFault = errors.New("bad address")

// ReadFull reads len(p) bytes at addr, failing on a short read.
func ReadFull(r Reader, p []byte, addr uint64) error {
	n, err := r.ReadAt(p, addr)
	if err != nil {
		return err
	}
	if n != len(p) {
		return fmt.Errorf("read %d of %d bytes at %#x: %w", n, len(p), addr, ErrFault)
	}
	return nil
}

// U64 reads a little-endian uint64 at addr.
func U64(r Reader, addr uint64) (uint64, error) {
	var b [8]byte
	if err := ReadFull(r, b[:], addr); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// Ptr reads a pointer at addr (x86_64/arm64: 8 bytes).
func Ptr(r Reader, addr uint64) (uint64, error) { return U64(r, addr) }

// U32 reads a little-endian uint32 at addr.
func U32(r Reader, addr uint64) (uint32, error) {
	var b [4]byte
	if err := ReadFull(r, b[:], addr); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

// I32 reads a little-endian int32 at addr.
func I32(r Reader, addr uint64) (int32, error) {
	v, err := U32(r, addr)
	return int32(v), err
}

// CString reads a NUL-terminated string of at most max bytes at addr.
// A string without a terminator within max bytes is an error.
func CString(r Reader, addr uint64, max int) (string, error) {
	buf := make([]byte, 0, 64)
	chunk := make([]byte, 64)
	for len(buf) < max {
		n := min(len(chunk), max-len(buf))
		// Read in small chunks: a long read may cross into an unmapped page.
		if err := ReadFull(r, chunk[:n], addr+uint64(len(buf))); err != nil {
			return "", err
		}
		for i := 0; i < n; i++ {
			if chunk[i] == 0 {
				return string(append(buf, chunk[:i]...)), nil
			}
		}
		buf = append(buf, chunk[:n]...)
	}
	return "", fmt.Errorf("string at %#x longer than %d bytes", addr, max)
}

// Bytes is a Reader over a byte image mapped at Base; tests and fuzzers use
// it to run the frame walk on memory they laid out themselves.
type Bytes struct {
	Base uint64
	Data []byte
}

// ReadAt implements Reader.
func (b Bytes) ReadAt(p []byte, addr uint64) (int, error) {
	if addr < b.Base || addr-b.Base > uint64(len(b.Data)) {
		return 0, fmt.Errorf("read at %#x: %w", addr, ErrFault)
	}
	n := copy(p, b.Data[addr-b.Base:])
	if n < len(p) {
		return n, fmt.Errorf("read %d bytes at %#x: %w", len(p), addr, ErrFault)
	}
	return n, nil
}

// ReadBatch implements BatchReader.
func (b Bytes) ReadBatch(spans []Span) error {
	for _, s := range spans {
		if _, err := b.ReadAt(s.Buf, s.Addr); err != nil {
			return err
		}
	}
	return nil
}
