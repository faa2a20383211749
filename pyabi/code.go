package pyabi

import (
	"fmt"
	"slices"

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
// code is compiled at run time), so every walk re-reads the headers of the
// distinct code objects on its stack (guessed in the walk's first read, or
// in one batch) and a cached entry counts only if the header's name, file
// and line table pointers and first line still match.
type codeReader struct {
	l         Layout
	codec     LineCodec
	strs      *stringDecoder
	cache     map[uint64]*cachedCode
	span      int // bytes of header read per code object
	nameField int
	walk      uint64 // counts resolve calls, to see each entry once per walk

	distinct []*cachedCode // this walk's code objects, first seen first
	addrs    []uint64      // their addresses
	hdrOf    [][]byte      // their headers
	entries  []*cachedCode // per frame
	ops      *opcodeTable  // nil unless opcodes are read
	badInstr int64         // instructions not read: position outside the bytecode, failed read
	hdrs     []byte
	spans    []procmem.Span
	// The starts of the strings of this walk's new code objects, read
	// in one batch (see prefetchStrings).
	strStart map[uint64][]byte
	strSpans []procmem.Span
	strSlab  []byte
}

type cachedCode struct {
	addr uint64
	code *Code // nil until read
	fp   fingerprint
	walk uint64 // codeReader.walk when last met
	// A two-entry memo of Line: in a recursion every frame but the
	// innermost is at the same position, and decoding a line table costs
	// its length.
	memo [2]struct{ pos, line int }
	next int

	// With opcodes on: where the bytecode is (co_code's bytes object on
	// <=3.10, the code object's own ob_size code units from 3.11), a copy
	// of it, and how often it was met since the copy was made.
	bcAddr   uint64
	bcLen    int
	bytecode []byte
	met      uint32
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
	span := maxOffset(c.Filename, c.Name, c.QualName, c.FirstLineNo, c.LineTable, c.Bytecode, l.Bytes.Size) + 8
	return &codeReader{l: l, codec: codec, strs: strs, cache: map[uint64]*cachedCode{}, span: span, nameField: nameField}
}

// resolve finds the code object of every frame and its line, appending to
// dst. Headers the walk's guessed read holds (pre, may be nil) are taken
// from there; the others are read in one batch, whose size is returned as
// misses. cr.addrs lists the walk's distinct code objects until the next call.
func (cr *codeReader) resolve(r procmem.Reader, frames []pendingFrame, pre *walkCache, dst []Frame) (out []Frame, misses int, err error) {
	if len(cr.cache) >= maxCodeCache {
		clear(cr.cache)
	}
	cr.walk++
	cr.distinct, cr.addrs, cr.entries = cr.distinct[:0], cr.addrs[:0], cr.entries[:0]
	// The last walk's entries, matched from the outermost frame, find
	// most code objects without a map lookup; so does the previous frame
	// in a recursion.
	var prev []*cachedCode
	if pre != nil {
		prev = pre.entries
	}
	var last *cachedCode
	for i, f := range frames {
		if f.code == 0 {
			return dst, 0, fmt.Errorf("code object at NULL: %w", procmem.ErrFault)
		}
		e := last
		if e == nil || e.addr != f.code {
			if j := len(prev) - len(frames) + i; j >= 0 && prev[j].addr == f.code {
				e = prev[j]
			} else if e = cr.cache[f.code]; e == nil {
				e = &cachedCode{addr: f.code}
				cr.cache[f.code] = e
			}
			if e.walk != cr.walk {
				e.walk = cr.walk
				cr.distinct = append(cr.distinct, e)
				cr.addrs = append(cr.addrs, f.code)
			}
			last = e
		}
		cr.entries = append(cr.entries, e)
	}
	if need := len(cr.distinct) * cr.span; cap(cr.hdrs) < need {
		cr.hdrs = make([]byte, need)
	}
	cr.spans, cr.hdrOf = cr.spans[:0], cr.hdrOf[:0]
	for i, e := range cr.distinct {
		h := pre.lookup(e.addr, cr.span)
		if h == nil {
			h = cr.hdrs[i*cr.span : (i+1)*cr.span]
			cr.spans = append(cr.spans, procmem.Span{Addr: e.addr, Buf: h})
		}
		cr.hdrOf = append(cr.hdrOf, h)
	}
	if len(cr.spans) > 0 {
		if err := readSpans(r, cr.spans); err != nil {
			return dst, len(cr.spans), fmt.Errorf("code objects: %w", err)
		}
	}
	cr.prefetchStrings(r)
	for i, e := range cr.distinct {
		if err := cr.check(r, e, cr.hdrOf[i]); err != nil {
			return dst, len(cr.spans), err
		}
	}
	start := len(dst)
	for i, f := range frames {
		dst = append(dst, Frame{Code: cr.entries[i].code, Line: cr.entries[i].line(f.pos), Entry: f.entry})
	}
	if cr.ops != nil && len(frames) > 0 {
		in, ok := cr.instruction(r, cr.entries[0], frames[0].pos)
		dst[start].Instr, dst[start].HasInstr = in, ok
		if !ok {
			cr.badInstr++
		}
	}
	if pre != nil {
		pre.entries = append(pre.entries[:0], cr.entries...)
	}
	return dst, len(cr.spans), nil
}

// line is e.code.Line(pos) through the memo.
func (e *cachedCode) line(pos int) int {
	for _, m := range e.memo {
		if m.pos == pos && m.line != 0 {
			return m.line
		}
	}
	l := e.code.Line(pos)
	e.memo[e.next] = struct{ pos, line int }{pos, l}
	e.next ^= 1
	return l
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

func (cr *codeReader) fingerprint(hdr []byte) fingerprint {
	off := cr.l.Code
	return fingerprint{
		name:  le64(hdr[cr.nameField:]),
		file:  le64(hdr[off.Filename:]),
		lines: le64(hdr[off.LineTable:]),
		first: le32(hdr[off.FirstLineNo:]),
	}
}

// stringPrefetch is how much of each string object prefetchStrings
// reads: the header and the text of most names, paths and line tables.
const stringPrefetch = 256

// prefetchStrings reads the start of the name, file and line table of
// every code object of this walk that check must read afresh, in one
// batch: a walk without cached code (a dump, a new thread) would
// otherwise make two reads per string. Each range stops at the end of
// the page its object starts on unless the header itself goes on, so it
// faults only where the object's own read would; should the batch fail
// anyway, check reads each string alone.
func (cr *codeReader) prefetchStrings(r procmem.Reader) {
	clear(cr.strStart)
	br, ok := r.(procmem.BatchReader)
	if !ok {
		return
	}
	hdr := max(cr.strs.l.Unicode.CompactData, cr.strs.l.Bytes.Size+8)
	cr.strSpans = cr.strSpans[:0]
	for i, e := range cr.distinct {
		fp := cr.fingerprint(cr.hdrOf[i])
		if e.code != nil && e.fp == fp {
			continue
		}
		for _, a := range [...]uint64{fp.name, fp.file, fp.lines} {
			if a == 0 || slices.ContainsFunc(cr.strSpans, func(s procmem.Span) bool { return s.Addr == a }) {
				continue
			}
			n := max(min(stringPrefetch, int(pageSize-a%pageSize)), hdr)
			cr.strSpans = append(cr.strSpans, procmem.Span{Addr: a, Buf: make([]byte, 0, n)})
		}
	}
	if len(cr.strSpans) < 2 {
		return
	}
	need := 0
	for _, s := range cr.strSpans {
		need += cap(s.Buf)
	}
	if cap(cr.strSlab) < need {
		cr.strSlab = make([]byte, need)
	}
	off := 0
	for i, s := range cr.strSpans {
		cr.strSpans[i].Buf = cr.strSlab[off : off+cap(s.Buf) : off+cap(s.Buf)]
		off += cap(s.Buf)
	}
	if br.ReadBatch(cr.strSpans) != nil {
		return
	}
	if cr.strStart == nil {
		cr.strStart = map[uint64][]byte{}
	}
	for _, s := range cr.strSpans {
		cr.strStart[s.Addr] = s.Buf
	}
}

// check makes e hold the code object whose header hdr was just read: the
// cached one if the header still matches, else a fresh read.
func (cr *codeReader) check(r procmem.Reader, e *cachedCode, hdr []byte) error {
	off := cr.l.Code
	fp := cr.fingerprint(hdr)
	if e.code != nil && e.fp == fp {
		return nil
	}
	addr := e.addr
	name, err := cr.strs.read(r, fp.name, cr.strStart[fp.name])
	if err != nil {
		return fmt.Errorf("code object at %#x: name: %w", addr, err)
	}
	file, err := cr.strs.read(r, fp.file, cr.strStart[fp.file])
	if err != nil {
		return fmt.Errorf("code object at %#x: filename: %w", addr, err)
	}
	lines, err := cr.strs.bytes(r, fp.lines, cr.strStart[fp.lines])
	if err != nil {
		return fmt.Errorf("code object at %#x: line table: %w", addr, err)
	}
	e.code = &Code{Name: name, File: file, FirstLine: int(int32(fp.first)), lines: lines, codec: cr.codec}
	e.fp, e.memo = fp, [2]struct{ pos, line int }{}
	e.bytecode, e.met = nil, 0
	if off.Bytecode != Absent {
		e.bcAddr = le64(hdr[off.Bytecode:])
	} else if cr.l.Bytes.Size != Absent {
		// 3.11+: the bytecode is inline; ob_size counts its code units.
		e.bcAddr, e.bcLen = addr+uint64(off.CodeAdaptive), 2*int(int64(le64(hdr[cr.l.Bytes.Size:])))
	}
	return nil
}

// maxBytecode bounds one code object's bytecode copy.
const maxBytecode = 1 << 20

// instruction names the instruction at pos (as LineCodec.Line takes it) in
// e's bytecode. The copy is made when the code object is first met and,
// from 3.11, read again on a schedule that thins out (the 2nd, 16th, 128th,
// 1024th meeting, then every 8192nd): the interpreter rewrites
// instructions in place as it specialises them, within the first few
// executions and rarely after, so the steady state reads nothing.
func (cr *codeReader) instruction(r procmem.Reader, e *cachedCode, pos int) (Instruction, bool) {
	inline := cr.l.Code.CodeAdaptive != Absent
	e.met++
	if e.bytecode == nil || inline && (e.met == 2 || e.met == 16 || e.met == 128 || e.met == 1024 || e.met%8192 == 0) {
		if err := cr.readBytecode(r, e); err != nil {
			e.bytecode = nil
			return Instruction{}, false
		}
	}
	off := pos
	if inline {
		off = 2 * pos // code units
	}
	if off < 0 || off >= len(e.bytecode) {
		return Instruction{}, false
	}
	return cr.ops.Lookup(e.bytecode[off])
}

func (cr *codeReader) readBytecode(r procmem.Reader, e *cachedCode) error {
	if cr.l.Code.Bytecode != Absent {
		b, err := cr.strs.Bytes(r, e.bcAddr)
		e.bytecode = b
		return err
	}
	if e.bcLen <= 0 || e.bcLen > maxBytecode {
		return fmt.Errorf("code object at %#x: bytecode length %d out of range", e.addr, e.bcLen)
	}
	if cap(e.bytecode) < e.bcLen {
		e.bytecode = make([]byte, e.bcLen)
	}
	e.bytecode = e.bytecode[:e.bcLen]
	return procmem.ReadFull(r, e.bytecode, e.bcAddr)
}

// maxOffset is the largest of the given offsets, ignoring Absent ones.
func maxOffset(offs ...int) int {
	m := 0
	for _, o := range offs {
		m = max(m, o)
	}
	return m
}
