package pyabi

import (
	"fmt"
	"os"
	"sync"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// Binary is one Python build's file (an executable or a libpython): the
// link-time addresses its ELF file gives and, once a first process of it
// has been read, its Build. Every process of the build shares one Binary:
// forked children, the workers of a pool and a relaunched command cost a
// read of their maps, not a parse.
type Binary struct {
	Path    string // the file as the first process mapped it
	BuildID string // hex GNU build id, "" if none

	syms     map[string]uint64  // link-time addresses of the symbols locate uses
	sections map[string]section // link-time ranges of the sections it scans
	segments []procmem.Segment  // PT_LOAD headers, for the load bias

	mu          sync.Mutex
	build       *Build // nil until a process of the binary identified it
	headSlot    uint64 // link-time address of the word a scan found the interpreter through; 0 none
	runtimeSlot uint64 // link-time address of _PyRuntime as that scan inferred it; 0 none

	key fileKey // the file as Binaries.Open found it, for the disk cache
	ino uint64
}

// Build is what a Python build is, as a first process of it showed: its
// version, layout, and the strategies chosen for them once, so that the
// per-sample path has no version checks. It never changes once made.
type Build struct {
	Version Version
	Guessed bool // the layout is the nearest known table, not an exact one
	Layout  Layout

	model    frameModel
	codec    LineCodec
	lastiMul int    // bytes per f_lasti unit: 1 (<=3.9), 2 (3.10)
	codeMask uint64 // clears the tag bits of a 3.14+ _PyStackRef
	shimMin  int    // owner values >= this are C-stack/interpreter shims (3.12+); -1 none
	isEntry  int    // offset of 3.11's _PyInterpreterFrame.is_entry; Absent elsewhere
	topOff   int    // the thread state field the walk starts from (see frameModelFor)
	// gilInline is the offset of the interpreter's own inline
	// _gil_runtime_state (3.14+ _gil, from _Py_DebugOffsets) when no
	// ceval.gil pointer offset is known; Absent otherwise.
	gilInline int
	// From _Py_DebugOffsets (3.14+), for asyncio: a coroutine's inline
	// frame and state, a frame's stack pointer; Absent elsewhere.
	genIFrame, genFrameState, stackPointer int
	// attachedAt is the offset of the thread state's own "state" word
	// (free-threaded 3.13), which says whether the thread is attached:
	// there, what holding the GIL is on the other builds. Absent elsewhere.
	attachedAt int
}

type section struct{ addr, size uint64 }

// The symbols and sections locate reads; a Binary keeps only these, so its
// file can be closed once it is made.
var (
	locateSymbols  = []string{"_PyRuntime", "interp_head", "Py_Version", "_PyThreadState_Current"}
	locateSections = []string{".PyRuntime", ".data", ".bss"}
)

// newBinary takes what locate needs from the ELF file f, mapped as path.
func newBinary(path string, f ELF) *Binary {
	b := &Binary{Path: path, syms: map[string]uint64{}, sections: map[string]section{}}
	for _, name := range locateSymbols {
		if a, ok := f.Symbol(name); ok && a != 0 {
			b.syms[name] = a
		}
	}
	for _, name := range locateSections {
		if a, s, ok := f.Section(name); ok {
			b.sections[name] = section{a, s}
		}
	}
	return b
}

// newBuild fixes the strategies for version v with layout l.
func newBuild(v Version, l Layout) *Build {
	b := &Build{Version: v, Layout: l, codec: codecFor(v), lastiMul: 1, codeMask: ^uint64(0), shimMin: -1, gilInline: Absent, isEntry: Absent, genIFrame: Absent, genFrameState: Absent, stackPointer: Absent, attachedAt: Absent}
	if b.codec == Linetable310 {
		b.lastiMul = 2 // 3.10's f_lasti counts code units, not bytes
	}
	b.model, b.topOff = frameModelFor(l)
	// Frame owners: 3 is FRAME_OWNED_BY_CSTACK on 3.12/3.13; 3.14 inserts
	// FRAME_OWNED_BY_INTERPRETER = 3 before CSTACK = 4, both shims
	// (Include/internal/pycore_frame.h v3.12.0, v3.14.0).
	if v.AtLeast(3, 12) {
		b.shimMin = 3
	} else if v.AtLeast(3, 11) && l.Frame.Owner > 0 {
		// bool is_entry; char owner; (Include/internal/pycore_frame.h v3.11.0)
		b.isEntry = l.Frame.Owner - 1
	}
	if v.AtLeast(3, 14) {
		// f_executable is a _PyStackRef whose low bits are tags
		// (Include/internal/pycore_stackref.h, v3.14.0).
		b.codeMask = ^uint64(3)
	}
	return b
}

// useDebugOffsets takes the strategy facts from the target's own
// _Py_DebugOffsets (3.13+) over the version rules of newBuild, which stay
// the fallback and, in the tests, the cross-check: the frame owners that
// mark shim frames, the tag bits of f_executable, the inline GIL.
func (b *Build) useDebugOffsets(d *DebugOffsets) {
	o := d.Frame.Owners
	b.shimMin = -1
	for _, shim := range []int{o.Interpreter, o.CStack} {
		if shim != Absent && (b.shimMin < 0 || shim < b.shimMin) {
			b.shimMin = shim
		}
	}
	b.codeMask = ^d.Frame.TagMask
	b.genIFrame, b.genFrameState, b.stackPointer = d.Gen.IFrame, d.Gen.FrameState, d.Frame.StackPointer
	if b.Layout.Interp.GILPtr == Absent && d.Interp.OwnGIL != Absent {
		b.gilInline = d.Interp.OwnGIL
	}
	if d.FreeThreaded && d.Version.Major == 3 && d.Version.Minor == 13 && d.Thread.Status != Absent {
		// struct _ts: the 4-byte _status bit field, int _whence, int
		// state (Include/cpython/pystate.h v3.13.0, with or without the
		// GIL; checked on 3.13.15t by TestAttachedLive).
		b.attachedAt = d.Thread.Status + 8
	}
}

// Bias is the load bias of the binary in a process with maps, which maps
// it as mappedPath.
func (b *Binary) Bias(maps []procmem.Mapping, mappedPath string) (uint64, error) {
	bias, err := procmem.LoadBias(b.segments, maps, mappedPath)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", b.Path, err)
	}
	return bias, nil
}

// Mapped is a binary as one process maps it: runtime address = link-time
// address + Bias.
type Mapped struct {
	*Binary
	Bias uint64
}

func (m Mapped) symbol(name string) (uint64, bool) {
	a, ok := m.syms[name]
	if !ok {
		return 0, false
	}
	return a + m.Bias, true
}

func (m Mapped) section(name string) (addr, size uint64, ok bool) {
	s, ok := m.sections[name]
	if !ok {
		return 0, 0, false
	}
	return s.addr + m.Bias, s.size, true
}

// Binaries opens each binary once per run. A file is known again by the
// path its process maps it under with the same size and modification time,
// or, under another path (a container, a copied virtualenv), by its build
// id. The files are closed as soon as their facts are taken. Safe for
// concurrent use.
type Binaries struct {
	mu     sync.Mutex
	byFile map[fileKey]*Binary
	byID   map[string]*Binary
	parsed int
	noDisk bool
}

// NoDisk keeps this cache off the disk cache (DiskCacheDir).
func (c *Binaries) NoDisk() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.noDisk = true
}

type fileKey struct {
	path  string
	size  int64
	mtime int64
}

// NewBinaries makes an empty cache.
func NewBinaries() *Binaries {
	return &Binaries{byFile: map[fileKey]*Binary{}, byID: map[string]*Binary{}}
}

// Open returns the binary a process maps as path, which this process can
// open as hostPath (procmem.MappedFile).
func (c *Binaries) Open(path, hostPath string) (*Binary, error) {
	st, err := os.Stat(hostPath)
	if err != nil {
		return nil, fmt.Errorf("open binary: %w", err)
	}
	k := fileKey{path, st.Size(), st.ModTime().UnixNano()}
	// Parsing under the lock: two processes of one new build (a pool
	// starting) then parse it once, not twice.
	c.mu.Lock()
	defer c.mu.Unlock()
	if b := c.byFile[k]; b != nil {
		return b, nil
	}
	ino := fileInode(st)
	if c.noDisk {
		ino = 0 // and key stays empty below: not loaded, not saved
	}
	if b := loadDisk(k, ino); b != nil {
		c.byFile[k] = b
		if c.byID[b.BuildID] == nil {
			c.byID[b.BuildID] = b
		}
		return b, nil
	}
	f, err := procmem.OpenBinary(hostPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if b := c.byID[f.BuildID]; b != nil && f.BuildID != "" {
		c.byFile[k] = b
		return b, nil
	}
	b := newBinary(path, f)
	b.BuildID, b.segments = f.BuildID, f.Segments()
	if !c.noDisk {
		b.key, b.ino = k, ino
		b.saveDisk()
	}
	c.parsed++
	c.byFile[k] = b
	if f.BuildID != "" {
		c.byID[f.BuildID] = b
	}
	return b, nil
}

// Parsed is how many files the cache has parsed.
func (c *Binaries) Parsed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.parsed
}
