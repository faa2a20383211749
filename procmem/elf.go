package procmem

import (
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

// Binary is an ELF executable or shared object of the target, opened from
// the host. Symbols and sections are link-time addresses; add the load
// bias (Bias) to get runtime addresses.
type Binary struct {
	Path    string
	BuildID string // hex of the GNU build id note, "" if none

	f      *elf.File
	closer io.Closer
	// The raw symbol tables, read on the first lookup: .symtab (present
	// in unstripped builds) and .dynsym (always present for exported
	// names), each with its string table. A lookup scans them in place:
	// building a map of every name (tens of thousands in libpython) to
	// find a handful was most of the cost of a one-shot dump.
	tables []symTable
	loaded bool
	found  map[string]uint64 // names looked up before, found or not (0)
}

// symTable is one ELF symbol table and the string table its names are in.
type symTable struct {
	syms, strs []byte
}

// elf64SymSize is sizeof(Elf64_Sym): name(4) info(1) other(1) shndx(2)
// value(8) size(8).
const elf64SymSize = 24

// OpenBinary opens and parses the ELF file at path.
func OpenBinary(path string) (*Binary, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open binary: %w", err)
	}
	b, err := NewBinary(fh)
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b.Path, b.closer = path, fh
	return b, nil
}

// NewBinary parses an ELF image from r. Garbage input is an error, never
// a panic: debug/elf has panicked on crafted files before, so it is
// called under recover.
func NewBinary(r io.ReaderAt) (b *Binary, err error) {
	defer recoverELF(&err)
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("parse elf: %w", err)
	}
	return &Binary{f: f, BuildID: buildID(f)}, nil
}

// recoverELF turns a panic inside debug/elf into an error.
func recoverELF(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("malformed elf: %v", r)
	}
}

// Close closes the underlying file.
func (b *Binary) Close() error {
	if b.closer == nil {
		return nil
	}
	return b.closer.Close()
}

// Symbol returns the link-time address of the defined symbol name,
// searching .symtab first, then .dynsym (all a stripped build has). Where
// a name is defined several times (static functions of several files),
// the global definition wins: it is the one other code refers to.
func (b *Binary) Symbol(name string) (uint64, bool) {
	if a, ok := b.found[name]; ok {
		return a, a != 0
	}
	if !b.loaded {
		b.loaded, b.found = true, map[string]uint64{}
		for _, typ := range []elf.SectionType{elf.SHT_SYMTAB, elf.SHT_DYNSYM} {
			if t, ok := b.readTable(typ); ok {
				b.tables = append(b.tables, t)
			}
		}
	}
	a := uint64(0)
	for _, t := range b.tables {
		if a = t.lookup(name); a != 0 {
			break
		}
	}
	b.found[name] = a
	return a, a != 0
}

// readTable reads the first symbol table of type typ and its strings. A
// missing or broken table is left out: the caller then tries the other.
func (b *Binary) readTable(typ elf.SectionType) (t symTable, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	if b.f.Class != elf.ELFCLASS64 || b.f.Data != elf.ELFDATA2LSB {
		return t, false
	}
	for _, sec := range b.f.Sections {
		if sec.Type != typ || int(sec.Link) >= len(b.f.Sections) {
			continue
		}
		syms, err := sec.Data()
		if err != nil {
			return t, false
		}
		strs, err := b.f.Sections[sec.Link].Data()
		if err != nil {
			return t, false
		}
		return symTable{syms: syms, strs: strs}, true
	}
	return t, false
}

// lookup scans the table for a defined symbol called name; 0 if none.
func (t symTable) lookup(name string) uint64 {
	var addr uint64
	global := false
	for off := elf64SymSize; off+elf64SymSize <= len(t.syms); off += elf64SymSize {
		e := t.syms[off : off+elf64SymSize]
		if binary.LittleEndian.Uint16(e[6:]) == uint16(elf.SHN_UNDEF) {
			continue
		}
		n := int(binary.LittleEndian.Uint32(e[0:]))
		if n+len(name) >= len(t.strs) || t.strs[n+len(name)] != 0 || string(t.strs[n:n+len(name)]) != name {
			continue
		}
		g := elf.ST_BIND(e[4]) != elf.STB_LOCAL
		if addr == 0 || g && !global {
			addr, global = binary.LittleEndian.Uint64(e[8:]), g
		}
		if global {
			break
		}
	}
	return addr
}

// Section returns the link-time address and size of section name.
func (b *Binary) Section(name string) (addr, size uint64, ok bool) {
	s := b.f.Section(name)
	if s == nil {
		return 0, 0, false
	}
	return s.Addr, s.Size, true
}

// SectionData returns the file contents of section name (for example
// .rodata, or .PyRuntime whose initial values identify the interpreter).
func (b *Binary) SectionData(name string) (data []byte, err error) {
	defer recoverELF(&err)
	s := b.f.Section(name)
	if s == nil {
		return nil, fmt.Errorf("%s: no section %s", b.Path, name)
	}
	if s.Type == elf.SHT_NOBITS {
		return nil, fmt.Errorf("%s: section %s has no file data", b.Path, name)
	}
	data, err = s.Data()
	if err != nil {
		return nil, fmt.Errorf("%s: read section %s: %w", b.Path, name, err)
	}
	return data, nil
}

// Segment is one PT_LOAD program header: what the load bias is computed
// from, kept so the bias of a binary can be found without its file open.
type Segment struct {
	Off, Vaddr uint64
	Exec       bool
}

// Segments lists the binary's loadable segments.
func (b *Binary) Segments() []Segment {
	var segs []Segment
	for _, p := range b.f.Progs {
		if p.Type == elf.PT_LOAD {
			segs = append(segs, Segment{Off: p.Off, Vaddr: p.Vaddr, Exec: p.Flags&elf.PF_X != 0})
		}
	}
	return segs
}

// Bias returns the load bias of this binary in a process whose maps are
// given, mapped under mappedPath (the path as the target sees it):
// runtime address = link address + bias. Non-PIE executables get 0.
func (b *Binary) Bias(maps []Mapping, mappedPath string) (uint64, error) {
	bias, err := LoadBias(b.Segments(), maps, mappedPath)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", b.Path, err)
	}
	return bias, nil
}

// LoadBias is the load bias of a binary with load segments segs, mapped
// under mappedPath in a process with maps.
//
// The loader maps each PT_LOAD segment from its file offset rounded down
// to a page, so a mapping whose offset is that rounded offset starts at
// the runtime address of the segment's rounded vaddr. The executable
// segment is preferred because a file page can be shared by two segments.
func LoadBias(segs []Segment, maps []Mapping, mappedPath string) (uint64, error) {
	mask := ^uint64(os.Getpagesize() - 1)
	var found bool
	var bias uint64
	for _, m := range maps {
		if m.Path != mappedPath {
			continue
		}
		for _, p := range segs {
			if p.Off&mask != m.Offset || p.Exec != m.Exec() {
				continue
			}
			// Wrapping arithmetic on purpose: a bias below the link
			// address is a large uint64 that still adds up right.
			d := m.Start - (p.Vaddr & mask)
			if p.Exec {
				return d, nil
			}
			if !found {
				bias, found = d, true
			}
		}
	}
	if !found {
		return 0, fmt.Errorf("no mapping of %s matches a load segment", mappedPath)
	}
	return bias, nil
}

// buildID extracts the GNU build id, which names a binary across paths
// and containers (a cache key for per-binary facts).
func buildID(f *elf.File) string {
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE || p.Filesz > 1<<16 {
			continue
		}
		data := make([]byte, p.Filesz)
		if _, err := p.ReadAt(data, 0); err != nil {
			continue
		}
		if id := parseBuildIDNote(data, f.ByteOrder); id != "" {
			return id
		}
	}
	return ""
}

// parseBuildIDNote walks ELF notes (namesz, descsz, type, name, desc; name
// and desc padded to 4 bytes) looking for NT_GNU_BUILD_ID from "GNU".
func parseBuildIDNote(data []byte, bo binary.ByteOrder) string {
	const ntGNUBuildID = 3
	align := func(n uint64) uint64 { return (n + 3) &^ 3 }
	for len(data) >= 12 {
		namesz, descsz := uint64(bo.Uint32(data)), uint64(bo.Uint32(data[4:]))
		typ := bo.Uint32(data[8:])
		data = data[12:]
		if align(namesz) > uint64(len(data)) {
			return ""
		}
		name := data[:namesz]
		data = data[align(namesz):]
		if descsz > uint64(len(data)) {
			return ""
		}
		desc := data[:descsz]
		if typ == ntGNUBuildID && string(name) == "GNU\x00" {
			return hex.EncodeToString(desc)
		}
		data = data[min(align(descsz), uint64(len(data))):]
	}
	return ""
}

// Module is one file mapped into the target: its path as the target sees
// it and the address range spanned by all its mappings.
type Module struct {
	Path       string
	Start, End uint64
	First      Mapping // the file's first mapping: its device and inode, for MappedFile
}

// Modules groups the file-backed mappings by path, in order of first
// appearance (the executable comes first in Linux's maps).
func Modules(maps []Mapping) []Module {
	var mods []Module
	index := map[string]int{}
	for _, m := range maps {
		if !m.FileBacked() {
			continue
		}
		i, ok := index[m.Path]
		if !ok {
			index[m.Path] = len(mods)
			mods = append(mods, Module{Path: m.Path, Start: m.Start, End: m.End, First: m})
			continue
		}
		mods[i].Start = min(mods[i].Start, m.Start)
		mods[i].End = max(mods[i].End, m.End)
	}
	return mods
}

// FindModule returns the first module whose path satisfies pred.
func FindModule(mods []Module, pred func(path string) bool) (Module, bool) {
	for _, m := range mods {
		if pred(m.Path) {
			return m, true
		}
	}
	return Module{}, false
}
