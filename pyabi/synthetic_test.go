package pyabi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
)

// TestSyntheticWalk runs Locate, Threads, Stack and GILHolder end to end on
// a process image laid out in memory for builds this machine cannot run:
// 3.13 free-threaded, 3.14 default and free-threaded, 3.15 default and
// free-threaded (and 3.13 default, which is installed, as a control). Every
// offset comes from that build's _Py_DebugOffsets image, which the image
// itself starts with, exactly as a real _PyRuntime does.
//
// Each image holds three threads: the main thread with a stack that mixes
// Python frames with the frames CPython keeps for itself (entry frames of
// the eval loop, the __init__ cleanup shim, and 3.15's base frame), a
// worker whose frames on free-threaded 3.14+ execute thread-local copies
// of the bytecode, and an idle thread without Python frames.
func TestSyntheticWalk(t *testing.T) {
	for _, tt := range []struct {
		name, version string
		img           []byte
	}{
		{"3.13.0", "3.13.0", debugImage313()},
		{"3.13.0t", "3.13.0t", debugImage313t()},
		{"3.14.6", "3.14.6", debugImage314()},
		{"3.14.6t", "3.14.6t", lp64ThreadIDs(t, debugImage314t())},
		{"3.15.0rc1", "3.15.0", lp64ThreadIDs(t, debugImage315())},
		{"3.15.0rc1t", "3.15.0t", lp64ThreadIDs(t, debugImage315t())},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := mustDecodeDebug(t, padDebug(tt.img))
			for _, stripped := range []bool{false, true} {
				name := "symbols"
				if stripped {
					name = "stripped"
				}
				t.Run(name, func(t *testing.T) {
					s := buildSynth(t, d, padDebug(tt.img), stripped)
					s.check(t, tt.version)
				})
			}
		})
	}
}

// padDebug appends what follows the struct in _PyRuntime, so a reader
// that reads DebugOffsetsReadSize bytes stays inside it.
func padDebug(img []byte) []byte {
	return append(append([]byte(nil), img...), make([]byte, DebugOffsetsReadSize)...)
}

// lp64ThreadIDs moves thread_state.native_thread_id to 8 bytes after
// thread_id. The recorded 3.14t and 3.15 images come from Windows builds,
// where unsigned long is 4 bytes (LLP64): native_thread_id sits 4 bytes
// after thread_id there, while on Linux (LP64), the only platform the
// walker reads, both are 8 bytes, as the Linux images of 3.13.0 and 3.14.6
// show (152, 160). Nothing else the walk reads has a long in it.
func lp64ThreadIDs(t *testing.T, img []byte) []byte {
	t.Helper()
	minor := int(binary.LittleEndian.Uint64(img[8:]) >> 16 & 0xff)
	tidAt, nativeAt := debugWordPos(t, minor, "thread_state.thread_id"), debugWordPos(t, minor, "thread_state.native_thread_id")
	tid := binary.LittleEndian.Uint64(img[tidAt:])
	if binary.LittleEndian.Uint64(img[nativeAt:]) != tid+4 {
		t.Fatalf("3.%d image: native_thread_id is not 4 bytes after thread_id; no longer an LLP64 record?", minor)
	}
	return setDebugWord(img, nativeAt, tid+8)
}

// debugWordPos is the byte position of field key ("group.field") in the
// _Py_DebugOffsets of minor.
func debugWordPos(t *testing.T, minor int, key string) int {
	t.Helper()
	spec, _ := pickDebugSpec(minor, 0x03000000|uint64(minor)<<16|0xf0)
	pos := debugHeaderSize
	for _, g := range spec.groups {
		for _, f := range g.fields {
			if g.name+"."+f == key {
				return pos
			}
			pos += 8
		}
	}
	t.Fatalf("3.%d: no field %s", minor, key)
	return 0
}

// The location table every synthetic function uses, 21 code units, with
// the line of each unit relative to co_firstlineno F. It uses every entry
// form of Objects/locations.md (v3.11.0 on).
var synthLocations = []locEntry{
	{1, 13, 0},  // unit 0: RESUME on the def line, F
	{2, 11, 0},  // units 1-2: one-line form, F+1
	{3, 0, 0},   // units 3-5: short form, same line, F+1
	{4, 14, 3},  // units 6-9: long form, F+4
	{1, 13, -2}, // unit 10: no column, F+2
	{1, 15, 0},  // unit 11: no location: the walk reports F
	{8, 13, 5},  // units 12-19: F+7
	{1, 0, 0},   // unit 20: F+7
}

const synthUnits = 21

// wantFrame is an expected frame; alt, when not 0, is the other line the
// walk may report (see the worker's frames).
type wantFrame struct {
	name, file string
	line, alt  int
}

// synthThread is one thread state of the image and what a walk must see.
type synthThread struct {
	addr, threadID uint64
	nativeID       int
	frames         []wantFrame // innermost first; nil: no Python frames
}

// synth is a built image: where things are and what the walk must find.
type synth struct {
	p        *synthProcess
	images   []Image
	runtime  uint64
	interp   uint64
	threads  []synthThread // in list order, head first
	gilOwner uint64        // 0 in free-threaded builds, whose GIL is disabled
}

// buildSynth lays out _PyRuntime (starting with img), the main
// interpreter, three threads and their stacks. stripped leaves the fake
// libpython without symbols, so Locate must use the .PyRuntime section.
func buildSynth(t *testing.T, d *DebugOffsets, img []byte, stripped bool) *synth {
	t.Helper()
	p := newSynthProcess(d, 0x7f3a60000000)
	m := p.m
	s := &synth{p: p}
	owners := d.Frame.Owners
	// The frames CPython keeps for itself. An eval loop's entry frame is
	// owned by the C stack in 3.13 (Python/ceval.c v3.13.0: entry_frame
	// with FRAME_OWNED_BY_CSTACK) and by the interpreter from 3.14
	// (FRAME_OWNED_BY_INTERPRETER, pycore_interpframe_structs.h); its
	// f_executable is None. The shim frame that runs __init__'s cleanup
	// (_Py_InitCleanup) is owned by the C stack in 3.13 and 3.14 and holds
	// a real code object, so a walk that did not skip it would show it;
	// 3.15 dropped FRAME_OWNED_BY_CSTACK and the interpreter owns it.
	entryOwner, shimOwner := owners.Interpreter, owners.CStack
	if entryOwner == Absent {
		entryOwner = owners.CStack
	}
	if shimOwner == Absent {
		shimOwner = owners.Interpreter
	}
	var tag uint64 // 3.14+: Py_TAG_REFCNT (GIL build) or Py_TAG_DEFERRED (free-threaded), both bit 0
	if d.Frame.TagMask != 0 {
		tag = 1
	}
	loc := encodeLocations(synthLocations)
	ft314 := d.Frame.TLBCIndex != Absent

	// A copy of the bytecode below every code object: free-threaded 3.14+
	// gives each thread that specialises code its own copy (co_tlbc).
	copyLow := m.alloc(2 * synthUnits)
	mod := p.code("<module>", "<module>", "/srv/app/main.py", 1, loc, synthUnits)
	mainFn := p.code("main", "main", "/srv/app/main.py", 10, loc, synthUnits)
	initFn := p.code("__init__", "Widget.__init__", "/srv/app/widgets.py", 20, loc, synthUnits)
	helper := p.code("función_ñ", "función_ñ", "/srv/app/ünï/mödülé.py", 30, loc, synthUnits)
	shim := p.code("__init__", "shim-must-be-skipped", "__init__", 1, loc, synthUnits)
	// The worker's code: thread-local copy 1 is copyLow for deep and
	// copyHigh (allocated below, after everything) for run.
	deep := p.code("emoji_😀", "Worker.emoji_😀", "/srv/app/工作.py", 50, loc, synthUnits, copyLow)
	run := p.code("run", "工作.run", "/srv/app/工作.py", 40, loc, synthUnits)

	// Thread states, each followed by a base frame (3.15: tstate->base_frame
	// points at a sentinel frame inside _PyThreadStateImpl, owned by the
	// interpreter, at the bottom of every stack; an idle thread's
	// current_frame is that frame rather than NULL).
	hasBase := d.Thread.BaseFrame != Absent
	newThread := func() (ts, base uint64) {
		ts = m.alloc(d.Sizes.Thread + d.Sizes.Frame)
		if hasBase {
			base = ts + uint64(d.Sizes.Thread)
			p.frame(base, 0, p.none, tag, 0, owners.Interpreter, 0)
			m.put64(ts+uint64(d.Thread.BaseFrame), base)
		}
		return ts, base
	}
	mainTS, mainBase := newThread()
	workerTS, workerBase := newThread()
	idleTS, idleBase := newThread()

	// frames lays out a stack, outermost first, in a data stack chunk
	// (Python frames) or on the C stack (entry and shim frames), and
	// returns the innermost.
	type fr struct {
		code  uint64 // 0: an entry frame (f_executable None)
		unit  int
		owner int
		tag   uint64
		tlbc  int32
		instr uint64 // instead of code's own bytecode + 2*unit
		null  bool   // a call in progress: f_executable still PyStackRef_NULL
	}
	chunk := m.alloc(16 * (d.Sizes.Frame + 64))
	next := chunk
	stack := func(bottom uint64, frames []fr) uint64 {
		prev := bottom
		for _, f := range frames {
			a := next
			if f.owner != owners.Thread {
				a = m.alloc(d.Sizes.Frame) // on the C stack
			} else {
				next += uint64(d.Sizes.Frame + 64)
			}
			exe, instr := f.code, f.instr
			if f.null {
				exe, instr = 0, 0
			} else if exe == 0 {
				exe = p.none
			} else if instr == 0 {
				instr = exe + uint64(d.Layout.Code.CodeAdaptive) + 2*uint64(f.unit)
			}
			p.frame(a, prev, exe, f.tag, instr, f.owner, f.tlbc)
			prev = a
		}
		return prev
	}
	py := owners.Thread
	mainTop := stack(mainBase, []fr{
		{owner: entryOwner, tag: tag},
		{code: mod.addr, unit: 7, owner: py, tag: tag},
		{code: mainFn.addr, unit: 10, owner: py},
		{code: shim.addr, unit: 0, owner: shimOwner, tag: tag},
		{code: initFn.addr, unit: 2, owner: py, tag: tag},
		{owner: entryOwner, tag: tag},
		{code: helper.addr, unit: 15, owner: py, tag: tag},
		{code: helper.addr, unit: 11, owner: py, tag: tag},
	})
	workerFrames := []fr{
		{owner: entryOwner, tag: tag},
		{code: run.addr, unit: 4, owner: py, tag: tag},
		{code: deep.addr, unit: 20, owner: py},
	}
	if tag != 0 {
		// 3.14+: the frame of a call just pushed, whose executable is
		// not stored yet, is innermost; the thread is still in deep.
		workerFrames = append(workerFrames, fr{null: true, owner: py, tag: tag})
	}
	var copyHigh uint64
	if ft314 {
		// Both worker frames run thread-local copy 1: run's lies above
		// every object (a position past the end of its table), deep's
		// below (a negative position).
		copyHigh = m.alloc(2 * synthUnits)
		workerFrames[1].tlbc, workerFrames[1].instr = 1, copyHigh+2*4
		workerFrames[2].tlbc, workerFrames[2].instr = 1, copyLow+2*20
		// run's co_tlbc is written now that its copy exists.
		arr := m.alloc(24)
		m.put64(arr, 2)
		m.put64(arr+8, run.bytecode)
		m.put64(arr+16, copyHigh)
		m.put64(run.addr+uint64(d.Code.TLBC), arr)
	}
	workerTop := stack(workerBase, workerFrames)

	interp := m.alloc(d.Sizes.Interp)
	runtime := m.alloc(d.Sizes.Runtime)
	copy(m.at(runtime), img[:d.Size])
	m.put64(runtime+uint64(d.Layout.Runtime.InterpretersHead), interp)
	s.runtime, s.interp = runtime, interp

	// Newest thread first: PyThreadState_New pushes at the head, so the
	// main thread is last.
	type tsFields struct {
		addr, prev, next, top, threadID uint64
		native                          int
	}
	idleTop := idleBase // 3.15: the base frame; before: NULL
	for _, f := range []tsFields{
		{idleTS, 0, workerTS, idleTop, 0x7f3a5b3fe6c0, 4244},
		{workerTS, idleTS, mainTS, workerTop, 0x7f3a5bbff6c0, 4243},
		{mainTS, workerTS, 0, mainTop, synthOwnerTID, 4242},
	} {
		th := d.Layout.Thread
		m.put64(f.addr+uint64(d.Thread.Prev), f.prev)
		m.put64(f.addr+uint64(th.Next), f.next)
		m.put64(f.addr+uint64(th.Interp), interp)
		m.put64(f.addr+uint64(th.CurrentFrame), f.top)
		m.put64(f.addr+uint64(th.ThreadID), f.threadID)
		m.put64(f.addr+uint64(th.NativeThreadID), uint64(f.native))
	}
	l := d.Layout
	m.put64(interp+uint64(l.Interp.ThreadsHead), idleTS)
	if d.FreeThreaded {
		// sys.modules, not a dict: ThreadNames must fail with an error,
		// refusing a build whose object layout it lacks (3.14t, 3.15t)
		// or finding no dict (3.13t), never panic (see check).
		m.put64(interp+uint64(l.Interp.Modules), p.str("threading"))
	}
	if d.Interp.ThreadsMain != Absent {
		m.put64(interp+uint64(d.Interp.ThreadsMain), mainTS)
	}
	// ceval.gil points at the interpreter's own _gil (Python/ceval_gil.c
	// v3.12.0 on: the main interpreter's GIL lives in it). The main
	// thread holds it; in a free-threaded build it is disabled (enabled
	// 0) and never locked, and last_holder is a stale value.
	gil := interp + uint64(d.Interp.OwnGIL)
	m.put64(interp+uint64(l.Interp.GILPtr), gil)
	m.put64(gil+uint64(l.GIL.LastHolder), mainTS)
	if d.FreeThreaded {
		m.put32(gil+uint64(d.Interp.GILEnabled), 0)
	} else {
		m.put32(gil+uint64(l.GIL.Locked), 1)
		s.gilOwner = mainTS
	}

	mainFile, initFile, helperFile := "/srv/app/main.py", "/srv/app/widgets.py", "/srv/app/ünï/mödülé.py"
	s.threads = []synthThread{
		{addr: idleTS, threadID: 0x7f3a5b3fe6c0, nativeID: 4244},
		{addr: workerTS, threadID: 0x7f3a5bbff6c0, nativeID: 4243, frames: []wantFrame{
			{"Worker.emoji_😀", "/srv/app/工作.py", 57, 0},
			{"工作.run", "/srv/app/工作.py", 41, 0},
		}},
		{addr: mainTS, threadID: synthOwnerTID, nativeID: 4242, frames: []wantFrame{
			{"función_ñ", helperFile, 30, 0}, // unit 11 has no location
			{"función_ñ", helperFile, 37, 0},
			{"Widget.__init__", initFile, 21, 0},
			{"main", mainFile, 12, 0},
			{"<module>", mainFile, 5, 0},
		}},
	}
	if ft314 {
		// A walk that does not follow co_tlbc cannot place these: it
		// must fall back to the first line, never fail or guess another.
		s.threads[1].frames[0].alt = 50
		s.threads[1].frames[1].alt = 40
	}

	// The process maps a host executable with nothing of Python in it,
	// then libpython, whose link-time addresses are biased.
	const bias = 0x7f3a00000000
	lib := fakeELF{symbols: map[string]uint64{"_PyRuntime": runtime - bias}}
	if stripped {
		lib = fakeELF{sections: map[string][2]uint64{".PyRuntime": {runtime - bias, uint64(d.Sizes.Runtime)}}}
	}
	s.images = []Image{
		{Path: "/opt/host/bin/apphost", File: fakeELF{}, Bias: 0x555555554000},
		{Path: fmt.Sprintf("/opt/host/lib/libpython3.%d%s.so.1.0", d.Version.Minor, map[bool]string{true: "t"}[d.FreeThreaded]), File: lib, Bias: bias},
	}
	return s
}

// check runs the walk and compares everything it reports.
func (s *synth) check(t *testing.T, version string) {
	t.Helper()
	in, err := Locate(s.p.m.reader(), s.images, nil)
	if err != nil {
		t.Fatalf("Locate: %v", err)
	}
	if got := in.Version.String(); got != version || in.Guessed {
		t.Errorf("version %s (guessed %t), want %s", got, in.Guessed, version)
	}
	if in.Runtime != s.runtime || in.Head != s.interp {
		t.Errorf("runtime %#x head %#x, want %#x %#x", in.Runtime, in.Head, s.runtime, s.interp)
	}
	// Twice: the second walk reads through the guesses the first left.
	for round := range 2 {
		threads, err := in.Threads(nil)
		if err != nil {
			t.Fatalf("round %d: Threads: %v", round, err)
		}
		if len(threads) != len(s.threads) {
			t.Fatalf("round %d: %d threads, want %d", round, len(threads), len(s.threads))
		}
		for i, want := range s.threads {
			th := &threads[i]
			if th.Addr != want.addr || th.ThreadID != want.threadID || th.NativeID != want.nativeID {
				t.Errorf("round %d: thread %d at %#x id %#x native %d, want %#x %#x %d",
					round, i, th.Addr, th.ThreadID, th.NativeID, want.addr, want.threadID, want.nativeID)
			}
			frames, err := in.Stack(th, nil)
			if want.frames == nil {
				if !errors.Is(err, ErrNoFrames) {
					t.Errorf("round %d: idle thread %d: frames %v, error %v; want ErrNoFrames", round, i, describe(frames), err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("round %d: thread %d: Stack: %v", round, i, err)
			}
			if len(frames) != len(want.frames) {
				t.Errorf("round %d: thread %d: %d frames, want %d: %s", round, i, len(frames), len(want.frames), describe(frames))
				continue
			}
			for j, w := range want.frames {
				f := frames[j]
				lineOK := f.Line == w.line || (w.alt != 0 && f.Line == w.alt)
				if f.Code.Name != w.name || f.Code.File != w.file || !lineOK {
					t.Errorf("round %d: thread %d frame %d: %s (%s:%d), want %s (%s:%d, or %d)",
						round, i, j, f.Code.Name, f.Code.File, f.Line, w.name, w.file, w.line, w.alt)
				}
				if w.alt != 0 && round == 0 {
					t.Logf("thread-local bytecode: %s reported at line %d (exact %d, first line %d)", w.name, f.Line, w.line, w.alt)
				}
			}
		}
		holder, err := in.GILHolder()
		if err != nil {
			t.Fatalf("round %d: GILHolder: %v", round, err)
		}
		if holder != s.gilOwner {
			t.Errorf("round %d: GIL holder %#x, want %#x", round, holder, s.gilOwner)
		}
	}
	// Thread names of a free-threaded build read a sys.modules that is no
	// dict: an error (the sampler then names threads by their OS names),
	// never a panic. A default build before the import system is up has none.
	names, err := in.ThreadNames()
	switch {
	case s.p.d.FreeThreaded && err == nil:
		t.Errorf("ThreadNames on a free-threaded build: %v, %v; want an error saying why", names, err)
	case !s.p.d.FreeThreaded && (err != nil || len(names) != 0):
		t.Errorf("ThreadNames without sys.modules: %v, %v; want none", names, err)
	}
}

func describe(frames []Frame) string {
	out := ""
	for _, f := range frames {
		out += fmt.Sprintf("\n  %s (%s:%d)", f.Code.Name, f.Code.File, f.Line)
	}
	return out
}
