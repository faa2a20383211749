// Package sampler turns an attached process into stacks: it opens the
// target's interpreter through pyabi, walks every thread at a fixed rate,
// and aggregates the stacks into a prof.Profile. It does not present
// anything (ui does) nor attach (attach does).
package sampler

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pyspyglass/pyspyglass/procmem"
	"github.com/pyspyglass/pyspyglass/pyabi"
)

// Target is one process being read.
type Target struct {
	Pid     int
	Cmdline []string
	Cwd     string // the target's working directory, for shortening paths
	Proc    *procmem.Process
	Interp  *pyabi.Interpreter

	stat       *procmem.StatReader
	threads    []pyabi.Thread
	ids        []uint64              // thread_id of each thread at the last name lookup
	names      map[uint64]string     // thread_id -> Python thread name
	sinceNames int                   // refreshes since the names were read
	tids       []int                 // NativeID of each thread at the last name lookup
	memos      map[uint64]*stackMemo // thread_id -> its last recorded stack
	stale      bool                  // a thread failed to read: refresh the list next round
	keep       map[uint64]bool       // thread_id -> passes the thread filter, since the names were read
	holders    []gilHolder           // each interpreter's GIL holder this round
	heldGIL    bool                  // a lone thread held the GIL last round
	attached   []bool                // per thread: attached this round (free-threaded; see readAttached)
	badInstr   int64                 // Interp.BadInstructions() as last counted
	// tidOffset is where struct pthread keeps the kernel tid (<=3.10);
	// 0 until found, -1 when not found.
	tidOffset int
	// asyncChecked holds the binaries searched for _AsyncioDebug (--async).
	asyncChecked map[string]bool
	asyncRefused bool // the version's tasks cannot be read
	// opened is when Open found the interpreter: a process opened as it
	// forked still lists its parent's threads until its interpreter has
	// cleaned up after the fork, so its list is read every round at first.
	opened time.Time
}

// Opener opens targets, sharing what it learnt of each Python binary
// between them: the second process of a build costs a read of its maps
// and a few words of its memory, not a parse of its ELF files. Safe for
// concurrent use.
type Opener struct {
	bins *pyabi.Binaries
	log  *slog.Logger
}

// NewOpener makes an opener logging to log (nil: nowhere).
func NewOpener(log *slog.Logger) *Opener {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Opener{bins: pyabi.NewBinaries(), log: log}
}

// Open finds the interpreter of process pid once, with binaries read
// afresh; an Opener reuses them. The error wraps procmem.ErrNoProcess,
// *procmem.PermissionError, pyabi.ErrNotPython or *pyabi.UnsupportedError
// so the caller can explain it.
func Open(pid int, log *slog.Logger) (*Target, error) { return NewOpener(log).Open(pid) }

// Open finds the interpreter of process pid; errors as the function Open.
func (o *Opener) Open(pid int) (*Target, error) {
	proc, err := procmem.Open(pid)
	if err != nil {
		return nil, err
	}
	t := &Target{Pid: pid, Proc: proc, stat: procmem.NewStatReader(pid), memos: map[uint64]*stackMemo{}, opened: time.Now()}
	t.Cmdline, _ = procmem.Cmdline(pid)
	t.Cwd, _ = procmem.Cwd(pid) // without it, paths are only shortened by their install prefix
	t.Interp, err = o.locate(proc, pid)
	if err != nil {
		t.Close()
		// A process that exits while we look reads as a process without
		// Python, or with nothing mapped: say what happened.
		if ending(proc, pid) {
			return nil, fmt.Errorf("pid %d: %w", pid, procmem.ErrExited)
		}
		return nil, err
	}
	return t, nil
}

// UnreadableBinaryError says a binary the target maps, which may hold its
// interpreter, cannot be opened from here (a non-root user with
// CAP_SYS_PTRACE can read the process but not a file under someone's
// mode-700 home).
type UnreadableBinaryError struct {
	Pid  int
	Path string // as the target maps it
	Err  error
}

func (e *UnreadableBinaryError) Error() string {
	// The file system's own words name the path that was refused.
	var pe *fs.PathError
	if errors.As(e.Err, &pe) {
		return fmt.Sprintf("pid %d: cannot open its binary %s: %v", e.Pid, e.Path, pe)
	}
	return fmt.Sprintf("pid %d: cannot open its binary %s: %v", e.Pid, e.Path, e.Err)
}

func (e *UnreadableBinaryError) Unwrap() error { return e.Err }

// ending reports whether process pid has exited or is exiting: its pidfd
// turns readable once every thread has gone, its leader is a zombie as
// soon as the exit begins.
func ending(proc *procmem.Process, pid int) bool {
	if proc.Exited() {
		return true
	}
	st, err := procmem.ThreadState(pid, pid)
	return err != nil || st == 'Z' || st == 'X'
}

// locate finds the binaries the process maps that may hold Python,
// libpython first, and asks pyabi to find the interpreter through them.
func (o *Opener) locate(proc *procmem.Process, pid int) (*pyabi.Interpreter, error) {
	maps, err := procmem.ReadMaps(pid)
	if err != nil {
		return nil, err
	}
	exe, _ := procmem.Exe(pid)
	var images []pyabi.Mapped
	// denied is the first candidate we were not allowed to open: when no
	// interpreter is found, that is the cause, not "not a python process".
	var denied *UnreadableBinaryError
	for _, m := range procmem.Modules(maps) {
		base := filepath.Base(m.Path)
		isLib := strings.HasPrefix(base, "libpython")
		if !isLib && m.Path != exe {
			continue
		}
		name, err := procmem.MappedFile(pid, m.First)
		if err != nil {
			o.log.Debug("cannot find mapped binary", "path", m.Path, "err", err)
			if errors.Is(err, fs.ErrPermission) && denied == nil {
				denied = &UnreadableBinaryError{Pid: pid, Path: m.Path, Err: err}
			}
			continue
		}
		bin, err := o.bins.Open(m.Path, name)
		if err != nil {
			o.log.Debug("cannot open mapped binary", "path", m.Path, "err", err)
			if errors.Is(err, fs.ErrPermission) && denied == nil {
				denied = &UnreadableBinaryError{Pid: pid, Path: m.Path, Err: err}
			}
			continue
		}
		bias, err := bin.Bias(maps, m.Path)
		if err != nil {
			o.log.Debug("cannot compute load bias", "path", m.Path, "err", err)
			continue
		}
		im := pyabi.Mapped{Binary: bin, Bias: bias}
		if isLib {
			images = slices.Insert(images, 0, im)
		} else {
			images = append(images, im)
		}
	}
	in, err := pyabi.LocateMapped(proc, images, o.log)
	if err != nil {
		if denied != nil && errors.Is(err, pyabi.ErrNotPython) {
			return nil, denied
		}
		return nil, fmt.Errorf("pid %d: %w", pid, err)
	}
	return in, nil
}

// Close releases the process handles. It never touches the target.
func (t *Target) Close() error {
	t.stat.Close()
	return t.Proc.Close()
}

// Refresh re-reads the thread list and, when it changed, the thread names
// and (before 3.11) the native thread ids. The sampler calls it now and
// then, not every sample.
func (t *Target) Refresh() error { return t.refresh(new(pyabi.Walker)) }

func (t *Target) refresh(w *pyabi.Walker) error {
	var err error
	t.threads, err = w.Threads(t.Interp, t.threads[:0])
	if err != nil {
		return t.wrap(err)
	}
	t.sinceNames++
	same := t.names != nil && slices.EqualFunc(t.ids, t.threads, func(id uint64, th pyabi.Thread) bool { return id == th.ThreadID })
	if same && t.sinceNames < namesEvery {
		// The same threads: keep the native ids found for them, rather
		// than listing /proc/PID/task again (they do not change).
		for i := range t.threads {
			if t.threads[i].NativeID == 0 {
				t.threads[i].NativeID = t.tids[i]
			}
		}
		return nil
	}
	t.fillNativeIDs()
	t.ids, t.tids = t.ids[:0], t.tids[:0]
	for _, th := range t.threads {
		t.ids = append(t.ids, th.ThreadID)
		t.tids = append(t.tids, th.NativeID)
	}
	t.stat.Retain(t.tids)
	for id := range t.memos {
		if !slices.Contains(t.ids, id) {
			delete(t.memos, id)
		}
	}
	t.sinceNames, t.keep = 0, nil
	if names, err := t.Interp.ThreadNames(); err == nil {
		t.names = names
	} else if t.names == nil {
		t.names = map[uint64]string{}
	}
	// Threads Python does not name (C threads, or no threading module)
	// get their OS name once here, not a file read per sample. The main
	// thread is "MainThread" before threading is imported too, as it will
	// be after: one thread, not two by name.
	for _, th := range t.threads {
		if _, ok := t.names[th.ThreadID]; !ok && th.NativeID != 0 {
			if th.NativeID == t.Pid {
				t.names[th.ThreadID] = mainThreadName
			} else if n, err := procmem.ThreadComm(t.Pid, th.NativeID); err == nil {
				t.names[th.ThreadID] = n
			}
		}
	}
	return nil
}

// mainThreadName is what threading calls the main thread.
const mainThreadName = "MainThread"

// namesEvery is how many refreshes keep the thread names when the thread
// list is unchanged: a name can change (threading imported after we
// attached, Thread.name assigned) without any thread coming or going.
const namesEvery = 10

// wrap turns a read failure of a process that has gone into ErrExited.
func (t *Target) wrap(err error) error {
	if errors.Is(err, procmem.ErrExited) || errors.Is(err, procmem.ErrNoProcess) || t.Proc.Exited() {
		return fmt.Errorf("pid %d: %w", t.Pid, procmem.ErrExited)
	}
	return err
}

// ThreadName is the Python name of a thread, else the OS name (both as of
// the last Refresh), else "".
func (t *Target) ThreadName(th pyabi.Thread) string {
	return t.names[th.ThreadID]
}

// ThreadStack is one thread as dump shows it.
type ThreadStack struct {
	pyabi.Thread
	Name    string
	HasGIL  bool
	Idle    bool
	OSState byte // from /proc/PID/task/TID/stat: R running, S sleeping, ...
	Frames  []pyabi.Frame
	// FrameAddrs holds each frame's address, for a closer look (dump).
	FrameAddrs []uint64
	Err        error // the stack could not be read; Frames holds what was
}

// Snapshot reads every thread's stack once, with its OS state.
func (t *Target) Snapshot() ([]ThreadStack, error) { return t.snapshot(true) }

// Stacks is Snapshot without the OS states, for a caller that read them
// itself: one that stops the target reads them before (a stopped thread
// is in the tracing stop), and saves a /proc read per thread.
func (t *Target) Stacks() ([]ThreadStack, error) { return t.snapshot(false) }

func (t *Target) snapshot(osState bool) (out []ThreadStack, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("pid %d: reading the stacks failed: %v", t.Pid, r)
		}
	}()
	var w pyabi.Walker
	if err := t.refresh(&w); err != nil {
		return nil, err
	}
	t.readHolders(&w, false, true)
	out = make([]ThreadStack, 0, len(t.threads))
	for _, th := range t.threads {
		ts := ThreadStack{Thread: th, Name: t.ThreadName(th), HasGIL: t.holdsGIL(&th)}
		if osState && th.NativeID != 0 {
			if st, err := t.stat.State(th.NativeID); err == nil {
				ts.OSState = st
				ts.Idle = st != 'R'
			}
		}
		frames, err := w.Stack(t.Interp, &th, nil)
		ts.Frames = frames
		if err == nil {
			ts.FrameAddrs = w.LastFrames(nil)
		}
		if err != nil && !errors.Is(err, pyabi.ErrNoFrames) {
			ts.Err = t.wrap(err)
			if errors.Is(ts.Err, procmem.ErrExited) {
				return nil, ts.Err
			}
		}
		out = append(out, ts)
	}
	// Threads grouped by interpreter, the main one first, each in list order.
	slices.SortStableFunc(out, func(a, b ThreadStack) int { return cmp.Compare(a.InterpID, b.InterpID) })
	return out, nil
}
