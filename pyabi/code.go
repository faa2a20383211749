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

// codeReader reads code objects and caches them by address. A code object
// can be freed and its address reused by another (at startup and wherever
// code is compiled at run time), so every use re-reads the object's header
// (batched for a whole stack) and a cached entry counts only if the
// header's name, file and line table pointers and first line still match.
type codeReader struct {
	l         Layout
	codec     LineCodec
	strs      *stringDecoder
	cache     map[uint64]cachedCode
	span      int // bytes of header read per code object
	nameField int

	hdrs  []byte
	spans []procmem.Span
	out   []*Code
}

type cachedCode struct {
	code *Code
	fp   fingerprint
}

// fingerprint is what identifies a code object beyond its address.
type fingerprint struct {
	name, file, lines uint64
	first             uint32
}

func newCodeReader(l Layout, codec LineCodec, strs *stringDecoder) *codeReader {
	c := l.Code
	nameField := c.Name
	if c.QualName != Absent {
		nameField = c.QualName
	}
	span := maxOffset(c.Filename, c.Name, c.QualName, c.FirstLineNo, c.LineTable) + 8
	return &codeReader{l: l, codec: codec, strs: strs, cache: map[uint64]cachedCode{}, span: span, nameField: nameField}
}

// GetAll resolves the code objects of a stack's frames, reading all their
// headers in one batch. The result is valid until the next call.
func (cr *codeReader) GetAll(r procmem.Reader, frames []pendingFrame) ([]*Code, error) {
	n := len(frames)
	if need := n * cr.span; cap(cr.hdrs) < need {
		cr.hdrs = make([]byte, need)
	}
	cr.spans = cr.spans[:0]
	for i, f := range frames {
		if f.code == 0 {
			return nil, fmt.Errorf("code object at NULL: %w", procmem.ErrFault)
		}
		cr.spans = append(cr.spans, procmem.Span{Addr: f.code, Buf: cr.hdrs[i*cr.span : (i+1)*cr.span]})
	}
	if err := readSpans(r, cr.spans); err != nil {
		return nil, fmt.Errorf("code objects: %w", err)
	}
	cr.out = cr.out[:0]
	for i, f := range frames {
		c, err := cr.get(r, f.code, cr.spans[i].Buf)
		if err != nil {
			return nil, err
		}
		cr.out = append(cr.out, c)
	}
	return cr.out, nil
}

// readSpans uses one batched read where the reader offers it.
func readSpans(r procmem.Reader, spans []procmem.Span) error {
	if br, ok := r.(procmem.BatchReader); ok {
		return br.ReadBatch(spans)
	}
	for _, s := range spans {
		if err := procmem.ReadFull(r, s.Buf, s.Addr); err != nil {
			return err
		}
	}
	return nil
}

// get returns the code object at addr whose header hdr was just read.
func (cr *codeReader) get(r procmem.Reader, addr uint64, hdr []byte) (*Code, error) {
	off := cr.l.Code
	fp := fingerprint{
		name:  le64(hdr[cr.nameField:]),
		file:  le64(hdr[off.Filename:]),
		lines: le64(hdr[off.LineTable:]),
		first: le32(hdr[off.FirstLineNo:]),
	}
	if c, ok := cr.cache[addr]; ok && c.fp == fp {
		return c.code, nil
	}
	name, err := cr.strs.Read(r, fp.name)
	if err != nil {
		return nil, fmt.Errorf("code object at %#x: name: %w", addr, err)
	}
	file, err := cr.strs.Read(r, fp.file)
	if err != nil {
		return nil, fmt.Errorf("code object at %#x: filename: %w", addr, err)
	}
	lines, err := cr.strs.Bytes(r, fp.lines)
	if err != nil {
		return nil, fmt.Errorf("code object at %#x: line table: %w", addr, err)
	}
	c := &Code{Name: name, File: file, FirstLine: int(int32(fp.first)), lines: lines, codec: cr.codec}
	if len(cr.cache) >= maxCodeCache {
		clear(cr.cache)
	}
	cr.cache[addr] = cachedCode{code: c, fp: fp}
	return c, nil
}

// maxOffset is the largest of the given offsets, ignoring Absent ones.
func maxOffset(offs ...int) int {
	m := 0
	for _, o := range offs {
		m = max(m, o)
	}
	return m
}
