package pyabi

import (
	"encoding/binary"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// MaxString bounds every string read from the target: names and file paths
// longer than this are rejected as corrupt rather than read.
const MaxString = 4096

// stringDecoder reads str objects (3.x PyUnicode, 2.7 PyString).
type stringDecoder struct {
	l         Layout
	kindShift uint // see unicodeKindShift
	bytesOnly bool // 2.7: identifiers and file names are PyStringObject
	buf       []byte
}

func newStringDecoder(l Layout, v Version) *stringDecoder {
	return &stringDecoder{l: l, kindShift: unicodeKindShift(v), bytesOnly: v.Major == 2, buf: make([]byte, 256)}
}

// unicodeKindShift is where the 3-bit kind starts in a str's state bit
// field: 2 on GIL builds ("interned:2"), 8 on free-threaded 3.14+, whose
// interned field is a whole byte (Include/cpython/unicodeobject.h, v3.14.0).
func unicodeKindShift(v Version) uint {
	if v.FreeThreaded && v.AtLeast(3, 14) {
		return 8
	}
	return 2
}

// header reads the fixed part of a string object into d.buf, or takes
// it from pre, a copy of the object's start, when that is long enough.
func (d *stringDecoder) header(r procmem.Reader, addr uint64, size int, pre []byte) ([]byte, error) {
	if addr == 0 {
		return nil, fmt.Errorf("string at NULL: %w", procmem.ErrFault)
	}
	if len(pre) >= size {
		return pre[:size], nil
	}
	if err := procmem.ReadFull(r, d.buf[:size], addr); err != nil {
		return nil, fmt.Errorf("string at %#x: %w", addr, err)
	}
	return d.buf[:size], nil
}

// Read decodes the str object at addr, made procmem.Printable: names
// from the target reach terminals and line-based outputs.
func (d *stringDecoder) Read(r procmem.Reader, addr uint64) (string, error) {
	return d.read(r, addr, nil)
}

// read is Read with pre, when not nil, a copy of the object's start: the
// parts it covers are not read again.
func (d *stringDecoder) read(r procmem.Reader, addr uint64, pre []byte) (string, error) {
	if d.bytesOnly {
		b, err := d.bytes(r, addr, pre)
		return procmem.Printable(string(b)), err
	}
	u := d.l.Unicode
	h, err := d.header(r, addr, u.CompactData, pre)
	if err != nil {
		return "", err
	}
	n := int(le64(h[u.Length:]))
	state := le32(h[u.State:])
	kind := int(state>>d.kindShift) & 7
	compact := state>>(d.kindShift+3)&1 == 1
	ascii := state>>(d.kindShift+4)&1 == 1
	if !compact {
		return "", fmt.Errorf("string at %#x is not compact (legacy form unsupported)", addr)
	}
	if n < 0 || n > MaxString {
		return "", fmt.Errorf("string at %#x: length %d out of range", addr, n)
	}
	data := uint64(u.CompactData)
	if ascii {
		data, kind = uint64(u.ASCIIData), 1
	}
	if kind != 1 && kind != 2 && kind != 4 {
		return "", fmt.Errorf("string at %#x: bad kind %d", addr, kind)
	}
	raw := make([]byte, n*kind)
	if err := readData(r, raw, addr, data, pre); err != nil {
		return "", fmt.Errorf("string data at %#x: %w", addr+data, err)
	}
	return procmem.Printable(decodeKind(raw, kind, ascii)), nil
}

// decodeKind turns PEP 393 storage into UTF-8: latin-1, UCS-2 or UCS-4.
func decodeKind(raw []byte, kind int, ascii bool) string {
	if ascii {
		return string(raw)
	}
	out := make([]byte, 0, len(raw))
	for i := 0; i+kind <= len(raw); i += kind {
		var c rune
		switch kind {
		case 1:
			c = rune(raw[i])
		case 2:
			c = rune(uint16(raw[i]) | uint16(raw[i+1])<<8)
			if utf16.IsSurrogate(c) {
				c = utf8.RuneError
			}
		default:
			c = rune(le32(raw[i:]))
		}
		out = utf8.AppendRune(out, c)
	}
	return string(out)
}

// readData fills out from the object at addr, off bytes in: from pre
// where it reaches that far, else with a read.
func readData(r procmem.Reader, out []byte, addr, off uint64, pre []byte) error {
	if end := off + uint64(len(out)); end <= uint64(len(pre)) {
		copy(out, pre[off:end])
		return nil
	}
	return procmem.ReadFull(r, out, addr+off)
}

// Bytes reads a bytes object (2.7 str) whole.
func (d *stringDecoder) Bytes(r procmem.Reader, addr uint64) ([]byte, error) {
	return d.bytes(r, addr, nil)
}

// bytes is Bytes with pre as in read.
func (d *stringDecoder) bytes(r procmem.Reader, addr uint64, pre []byte) ([]byte, error) {
	b := d.l.Bytes
	h, err := d.header(r, addr, b.Size+8, pre)
	if err != nil {
		return nil, err
	}
	n := int(le64(h[b.Size:]))
	if n < 0 || n > 1<<20 {
		return nil, fmt.Errorf("bytes at %#x: length %d out of range", addr, n)
	}
	out := make([]byte, n)
	if err := readData(r, out, addr, uint64(b.Data), pre); err != nil {
		return nil, fmt.Errorf("bytes data at %#x: %w", addr, err)
	}
	return out, nil
}

// le64 and le32 read a word of the target, little-endian on every
// platform the walk reads (x86_64, arm64); short names, for the many reads.
func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }
func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
