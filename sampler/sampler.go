package sampler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pyspyglass/pyspyglass/native"
	"github.com/pyspyglass/pyspyglass/procmem"
	"github.com/pyspyglass/pyspyglass/pyabi"
	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// Options say what to sample and how to aggregate it.
type Options struct {
	Rate          float64       // samples per second (mean)
	Duration      time.Duration // 0: until the context ends or every target exits
	Idle          bool          // include threads the OS reports as not running
	GILOnly       bool          // keep only the thread holding the GIL
	ThreadRoots   bool          // a root frame per thread (id and name)
	ProcessRoots  bool          // a root frame per process (pid and command line)
	Function      bool          // lines are each function's first line
	NoLineNo      bool          // no line numbers at all
	FullFilenames bool          // do not shorten file paths
	Threads       ThreadFilter  // only these threads (--thread, --tid)
	// GC puts a "<GC>" leaf on the stack of the thread running the cyclic
	// garbage collector (the GIL holder while the collector's flag is set).
	GC bool
	// Async shows, for a thread running an asyncio event loop, the
	// running task's stack instead of the loop's: its coroutine frames
	// under a frame per task ("<task NAME>"), each task under the
	// coroutines of the task awaiting it (CPython 3.11+).
	Async bool
	// Opcodes adds the instruction the innermost frame is at as a leaf
	// frame ("[BINARY_OP_ADD_INT]", kind prof.KindInstruction).
	Opcodes bool
	// Sources keeps the text of each sampled Python file in the profile,
	// read once per file through the target's /proc/PID/root.
	Sources bool
	// Memory reads each process's resident memory every round and
	// attributes the change since the last round to the stack running.
	Memory bool
	// Log receives failed samples at debug level (the first few, then
	// every thousandth), so --log debug explains an error count.
	Log *slog.Logger
	// Pause and Resume, when set, stop and restart the target around each
	// read (--blocking); Resume is always called after a successful Pause.
	Pause, Resume func(pid int) error
	// Native merges each thread's C stack with its Python frames; it
	// needs Stopped. NativeAll keeps the interpreter's own call machinery
	// and start-up frames too.
	Native, NativeAll bool
	// Stopped stops every thread of pid, runs fn with their registers
	// and lets them run again, also when fn fails. It runs fn on the
	// thread that stops the target (attach.Pauser.WhilePaused): a round
	// then costs one hand-off between OS threads, not three.
	Stopped func(pid int, fn func(regs []native.ThreadRegs) error) error
	// Detach, when set, is called once for each target that exited,
	// after its last Resume, to release what Pause held for it.
	Detach func(pid int)
}

// catchUp is the lag the sampler still makes up by sampling back to back
// (at high rates, 10 intervals is less than one preemption of the
// sampler by a busy machine); further behind, it starts afresh.
const catchUp = 5 * time.Millisecond

// refreshEvery is how often the thread list is re-read: threads come and
// go far less often than samples are taken.
const refreshEvery = 100 * time.Millisecond

// Sampler samples targets into one profile. The goroutine in Run is the
// only writer of the profile; its View/Snapshot/Reset/SetIdle/Done/Err
// methods may be called from another goroutine (the live view, writers).
type Sampler struct {
	o       Options
	mu      sync.Mutex // guards p and targets
	p       *prof.Profile
	targets []*Target
	idle    atomic.Bool
	resets  chan chan struct{} // Reset's requests, acknowledged once applied
	running atomic.Bool        // Run has started
	// resetPending counts Resets about to hand over their request; the
	// sleeper, woken by one, waits for it (awaitReset).
	resetPending atomic.Int32
	sleeper      atomic.Pointer[preciseSleeper] // while Run sleeps with one
	done         chan struct{}
	err          error

	walker    pyabi.Walker // the scratch of every walk, for all targets
	frameIDs  map[frameKey]prof.FrameID
	sourced   map[string]bool // files whose source was looked for
	mem       map[*Target]*memState
	last      lastAdded // the sample added last, for --memory
	curGIL    bool      // the thread being recorded holds the GIL
	instrIDs  map[instrKey]prof.FrameID
	threadIDs map[threadKey]int
	roots     map[int]prof.FrameID // pid -> process root frame
	frames    []pyabi.Frame
	ids       []prof.FrameID
	stack     []prof.FrameID
	start     time.Time

	aux         map[*Target]*targetAux
	nativeCache *native.Cache // per-binary unwind tables, shared by all targets
	nativeID    prof.FrameID  // the "<native>" frame, -1 until used
}

type frameKey struct {
	code *pyabi.Code
	line int
	cwd  string // file names are shortened relative to the target's directory
}

// instrKey is an instruction leaf: the opcode under its frame.
type instrKey struct {
	parent prof.FrameID
	op     uint8
}

type threadKey struct {
	pid  int
	id   uint64
	name string
}

// New makes a sampler over targets writing into p.
func New(targets []*Target, p *prof.Profile, o Options) *Sampler {
	s := &Sampler{
		o: o, p: p, targets: targets, done: make(chan struct{}), resets: make(chan chan struct{}),
		frameIDs: map[frameKey]prof.FrameID{}, sourced: map[string]bool{}, mem: map[*Target]*memState{}, instrIDs: map[instrKey]prof.FrameID{}, threadIDs: map[threadKey]int{}, roots: map[int]prof.FrameID{},
		frames: make([]pyabi.Frame, 0, 256), ids: make([]prof.FrameID, 0, 256), stack: make([]prof.FrameID, 0, 256),
		aux: map[*Target]*targetAux{}, nativeID: -1,
	}
	s.idle.Store(o.Idle)
	p.Health.Rate = o.Rate
	p.Memory = o.Memory
	for _, t := range targets {
		s.prepare(t)
	}
	return s
}

// prepare sets t up for the options; what cannot be had on t is logged
// (the CLI refuses it up front for the targets it starts with).
func (s *Sampler) prepare(t *Target) {
	if s.o.Opcodes {
		if err := t.Interp.EnableOpcodes(); err != nil && s.o.Log != nil {
			s.o.Log.Warn("instructions not read", "pid", t.Pid, "err", err)
		}
	}
	if s.o.Async {
		if err := t.EnableAsync(); err != nil && s.o.Log != nil {
			s.o.Log.Warn("asyncio tasks not read yet", "pid", t.Pid, "err", err)
		}
	}
	if s.o.GILOnly && s.o.Log != nil {
		if err := t.Interp.CanReadGIL(); err != nil {
			s.o.Log.Warn("--gil: no thread of this process can be sampled", "pid", t.Pid, "err", err)
		}
	}
}

// AddTarget adds a process found later (a new child with --subprocesses).
func (s *Sampler) AddTarget(t *Target) {
	s.prepare(t)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.targets = append(s.targets, t)
}

// RemoveTarget stops sampling pid (a child that exec'd another program:
// its memory is no longer the interpreter's); its samples stay.
func (s *Sampler) RemoveTarget(pid int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.targets = slices.DeleteFunc(s.targets, func(t *Target) bool {
		if t.Pid == pid {
			s.drop(t)
			return true
		}
		return false
	})
}

// drop releases a target that is no longer sampled.
func (s *Sampler) drop(t *Target) {
	t.Close()
	delete(s.aux, t)
	if s.o.Detach != nil {
		s.o.Detach(t.Pid)
	}
}

// Pids lists the processes being sampled.
func (s *Sampler) Pids() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var pids []int
	for _, t := range s.targets {
		pids = append(pids, t.Pid)
	}
	return pids
}

// View runs f with the profile while no sample is being added. f must be
// quick and must not keep p: sampling waits for it.
func (s *Sampler) View(f func(p *prof.Profile)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.p)
}

// Snapshot is a read-only copy of the profile as it is now (see
// prof.Profile.Snapshot): sampling waits only for the copy, not for what is
// done with it, such as writing a file.
func (s *Sampler) Snapshot() *prof.Profile {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p.Snapshot()
}

// Reset starts a new window. While Run samples, the sampling goroutine
// applies it between two rounds (waking the sampler from its sleep), and
// Reset returns once it has.
func (s *Sampler) Reset() {
	if s.running.Load() {
		ack := make(chan struct{})
		s.resetPending.Add(1)
		if sl := s.sleeper.Load(); sl != nil {
			sl.wake()
		}
		select {
		case s.resets <- ack:
			select {
			case <-ack:
				return
			case <-s.done:
			}
		case <-s.done:
		}
	}
	s.reset() // not sampling (not yet, or no longer): nobody else writes
}

func (s *Sampler) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.p.Reset(now)
	s.start = now
}

// applyResets serves a pending Reset, if any.
func (s *Sampler) applyResets() {
	select {
	case ack := <-s.resets:
		s.resetPending.Add(-1)
		s.reset()
		close(ack)
	default:
	}
}

// awaitReset serves the Reset that woke the sleeper: Reset wakes it just
// before it hands over its request. It says false once sampling ended.
func (s *Sampler) awaitReset(ended <-chan struct{}) bool {
	for s.resetPending.Load() > 0 {
		select {
		case ack := <-s.resets:
			s.resetPending.Add(-1)
			s.reset()
			close(ack)
		case <-ended:
			return false
		}
	}
	return true
}

// SetIdle includes or excludes idle threads from now on.
func (s *Sampler) SetIdle(include bool) { s.idle.Store(include) }

// Done is closed when Run has returned.
func (s *Sampler) Done() <-chan struct{} { return s.done }

// Err is why sampling ended; nil for a clean end (duration, cancel, exit).
func (s *Sampler) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Run samples until ctx ends, the duration passes or every target exits.
// Targets that exit are closed and dropped; their samples stay.
func (s *Sampler) Run(ctx context.Context) (err error) {
	defer func() {
		// Elapsed is the real sampling time, not the time of the last
		// round: at a low rate they differ by up to an interval.
		s.mu.Lock()
		if !s.start.IsZero() {
			s.p.Health.Elapsed = time.Since(s.start)
		}
		s.mu.Unlock()
		s.closeMemory()
		s.err = err
		close(s.done)
	}()
	s.running.Store(true)
	if s.o.Rate <= 0 {
		return fmt.Errorf("sampling rate must be positive, got %v", s.o.Rate)
	}
	mean := time.Duration(float64(time.Second) / s.o.Rate)
	s.mu.Lock()
	// The clock starts now, not when the profile was made: attaching
	// (reading ELF files, finding the interpreter) is not sampling time.
	s.start = time.Now()
	s.p.Start = s.start
	none := len(s.targets) == 0
	s.mu.Unlock()
	if none {
		return nil
	}
	// ended is closed once the context ends or the duration passes; the
	// sleeper is woken then, so a cancel is seen at once at any rate.
	ended := make(chan struct{})
	var deadline <-chan time.Time
	if s.o.Duration > 0 {
		dt := time.NewTimer(s.o.Duration)
		defer dt.Stop()
		deadline = dt.C
	}
	// The sampler waits for each sample on a kernel timer parked in Go's
	// poller (see sleep_linux.go): one thread wake-up per sample, at the
	// timer's exact time. Go's own timers would wake with up to a
	// millisecond of slack (which caps the rate near 1 kHz) and wake a
	// second thread to run the goroutine. Where no kernel timer can be
	// made, Go timers.
	sleeper := newPreciseSleeper()
	defer sleeper.close()
	s.sleeper.Store(sleeper)
	defer s.sleeper.Store(nil)
	stopWaker := make(chan struct{})
	defer close(stopWaker)
	go func() {
		select {
		case <-ctx.Done():
		case <-deadline:
		case <-stopWaker:
			return
		}
		close(ended)
		sleeper.wake()
	}()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	done := func() bool {
		select {
		case <-ended:
			return true
		default:
			return false
		}
	}
	next := time.Now()
	lastRefresh := time.Time{}
	for {
		switch wait := time.Until(next); {
		case sleeper.ok():
			for wait > 0 {
				woken := sleeper.sleepUntil(next)
				if done() {
					return nil
				}
				if woken && !s.awaitReset(ended) {
					return nil
				}
				wait = time.Until(next)
			}
			if done() {
				return nil
			}
		case wait > 0:
			timer.Reset(wait)
			select {
			case <-ended:
				return nil
			case ack := <-s.resets:
				s.resetPending.Add(-1)
				s.reset()
				close(ack)
				continue // the wait is not over
			case <-timer.C:
			}
		default:
			if done() {
				return nil
			}
		}
		s.applyResets()
		now := time.Now()
		refresh := now.Sub(lastRefresh) >= refreshEvery
		if refresh {
			lastRefresh = now
		}
		if s.sampleAll(now, next, mean, refresh) == 0 {
			return nil // every target has exited
		}
		// Gaps drawn evenly from half to one and a half means: samples
		// cannot lock step with periodic work in the target (aliasing),
		// the mean rate holds, and no gap is long. Long gaps (exponential
		// ones average two means around any given instant) would hand the
		// memory growth of a function that just returned to its successor.
		next = next.Add(time.Duration((0.5 + rand.Float64()) * float64(mean)))
		if time.Since(next) > max(10*mean, catchUp) {
			next = time.Now() // far behind: do not burst to catch up
		}
	}
}

// sampleAll takes one round over every target and returns how many remain.
func (s *Sampler) sampleAll(now, scheduled time.Time, mean time.Duration, refresh bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := &s.p.Health
	h.Samples++
	if lag := now.Sub(scheduled); lag > mean {
		h.Late++
		h.TotalLag += lag
	}
	h.Elapsed = now.Sub(s.start)
	at := now.Sub(s.p.Start)
	kept := s.targets[:0]
	for _, t := range s.targets {
		if err := s.sampleTarget(t, at, refresh); errors.Is(err, procmem.ErrExited) {
			s.drop(t)
			continue
		} else if err != nil {
			s.failed(err)
		}
		kept = append(kept, t)
	}
	clear(s.targets[len(kept):])
	s.targets = kept
	return len(kept)
}

func (s *Sampler) sampleTarget(t *Target, at time.Duration, refresh bool) (err error) {
	// Memory that changes under us must not crash the profiler: a panic
	// in a decoder is one failed sample, like any other bad read.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("pid %d: reading a sample failed: %v", t.Pid, r)
		}
	}()
	refresh = refresh || t.young()
	// By pid alone, a reused pid would read another process. Checked at
	// each thread list refresh, and after any failed read (Target.wrap):
	// a pid is not reused within 100 ms, and a system call fewer per round
	// counts at low rates.
	if refresh && t.Proc.Exited() {
		return fmt.Errorf("pid %d: %w", t.Pid, procmem.ErrExited)
	}
	a := s.auxFor(t)
	if refresh || a.tids == nil {
		a.listThreads(t.Pid)
	}
	includeIdle := s.idle.Load()
	paused := s.o.Pause != nil || s.o.Stopped != nil
	if paused && !includeIdle {
		// A stopped thread reads as 't': note which ran before the stop.
		clear(a.states)
		for _, tid := range a.tids {
			if st, err := t.stat.State(tid); err == nil {
				a.states[tid] = st
			}
		}
	}
	if s.o.Native {
		// The code map is read before the stop, the round runs on the
		// thread that stopped the target (see Options.Stopped).
		nt, err := s.nativeFor(t, a)
		if err != nil {
			return err
		}
		err = s.o.Stopped(t.Pid, func(regs []native.ThreadRegs) (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("pid %d: reading a sample failed: %v", t.Pid, r)
				}
			}()
			return s.sampleThreads(t, a, at, refresh, includeIdle, nt, regs)
		})
		if err != nil {
			nt.captures = nt.captures[:0]
			return t.wrap(err)
		}
		// The target runs again: unwind the copies, name and record.
		s.flush(t, nt, at)
		return nil
	}
	if s.o.Pause != nil {
		if err := s.o.Pause(t.Pid); err != nil {
			return t.wrap(err)
		}
		defer func() {
			if rerr := s.o.Resume(t.Pid); rerr != nil && err == nil {
				err = t.wrap(rerr)
			}
		}()
	}
	return s.sampleThreads(t, a, at, refresh, includeIdle, nil, nil)
}

// young says t was opened less than a thread list refresh ago.
func (t *Target) young() bool {
	return !t.opened.IsZero() && time.Since(t.opened) < refreshEvery
}

// sampleThreads reads and records every thread of t; with --native, nt and
// the registers of the stopped threads are given.
func (s *Sampler) sampleThreads(t *Target, a *targetAux, at time.Duration, refresh, includeIdle bool, nt *nativeTarget, regs []native.ThreadRegs) error {
	paused := s.o.Pause != nil || s.o.Stopped != nil
	if refresh || t.names == nil || t.stale {
		if err := t.refresh(&s.walker); err != nil {
			return err
		}
		t.stale = false
		if s.o.Async && !t.Interp.AsyncEnabled() && !t.asyncRefused {
			// 3.14+: the _asyncio module may have been loaded since.
			t.asyncRefused = AsyncUnsupported(t.EnableAsync())
		}
	}
	async := s.o.Async && t.Interp.AsyncEnabled()
	gc := s.o.GC && t.Interp.CanReadGC()
	// A lone thread that held the GIL last round most likely holds it
	// again: its holder read rides with its stack read (one system call).
	riding := t.heldGIL && len(t.threads) == 1 && nt == nil && t.threads[0].Interp == t.Interp.Head
	t.heldGIL = false
	var collecting bool
	if !riding {
		var readErr error
		_, collecting, readErr = t.readHolders(&s.walker, gc, includeIdle)
		if readErr != nil {
			s.failed(readErr) // counted; the stacks themselves still count
		}
	}
	h := &s.p.Health
	for i := range t.threads {
		th := &t.threads[i]
		if s.o.Threads.Active() && !s.keepThread(t, th) {
			continue
		}
		var frames []pyabi.Frame
		var err error
		if riding {
			var holder uint64
			frames, holder, collecting, err = s.walker.StackAndGIL(t.Interp, th, s.frames[:0], gc)
			t.holders = append(t.holders[:0], gilHolder{th.Interp, holder})
		}
		hasGIL := t.holdsGIL(th)
		t.heldGIL = hasGIL && len(t.threads) == 1
		// A failed riding read leaves the holder unknown: count the
		// failure rather than judge the thread idle.
		holderUnknown := riding && err != nil && !errors.Is(err, pyabi.ErrNoFrames)
		if s.o.GILOnly && !hasGIL && !holderUnknown {
			continue
		}
		if !includeIdle && !hasGIL && !holderUnknown && !t.runsPython(i) && th.NativeID != 0 {
			st, err := a.state(t, th.NativeID, paused)
			if errors.Is(err, procmem.ErrExited) {
				// The thread has ended since the list was read: not a
				// failed sample; list the threads again next round.
				t.stale = true
				continue
			}
			if err == nil && st != 'R' {
				h.IdleDrops++
				continue
			}
		}
		if !riding {
			frames, err = s.walker.Stack(t.Interp, th, s.frames[:0])
		}
		s.frames = frames[:0]
		noPython := errors.Is(err, pyabi.ErrNoFrames)
		if err != nil && !noPython {
			if werr := t.wrap(err); errors.Is(werr, procmem.ErrExited) {
				return werr
			}
			// Most failures are a thread state freed as its thread
			// ended: list the threads again next round, not in 100 ms.
			t.stale = true
			if errors.Is(err, pyabi.ErrCycle) {
				h.Cycles++
			}
			s.failed(err)
			continue
		}
		if s.walker.Truncated() {
			h.Truncated++
		}
		if async && !noPython && nt == nil {
			if frames, err = s.taskStack(t, th, frames); err != nil {
				s.frames = frames[:0]
				s.failed(err)
				continue
			}
			s.frames = frames[:0]
		}
		if hasGIL {
			h.GILSamples++
		}
		s.last.ok, s.curGIL = false, hasGIL
		r := findRegs(regs, th.NativeID)
		switch {
		case r != nil:
			if noPython {
				frames = frames[:0]
			}
			s.capture(t, nt, r, th.ThreadID, t.ThreadName(*th), frames)
		case noPython:
			s.nativeOnly(t, th.NativeID, t.ThreadName(*th), at)
		default:
			// The collector's flag read is the main interpreter's.
			s.record(t, th, frames, collecting && hasGIL && th.Interp == t.Interp.Head, at)
		}
		if s.o.Memory {
			s.noteMemoryStack(t, hasGIL)
		}
	}
	s.curGIL = false
	if s.o.Memory {
		s.attributeMemory(t)
	}
	// An instruction that could not be named is an error, though its
	// stack is recorded: never a guessed instruction.
	if bad := t.Interp.BadInstructions(); bad != t.badInstr {
		h.Errors += bad - t.badInstr
		t.badInstr = bad
	}
	if !s.o.GILOnly {
		s.sampleOtherThreads(t, a, nt, regs, includeIdle, at)
	}
	return nil
}

// sampleOtherThreads records the threads that have no Python thread state
// (started by C code): their native stacks with --native, else "<native>"
// while they run.
func (s *Sampler) sampleOtherThreads(t *Target, a *targetAux, nt *nativeTarget, regs []native.ThreadRegs, includeIdle bool, at time.Duration) {
	h := &s.p.Health
	other := func(tid int) bool {
		for i := range t.threads {
			if t.threads[i].NativeID == tid {
				return false
			}
		}
		return true
	}
	if nt != nil {
		for i := range regs {
			r := &regs[i]
			if !other(r.TID) || !s.keepOther(t, a, r.TID) {
				continue
			}
			if !includeIdle {
				if st, err := a.state(t, r.TID, true); err != nil || st != 'R' {
					h.IdleDrops++
					continue
				}
			}
			s.capture(t, nt, r, uint64(r.TID)|1<<63, a.threadName(t.Pid, r.TID), nil)
		}
		return
	}
	for _, tid := range a.tids {
		if !other(tid) || !s.keepOther(t, a, tid) {
			continue
		}
		if !includeIdle {
			if st, err := a.state(t, tid, false); err != nil || st != 'R' {
				if err == nil {
					h.IdleDrops++
				}
				continue
			}
		}
		s.nativeOnly(t, tid, a.threadName(t.Pid, tid), at)
	}
}

// keepOther applies the thread filter to a thread without Python.
func (s *Sampler) keepOther(t *Target, a *targetAux, tid int) bool {
	return !s.o.Threads.Active() || s.o.Threads.Keep(t.Pid, tid, a.threadName(t.Pid, tid))
}

// findRegs returns the registers of thread tid, or nil.
func findRegs(regs []native.ThreadRegs, tid int) *native.ThreadRegs {
	for i := range regs {
		if regs[i].TID == tid && tid != 0 {
			return &regs[i]
		}
	}
	return nil
}

// keepThread applies the thread filter, deciding once per thread and
// thread list: names change only when the list is read again.
func (s *Sampler) keepThread(t *Target, th *pyabi.Thread) bool {
	if t.keep == nil {
		t.keep = map[uint64]bool{}
	}
	k, ok := t.keep[th.ThreadID]
	if !ok {
		k = s.o.Threads.Keep(t.Pid, th.NativeID, t.ThreadName(*th))
		t.keep[th.ThreadID] = k
	}
	return k
}

// SetThreadFilter changes the thread filter from the next round on (the
// live view's thread filter).
func (s *Sampler) SetThreadFilter(f ThreadFilter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.o.Threads = f
	for _, t := range s.targets {
		t.keep = nil
	}
}

// ThreadFilter is the filter in force.
func (s *Sampler) ThreadFilter() ThreadFilter {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.o.Threads
}

// failed counts a failed read and logs some of them.
func (s *Sampler) failed(err error) {
	h := &s.p.Health
	h.Errors++
	if s.o.Log != nil && (h.Errors <= 5 || h.Errors%1000 == 0) {
		s.o.Log.Debug("sample failed", "errors", h.Errors, "err", err)
	}
}

// stackMemo is one thread's last recorded stack. Consecutive samples of a
// thread mostly repeat its stack, or share its outer frames: those keep
// their ids without a map lookup, and an unchanged stack keeps its stack id
// without hashing it again.
type stackMemo struct {
	name   string
	thread int            // index into the profile's threads
	frames []pyabi.Frame  // innermost first, as walked
	ids    []prof.FrameID // their frame ids, same order
	stack  prof.StackID
	root   prof.FrameID // the thread's root frame, with --threads
	gc     bool         // the stack ends in <GC>
	iroot  prof.FrameID // its interpreter's root frame, -1 for none
	ok     bool
}

// record interns one stack (innermost first in frames) root first.
func (s *Sampler) record(t *Target, th *pyabi.Thread, frames []pyabi.Frame, gc bool, at time.Duration) {
	name := t.ThreadName(*th)
	m := t.memos[th.ThreadID]
	if m == nil {
		m = &stackMemo{}
		t.memos[th.ThreadID] = m
	}
	if !m.ok || m.name != name {
		*m = stackMemo{name: name, thread: s.threadIndex(t, th, name), frames: m.frames[:0], ids: m.ids[:0], ok: true}
		if s.o.ThreadRoots {
			m.root = s.p.Frame(prof.Frame{Name: fmt.Sprintf("thread %d %q", th.NativeID, name), Kind: prof.KindThread})
		}
	}
	n, k := len(frames), len(m.frames)
	common := 0
	for common < n && common < k && frames[n-1-common] == m.frames[k-1-common] {
		common++
	}
	iroot := prof.FrameID(-1)
	if t.Interp.Interpreters() > 1 {
		iroot = s.interpRoot(th.InterpID)
	}
	if common == n && n == k && n > 0 && gc == m.gc && iroot == m.iroot {
		s.added(m.stack, m.thread, at)
		return
	}
	ids := s.ids[:0]
	for i, f := range frames {
		if j := k - n + i; i >= n-common {
			ids = append(ids, m.ids[j])
		} else {
			ids = append(ids, s.frameID(t, f))
		}
	}
	s.ids = ids
	st := s.stack[:0]
	if s.o.ProcessRoots {
		st = append(st, s.processRoot(t))
	}
	if iroot >= 0 {
		st = append(st, iroot)
	}
	m.iroot = iroot
	if s.o.ThreadRoots {
		st = append(st, m.root)
	}
	for i := len(ids) - 1; i >= 0; i-- {
		st = append(st, ids[i])
	}
	if s.o.Opcodes && n > 0 && frames[0].HasInstr {
		st = append(st, s.instrID(ids[0], frames[0].Instr))
	}
	if gc {
		st = append(st, s.p.Frame(GCFrame))
	}
	s.stack = st
	m.gc = gc
	m.stack = s.p.Stack(st)
	m.frames = append(m.frames[:0], frames...)
	m.ids = append(m.ids[:0], ids...)
	s.added(m.stack, m.thread, at)
}

// taskStack turns the stack of thread th, as just walked, into its
// running asyncio task's: the task's own frames, then the task chain (see
// Options.Async). A thread running no task keeps its stack.
func (s *Sampler) taskStack(t *Target, th *pyabi.Thread, frames []pyabi.Frame) ([]pyabi.Frame, error) {
	task, n, err := s.walker.RunningTask(t.Interp, th)
	if err != nil || task == 0 {
		return frames, err
	}
	return s.walker.AppendTaskChain(t.Interp, task, frames[:n])
}

// threadIndex interns a thread of t under its current name.
func (s *Sampler) threadIndex(t *Target, th *pyabi.Thread, name string) int {
	tk := threadKey{pid: t.Pid, id: th.ThreadID, name: name}
	ti, ok := s.threadIDs[tk]
	if !ok {
		ti = s.p.Thread(prof.Thread{Pid: t.Pid, TID: th.NativeID, Name: name})
		s.threadIDs[tk] = ti
	}
	return ti
}

func (s *Sampler) frameID(t *Target, f pyabi.Frame) prof.FrameID {
	line := f.Line
	switch {
	case s.o.NoLineNo:
		line = 0
	case s.o.Function:
		line = f.Code.FirstLine
	}
	k := frameKey{code: f.Code, line: line, cwd: t.Cwd}
	if id, ok := s.frameIDs[k]; ok {
		return id
	}
	if f.Task {
		id := s.p.Frame(prof.Frame{Name: TaskFrameName(f.Code.Name), Kind: prof.KindOther})
		s.frameIDs[k] = id
		return id
	}
	file := f.Code.File
	if !s.o.FullFilenames {
		file = ShortenPath(file, t.Cwd)
	}
	id := s.p.Frame(prof.Frame{Name: f.Code.Name, File: file, Line: line, FirstLine: f.Code.FirstLine, Kind: prof.KindPython})
	s.frameIDs[k] = id
	if s.o.Sources {
		s.keepSource(t, f.Code.File, file)
	}
	return id
}

// TaskFrameName is the name of the frame standing for the asyncio task
// named name.
func TaskFrameName(name string) string { return "<task " + name + ">" }

// GCFrame is the leaf the sampler puts on the stack of the thread running
// the cyclic garbage collector.
var GCFrame = prof.Frame{Name: "<GC>", Kind: prof.KindOther}

// instrID interns the instruction leaf under frame parent: named as the
// interpreter runs it, with the instruction it specialises after it.
func (s *Sampler) instrID(parent prof.FrameID, in pyabi.Instruction) prof.FrameID {
	k := instrKey{parent: parent, op: in.Op}
	if id, ok := s.instrIDs[k]; ok {
		return id
	}
	name := "[" + in.Name + "]"
	if in.Specialized() {
		name = "[" + in.Name + " (" + in.Base + ")]"
	}
	pf := s.p.Frames[parent]
	id := s.p.Frame(prof.Frame{Name: name, File: pf.File, Line: pf.Line, Kind: prof.KindInstruction})
	s.instrIDs[k] = id
	return id
}

// interpRoot is the root frame of interpreter id in a process running
// sub-interpreters.
func (s *Sampler) interpRoot(id int64) prof.FrameID {
	name := "main interpreter"
	if id != 0 {
		name = fmt.Sprintf("interpreter %d", id)
	}
	return s.p.Frame(prof.Frame{Name: name, Kind: prof.KindInterpreter})
}

func (s *Sampler) processRoot(t *Target) prof.FrameID {
	if id, ok := s.roots[t.Pid]; ok {
		return id
	}
	name := fmt.Sprintf("process %d: %s", t.Pid, strings.Join(t.Cmdline, " "))
	id := s.p.Frame(prof.Frame{Name: name, Kind: prof.KindProcess})
	s.roots[t.Pid] = id
	return id
}

// ShortenPath drops the part of a path that says where Python is installed
// (…/site-packages/, …/lib/python3.X/) or the target's working directory
// cwd, as py-spy does, so that frames read as module paths.
func ShortenPath(path, cwd string) string {
	for _, marker := range []string{"/site-packages/", "/dist-packages/"} {
		if i := strings.LastIndex(path, marker); i >= 0 {
			return path[i+len(marker):]
		}
	}
	if i := strings.LastIndex(path, "/lib/python"); i >= 0 {
		if j := strings.IndexByte(path[i+len("/lib/python"):], '/'); j >= 0 {
			return path[i+len("/lib/python")+j+1:]
		}
	}
	if cwd != "" && strings.HasPrefix(path, cwd+"/") {
		return path[len(cwd)+1:]
	}
	return path
}
