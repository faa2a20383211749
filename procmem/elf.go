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
	// Symbol tables by name, built on the first lookup: .symtab (present
	// in unstripped builds) and .dynsym (always present for exported names).
	symtab, dynsym map[string]uint64
	loaded         bool
}

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
// searching .symtab first, then .dynsym (all a stripped build has).
func (b *Binary) Symbol(name string) (uint64, bool) {
	if !b.loaded {
		b.symtab = b.loadSymbols(b.f.Symbols)
		b.dynsym = b.loadSymbols(b.f.DynamicSymbols)
		b.loaded = true
	}
	if a, ok := b.symtab[name]; ok {
		return a, true
	}
	a, ok := b.dynsym[name]
	return a, ok
}

// loadSymbols indexes the defined symbols of one table. A missing or
// broken table is just empty: the caller then tries the other one.
func (b *Binary) loadSymbols(read func() ([]elf.Symbol, error)) (m map[string]uint64) {
	m = map[string]uint64{}
	defer func() {
		if recover() != nil {
			m = map[string]uint64{}
		}
	}()
	syms, err := read()
	if err != nil {
		return m
	}
	global := map[string]bool{}
	for _, s := range syms {
		if s.Section == elf.SHN_UNDEF || s.Name == "" {
			continue
		}
		// Static functions of the same name can occur in several files;
		// the global definition is the one other code refers to.
		g := elf.ST_BIND(s.Info) != elf.STB_LOCAL
		if _, seen := m[s.Name]; !seen || g && !global[s.Name] {
			m[s.Name], global[s.Name] = s.Value, g
		}
	}
	return m
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

// Bias returns the load bias of this binary in a process whose maps are
// given, mapped under mappedPath (the path as the target sees it):
// runtime address = link address + bias. Non-PIE executables get 0.
//
// The loader maps each PT_LOAD segment from its file offset rounded down
// to a page, so a mapping whose offset is that rounded offset starts at
// the runtime address of the segment's rounded vaddr. The executable
// segment is preferred because a file page can be shared by two segments.
func (b *Binary) Bias(maps []Mapping, mappedPath string) (uint64, error) {
	mask := ^uint64(os.Getpagesize() - 1)
	var found bool
	var bias uint64
	for _, m := range maps {
		if m.Path != mappedPath {
			continue
		}
		for _, p := range b.f.Progs {
			if p.Type != elf.PT_LOAD || p.Off&mask != m.Offset {
				continue
			}
			exec := p.Flags&elf.PF_X != 0
			if exec != m.Exec() {
				continue
			}
			// Wrapping arithmetic on purpose: a bias below the link
			// address is a large uint64 that still adds up right.
			d := m.Start - (p.Vaddr & mask)
			if exec {
				return d, nil
			}
			if !found {
				bias, found = d, true
			}
		}
	}
	if !found {
		return 0, fmt.Errorf("%s: no mapping of %s matches a load segment", b.Path, mappedPath)
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
			mods = append(mods, Module{Path: m.Path, Start: m.Start, End: m.End})
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
