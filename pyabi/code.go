package pyabi

import (
	"fmt"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// Code is what the profiler keeps of one code object. Code objects are
// immutable, so one read serves every later sample that meets the same
// address.
type Code struct {
	Name      string // co_qualname on 3.11+, else co_name
	File      string
	FirstLine int
	lines     []byte // co_lnotab / co_linetable
	codec     LineCodec
}

// Line maps a bytecode position (see LineCodec.Line) to a source line,
// falling back to the first line when the table has none.
func (c *Code) Line(pos int) int {
	if l := c.codec.Line(c.lines, c.FirstLine, pos); l >= 0 {
		return l
	}
	return c.FirstLine
}

// maxCodeCache bounds the per-process code cache: a target that keeps
// compiling code (exec in a loop) must not grow our memory without end.
const maxCodeCache = 1 << 16

// codeReader reads and caches code objects.
type codeReader struct {
	l     Layout
	codec LineCodec
	strs  *stringDecoder
	cache map[uint64]*Code
	span  int
	buf   []byte
}

func newCodeReader(l Layout, codec LineCodec, strs *stringDecoder) *codeReader {
	c := l.Code
	span := maxOffset(c.Filename, c.Name, c.QualName, c.FirstLineNo, c.LineTable) + 8
	return &codeReader{l: l, codec: codec, strs: strs, cache: map[uint64]*Code{}, span: span, buf: make([]byte, span)}
}

// Get returns the code object at addr, from the cache when it was seen.
func (cr *codeReader) Get(r procmem.Reader, addr uint64) (*Code, error) {
	if c, ok := cr.cache[addr]; ok {
		return c, nil
	}
	c, err := cr.read(r, addr)
	if err != nil {
		return nil, err
	}
	if len(cr.cache) >= maxCodeCache {
		clear(cr.cache)
	}
	cr.cache[addr] = c
	return c, nil
}

func (cr *codeReader) read(r procmem.Reader, addr uint64) (*Code, error) {
	if addr == 0 {
		return nil, fmt.Errorf("code object at NULL: %w", procmem.ErrFault)
	}
	if err := procmem.ReadFull(r, cr.buf, addr); err != nil {
		return nil, fmt.Errorf("code object at %#x: %w", addr, err)
	}
	off := cr.l.Code
	nameField := off.Name
	if off.QualName != Absent {
		nameField = off.QualName
	}
	name, err := cr.strs.Read(r, le64(cr.buf[nameField:]))
	if err != nil {
		return nil, fmt.Errorf("code object at %#x: name: %w", addr, err)
	}
	file, err := cr.strs.Read(r, le64(cr.buf[off.Filename:]))
	if err != nil {
		return nil, fmt.Errorf("code object at %#x: filename: %w", addr, err)
	}
	lines, err := cr.strs.Bytes(r, le64(cr.buf[off.LineTable:]))
	if err != nil {
		return nil, fmt.Errorf("code object at %#x: line table: %w", addr, err)
	}
	first := int(int32(le32(cr.buf[off.FirstLineNo:])))
	return &Code{Name: name, File: file, FirstLine: first, lines: lines, codec: cr.codec}, nil
}

// maxOffset is the largest of the given offsets, ignoring Absent ones.
func maxOffset(offs ...int) int {
	m := 0
	for _, o := range offs {
		m = max(m, o)
	}
	return m
}
