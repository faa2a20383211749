package pyabi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// asyncio tasks, read from outside: which task a thread's event loop is
// running, the coroutines a suspended task waits in, and which tasks await
// which. CPython 3.14+ publish the offsets of their task object and of the
// thread state's running task and task lists (_AsyncioDebug, in the
// .AsyncioDebug section of the binary or of the _asyncio module); 3.11-3.13
// keep the running tasks in the dict asyncio.tasks._current_tasks (loop ->
// task) and every task in a WeakSet, and their task layout is the generated
// asyncio_tables.go. Before 3.11 a coroutine's frame is a separate object
// and the C task layout was never measured here: refused.

//go:generate go run ./internal/genasyncio

// AsyncSpan names the versions whose asyncio tasks can be read.
const AsyncSpan = "CPython 3.11 or newer (3.11-3.13 through the _asyncio task layout, 3.14+ through its _AsyncioDebug offsets)"

// ErrAsyncUnsupported says this interpreter's asyncio tasks cannot be read.
var ErrAsyncUnsupported = errors.New("asyncio tasks cannot be read")

// AsyncioDebugSection is the ELF section holding _AsyncioDebug (3.14+),
// in the binary that has the _asyncio module built in or in the module.
const AsyncioDebugSection = ".AsyncioDebug"

// asyncioDebugSize is the bytes of _AsyncioDebug read: its three groups
// of uint64 offsets (Modules/_asynciomodule.c, v3.14.0 and v3.15.0a):
// the task object's size, task_name, task_awaited_by, task_is_task,
// task_awaited_by_is_set, task_coro and task_node; the interpreter state's
// size and asyncio_tasks_head; the thread state's size,
// asyncio_running_loop, asyncio_running_task and asyncio_tasks_head.
const asyncioDebugSize = 13 * 8

// maxTasks bounds the tasks listed, maxAwait the awaiters followed from a
// task and the coroutines followed down an await chain.
const (
	maxTasks = 100000
	maxAwait = 64
)

// asyncioTable is one generated row: see asyncio_tables.go.
type asyncioTable struct {
	Minor                                                                           int
	Measured                                                                        string
	TaskSize, TaskLoop, TaskState, TaskFutWaiter, TaskCoro, TaskName, TaskCallback0 int
	GenIFrame, GenFrameState                                                        int
}

// asyncLayout is every offset the task reader uses; Absent where the
// version has no such field.
type asyncLayout struct {
	taskSize, taskName, taskCoro int
	taskFutWaiter                int // 3.11-3.13: the future the task waits for
	taskLoop                     int // 3.11-3.13
	taskCallback0                int // 3.11-3.13: the first done callback
	// 3.14+: who awaits a task or future (an object, or a set of them
	// when the flag byte is set), whether it is a task, its link in its
	// thread's task list.
	awaitedBy, awaitedByIsSet, isTask, taskNode int
	tsRunningTask, tsTasksHead, interpTasksHead int // 3.14+
	genIFrame, genFrameState                    int
	states                                      frameStates
	stackTop, localsPlus                        int // 3.11-3.13: the frame's stack top, as an index
	stackPointer                                int // 3.14+: the frame's stack top, as a pointer
}

// frameStates are the values of a coroutine's gi_frame_state (enum
// _framestate, Include/internal/pycore_frame.h): not started, suspended
// (a range; from 3.13 the top of it is suspended in an await, whose
// awaited object is on the frame's stack), running.
type frameStates struct {
	created, suspendedMin, suspendedMax, executing int8
	yieldFromMin, yieldFromMax                     int8 // suspended in an await; the whole suspended range before 3.13
	stackSlots                                     int  // stack slots from the top holding the awaited object, tried in turn
}

// frameStatesFor are the states of minor (3.11+): v3.11.0 and v3.12.0
// have CREATED -2, SUSPENDED -1, EXECUTING 0; v3.13.0 and v3.14.0 insert
// SUSPENDED_YIELD_FROM at -1 (CREATED -3, SUSPENDED -2); 3.15 renumbers
// them from 0: CREATED 0, SUSPENDED 1, SUSPENDED_YIELD_FROM 2 and its
// _LOCKED 3, EXECUTING 4, and the awaited object may sit under the value
// sent (stackpointer[-2]).
func frameStatesFor(minor int) frameStates {
	switch {
	case minor <= 12:
		return frameStates{created: -2, suspendedMin: -1, suspendedMax: -1, executing: 0, yieldFromMin: -1, yieldFromMax: -1, stackSlots: 1}
	case minor <= 14:
		return frameStates{created: -3, suspendedMin: -2, suspendedMax: -1, executing: 0, yieldFromMin: -1, yieldFromMax: -1, stackSlots: 1}
	}
	return frameStates{created: 0, suspendedMin: 1, suspendedMax: 3, executing: 4, yieldFromMin: 2, yieldFromMax: 3, stackSlots: 2}
}

func (s frameStates) suspended(v int8) bool { return v >= s.suspendedMin && v <= s.suspendedMax }
func (s frameStates) awaiting(v int8) bool  { return v >= s.yieldFromMin && v <= s.yieldFromMax }

// asyncState is what the interpreter knows of its asyncio tasks.
type asyncState struct {
	lay          asyncLayout
	o            *objReader
	tasksModule  uint64 // 3.11-3.13: asyncio.tasks, once imported
	currentTasks uint64 // its _current_tasks dict
	findSkips    int    // lookups of it since it was last missing
	coroType     uint64 // the type of native coroutines, once seen
	taskTypes    map[uint64]bool
	methodTypes  map[uint64]bool // types that are the bound method type
	names        map[nameKey]*Code
	// 3.11-3.13: awaiter of each task, from the last listing of all
	// tasks (the reverse of task_fut_waiter), and how many lookups
	// missed it since; a miss lists them again now and then.
	parents map[uint64]uint64
	misses  int
	lookups int
	buf     []byte
	pending []pendingFrame
	items   []uint64
	seen    []uint64
}

type nameKey struct{ task, name uint64 }

// EnableAsync prepares reading asyncio tasks. debugAddr is where the
// process maps the .AsyncioDebug section (3.14+; 0 when not found yet,
// the _asyncio module may not be loaded yet). The error wraps
// ErrAsyncUnsupported for a version outside AsyncSpan, and says what is
// missing otherwise (call again once the module may be loaded).
func (in *Interpreter) EnableAsync(debugAddr uint64) error {
	if in.async != nil {
		return nil
	}
	v := in.Version
	if v.Major != 3 || v.Minor < 11 {
		return fmt.Errorf("%w on CPython %s: needs %s", ErrAsyncUnsupported, v, AsyncSpan)
	}
	if v.FreeThreaded {
		return fmt.Errorf("%w on free-threaded CPython %s: its object layout is not known here; needs %s", ErrAsyncUnsupported, v, AsyncSpan)
	}
	if err := in.objectLayoutKnown(); err != nil {
		return fmt.Errorf("%w: %w", ErrAsyncUnsupported, err)
	}
	l := in.Layout
	lay := asyncLayout{
		taskFutWaiter: Absent, taskLoop: Absent, taskCallback0: Absent, awaitedBy: Absent, awaitedByIsSet: Absent, isTask: Absent,
		taskNode: Absent, tsRunningTask: Absent, tsTasksHead: Absent, interpTasksHead: Absent,
		stackTop: Absent, localsPlus: l.FrameVars.LocalsPlus, stackPointer: Absent,
	}
	switch {
	case v.Minor >= 14:
		if in.genIFrame == Absent || in.genFrameState == Absent || in.stackPointer == Absent {
			return fmt.Errorf("%w on CPython %s: its _Py_DebugOffsets lack the coroutine offsets", ErrAsyncUnsupported, v)
		}
		if debugAddr == 0 {
			return fmt.Errorf("no %s section mapped yet (asyncio not imported?)", AsyncioDebugSection)
		}
		var b [asyncioDebugSize]byte
		if err := procmem.ReadFull(in.r, b[:], debugAddr); err != nil {
			return fmt.Errorf("_AsyncioDebug at %#x: %w", debugAddr, err)
		}
		if err := lay.decodeDebug(b[:]); err != nil {
			return err
		}
		lay.genIFrame, lay.genFrameState, lay.stackPointer = in.genIFrame, in.genFrameState, in.stackPointer
	default:
		t := asyncioTableFor(v.Minor)
		if t == nil {
			return fmt.Errorf("%w on CPython %s: no _asyncio task layout measured for %d.%d; needs %s", ErrAsyncUnsupported, v, v.Major, v.Minor, AsyncSpan)
		}
		if l.FrameVars.StackTop == Absent || l.FrameVars.LocalsPlus == Absent {
			return fmt.Errorf("%w on CPython %s: the frame's stack top is not known", ErrAsyncUnsupported, v)
		}
		lay.taskSize, lay.taskName, lay.taskCoro = t.TaskSize, t.TaskName, t.TaskCoro
		lay.taskFutWaiter, lay.taskLoop, lay.taskCallback0 = t.TaskFutWaiter, t.TaskLoop, t.TaskCallback0
		lay.genIFrame, lay.genFrameState = t.GenIFrame, t.GenFrameState
		lay.stackTop = l.FrameVars.StackTop
	}
	lay.states = frameStatesFor(v.Minor)
	in.async = &asyncState{
		lay: lay, o: newObjReader(in.r, in.Version, in.Layout),
		taskTypes: map[uint64]bool{}, methodTypes: map[uint64]bool{}, names: map[nameKey]*Code{}, parents: map[uint64]uint64{},
		buf: make([]byte, max(lay.taskSize, in.fspan, 64)),
	}
	return nil
}

// asyncioTableFor is the table of minor, nil for none. TaskObj has kept
// its layout within each minor (checked live on 3.11.2 and 3.11.7, 3.13.0
// and 3.13.18).
func asyncioTableFor(minor int) *asyncioTable {
	for i := range asyncioTables {
		if asyncioTables[i].Minor == minor {
			return &asyncioTables[i]
		}
	}
	return nil
}

// decodeDebug takes the offsets of _AsyncioDebug, checking each against
// the size of its struct so that a wrong address cannot pass.
func (lay *asyncLayout) decodeDebug(b []byte) error {
	w := func(i int) uint64 { return binary.LittleEndian.Uint64(b[i*8:]) }
	taskSize, tsSize, isSize := w(0), w(9), w(7)
	if taskSize < 64 || taskSize > 4096 || tsSize < 64 || tsSize > 1<<20 || isSize < 64 || isSize > 4<<20 {
		return fmt.Errorf("_AsyncioDebug sizes %d, %d, %d are not plausible: not the struct of this version", taskSize, isSize, tsSize)
	}
	for i, lim := range []uint64{taskSize, taskSize, taskSize, taskSize, taskSize, taskSize} {
		if o := w(i + 1); o == 0 || o >= lim {
			return fmt.Errorf("_AsyncioDebug task offset %d is %d, outside a %d-byte task", i, o, lim)
		}
	}
	if w(8) == 0 || w(8) >= isSize {
		return fmt.Errorf("_AsyncioDebug interpreter offset %d outside %d bytes", w(8), isSize)
	}
	for i := 10; i < 13; i++ {
		if w(i) == 0 || w(i) >= tsSize {
			return fmt.Errorf("_AsyncioDebug thread state offset %d outside %d bytes", w(i), tsSize)
		}
	}
	lay.taskSize, lay.taskName, lay.awaitedBy, lay.isTask = int(taskSize), int(w(1)), int(w(2)), int(w(3))
	lay.awaitedByIsSet, lay.taskCoro, lay.taskNode = int(w(4)), int(w(5)), int(w(6))
	lay.interpTasksHead = int(w(8))
	lay.tsRunningTask, lay.tsTasksHead = int(w(11)), int(w(12))
	return nil
}

// AsyncEnabled says whether EnableAsync succeeded.
func (in *Interpreter) AsyncEnabled() bool { return in.async != nil }

// word reads one pointer-sized word through w's buffer: no allocation.
func (w *Walker) ptr(in *Interpreter, addr uint64) (uint64, error) {
	if err := procmem.ReadFull(in.r, w.word[:], addr); err != nil {
		return 0, err
	}
	return le64(w.word[:]), nil
}

// RunningTask finds the asyncio task that thread t is running, as of the
// last Stack call of w on t: the task's address and how many of the
// innermost frames of that stack are its own (its coroutine chain, the
// frames outside being the event loop's). task is 0 when no task of this
// thread is on its stack.
func (w *Walker) RunningTask(in *Interpreter, t *Thread) (task uint64, n int, err error) {
	a := in.async
	if a == nil || w.truncated {
		return 0, 0, nil
	}
	if a.lay.tsRunningTask != Absent {
		task, err := w.ptr(in, t.Addr+uint64(a.lay.tsRunningTask))
		if err != nil || task == 0 {
			return 0, 0, err
		}
		n, err := w.taskDepth(in, task)
		if n == 0 {
			return 0, 0, err
		}
		return task, n, err
	}
	if err := in.findCurrentTasks(); err != nil || a.currentTasks == 0 {
		return 0, 0, err
	}
	if a.items, err = in.dictValues(a.currentTasks, a.items[:0], MaxThreads); err != nil {
		a.currentTasks = 0 // looked up again: the module may have been reloaded
		return 0, 0, fmt.Errorf("asyncio.tasks._current_tasks: %w", err)
	}
	for _, cand := range a.items {
		if n, err := w.taskDepth(in, cand); n > 0 || err != nil {
			return cand, n, err
		}
	}
	return 0, 0, nil
}

// dictValues appends the values of the combined-table dict at addr, at
// most limit of them, reading its entries into a reused buffer: it runs
// every sample (the running tasks of 3.11-3.13), so it allocates nothing.
func (in *Interpreter) dictValues(addr uint64, dst []uint64, limit int) ([]uint64, error) {
	a := in.async
	k, values, err := a.o.readDict(addr)
	if err != nil {
		return dst, err
	}
	if values != 0 {
		return dst, fmt.Errorf("dict at %#x: a split table", addr)
	}
	if k.n > limit {
		return dst, fmt.Errorf("dict at %#x: %d entries", addr, k.n)
	}
	n := k.n * k.size
	if cap(a.buf) < n {
		a.buf = make([]byte, n)
	}
	b := a.buf[:n]
	if err := procmem.ReadFull(in.r, b, k.entries); err != nil {
		return dst, fmt.Errorf("dict entries at %#x: %w", k.entries, err)
	}
	for i := 0; i < n; i += k.size {
		if key, v := le64(b[i+k.keyOff:]), le64(b[i+k.valOff:]); key != 0 && v != 0 {
			dst = append(dst, v)
		}
	}
	return dst, nil
}

// taskDepth is how many innermost frames of the last stack walked belong
// to task: up to and including its coroutine's frame, which lives inside
// the coroutine object. 0 when that frame is not on the stack.
func (w *Walker) taskDepth(in *Interpreter, task uint64) (int, error) {
	a := in.async
	coro, err := w.ptr(in, task+uint64(a.lay.taskCoro))
	if err != nil || coro == 0 {
		return 0, err
	}
	frame := coro + uint64(a.lay.genIFrame)
	for i := range w.pending {
		if w.pending[i].frame == frame {
			return i + 1, nil
		}
	}
	return 0, nil
}

// findCurrentTasks looks up asyncio.tasks._current_tasks (3.11-3.13) once
// asyncio is imported.
func (in *Interpreter) findCurrentTasks() error {
	a := in.async
	if a.currentTasks != 0 {
		return nil
	}
	// Until asyncio is imported, look for it now and then, not on every
	// sample of every thread: it is a scan of sys.modules.
	if a.findSkips++; a.findSkips%64 != 1 {
		return nil
	}
	mod, err := in.asyncioTasksModule()
	if err != nil || mod == 0 {
		return err
	}
	d, ok, err := a.o.attr(mod, "_current_tasks")
	if err != nil || !ok {
		return err
	}
	a.currentTasks = d
	return nil
}

// asyncioTasksModule is sys.modules["asyncio.tasks"], 0 before asyncio
// is imported.
func (in *Interpreter) asyncioTasksModule() (uint64, error) {
	a := in.async
	modules, err := procmem.Ptr(in.r, in.Head+uint64(in.Layout.Interp.Modules))
	if err != nil || modules == 0 {
		return 0, err
	}
	mod, ok, err := a.o.dictGetStr(modules, "asyncio.tasks")
	if err != nil || !ok {
		return 0, err
	}
	a.tasksModule = mod
	return mod, nil
}

// AppendTaskChain appends, innermost first, the frame standing for task
// (Frame.Task, its name as the code's name) and then for each task
// awaiting it the coroutine frames where that task waits and its own task
// frame, up to the task nobody awaits. Where several await one task, the
// chain follows one of them.
func (w *Walker) AppendTaskChain(in *Interpreter, task uint64, dst []Frame) ([]Frame, error) {
	a := in.async
	a.seen = a.seen[:0]
	for range maxAwait {
		f, err := w.taskFrame(in, task)
		if err != nil {
			return dst, err
		}
		dst = append(dst, f)
		a.seen = append(a.seen, task)
		parent, err := w.awaiter(in, task)
		if err != nil || parent == 0 {
			return dst, err
		}
		for _, s := range a.seen {
			if s == parent {
				return dst, nil // a cycle: each task once
			}
		}
		coro, err := w.ptr(in, parent+uint64(a.lay.taskCoro))
		if err != nil {
			return dst, err
		}
		if dst, err = w.appendCoroStack(in, coro, dst); err != nil {
			return dst, err
		}
		task = parent
	}
	return dst, nil
}

// taskFrame is the frame standing for task: a Code named after it.
func (w *Walker) taskFrame(in *Interpreter, task uint64) (Frame, error) {
	a := in.async
	name, err := w.ptr(in, task+uint64(a.lay.taskName))
	if err != nil {
		return Frame{}, fmt.Errorf("task %#x: name: %w", task, err)
	}
	k := nameKey{task, name}
	c := a.names[k]
	if c == nil {
		s, err := in.taskName(task, name)
		if err != nil {
			return Frame{}, err
		}
		if len(a.names) >= maxCodeCache {
			clear(a.names)
		}
		c = &Code{Name: s}
		a.names[k] = c
	}
	return Frame{Code: c, Task: true}, nil
}

// taskName decodes a task's name object: a str, or from 3.12 an int n
// standing for "Task-n" until someone asks for the name.
func (in *Interpreter) taskName(task, name uint64) (string, error) {
	a := in.async
	if name == 0 {
		return "", fmt.Errorf("task %#x: no name", task)
	}
	if ok, err := a.o.isStr(name); err != nil {
		return "", fmt.Errorf("task %#x: name: %w", task, err)
	} else if ok {
		s, err := in.strs.Read(in.r, name)
		if err != nil {
			return "", fmt.Errorf("task %#x: name: %w", task, err)
		}
		return s, nil
	}
	n, ok, err := a.o.intValue(name)
	if err != nil || !ok {
		return "", fmt.Errorf("task %#x: name is neither str nor int: %v", task, err)
	}
	return fmt.Sprintf("Task-%d", n), nil
}

// isTask says whether obj is a C asyncio task (or a subclass): its type's
// instances are at least a task's size (and on 3.14+ its is_task flag).
func (w *Walker) isTask(in *Interpreter, obj uint64) (bool, error) {
	a := in.async
	typ, err := w.ptr(in, obj+uint64(in.Layout.Object.Type))
	if err != nil || typ == 0 {
		return false, err
	}
	ok, known := a.taskTypes[typ]
	if !known {
		size, err := w.ptr(in, typ+uint64(in.Layout.Type.BasicSize))
		if err != nil {
			return false, err
		}
		ok = size >= uint64(a.lay.taskSize) && size < 1<<20
		if len(a.taskTypes) > 4096 {
			clear(a.taskTypes)
		}
		a.taskTypes[typ] = ok
	}
	if !ok || a.lay.isTask == Absent {
		return ok, nil
	}
	if err := procmem.ReadFull(in.r, w.word[:1], obj+uint64(a.lay.isTask)); err != nil {
		return false, err
	}
	return w.word[0] != 0, nil
}

// awaiter is a task awaiting task, 0 for none.
func (w *Walker) awaiter(in *Interpreter, task uint64) (uint64, error) {
	a := in.async
	if a.lay.awaitedBy == Absent {
		return in.parentOf(task)
	}
	// 3.14+: task_awaited_by is the awaiting task, or a future standing
	// between (gather's), or a set of them; a future's own awaiters are
	// followed.
	obj := task
	for range maxAwait {
		by, err := w.ptr(in, obj+uint64(a.lay.awaitedBy))
		if err != nil || by == 0 {
			return 0, err
		}
		if err := procmem.ReadFull(in.r, w.word[:1], obj+uint64(a.lay.awaitedByIsSet)); err != nil {
			return 0, err
		}
		if w.word[0] != 0 {
			if by, err = w.firstInSet(in, by); err != nil || by == 0 {
				return 0, err
			}
		}
		if ok, err := w.isTask(in, by); err != nil || ok {
			return by, err
		}
		obj = by
	}
	return 0, nil
}

// firstInSet is the first live key of the set at addr, 0 for an empty set.
func (w *Walker) firstInSet(in *Interpreter, set uint64) (uint64, error) {
	a := in.async
	keys, err := in.setKeys(set, a.items[:0], 64)
	a.items = keys[:0]
	if err != nil || len(keys) == 0 {
		return 0, err
	}
	return keys[0], nil
}

// setKeys appends the live keys of the set at addr, at most limit.
func (in *Interpreter) setKeys(set uint64, dst []uint64, limit int) ([]uint64, error) {
	l := in.Layout.Set
	var hdr [24]byte
	base := min(l.Used, l.Mask, l.Table)
	span := max(l.Used, l.Mask, l.Table) + 8 - base
	if span > len(hdr) {
		return dst, fmt.Errorf("set layout spans %d bytes", span)
	}
	if err := procmem.ReadFull(in.r, hdr[:span], set+uint64(base)); err != nil {
		return dst, fmt.Errorf("set at %#x: %w", set, err)
	}
	mask := le64(hdr[l.Mask-base:])
	table := le64(hdr[l.Table-base:])
	if mask >= maxTasks*4 || (mask+1)&mask != 0 || table == 0 {
		return dst, fmt.Errorf("set at %#x: mask %d or table %#x not plausible", set, mask, table)
	}
	// setentry is {key, hash}; a dummy (deleted) entry has hash -1.
	a := in.async
	n := int(mask+1) * 16
	if cap(a.buf) < n {
		a.buf = make([]byte, n)
	}
	b := a.buf[:n]
	if err := procmem.ReadFull(in.r, b, table); err != nil {
		return dst, fmt.Errorf("set table at %#x: %w", table, err)
	}
	for i := 0; i < n && len(dst) < limit; i += 16 {
		key, hash := le64(b[i:]), le64(b[i+8:])
		if key != 0 && hash != ^uint64(0) {
			dst = append(dst, key)
		}
	}
	return dst, nil
}

// appendCoroStack appends, innermost first, the frames of the suspended
// coroutine coro and of the coroutines it awaits, each through the one on
// top of its frame's stack.
func (w *Walker) appendCoroStack(in *Interpreter, coro uint64, dst []Frame) ([]Frame, error) {
	a := in.async
	a.pending = a.pending[:0]
	f := in.Layout.Frame
	for range maxAwait {
		if coro == 0 {
			break
		}
		typ, err := w.ptr(in, coro+uint64(in.Layout.Object.Type))
		if err != nil {
			return dst, err
		}
		if a.coroType == 0 {
			a.coroType = typ
		}
		if typ != a.coroType {
			break // not a native coroutine (a future, a generator-based awaitable)
		}
		if err := procmem.ReadFull(in.r, w.word[:1], coro+uint64(a.lay.genFrameState)); err != nil {
			return dst, err
		}
		state := int8(w.word[0])
		if !a.lay.states.suspended(state) {
			break // running, done or not started: no frame to show
		}
		frame := coro + uint64(a.lay.genIFrame)
		fb := a.buf[:in.fspan]
		if err := procmem.ReadFull(in.r, fb, frame); err != nil {
			return dst, fmt.Errorf("coroutine %#x: frame: %w", coro, err)
		}
		code := le64(fb[f.Code:]) & in.codeMask
		if code == 0 {
			break
		}
		a.pending = append(a.pending, pendingFrame{code: code, pos: in.position(fb, code), frame: frame})
		if !a.lay.states.awaiting(state) {
			break // suspended at a plain yield: it awaits nothing further
		}
		if coro, err = w.awaited(in, frame, fb); err != nil {
			return dst, err
		}
	}
	if len(a.pending) == 0 {
		return dst, nil
	}
	// The chain was followed outermost first; frames go innermost first.
	for i, j := 0, len(a.pending)-1; i < j; i, j = i+1, j-1 {
		a.pending[i], a.pending[j] = a.pending[j], a.pending[i]
	}
	start := len(dst)
	dst, _, err := in.codes.resolve(in.r, a.pending, nil, dst)
	if err != nil {
		return dst[:start], fmt.Errorf("coroutine frames: %w", err)
	}
	if start < len(dst) {
		dst[start].HasInstr = false // the leaf is the running task's
	}
	return dst, nil
}

// awaited is the coroutine that the frame fb at addr, suspended in an
// await, awaits: on top of its value stack (or, 3.15, one slot under),
// 0 when that is not a native coroutine.
func (w *Walker) awaited(in *Interpreter, addr uint64, fb []byte) (uint64, error) {
	a := in.async
	base := addr + uint64(a.lay.localsPlus)
	var top uint64 // one past the top slot
	if a.lay.stackPointer != Absent {
		top = le64(fb[a.lay.stackPointer:])
	} else {
		n := int32(le32(fb[a.lay.stackTop:]))
		if n <= 0 || n > 1<<16 {
			return 0, nil
		}
		top = base + 8*uint64(n)
	}
	for i := 1; i <= a.lay.states.stackSlots; i++ {
		slot := top - 8*uint64(i)
		if top < base+8*uint64(i) || top-base > 8<<16 {
			return 0, nil
		}
		v, err := w.ptr(in, slot)
		if err != nil {
			return 0, err
		}
		v &= in.codeMask
		if v == 0 {
			continue
		}
		typ, err := w.ptr(in, v+uint64(in.Layout.Object.Type))
		if err == nil && typ == a.coroType {
			return v, nil
		}
	}
	return 0, nil
}

// parentOf is the task awaiting task on 3.11-3.13 (from the last listing
// of all tasks), 0 for none.
func (in *Interpreter) parentOf(task uint64) (uint64, error) {
	a := in.async
	// The awaiters change as tasks start and end: list them again every
	// so many lookups, and after several lookups of tasks not listed,
	// not on every sample of a new task nobody awaits.
	a.lookups++
	p, ok := a.parents[task]
	if !ok {
		a.misses++
	}
	if a.lookups < 1024 && a.misses < 16 && len(a.parents) > 0 {
		return p, nil
	}
	a.misses, a.lookups = 0, 0
	tasks, err := in.allTasks()
	if err != nil {
		return 0, err
	}
	clear(a.parents)
	for _, t := range tasks {
		if _, ok := a.parents[t.addr]; !ok {
			a.parents[t.addr] = 0
		}
		for _, c := range t.awaits {
			a.parents[c] = t.addr
		}
	}
	return a.parents[task], nil
}

// taskInfo is one task as listed: whom it awaits, which thread's loop
// runs it (thread_id, 0 unknown).
type taskInfo struct {
	addr   uint64
	thread uint64
	awaits []uint64
}

// weakrefObject is offsetof(PyWeakReference, wr_object): right after the
// object header (Include/cpython/weakrefobject.h, 3.11-3.13).
const weakrefObject = 16

// allTasks lists every task of 3.11-3.13 (asyncio.tasks._all_tasks on
// 3.11, _scheduled_tasks and _eager_tasks from 3.12) with whom each awaits:
// the task its task_fut_waiter is, the children of the gather() future it
// is, and the tasks of the asyncio.TaskGroup it made.
func (in *Interpreter) allTasks() ([]taskInfo, error) {
	a := in.async
	mod, err := in.asyncioTasksModule()
	if err != nil || mod == 0 {
		return nil, err
	}
	w := new(Walker)
	var addrs []uint64
	for _, name := range []string{"_all_tasks", "_scheduled_tasks"} {
		ws, ok, err := a.o.attr(mod, name)
		if err != nil {
			return nil, fmt.Errorf("asyncio.tasks.%s: %w", name, err)
		}
		if !ok {
			continue
		}
		data, ok, err := a.o.attr(ws, "data")
		if err != nil || !ok {
			return nil, fmt.Errorf("asyncio.tasks.%s.data: %v", name, err)
		}
		refs, err := in.setKeys(data, nil, maxTasks)
		if err != nil {
			return nil, fmt.Errorf("asyncio.tasks.%s: %w", name, err)
		}
		for _, r := range refs {
			t, err := w.ptr(in, r+weakrefObject)
			if err != nil {
				return nil, err
			}
			addrs = append(addrs, t)
		}
	}
	if eager, ok, err := a.o.attr(mod, "_eager_tasks"); err != nil {
		return nil, fmt.Errorf("asyncio.tasks._eager_tasks: %w", err)
	} else if ok {
		if addrs, err = in.setKeys(eager, addrs, maxTasks); err != nil {
			return nil, fmt.Errorf("asyncio.tasks._eager_tasks: %w", err)
		}
	}
	var out []taskInfo
	groups := map[uint64]uint64{} // task -> the task whose TaskGroup made it
	loops := map[uint64]uint64{}
	seen := map[uint64]bool{}
	for _, t := range addrs {
		if seen[t] {
			continue
		}
		seen[t] = true
		if ok, err := w.isTask(in, t); err != nil || !ok {
			continue // a dead weak reference (None), or not a C task
		}
		ti := taskInfo{addr: t}
		if loop, err := w.ptr(in, t+uint64(a.lay.taskLoop)); err == nil && loop != 0 {
			th, ok := loops[loop]
			if !ok {
				th = in.loopThread(loop)
				loops[loop] = th
			}
			ti.thread = th
		}
		waiter, err := w.ptr(in, t+uint64(a.lay.taskFutWaiter))
		if err != nil {
			return nil, err
		}
		if waiter != 0 {
			if ok, err := w.isTask(in, waiter); err == nil && ok {
				ti.awaits = append(ti.awaits, waiter)
			} else if kids, ok, err := a.o.attr(waiter, "_children"); err == nil && ok {
				// gather()'s _GatheringFuture keeps its children.
				items, err := in.listItems(kids, maxTasks)
				if err == nil {
					for _, k := range items {
						if ok, err := w.isTask(in, k); err == nil && ok {
							ti.awaits = append(ti.awaits, k)
						}
					}
				}
			}
		}
		if p := in.groupParent(w, t); p != 0 {
			groups[t] = p
		}
		out = append(out, ti)
	}
	index := map[uint64]int{}
	for i, ti := range out {
		index[ti.addr] = i
	}
	for child, parent := range groups {
		if i, ok := index[parent]; ok && !slices.Contains(out[i].awaits, child) {
			out[i].awaits = append(out[i].awaits, child)
		}
	}
	return out, nil
}

// groupParent is the task whose asyncio.TaskGroup made task (3.11-3.13),
// 0 for none: TaskGroup.create_task adds the group's bound method
// _on_task_done as the task's first done callback (Lib/asyncio/
// taskgroups.py, v3.11.0 to v3.13.0), and the group keeps _parent_task.
func (in *Interpreter) groupParent(w *Walker, task uint64) uint64 {
	a := in.async
	if a.lay.taskCallback0 == Absent {
		return 0
	}
	cb, err := w.ptr(in, task+uint64(a.lay.taskCallback0))
	if err != nil || cb == 0 || !in.isMethod(w, cb) {
		return 0
	}
	group, err := w.ptr(in, cb+uint64(in.Layout.Method.Self))
	if err != nil || group == 0 {
		return 0
	}
	parent, ok, err := a.o.attr(group, "_parent_task")
	if err != nil || !ok {
		return 0
	}
	if ok, err := w.isTask(in, parent); err != nil || !ok {
		return 0
	}
	return parent
}

// isMethod says whether obj is a bound method (PyMethod_Type, named
// "method").
func (in *Interpreter) isMethod(w *Walker, obj uint64) bool {
	a := in.async
	typ, err := w.ptr(in, obj+uint64(in.Layout.Object.Type))
	if err != nil || typ == 0 {
		return false
	}
	is, known := a.methodTypes[typ]
	if !known {
		name, err := w.ptr(in, typ+uint64(in.Layout.Type.Name))
		if err != nil {
			return false
		}
		s, err := procmem.CString(in.r, name, 16)
		if err != nil {
			return false
		}
		is = s == "method"
		a.methodTypes[typ] = is
	}
	return is
}

// loopThread is the thread_id of the thread running event loop loop
// (BaseEventLoop._thread_id, None while it does not run), 0 unknown.
func (in *Interpreter) loopThread(loop uint64) uint64 {
	a := in.async
	v, ok, err := a.o.attr(loop, "_thread_id")
	if err != nil || !ok {
		return 0
	}
	id, ok, err := a.o.intValue(v)
	if err != nil || !ok {
		return 0
	}
	return id
}

// listItems reads the items of the list at addr, at most limit.
func (in *Interpreter) listItems(list uint64, limit int) ([]uint64, error) {
	l := in.Layout
	n, err := procmem.U64(in.r, list+uint64(l.VarObject.Size))
	if err != nil {
		return nil, err
	}
	if int64(n) < 0 || n > uint64(limit) {
		return nil, fmt.Errorf("list at %#x: %d items", list, int64(n))
	}
	items, err := procmem.Ptr(in.r, list+uint64(l.List.Item))
	if err != nil || n == 0 {
		return nil, err
	}
	b := make([]byte, 8*n)
	if err := procmem.ReadFull(in.r, b, items); err != nil {
		return nil, err
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = le64(b[8*i:])
	}
	return out, nil
}

// AsyncTask is one asyncio task as dump shows it.
type AsyncTask struct {
	Addr     uint64
	Name     string
	State    string // "running", "waiting", "pending" (not started) or "done"
	ThreadID uint64 // thread_id of the thread whose event loop runs it; 0 unknown
	// Stack is where the task is, innermost first: the coroutines it
	// waits in, or while it runs its part of its thread's stack.
	Stack  []Frame
	Awaits []uint64 // the tasks it awaits
}

// AsyncTasks lists every asyncio task of the process whose threads are
// threads, with who awaits whom. EnableAsync must have succeeded.
func (in *Interpreter) AsyncTasks(threads []Thread) ([]AsyncTask, error) {
	a := in.async
	if a == nil {
		return nil, fmt.Errorf("%w: not enabled", ErrAsyncUnsupported)
	}
	w := new(Walker)
	// Which task each thread runs, and its part of that thread's stack.
	running := map[uint64][]Frame{}
	runningOn := map[uint64]uint64{}
	for i := range threads {
		th := &threads[i]
		frames, err := w.Stack(in, th, nil)
		if err != nil {
			continue // no Python frames, or torn: no running task shown
		}
		task, n, err := w.RunningTask(in, th)
		if err != nil || task == 0 {
			continue
		}
		running[task] = frames[:n]
		runningOn[task] = th.ThreadID
	}
	var infos []taskInfo
	var err error
	if a.lay.tsTasksHead != Absent {
		infos, err = in.listedTasks(w, threads)
	} else {
		infos, err = in.allTasks()
	}
	if err != nil {
		return nil, err
	}
	out := make([]AsyncTask, 0, len(infos))
	for _, ti := range infos {
		t := AsyncTask{Addr: ti.addr, ThreadID: ti.thread, Awaits: ti.awaits}
		nf, err := w.taskFrame(in, ti.addr)
		if err != nil {
			return nil, err
		}
		t.Name = nf.Code.Name
		if frames, ok := running[ti.addr]; ok {
			t.State, t.Stack = "running", frames
			if t.ThreadID == 0 {
				t.ThreadID = runningOn[ti.addr]
			}
		} else {
			coro, err := w.ptr(in, ti.addr+uint64(a.lay.taskCoro))
			if err != nil {
				return nil, fmt.Errorf("task %#x: coroutine: %w", ti.addr, err)
			}
			t.State = in.coroState(w, coro)
			if t.State == "waiting" {
				if t.Stack, err = w.appendCoroStack(in, coro, nil); err != nil {
					return nil, fmt.Errorf("task %#x: %w", ti.addr, err)
				}
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// coroState names the state of a task's coroutine that is not running.
func (in *Interpreter) coroState(w *Walker, coro uint64) string {
	a := in.async
	if coro == 0 {
		return "done"
	}
	if err := procmem.ReadFull(in.r, w.word[:1], coro+uint64(a.lay.genFrameState)); err != nil {
		return "done"
	}
	switch s := int8(w.word[0]); {
	case s == a.lay.states.created:
		return "pending"
	case a.lay.states.suspended(s):
		return "waiting"
	case s == a.lay.states.executing:
		return "running" // on a thread whose stack did not read
	}
	return "done"
}

// listedTasks lists the tasks of 3.14+: each thread state's list (tasks
// made on that thread) and the interpreter's (tasks of threads that have
// ended), each a circular list through task_node; and whom each awaits,
// the reverse of task_awaited_by.
func (in *Interpreter) listedTasks(w *Walker, threads []Thread) ([]taskInfo, error) {
	a := in.async
	var out []taskInfo
	index := map[uint64]int{}
	walk := func(head, thread uint64) error {
		node, err := w.ptr(in, head)
		if err != nil {
			return fmt.Errorf("task list at %#x: %w", head, err)
		}
		for n := 0; node != head && node != 0; n++ {
			if n >= maxTasks {
				return fmt.Errorf("task list at %#x: more than %d tasks", head, maxTasks)
			}
			task := node - uint64(a.lay.taskNode)
			if _, dup := index[task]; dup {
				return fmt.Errorf("task list at %#x: %w", head, ErrCycle)
			}
			index[task] = len(out)
			out = append(out, taskInfo{addr: task, thread: thread})
			if node, err = w.ptr(in, node); err != nil {
				return fmt.Errorf("task list at %#x: %w", head, err)
			}
		}
		return nil
	}
	for i := range threads {
		if err := walk(threads[i].Addr+uint64(a.lay.tsTasksHead), threads[i].ThreadID); err != nil {
			return nil, err
		}
	}
	seenInterp := map[uint64]bool{}
	for i := range threads {
		if ip := threads[i].Interp; ip != 0 && !seenInterp[ip] {
			seenInterp[ip] = true
			if err := walk(ip+uint64(a.lay.interpTasksHead), 0); err != nil {
				return nil, err
			}
		}
	}
	// Awaiters: a task's task_awaited_by holds tasks, or futures (gather's)
	// whose own awaited_by hold the tasks.
	for i := range out {
		child := out[i].addr
		parents, err := in.awaitersOf(w, child)
		if err != nil {
			return nil, err
		}
		for _, p := range parents {
			if j, ok := index[p]; ok {
				out[j].awaits = append(out[j].awaits, child)
			}
		}
	}
	return out, nil
}

// awaitersOf lists every task awaiting obj (3.14+), through futures
// standing between.
func (in *Interpreter) awaitersOf(w *Walker, obj uint64) ([]uint64, error) {
	a := in.async
	var out []uint64
	todo := []uint64{obj}
	seen := map[uint64]bool{obj: true}
	for len(todo) > 0 && len(seen) < maxTasks {
		cur := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		by, err := w.ptr(in, cur+uint64(a.lay.awaitedBy))
		if err != nil || by == 0 {
			if err != nil {
				return nil, err
			}
			continue
		}
		if err := procmem.ReadFull(in.r, w.word[:1], cur+uint64(a.lay.awaitedByIsSet)); err != nil {
			return nil, err
		}
		objs := []uint64{by}
		if w.word[0] != 0 {
			if objs, err = in.setKeys(by, nil, maxTasks); err != nil {
				return nil, err
			}
		}
		for _, o := range objs {
			if seen[o] {
				continue
			}
			seen[o] = true
			if ok, err := w.isTask(in, o); err != nil {
				return nil, err
			} else if ok {
				out = append(out, o)
			} else {
				todo = append(todo, o)
			}
		}
	}
	return out, nil
}
