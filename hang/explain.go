// Package hang says why a Python process is stuck: for every thread,
// what it waits on (the system call, and the threading primitive with the
// name the waiting code uses for it), who holds that primitive, the
// frames' variables on request, and whether the waits form a deadlock.
// It reads through sampler and pyabi and never runs code in the target;
// it does not stop the target (the caller does, for a consistent view)
// nor print anything but its own text and JSON.
package hang

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/pyspyglass/pyspyglass/native"
	"github.com/pyspyglass/pyspyglass/procmem"
	"github.com/pyspyglass/pyspyglass/pyabi"
	"github.com/pyspyglass/pyspyglass/sampler"
)

// Options choose what Take reads beyond stacks and waits.
type Options struct {
	Locals    bool // each frame's arguments and locals
	LocalsAll bool // with the item limits lifted (implies Locals)
	// NativeRegs, when set, reads the registers of every stopped thread
	// (--native): each stack is then merged with its C frames and the
	// threads without Python are added. NativeAll keeps the interpreter's
	// own call and start-up frames.
	NativeRegs func() ([]native.ThreadRegs, error)
	NativeAll  bool
	// Async shows each thread running an asyncio task as its task's
	// stack and lists every task (dump --async); Take then needs the
	// target's EnableAsync to have succeeded.
	Async bool
}

// Dump is one process as dump shows it; its JSON form is documented in
// README.md ("dump --json").
type Dump struct {
	Pid      int      `json:"pid"`
	Cmdline  []string `json:"cmdline"`
	Version  string   `json:"python_version"`
	Deadlock []Edge   `json:"deadlock"`
	Threads  []Thread `json:"threads"`
	// Asyncio holds every asyncio task, with --async.
	Asyncio *Asyncio `json:"asyncio,omitempty"`
	// Notes say what could not be worked out, and why.
	Notes []string `json:"notes,omitempty"`
}

// Thread is one thread: its stack, and what it waits on.
type Thread struct {
	ThreadID   uint64  `json:"thread_id"`
	NativeID   int     `json:"native_id"`
	Name       string  `json:"name"`
	Interp     int64   `json:"interpreter_id"` // 0 the main interpreter, -1 unknown
	GIL        bool    `json:"gil"`
	WaitsGIL   bool    `json:"waiting_for_gil"`
	Idle       bool    `json:"idle"`
	OSState    string  `json:"os_state,omitempty"`
	OSWait     *OSWait `json:"os_wait,omitempty"`
	Wait       *Wait   `json:"wait,omitempty"`
	Frames     []Frame `json:"frames"`
	Error      string  `json:"error,omitempty"`
	frameAddrs []uint64
}

// OSWait is the system call a thread is blocked in.
type OSWait struct {
	Kind    string `json:"kind"` // running, futex, io, poll, sleep, child, signal, other
	Syscall string `json:"syscall,omitempty"`
	FD      *int   `json:"fd,omitempty"`
	Target  string `json:"fd_target,omitempty"` // socket addresses, pipe, path
	NFDs    *int   `json:"nfds,omitempty"`
	Child   int    `json:"child,omitempty"`
	Wchan   string `json:"wchan,omitempty"`
	Text    string `json:"text"`
}

// Wait is the threading primitive a thread waits on.
type Wait struct {
	Type   string `json:"type"`   // Lock, RLock, threading.Condition, queue.Queue, ...
	Op     string `json:"op"`     // acquire, wait, get, put, join
	Object string `json:"object"` // its address, 0x...
	// Name is how the waiting code reaches it (lock_b, self.lock), and
	// Scope where that name lives: local, attribute or global.
	Name  string `json:"name,omitempty"`
	Scope string `json:"scope,omitempty"`
	File  string `json:"file,omitempty"` // the waiting code's frame
	Line  int    `json:"line,omitempty"`
	// Holders hold it: an RLock's owner, a joined thread, or for a plain
	// Lock the threads inside a `with` on it (Inferred).
	Holders []Holder `json:"holders,omitempty"`
	lock    uint64   // the lock being acquired, when known
}

// Holder is a thread holding what another waits for.
type Holder struct {
	NativeID int    `json:"native_id"`
	ThreadID uint64 `json:"thread_id"`
	Name     string `json:"name"`
	Inferred bool   `json:"inferred"`
}

// Frame is one stack frame, with its variables when asked for.
type Frame struct {
	Name   string `json:"name"`
	File   string `json:"file"`
	Line   int    `json:"line"`
	Kind   string `json:"kind,omitempty"`   // --native: "native" for a C/C++ frame, "other" for a marker
	Module string `json:"module,omitempty"` // a native frame's binary
	Locals []Var  `json:"locals,omitempty"`
}

// Var is one variable with a bounded repr of its value.
type Var struct {
	Name string `json:"name"`
	Repr string `json:"repr"`
	Arg  bool   `json:"arg"`
}

// Edge is one wait of a deadlock cycle: Thread waits for Object, which
// Holder holds.
type Edge struct {
	Thread string `json:"thread"`
	Object string `json:"object"`
	Holder string `json:"holder"`
	File   string `json:"file"`
	Line   int    `json:"line"`
}

// Stopper stops the target while Take reads its memory (attach.Pauser).
type Stopper interface {
	Pause() error
	Resume() error
}

// Take reads every thread of t once. What the OS says of each thread is
// read first, while it runs (a stopped thread is in no system call);
// then, with stop not nil, the target is stopped for the rest, so the
// stacks, waits and holders are one consistent picture, and resumed
// before Take returns.
func Take(t *sampler.Target, o Options, stop Stopper) (out *Dump, err error) {
	states, waits := osView(t)
	if stop != nil {
		if err := stop.Pause(); err != nil {
			return nil, err
		}
		defer func() {
			if rerr := stop.Resume(); err == nil && rerr != nil {
				err = rerr
			}
		}()
	}
	threads, err := t.Stacks()
	if err != nil {
		return nil, err
	}
	var natives []sampler.NativeThread
	if o.NativeRegs != nil {
		// Read now, while stopped, with the Python stacks of this instant.
		regs, err := o.NativeRegs()
		if err == nil {
			natives, err = t.NativeStacks(regs, o.NativeAll)
		}
		if err != nil {
			return nil, fmt.Errorf("--native: %w", err)
		}
	}
	d := &Dump{Pid: t.Pid, Cmdline: t.Cmdline, Version: t.Interp.Version.String(), Deadlock: []Edge{}}
	var osw []procmem.Wait
	for _, th := range threads {
		jt := Thread{ThreadID: th.ThreadID, NativeID: th.NativeID, Name: th.Name, Interp: th.InterpID, GIL: th.HasGIL,
			Idle: th.Idle, Frames: []Frame{}, frameAddrs: th.FrameAddrs}
		st, ok := states[th.NativeID]
		if !ok && stop == nil && th.NativeID != 0 {
			// Started since the OS view; while stopped it would only
			// show the tracing stop.
			var serr error
			st, serr = procmem.ThreadState(t.Pid, th.NativeID)
			ok = serr == nil
		}
		if ok {
			jt.OSState, jt.Idle = string(st), st != 'R'
		}
		if th.Err != nil {
			jt.Error = th.Err.Error()
		}
		for _, f := range th.Frames {
			jt.Frames = append(jt.Frames, Frame{Name: f.Code.Name, File: f.Code.File, Line: f.Line})
		}
		w, ok := waits[th.NativeID]
		if ok {
			jt.OSWait = osWait(w)
		}
		osw = append(osw, w)
		d.Threads = append(d.Threads, jt)
	}
	// A thread sleeping on the GIL's own condition or mutex waits for the
	// GIL, not for anything of its program; unless it took the GIL between
	// the OS view and the stop (the holder is read while stopped).
	gilLo, gilHi, gilErr := t.Interp.GILRange()
	for i := range d.Threads {
		if w := osw[i]; w.Kind == procmem.WaitFutex && gilErr == nil && w.Futex >= gilLo && w.Futex < gilHi && !d.Threads[i].GIL {
			d.Threads[i].WaitsGIL, d.Threads[i].Idle = true, false
		}
	}
	x, err := t.Interp.NewInspector()
	if err != nil {
		d.Notes = append(d.Notes, "waits on Python objects and locals not read: "+err.Error())
		if o.Async {
			if err := asyncView(t, d, threads); err != nil {
				return nil, fmt.Errorf("--async: %w", err)
			}
		}
		return mergeNative(d, natives, states, waits), nil
	}
	// Every read is bounded and checked; should one still fail in a way
	// not foreseen, the dump keeps its stacks and says what was lost.
	defer func() {
		if r := recover(); r != nil {
			d.Notes = append(d.Notes, fmt.Sprintf("waits and locals not worked out: %v", r))
			out, err = d, nil
		}
	}()
	a := &analysis{t: t, x: x, d: d, opts: o, infos: make([][]*pyabi.FrameInfo, len(d.Threads))}
	for i := range d.Threads {
		th := &d.Threads[i]
		switch w := osw[i]; {
		case th.WaitsGIL:
		case w.Kind == procmem.WaitFutex:
			th.Wait = a.pyWait(i, w.Futex)
		case w.Kind != procmem.WaitRunning:
			th.Wait = a.pyWait(i, 0)
		}
	}
	a.holders()
	d.Deadlock = findDeadlock(d)
	if o.Locals || o.LocalsAll {
		a.locals()
	}
	if a.errs > 0 {
		d.Notes = append(d.Notes, fmt.Sprintf("%d frames' variables could not be read", a.errs))
	}
	if o.Async {
		if err := asyncView(t, d, threads); err != nil {
			return nil, fmt.Errorf("--async: %w", err)
		}
	}
	return mergeNative(d, natives, states, waits), nil
}

// osView reads each thread's state letter and system call.
func osView(t *sampler.Target) (map[int]byte, map[int]procmem.Wait) {
	states, waits := map[int]byte{}, map[int]procmem.Wait{}
	tids, err := procmem.Threads(t.Pid)
	if err != nil {
		return states, waits
	}
	wr := procmem.NewWaitReader(t.Pid, t.Proc)
	for _, tid := range tids {
		if st, err := procmem.ThreadState(t.Pid, tid); err == nil {
			states[tid] = st
		}
		if w, err := wr.Thread(tid); err == nil {
			waits[tid] = w
		}
	}
	return states, waits
}

func osWait(w procmem.Wait) *OSWait {
	ow := &OSWait{Kind: string(w.Kind), Syscall: w.Syscall, Target: w.FDDesc, Child: w.Child, Wchan: w.Wchan, Text: w.String()}
	if w.FD >= 0 {
		fd := w.FD
		ow.FD = &fd
	}
	if w.NFDs >= 0 {
		n := w.NFDs
		ow.NFDs = &n
	}
	return ow
}

// analysis holds what Take read while it works out waits and holders.
type analysis struct {
	t     *sampler.Target
	x     *pyabi.Inspector
	d     *Dump
	opts  Options
	infos [][]*pyabi.FrameInfo // per thread, per frame: read when first needed
	withs []map[uint64]bool    // per thread: objects its frames' live stacks hold (insideWith)
	errs  int                  // frames whose variables could not be read
}

// frames is how many frames of thread i have variables to read.
func (a *analysis) frames(i int) int { return len(a.d.Threads[i].frameAddrs) }

// frame returns the variables and value stack of thread i's frame j
// (innermost first), zero where unreadable. Each is read once, and only
// when a wait, holder or --locals needs it: most threads of a dump run
// or sleep outside any lock, and a deep stack has hundreds of frames.
func (a *analysis) frame(i, j int) pyabi.FrameInfo {
	if a.infos[i] == nil {
		a.infos[i] = make([]*pyabi.FrameInfo, a.frames(i))
	}
	if fi := a.infos[i][j]; fi != nil {
		return *fi
	}
	fi, err := a.x.Frame(a.d.Threads[i].frameAddrs[j])
	if err != nil {
		a.errs++
	}
	a.infos[i][j] = &fi
	return fi
}

// stdlibWaits are the modules whose frames are the inside of a wait: the
// primitive is the self of the outermost of them, and the code that waits
// is the frame that called it.
var stdlibWaits = map[string]bool{"threading.py": true, "queue.py": true, "Queue.py": true}

func isStdlibWait(file string) bool { return stdlibWaits[filepath.Base(file)] }

// pyWait works out what thread i waits on: the primitive (the self of the
// outermost threading/queue frame, else the lock being acquired) and how
// the waiting frame names it. futex, when not 0, is the futex word the
// thread sleeps on, matched against the locks the top frames hold.
func (a *analysis) pyWait(i int, futex uint64) *Wait {
	th, n := &a.d.Threads[i], a.frames(i)
	if n == 0 {
		return nil
	}
	lock := uint64(0)
	if futex != 0 {
		lock = a.futexLock(i, futex)
	}
	// Frames inside threading.py and queue.py, innermost first.
	k := 0
	for k < len(th.Frames) && isStdlibWait(th.Frames[k].File) {
		k++
	}
	var w Wait
	var prim uint64
	switch {
	case k > 0 && k <= n:
		prim = selfOf(a.frame(i, k-1))
		// 3.11+ names frames by qualname (Queue.get): the method is the op.
		name := th.Frames[k-1].Name
		w.Op = name[strings.LastIndexByte(name, '.')+1:]
		if prim == 0 {
			return nil
		}
	case lock != 0:
		prim, w.Op = lock, "acquire"
	default:
		return nil
	}
	w.lock = lock
	w.Object = fmt.Sprintf("%#x", prim)
	w.Type = a.typeName(prim)
	if k < len(th.Frames) {
		w.File, w.Line = th.Frames[k].File, th.Frames[k].Line
		if k < n {
			w.Name, w.Scope = a.nameOf(a.frame(i, k), prim)
		}
	}
	return &w
}

// typeName names a primitive's type for people: Lock and RLock for the
// thread module's C types, "module.Class" otherwise.
func (a *analysis) typeName(obj uint64) string {
	name, err := a.x.TypeName(obj)
	switch {
	case err != nil:
		return "object"
	case name == "_thread.lock" || name == "thread.lock":
		return "Lock"
	case name == "_thread.RLock":
		return "RLock"
	}
	return name
}

// selfOf returns the value of a frame's self parameter, or 0.
func selfOf(fi pyabi.FrameInfo) uint64 {
	for _, v := range fi.Vars {
		if v.Arg && v.Name == "self" {
			return v.Value
		}
	}
	return 0
}

// futexLock finds, among the objects the top frames of thread i hold,
// the lock whose semaphore is the futex word the thread sleeps on; on
// 3.13+ the parked-on PyMutex names it directly.
func (a *analysis) futexLock(i int, futex uint64) uint64 {
	if obj, ok := a.x.LockFromParked(futex); ok {
		return obj
	}
	seen := map[uint64]bool{}
	try := func(obj uint64) uint64 {
		if obj == 0 || seen[obj] || len(seen) > maxCandidates {
			return 0
		}
		seen[obj] = true
		if !a.x.IsLock(obj) {
			return 0
		}
		li, err := a.x.Lock(obj)
		// glibc's sem_t keeps its futex word in the first 8 bytes.
		if err == nil && li.Sem != 0 && futex >= li.Sem && futex < li.Sem+8 {
			return obj
		}
		return 0
	}
	for j := range min(a.frames(i), maxWaitFrames) {
		fi := a.frame(i, j)
		var cands []uint64
		for _, v := range fi.Vars {
			cands = append(cands, v.Value)
		}
		cands = append(cands, fi.Stack...)
		for _, c := range cands {
			if c == 0 {
				continue
			}
			if l := try(c); l != 0 {
				return l
			}
			if l := try(a.x.BoundSelf(c)); l != 0 {
				return l
			}
		}
	}
	return 0
}

// Bounds of the search for the lock a thread sleeps on.
const (
	maxWaitFrames = 8
	maxCandidates = 4096
)

// nameOf finds how frame fi reaches obj: a local, an attribute of a
// local (self.lock), or a global.
func (a *analysis) nameOf(fi pyabi.FrameInfo, obj uint64) (string, string) {
	for _, v := range fi.Vars {
		if v.Value == obj {
			return v.Name, "local"
		}
	}
	for _, v := range fi.Vars {
		if attr, ok := a.x.AttrNameOf(v.Value, obj); ok {
			return v.Name + "." + attr, "attribute"
		}
	}
	if name, ok := a.x.NameIn(fi.Globals, obj); ok {
		return name, "global"
	}
	return "", ""
}

// holders fills in who holds what each thread waits for.
func (a *analysis) holders() {
	byIdent := map[uint64]int{}
	for i, th := range a.d.Threads {
		byIdent[th.ThreadID] = i
	}
	holder := func(i int, inferred bool) Holder {
		th := a.d.Threads[i]
		return Holder{NativeID: th.NativeID, ThreadID: th.ThreadID, Name: th.Name, Inferred: inferred}
	}
	for i := range a.d.Threads {
		w := a.d.Threads[i].Wait
		if w == nil {
			continue
		}
		prim := parseAddr(w.Object)
		switch {
		case w.Op == "join" && strings.HasSuffix(w.Type, "Thread"):
			// The joined thread holds its own end until it ends.
			if id, ok := a.intAttr(prim, "_ident", "_Thread__ident"); ok {
				if j, ok := byIdent[id]; ok {
					w.Holders = append(w.Holders, holder(j, false))
				}
			}
		case w.Op == "acquire" && strings.HasSuffix(w.Type, "_RLock"):
			// 2.7's Python RLock: the owner is an attribute.
			if id, ok := a.intAttr(prim, "_RLock__owner"); ok {
				if j, ok := byIdent[id]; ok {
					w.Holders = append(w.Holders, holder(j, false))
				}
			}
		case w.lock != 0:
			li, err := a.x.Lock(w.lock)
			if err != nil || !li.Locked {
				continue
			}
			if li.RLock {
				if j, ok := byIdent[li.Owner]; ok {
					w.Holders = append(w.Holders, holder(j, false))
				}
				continue
			}
			if w.lock != prim && w.Op == "wait" {
				continue // a Condition's waiter lock: released by notify, not held
			}
			for j := range a.d.Threads {
				if a.insideWith(j, w.lock) {
					w.Holders = append(w.Holders, holder(j, true))
				}
			}
		}
	}
}

// insideWith reports whether a frame of thread j is inside a `with` on
// lock: its live value stack holds the lock's bound __exit__, or on 3.14
// the lock itself, or a Condition-like object whose _lock is the lock.
func (a *analysis) insideWith(j int, lock uint64) bool {
	if a.withs == nil {
		a.withs = make([]map[uint64]bool, len(a.d.Threads))
	}
	if a.withs[j] == nil {
		// What thread j's frames keep live, worked out once per thread.
		m := map[uint64]bool{}
		for f := range a.frames(j) {
			for _, v := range a.frame(j, f).Live {
				if v == 0 || m[v] {
					continue
				}
				m[v] = true
				self := a.x.BoundSelf(v)
				if self == 0 {
					continue
				}
				m[self] = true
				if inner, ok, err := a.x.Attr(self, "_lock"); err == nil && ok {
					m[inner] = true
				}
			}
		}
		a.withs[j] = m
	}
	return a.withs[j][lock]
}

// intAttr reads the first of names that obj has as an int attribute.
func (a *analysis) intAttr(obj uint64, names ...string) (uint64, bool) {
	for _, n := range names {
		v, ok, err := a.x.Attr(obj, n)
		if err != nil || !ok {
			continue
		}
		if id, ok := a.x.Int(v); ok {
			return id, true
		}
	}
	return 0, false
}

func parseAddr(s string) uint64 {
	var v uint64
	fmt.Sscanf(s, "0x%x", &v)
	return v
}

// locals reads every frame's variables as bounded reprs.
func (a *analysis) locals() {
	lim := pyabi.ReprDefault
	if a.opts.LocalsAll {
		lim = pyabi.ReprAll
	}
	for i := range a.d.Threads {
		th := &a.d.Threads[i]
		for j := range th.Frames {
			if j >= a.frames(i) {
				break
			}
			for _, v := range a.frame(i, j).Vars {
				th.Frames[j].Locals = append(th.Frames[j].Locals, Var{Name: v.Name, Repr: a.x.Repr(v.Value, lim), Arg: v.Arg})
			}
		}
	}
}
