package pyabi

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// This file lays out a whole CPython 3.13+ process image in memory, every
// offset taken from a _Py_DebugOffsets image (debugoffsets_test.go), so the
// frame walk can run end to end on versions and build kinds that are not
// installed here: 3.14t, 3.15, 3.15t. Only facts _Py_DebugOffsets does not
// carry are written out here, each with its header.

// fakeELF is what Locate reads of an ELF file: symbols and sections at
// link-time addresses.
type fakeELF struct {
	symbols  map[string]uint64
	sections map[string][2]uint64 // addr, size
}

func (f fakeELF) Symbol(name string) (uint64, bool) {
	a, ok := f.symbols[name]
	return a, ok
}

func (f fakeELF) Section(name string) (addr, size uint64, ok bool) {
	s, ok := f.sections[name]
	return s[0], s[1], ok
}

func (f fakeELF) SectionData(name string) ([]byte, error) {
	return nil, fmt.Errorf("section %s: no data in a fake ELF", name)
}

// memImage is a bump allocator over a byte slice mapped at base.
type memImage struct {
	base uint64
	data []byte
}

// alloc returns n zeroed bytes aligned to 16, like CPython's allocators.
func (m *memImage) alloc(n int) uint64 {
	for len(m.data)%16 != 0 {
		m.data = append(m.data, 0)
	}
	a := m.base + uint64(len(m.data))
	m.data = append(m.data, make([]byte, n)...)
	return a
}

func (m *memImage) at(a uint64) []byte { return m.data[a-m.base:] }
func (m *memImage) put64(a, v uint64)  { binary.LittleEndian.PutUint64(m.at(a), v) }
func (m *memImage) put32(a uint64, v uint32) {
	binary.LittleEndian.PutUint32(m.at(a), v)
}
func (m *memImage) put8(a uint64, v byte) { m.data[a-m.base] = v }

// reader is the finished image as a process's memory.
func (m *memImage) reader() procmem.Bytes { return procmem.Bytes{Base: m.base, Data: m.data} }

// synthProcess builds objects of one build of CPython (version and
// default or free-threaded) into a memImage.
type synthProcess struct {
	d *DebugOffsets
	m *memImage
	// kindShift is where PyASCIIObject.state keeps the kind: see
	// synthKindShift.
	kindShift uint
	// compactData is sizeof(PyCompactUnicodeObject), where the data of a
	// non-ASCII compact str starts.
	compactData int

	strType, bytesType, codeType, noneType uint64
	none                                   uint64
}

// synthOwnerTID is the ob_tid written into free-threaded object headers:
// the owning thread's id, as _Py_ThreadId() would put there.
const synthOwnerTID = 0x7f3a5c400740

func newSynthProcess(d *DebugOffsets, base uint64) *synthProcess {
	p := &synthProcess{d: d, m: &memImage{base: base}, kindShift: synthKindShift(d.Version)}
	p.m.alloc(64) // nothing lives at the base address itself
	// Include/cpython/unicodeobject.h (v3.13.0, v3.14.0): the non-ASCII
	// compact form is PyASCIIObject plus utf8_length and utf8, 16 bytes,
	// in either build. 3.15 gives the size in _Py_DebugOffsets.
	p.compactData = d.Layout.Unicode.ASCIIData + 16
	if d.Layout.Unicode.CompactData != Absent {
		p.compactData = d.Layout.Unicode.CompactData
	}
	p.strType = p.typeObject("str")
	p.bytesType = p.typeObject("bytes")
	p.codeType = p.typeObject("code")
	p.noneType = p.typeObject("NoneType")
	p.none = p.object(p.noneType, d.Sizes.Object)
	return p
}

// synthKindShift is the bit where the 3-bit kind starts in
// PyASCIIObject.state. Include/cpython/unicodeobject.h: "unsigned int
// interned:2" then "kind:3" in every 3.x build up to 3.13 (v3.13.0, also
// with Py_GIL_DISABLED); from v3.14.0 a free-threaded build makes
// interned an "unsigned char" (it is read atomically), which moves kind
// to bit 8. 3.15 keeps the 3.14 form.
func synthKindShift(v Version) uint {
	if v.FreeThreaded && v.AtLeast(3, 14) {
		return 8
	}
	return 2
}

// object allocates size bytes with a PyObject header of this build.
func (p *synthProcess) object(typ uint64, size int) uint64 {
	a := p.m.alloc(size)
	if p.d.FreeThreaded {
		// Include/object.h v3.13.0/v3.14.0 with Py_GIL_DISABLED: ob_tid 0,
		// ob_flags (3.13: _padding) 8, ob_mutex 10, ob_gc_bits 11,
		// ob_ref_local (uint32) 12, ob_ref_shared 16, ob_type 24.
		p.m.put64(a, synthOwnerTID)
		p.m.put32(a+12, 1)
		p.m.put64(a+16, 4) // ob_ref_shared: a shared count of 1, shifted past its flag bits
	} else {
		p.m.put64(a, 1) // ob_refcnt
	}
	p.m.put64(a+uint64(p.d.Layout.Object.Type), typ)
	return a
}

// typeObject allocates a type whose tp_name points at name.
func (p *synthProcess) typeObject(name string) uint64 {
	cname := p.m.alloc(len(name) + 1)
	copy(p.m.at(cname), name)
	t := p.m.alloc(p.d.Sizes.Type)
	p.m.put64(t+uint64(p.d.Layout.Type.Name), cname)
	return t
}

// str allocates a compact str holding s in the narrowest PEP 393 kind, as
// interned as CPython leaves identifiers (interned = 1, mortal).
func (p *synthProcess) str(s string) uint64 {
	u := p.d.Layout.Unicode
	var maxRune rune
	for _, r := range s {
		maxRune = max(maxRune, r)
	}
	n := utf8.RuneCountInString(s)
	kind, ascii, data := 1, maxRune < 0x80, p.compactData
	switch {
	case maxRune >= 0x10000:
		kind = 4
	case maxRune >= 0x100:
		kind = 2
	}
	if ascii {
		data = u.ASCIIData
	}
	a := p.object(p.strType, data+(n+1)*kind)
	p.m.put64(a+uint64(u.Length), uint64(n))
	p.m.put64(a+uint64(u.Length)+8, ^uint64(0)) // hash: -1, not computed
	// state: interned, then kind:3, compact:1, ascii:1 from kindShift.
	state := uint32(1) | uint32(kind)<<p.kindShift | 1<<(p.kindShift+3)
	if ascii {
		state |= 1 << (p.kindShift + 4)
	}
	p.m.put32(a+uint64(u.State), state)
	i := a + uint64(data)
	for _, r := range s {
		switch kind {
		case 1:
			p.m.put8(i, byte(r))
		case 2:
			binary.LittleEndian.PutUint16(p.m.at(i), uint16(r))
		default:
			p.m.put32(i, uint32(r))
		}
		i += uint64(kind)
	}
	return a
}

// bytes allocates a bytes object holding b.
func (p *synthProcess) bytes(b []byte) uint64 {
	l := p.d.Layout.Bytes
	a := p.object(p.bytesType, l.Data+len(b)+1)
	p.m.put64(a+uint64(l.Size), uint64(len(b)))
	// Include/cpython/bytesobject.h: ob_shash sits between ob_size and ob_sval.
	p.m.put64(a+uint64(l.Size)+8, ^uint64(0))
	copy(p.m.at(a+uint64(l.Data)), b)
	return a
}

// synthCode is a code object as laid out: where its bytecode starts.
type synthCode struct {
	addr, bytecode uint64
	units          int
}

// code allocates a code object with nunits code units of bytecode inline
// (co_code_adaptive) and the given location table. In a free-threaded
// 3.14+ build co_tlbc points at an array of bytecode copies whose entry 0
// is co_code_adaptive itself; tlbc adds more entries (already allocated
// copies).
func (p *synthProcess) code(name, qualname, file string, first int, table []byte, nunits int, tlbc ...uint64) synthCode {
	c := p.d.Layout.Code
	a := p.object(p.codeType, p.d.Sizes.Code+2*nunits)
	p.m.put64(a+uint64(c.Filename), p.str(file))
	p.m.put64(a+uint64(c.Name), p.str(name))
	p.m.put64(a+uint64(c.QualName), p.str(qualname))
	p.m.put64(a+uint64(c.LineTable), p.bytes(table))
	p.m.put32(a+uint64(c.FirstLineNo), uint32(int32(first)))
	bc := a + uint64(c.CodeAdaptive)
	for i := range nunits {
		// Any opcode serves: the walk never decodes instructions. NOP (27
		// in 3.13) with oparg 0 keeps the bytes recognisable in a dump.
		p.m.put8(bc+2*uint64(i), 27)
	}
	if p.d.Code.TLBC != Absent {
		// Include/cpython/code.h v3.14.0 (Py_GIL_DISABLED): _PyCodeArray
		// is {Py_ssize_t size; char *entries[]}.
		entries := append([]uint64{bc}, tlbc...)
		arr := p.m.alloc(8 + 8*len(entries))
		p.m.put64(arr, uint64(len(entries)))
		for i, e := range entries {
			p.m.put64(arr+8+8*uint64(i), e)
		}
		p.m.put64(a+uint64(p.d.Code.TLBC), arr)
	}
	return synthCode{addr: a, bytecode: bc, units: nunits}
}

// frame writes a _PyInterpreterFrame at a: previous, f_executable as this
// version stores it (a plain PyObject* in 3.13, a _PyStackRef whose low
// bits carry tag in 3.14+), instr_ptr, owner, and on free-threaded 3.14+
// tlbc_index.
func (p *synthProcess) frame(a, previous, executable uint64, tag uint64, instr uint64, owner int, tlbcIndex int32) {
	f := p.d.Layout.Frame
	p.m.put64(a+uint64(f.Previous), previous)
	p.m.put64(a+uint64(f.Code), executable|tag)
	p.m.put64(a+uint64(f.InstrPtr), instr)
	p.m.put8(a+uint64(f.Owner), byte(owner))
	if p.d.Frame.StackPointer != Absent {
		p.m.put64(a+uint64(p.d.Frame.StackPointer), a+uint64(p.d.Frame.LocalsPlus))
	}
	if p.d.Frame.TLBCIndex != Absent {
		p.m.put32(a+uint64(p.d.Frame.TLBCIndex), uint32(tlbcIndex))
	}
}

// locEntry is one entry of a 3.11+ location table (Objects/locations.md,
// v3.11.0 on): it covers units code units (1-8).
type locEntry struct {
	units int
	form  int // 0-9 short, 10-12 one-line, 13 no column, 14 long, 15 none
	delta int // line delta for forms 13 and 14 (10-12 carry it in the form)
}

// encodeLocations writes entries as CPython's assembler does: a first
// byte 1cccclll (code, length-1), then the form's fields.
func encodeLocations(entries []locEntry) []byte {
	var out []byte
	uvar := func(v int) {
		for v >= 64 {
			out = append(out, byte(64|v&63))
			v >>= 6
		}
		out = append(out, byte(v))
	}
	svar := func(v int) {
		if v < 0 {
			uvar(-v<<1 | 1)
		} else {
			uvar(v << 1)
		}
	}
	for _, e := range entries {
		out = append(out, byte(0x80|e.form<<3|(e.units-1)))
		switch {
		case e.form <= 9:
			out = append(out, 4) // column bits
		case e.form <= 12:
			out = append(out, 4, 12) // start and end column
		case e.form == 13:
			svar(e.delta)
		case e.form == 14:
			svar(e.delta)
			uvar(0)  // end line delta
			uvar(5)  // column + 1
			uvar(17) // end column + 1
		}
	}
	return out
}
