package sampler

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/pyspyglass/pyspyglass/native"
	"github.com/pyspyglass/pyspyglass/procmem"
	"github.com/pyspyglass/pyspyglass/pyabi"
	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// maxStackCopy bounds the copy of one thread's stack. The copy ends at
// the end of the stack's mapping, so it is as long as the stack in use:
// a 500-frame Python 3.10 stack takes about 250 KiB of C stack.
const maxStackCopy = 1 << 20

// maxNativeDepth bounds the native frames of one walk: Python 3.10 and
// older take several C frames per Python call, up to the recursion limit.
const maxNativeDepth = 8192

// spaceEvery is how often the code map of a process may be rebuilt when
// an address fell outside it (a library loaded since). A program starting
// up loads extension modules for a while (mypy: a hundred in half a
// second), and until the map is rebuilt their code cannot be unwound.
const spaceEvery = 100 * time.Millisecond

// nativeTarget is one process's native unwinding state, made on its first
// --native sample.
type nativeTarget struct {
	space    *native.Space
	built    time.Time
	stale    bool            // a pc fell outside every module
	interp   map[string]bool // paths of the binaries holding the interpreter
	evalName string          // the evaluation loop's C function
	infos    map[uint64]pcInfo
	captures []capture // the threads copied during the current stop
	pcs      []uint64
	groups   []int // end of each Python group (one C evaluation call), innermost first
	done     []bool
	marker   prof.FrameID
}

type pcClass uint8

const (
	pcShown    pcClass = iota
	pcEval             // the evaluation loop: replaced by the Python frames it runs
	pcPlumbing         // the interpreter's call machinery between Python frames
	pcStartup          // process and thread start-up, below the outermost Python frame
)

type pcInfo struct {
	class  pcClass
	system bool // in the interpreter's binary or in libc
	libc   bool
	id     prof.FrameID
}

// targetAux is what the sampler keeps about a target beyond its Python
// threads: its OS threads (for threads without Python) and native state.
type targetAux struct {
	native    *nativeTarget
	tids      []int          // the OS threads at the last listing (without --native)
	sinceList int            // refreshes since that listing
	names     map[int]string // OS names of threads without a Python name
	states    map[int]byte   // OS states read before the target was stopped
}

// listEvery is how many refreshes keep the OS thread list while the
// process's thread count stays the same: a thread that replaces another
// within that second is seen at the next listing.
const listEvery = 10

// listThreads lists the OS threads of pid again, unless their count, one
// system call where a listing costs four, has not changed since the last
// listing less than listEvery refreshes ago.
func (a *targetAux) listThreads(pid int) {
	if a.tids != nil && a.sinceList < listEvery {
		if n, err := procmem.ThreadCount(pid); err == nil && n == len(a.tids) {
			a.sinceList++
			return
		}
	}
	a.tids, _ = procmem.Threads(pid)
	a.sinceList = 0
}

// state is thread tid's OS state: as read before the stop when the
// target is paused (a thread not seen then is taken as running), else now.
func (a *targetAux) state(t *Target, tid int, paused bool) (byte, error) {
	if paused {
		if st, ok := a.states[tid]; ok {
			return st, nil
		}
		return 'R', nil
	}
	return t.stat.State(tid)
}

func (s *Sampler) auxFor(t *Target) *targetAux {
	a := s.aux[t]
	if a == nil {
		a = &targetAux{names: map[int]string{}, states: map[int]byte{}}
		s.aux[t] = a
	}
	return a
}

// threadName is the OS name of thread tid, read once.
func (a *targetAux) threadName(pid, tid int) string {
	n, ok := a.names[tid]
	if !ok {
		n, _ = procmem.ThreadComm(pid, tid)
		a.names[tid] = n
	}
	return n
}

// nativeFor returns t's native state, building or rebuilding its code map
// as needed.
func (s *Sampler) nativeFor(t *Target, a *targetAux) (*nativeTarget, error) {
	nt := a.native
	if nt != nil && !(nt.stale && time.Since(nt.built) >= spaceEvery) {
		return nt, nil
	}
	maps, err := procmem.ReadMaps(t.Pid)
	if err != nil {
		return nil, t.wrap(err)
	}
	if s.nativeCache == nil {
		s.nativeCache = native.NewCache()
	}
	if nt == nil {
		nt = &nativeTarget{evalName: "_PyEval_EvalFrameDefault"}
		if !t.Interp.Version.AtLeast(3, 6) {
			nt.evalName = "PyEval_EvalFrameEx"
		}
		nt.marker = s.p.Frame(prof.Frame{Name: "<native frames lost>", Kind: prof.KindOther})
		a.native = nt
	}
	space := native.NewSpace(t.Pid, maps, s.nativeCache)
	if nt.space == nil && s.o.Log != nil {
		// Once per process: binaries the unwinder cannot read fully.
		for _, err := range space.Errors {
			s.o.Log.Warn("native frames of this module are walked by frame pointers only", "pid", t.Pid, "err", err)
		}
	}
	exe, _ := procmem.Exe(t.Pid)
	nt.interp = map[string]bool{}
	for _, m := range maps {
		if m.FileBacked() && (m.Path == exe || strings.HasPrefix(filepath.Base(m.Path), "libpython")) {
			nt.interp[m.Path] = true
		}
	}
	nt.space, nt.built, nt.stale = space, time.Now(), false
	nt.infos = map[uint64]pcInfo{}
	return nt, nil
}

// info classifies and interns the native frame at pc (a return address
// unless leaf), once per address.
func (s *Sampler) info(nt *nativeTarget, pc uint64, leaf bool) pcInfo {
	key := pc << 1
	if leaf {
		key |= 1
	}
	if in, ok := nt.infos[key]; ok {
		return in
	}
	f := nt.space.Symbolize(pc, leaf)
	if f.Module == "" {
		nt.stale = true // maybe code loaded since the map was read
	}
	name := f.Name()
	in := pcInfo{class: classify(strings.TrimSuffix(f.Func, ".cold"), nt.interp[f.Module], nt.evalName)}
	base := filepath.Base(f.Module)
	in.libc = strings.HasPrefix(base, "libc.so") || strings.HasPrefix(base, "libc-")
	in.system = nt.interp[f.Module] || in.libc
	if f.Func == "" && nt.interp[f.Module] {
		// A static function of a stripped interpreter: mostly the call
		// machinery, which cannot be told by name here.
		in.class = pcPlumbing
	}
	line := f.Line
	if s.o.NoLineNo || s.o.Function {
		line = 0
	}
	file := f.File
	if file == "" && f.Func != "" {
		// No line tables: the binary's name says where the function is
		// (an unnamed one carries it in its name already).
		file = filepath.Base(f.Module)
	}
	in.id = s.p.Frame(prof.Frame{Name: name, File: file, Line: line, Kind: prof.KindNative, Module: f.Module, BuildID: f.BuildID})
	nt.infos[key] = in
	return in
}

// classify says what the function fn is to the merge; interp: it is in
// the interpreter's own binary.
func classify(fn string, interp bool, evalName string) pcClass {
	switch {
	case fn == "":
		return pcShown
	case interp && fn == evalName:
		return pcEval
	case hasPrefix(fn, startupNames) || (interp && fn == "main"):
		return pcStartup
	case interp && hasPrefix(fn, plumbingNames):
		return pcPlumbing
	}
	return pcShown
}

func hasPrefix(fn string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(fn, p) {
			return true
		}
	}
	return false
}

// plumbingNames are the interpreter's functions that only pass a call on
// (CPython 2.7-3.14 Objects/call.c, Python/ceval.c, Objects/*object.c): in
// a merged stack they stand between a Python caller and its callee and
// say nothing the two Python frames do not.
var plumbingNames = []string{
	"_PyEval_", "PyEval_", "_PyObject_Call", "PyObject_Call", "_PyObject_Vectorcall",
	"PyObject_Vectorcall", "_PyObject_FastCall", "_PyObject_MakeTpCall", "object_vacall",
	"_PyFunction_", "PyFunction_", "function_code_fastcall", "function_call",
	"_PyVectorcall", "PyVectorcall", "_PyCFunction_", "PyCFunction_Call", "cfunction_",
	"_PyMethodDef_", "method_vectorcall", "method_call", "instancemethod_call", "vectorcall_",
	"slot_tp_call", "type_call", "call_function", "fast_function", "do_call_core",
	"wrapper_call", "wrapperdescr_call", "methoddescr_call", "classmethoddescr_call",
	"partial_call", "partial_vectorcall", "_PyGen_Send", "gen_send", "gen_iternext",
	"PyIter_Send",
}

// startupNames start a process or a thread and run the main module
// (glibc, CPython's Modules/main.c, Python/pythonrun.c, thread modules).
var startupNames = []string{
	"_start", "__libc_start_main", "__libc_start_call_main", "start_thread", "clone",
	"__clone", "Py_BytesMain", "Py_Main", "Py_RunMain", "pymain_", "_PyRun_", "PyRun_",
	"run_mod", "run_eval_code_obj", "pyrun_", "thread_run", "pythread_wrapper", "t_bootstrap",
}

// capture is one thread as copied while the target was stopped: its
// registers, its stack and its Python frames. Unwinding, naming (DWARF
// line tables can take a while the first time) and recording happen after
// the target runs again.
type capture struct {
	tid      int
	threadID uint64
	name     string
	python   bool // the thread has Python frames
	regs     native.Regs
	stack    []byte
	py       []pyabi.Frame
}

// capture copies the stack of thread r (one read, up to the end of its
// mapping) and its Python frames py; call it while the target is stopped.
func (s *Sampler) capture(t *Target, nt *nativeTarget, r *native.ThreadRegs, threadID uint64, name string, py []pyabi.Frame) {
	if len(nt.captures) < cap(nt.captures) {
		nt.captures = nt.captures[:len(nt.captures)+1]
	} else {
		nt.captures = append(nt.captures, capture{})
	}
	c := &nt.captures[len(nt.captures)-1]
	n := int(nt.space.StackWindow(r.SP, maxStackCopy))
	if cap(c.stack) < n {
		c.stack = make([]byte, n)
	}
	got, _ := t.Proc.ReadAt(c.stack[:n], r.SP) // a short copy ends the walk early
	c.stack = c.stack[:got]
	c.py = append(c.py[:0], py...)
	c.tid, c.threadID, c.name, c.python, c.regs = r.TID, threadID, name, len(py) > 0, r.Regs
}

// flush unwinds and records the captures of the last stop.
func (s *Sampler) flush(t *Target, nt *nativeTarget, at time.Duration) {
	for i := range nt.captures {
		c := &nt.captures[i]
		if !c.python {
			s.p.Health.NoPython++
		}
		ids := s.mergedStack(t, nt, c.regs, c.stack, c.py, s.ids[:0])
		s.ids = ids
		s.recordIDs(t, c.threadID, c.tid, c.name, ids, at)
	}
	nt.captures = nt.captures[:0]
}

// mergedStack unwinds one stopped thread from r and merges the Python
// frames py (innermost first, as walked) into it: each call of the
// evaluation loop is replaced by the Python frames it runs. The result,
// innermost first, is appended to ids.
func (s *Sampler) mergedStack(t *Target, nt *nativeTarget, r native.Regs, stack []byte, py []pyabi.Frame, ids []prof.FrameID) []prof.FrameID {
	pcs, end := nt.space.Unwind(r, native.Stack{Addr: r.SP, Data: stack}, nt.pcs[:0], maxNativeDepth)
	nt.pcs = pcs

	// Python frames in groups, one per C evaluation call.
	nt.groups = nt.groups[:0]
	for i, f := range py {
		if f.Entry || i == len(py)-1 {
			nt.groups = append(nt.groups, i+1)
		}
	}
	nt.done = nt.done[:0]
	for range nt.groups {
		nt.done = append(nt.done, false)
	}
	evals := 0
	for i, pc := range pcs {
		if s.info(nt, pc, i == 0).class == pcEval {
			evals++
		}
	}
	// Pair evaluation calls with groups. A complete walk is paired from
	// the outermost end: an evaluation call just entered may not have
	// pushed its frame yet. A cut walk can only be paired from the inside.
	shift := 0
	if end == native.EndOutermost {
		shift = evals - len(nt.groups)
	}
	emit := func(g int) {
		if g < 0 || g >= len(nt.groups) || nt.done[g] {
			return
		}
		start := 0
		if g > 0 {
			start = nt.groups[g-1]
		}
		for _, f := range py[start:nt.groups[g]] {
			ids = append(ids, s.frameID(t, f))
		}
		nt.done[g] = true
	}
	seenPython, k := false, 0
	libcTail := -1 // start of the outermost run of libc frames
	for i, pc := range pcs {
		in := s.info(nt, pc, i == 0)
		if in.class == pcEval {
			g := k - shift
			k++
			if g >= 0 && g < len(nt.groups) {
				for j := 0; j <= g; j++ { // unpaired inner groups go first
					emit(j)
				}
				seenPython, libcTail = true, -1
				continue
			}
		}
		if !s.o.NativeAll && s.hidden(nt, in, i, seenPython) {
			continue
		}
		switch {
		case !in.libc:
			libcTail = -1
		case libcTail < 0:
			libcTail = len(ids)
		}
		ids = append(ids, in.id)
	}
	if end == native.EndOutermost && !s.o.NativeAll && libcTail > 0 {
		// Thread start-up in libc, named or not (start_thread and clone3
		// are local symbols, absent from a stripped libc).
		ids = ids[:libcTail]
	}
	if end != native.EndOutermost {
		ids = append(ids, nt.marker)
	}
	for g := range nt.groups {
		emit(g) // Python frames the walk did not reach
	}
	return ids
}

// hidden says whether the native frame in, the i-th from the inside, is
// left out of a merged stack: the call machinery under a Python frame
// (unless it is the leaf, where the time is its own), thread and process
// start-up, and below the outermost Python frame all of the interpreter
// and libc (libc's local symbols are not even named).
func (s *Sampler) hidden(nt *nativeTarget, in pcInfo, i int, seenPython bool) bool {
	switch {
	case in.class == pcStartup:
		return true
	case in.class == pcPlumbing:
		return i > 0 && len(nt.groups) > 0
	case seenPython && in.system:
		return nt.done[len(nt.done)-1] // below the outermost Python frame
	}
	return false
}

// nativeOnly records a thread that has no Python frame (a C thread, or
// start-up and teardown) as one "<native>" frame, so that its time does
// not vanish from a profile taken without --native.
func (s *Sampler) nativeOnly(t *Target, tid int, name string, at time.Duration) {
	s.p.Health.NoPython++
	s.ids = append(s.ids[:0], s.nativeFrame())
	s.recordIDs(t, uint64(tid)|1<<63, tid, name, s.ids, at)
}

func (s *Sampler) nativeFrame() prof.FrameID {
	if s.nativeID < 0 {
		s.nativeID = s.p.Frame(prof.Frame{Name: "<native>", Kind: prof.KindOther})
	}
	return s.nativeID
}

// recordIDs adds one sample of an innermost-first stack of frame ids,
// without the Python memo of record.
func (s *Sampler) recordIDs(t *Target, threadID uint64, tid int, name string, ids []prof.FrameID, at time.Duration) {
	tk := threadKey{pid: t.Pid, id: threadID, name: name}
	ti, ok := s.threadIDs[tk]
	if !ok {
		ti = s.p.Thread(prof.Thread{Pid: t.Pid, TID: tid, Name: name})
		s.threadIDs[tk] = ti
	}
	st := s.stack[:0]
	if s.o.ProcessRoots {
		st = append(st, s.processRoot(t))
	}
	if s.o.ThreadRoots {
		st = append(st, s.p.Frame(prof.Frame{Name: fmt.Sprintf("thread %d %q", tid, name), Kind: prof.KindThread}))
	}
	for i := len(ids) - 1; i >= 0; i-- {
		st = append(st, ids[i])
	}
	s.stack = st
	s.added(s.p.Stack(st), ti, at)
}

// NativeThread is one thread's merged stack, as dump --native shows it.
type NativeThread struct {
	TID    int
	Name   string       // the OS name, for threads without Python
	Python bool         // the thread has a Python thread state
	Frames []prof.Frame // innermost first
}

// NativeStacks merges every thread's native stack with its Python frames
// once. The caller has stopped the target and read regs while it was
// stopped; the Python frames are read here, so both are of one instant.
func (t *Target) NativeStacks(regs []native.ThreadRegs, all bool) ([]NativeThread, error) {
	p := prof.New(time.Now())
	s := New(nil, p, Options{Native: true, NativeAll: all, FullFilenames: true})
	a := s.auxFor(t)
	nt, err := s.nativeFor(t, a)
	if err != nil {
		return nil, err
	}
	if err := t.refresh(&s.walker); err != nil {
		return nil, err
	}
	var out []NativeThread
	for _, r := range regs {
		nth := NativeThread{TID: r.TID}
		var py []pyabi.Frame
		for i := range t.threads {
			if th := &t.threads[i]; th.NativeID == r.TID {
				nth.Python = true
				// A stack that cannot be read leaves the native frames.
				if frames, err := s.walker.Stack(t.Interp, th, nil); err == nil {
					py = frames
				}
			}
		}
		if !nth.Python {
			nth.Name = a.threadName(t.Pid, r.TID)
		}
		n := nt.space.StackWindow(r.SP, maxStackCopy)
		buf := make([]byte, n)
		got, _ := t.Proc.ReadAt(buf, r.SP)
		for _, id := range s.mergedStack(t, nt, r.Regs, buf[:got], py, nil) {
			nth.Frames = append(nth.Frames, p.Frames[id])
		}
		out = append(out, nth)
	}
	return out, nil
}
