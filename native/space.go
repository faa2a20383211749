package native

import (
	"debug/elf"
	"fmt"
	"os"
	"sort"
	"sync"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// Module is one executable mapping of a process: the code of a binary (or
// anonymous code, Table nil) at [Start, End), with the load bias that
// turns its link-time addresses into runtime ones.
type Module struct {
	Start, End uint64
	Bias       uint64
	Path       string // as the target sees it; "" for anonymous code
	Table      *Table
}

// Space is the code of one process as the unwinder sees it. It is built
// from the maps once and rebuilt when they change (a dlopen).
type Space struct {
	mods []Module          // sorted by Start, disjoint
	rw   []procmem.Mapping // writable mappings (stacks among them), sorted by Start
	// Errors lists the binaries that could not be read or have no CFI,
	// one entry each, for a notice naming the module.
	Errors []error
}

// Cache shares Tables among processes and rebuilds of a Space, keyed by
// build id where the binary has one, else by host path, size and mtime.
type Cache struct {
	mu     sync.Mutex
	byFile map[string]*Table
	byID   map[string]*Table
	failed map[string]error
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{byFile: map[string]*Table{}, byID: map[string]*Table{}, failed: map[string]error{}}
}

// Table returns the table of the file at hostPath, opening it once.
func (c *Cache) Table(hostPath string) (*Table, error) {
	key := hostPath
	if fi, err := os.Stat(hostPath); err == nil {
		key = fmt.Sprintf("%s\x00%d\x00%d", hostPath, fi.Size(), fi.ModTime().UnixNano())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.byFile[key]; ok {
		return t, nil
	}
	if err, ok := c.failed[key]; ok {
		return nil, err
	}
	t, err := OpenTable(hostPath)
	if err != nil {
		c.failed[key] = err
		return nil, err
	}
	if t.BuildID != "" {
		if old, ok := c.byID[t.BuildID]; ok {
			t.Close()
			t = old
		} else {
			c.byID[t.BuildID] = t
		}
	}
	c.byFile[key] = t
	return t, nil
}

// NewSpace builds the code map of process pid from its maps, opening each
// binary through cache (paths resolved inside the target's mount
// namespace). A binary that cannot be read is still a module, unwound by
// frame pointers and named module+offset; the reason is in Errors.
func NewSpace(pid int, maps []procmem.Mapping, cache *Cache) *Space {
	s := &Space{}
	seen := map[string]bool{}
	for _, m := range maps {
		if m.Writable() && m.Readable() {
			s.rw = append(s.rw, m)
		}
		if !m.Exec() || m.Path == "[vsyscall]" {
			continue
		}
		mod := Module{Start: m.Start, End: m.End}
		if m.FileBacked() {
			mod.Path = m.Path
			t, err := cache.Table(procmem.HostPath(pid, m.Path))
			switch {
			case err != nil:
				if !seen[m.Path] {
					s.Errors = append(s.Errors, err)
				}
			default:
				if t.CFIError() != nil && !seen[m.Path] {
					s.Errors = append(s.Errors, fmt.Errorf("%s: %w", m.Path, t.CFIError()))
				}
				if bias, ok := t.bias(m); ok {
					mod.Table, mod.Bias = t, bias
				}
			}
			seen[m.Path] = true
		}
		s.mods = append(s.mods, mod)
	}
	sort.Slice(s.mods, func(i, j int) bool { return s.mods[i].Start < s.mods[j].Start })
	sort.Slice(s.rw, func(i, j int) bool { return s.rw[i].Start < s.rw[j].Start })
	return s
}

// StackWindow returns how many bytes from sp to copy: up to max, but not
// past the end of the mapping holding sp (reading across it would fail).
// A stack the maps do not know yet (a thread started since) gets max; the
// read then returns what is mapped.
func (s *Space) StackWindow(sp, max uint64) uint64 {
	i := sort.Search(len(s.rw), func(i int) bool { return s.rw[i].End > sp })
	if i == len(s.rw) || sp < s.rw[i].Start {
		return max
	}
	return min(max, s.rw[i].End-sp)
}

// bias finds the load bias of the executable mapping m: the loader maps
// each PT_LOAD from its file offset rounded down to a page.
func (t *Table) bias(m procmem.Mapping) (uint64, bool) {
	const mask = ^uint64(4096 - 1)
	for _, p := range t.elf.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 && p.Off&mask == m.Offset {
			return m.Start - p.Vaddr&mask, true
		}
	}
	return 0, false
}

// Module returns the module holding the runtime address pc.
func (s *Space) Module(pc uint64) (*Module, bool) {
	i := sort.Search(len(s.mods), func(i int) bool { return s.mods[i].End > pc })
	if i == len(s.mods) || pc < s.mods[i].Start {
		return nil, false
	}
	return &s.mods[i], true
}

// Frame is one native frame, named.
type Frame struct {
	PC      uint64
	Module  string // path as the target sees it, "" for anonymous code
	BuildID string
	Symbol
}

// Name is the function name, or module+0xoffset where no symbol covers
// the address (py-spy and perf print the same).
func (f Frame) Name() string {
	if f.Func != "" {
		return f.Func
	}
	mod := f.Module
	if mod == "" {
		mod = "[anon]"
	}
	return fmt.Sprintf("%s+0x%x", baseName(mod), f.Offset)
}

func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

// Symbolize names the runtime address pc. For every frame but the
// innermost, pc is a return address: the call is the byte before it, and
// naming pc itself would name the next function after a noreturn call.
func (s *Space) Symbolize(pc uint64, leaf bool) Frame {
	f := Frame{PC: pc, Symbol: Symbol{Offset: pc}}
	mod, ok := s.Module(pc)
	if !ok {
		return f
	}
	f.Module = mod.Path
	look := pc
	if !leaf && look > 0 {
		look--
	}
	if mod.Table == nil {
		f.Offset = pc - mod.Start
		return f
	}
	f.BuildID = mod.Table.BuildID
	f.Symbol = mod.Table.Lookup(look - mod.Bias)
	if !leaf {
		f.Offset++
	}
	return f
}
