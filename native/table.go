package native

import (
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/go-delve/delve/pkg/dwarf/frame"
	"github.com/ianlancetaylor/demangle"
)

// ErrNoUnwindInfo reports a binary with neither .eh_frame nor
// .debug_frame: its frames can only be walked by frame pointers.
var ErrNoUnwindInfo = errors.New("no call-frame information (.eh_frame or .debug_frame)")

// Table holds the facts about one binary that every process mapping it
// shares: how to unwind out of each address and what each address is
// called. Addresses are link-time (ELF virtual) addresses. Rules and names
// are computed on first use and kept, so a steady profile does the DWARF
// work once per address. Safe for concurrent use.
type Table struct {
	Path    string // as opened on the host
	BuildID string // hex of the GNU build id, "" if none

	fdes  frame.FrameDescriptionEntries // sorted by Begin
	plt   []addrRange                   // .plt sections: CFI there is an expression
	syms  []symbol                      // functions, sorted by addr
	noCFI error                         // set when the binary has no CFI at all

	mu     sync.Mutex
	rules  map[uint64]rule
	names  map[uint64]Symbol
	file   *os.File
	elf    *elf.File
	dwarf  *dwarf.Data
	dwOnce bool
	cus    []cuRange // compile units by address, built on the first line lookup
}

type addrRange struct{ lo, hi uint64 }

type symbol struct {
	addr, size uint64
	name       string
}

// Symbol is what an address is: its function (demangled), the offset into
// it, and the source line where the binary has DWARF line tables.
type Symbol struct {
	Func   string // "" when no symbol covers the address
	Offset uint64 // from the function's start, or from the module's load address when Func is ""
	File   string
	Line   int
}

// OpenTable reads the call-frame information and symbols of the ELF file
// at path. A binary without CFI is still usable: Unwind falls back to
// frame pointers inside it, and CFIError says why.
func OpenTable(path string) (t *Table, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	t, err = newTable(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t.Path = path
	return t, nil
}

// newTable parses r. debug/elf and delve's parser have panicked on
// crafted input before, so both run under recover: a bad binary is an
// error naming it, never a crash of the profiler.
func newTable(r io.ReaderAt) (t *Table, err error) {
	defer func() {
		if p := recover(); p != nil {
			t, err = nil, fmt.Errorf("malformed elf: %v", p)
		}
	}()
	ef, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("parse elf: %w", err)
	}
	if ef.Machine != elf.EM_X86_64 {
		return nil, fmt.Errorf("%v binary: only x86_64 is supported", ef.Machine)
	}
	t = &Table{elf: ef, rules: map[uint64]rule{}, names: map[uint64]Symbol{}, BuildID: buildID(ef)}
	if f, ok := r.(*os.File); ok {
		t.file = f
	}
	t.fdes = readFDEs(ef)
	if len(t.fdes) == 0 {
		t.noCFI = ErrNoUnwindInfo
	}
	for _, s := range ef.Sections {
		if strings.HasPrefix(s.Name, ".plt") {
			t.plt = append(t.plt, addrRange{s.Addr, s.Addr + s.Size})
		}
	}
	t.syms = readSymbols(ef)
	return t, nil
}

// CFIError is nil when the binary has call-frame information, else why
// not (for the one-time notice naming the module).
func (t *Table) CFIError() error { return t.noCFI }

// Close releases the file behind the table.
func (t *Table) Close() error {
	if t.file == nil {
		return nil
	}
	return t.file.Close()
}

// readFDEs parses .eh_frame and .debug_frame, each on its own: one broken
// section must not cost the other. Append sorts by Begin, which FDEForPC's
// binary search needs (delve's Parse returns them in file order).
func readFDEs(ef *elf.File) frame.FrameDescriptionEntries {
	var all frame.FrameDescriptionEntries
	for _, name := range []string{".eh_frame", ".debug_frame"} {
		s := ef.Section(name)
		if s == nil || s.Type == elf.SHT_NOBITS {
			continue
		}
		data, err := s.Data()
		if err != nil {
			continue
		}
		ehAddr := uint64(0)
		if name == ".eh_frame" {
			ehAddr = s.Addr
		}
		fdes, err := parseFDEs(data, ehAddr)
		if err != nil {
			continue
		}
		all = all.Append(fdes)
	}
	// Drop entries of discarded functions the linker left at address 0;
	// they would shadow real code at low addresses of non-PIE executables.
	out := all[:0]
	for _, f := range all {
		if f.Begin() != 0 && f.CIE != nil {
			out = append(out, f)
		}
	}
	return out
}

func parseFDEs(data []byte, ehAddr uint64) (fdes frame.FrameDescriptionEntries, err error) {
	defer func() {
		if p := recover(); p != nil {
			fdes, err = nil, fmt.Errorf("malformed call-frame information: %v", p)
		}
	}()
	return frame.Parse(data, binary.LittleEndian, 0, 8, ehAddr)
}

// readSymbols collects the functions of .symtab and .dynsym (a stripped
// build keeps its exported names in the latter), sorted by address, one
// per address with the global name preferred.
func readSymbols(ef *elf.File) []symbol {
	var out []symbol
	add := func(syms []elf.Symbol) {
		for _, s := range syms {
			if elf.ST_TYPE(s.Info) != elf.STT_FUNC || s.Value == 0 || s.Section == elf.SHN_UNDEF {
				continue
			}
			out = append(out, symbol{addr: s.Value, size: s.Size, name: s.Name})
		}
	}
	if syms, err := ef.Symbols(); err == nil {
		add(syms)
	}
	if syms, err := ef.DynamicSymbols(); err == nil {
		add(syms)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].addr < out[j].addr })
	dedup := out[:0]
	for _, s := range out {
		if n := len(dedup); n > 0 && dedup[n-1].addr == s.addr {
			if dedup[n-1].size == 0 {
				dedup[n-1].size = s.size
			}
			continue
		}
		dedup = append(dedup, s)
	}
	return dedup
}

// buildID returns the hex GNU build id note, the cache key of a binary.
func buildID(ef *elf.File) string {
	s := ef.Section(".note.gnu.build-id")
	if s == nil {
		return ""
	}
	data, err := s.Data()
	if err != nil || len(data) < 16 {
		return ""
	}
	namesz := binary.LittleEndian.Uint32(data)
	descsz := binary.LittleEndian.Uint32(data[4:])
	start := 12 + (uint64(namesz)+3)&^3
	if start+uint64(descsz) > uint64(len(data)) {
		return ""
	}
	return fmt.Sprintf("%x", data[start:start+uint64(descsz)])
}

// Lookup names the link-time address addr. Names are demangled (C++ and
// Rust); an address no function covers gets Func "" and Offset addr.
func (t *Table) Lookup(addr uint64) Symbol {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.names[addr]; ok {
		return s
	}
	s := Symbol{Offset: addr}
	i := sort.Search(len(t.syms), func(i int) bool { return t.syms[i].addr > addr }) - 1
	if i >= 0 {
		sym := t.syms[i]
		// A sized symbol must cover addr; an unsized one (hand-written
		// assembly) is taken up to the next symbol.
		if sym.size == 0 || addr < sym.addr+sym.size {
			s = Symbol{Func: demangle.Filter(sym.name), Offset: addr - sym.addr}
		}
	}
	s.File, s.Line = t.line(addr)
	t.names[addr] = s
	return s
}
