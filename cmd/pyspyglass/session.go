package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pyspyglass/pyspyglass/attach"
	"github.com/pyspyglass/pyspyglass/native"
	"github.com/pyspyglass/pyspyglass/procmem"
	"github.com/pyspyglass/pyspyglass/pyabi"
	"github.com/pyspyglass/pyspyglass/sampler"
	"github.com/pyspyglass/pyspyglass/sampler/prof"
	"github.com/spf13/pflag"
)

// targetFlags are the flags record and top share: what to sample and how.
type targetFlags struct {
	threadFlags
	pids         pidsValue
	rate         rateValue
	subprocesses bool
	blocking     bool
	nonblocking  bool
	idle         bool
	gil          bool
	opcodes      bool
	noGC         bool
	native       bool
	nativeAll    bool
	memory       bool
	async        bool
	log          string
}

func (tf *targetFlags) bind(fs *pflag.FlagSet) {
	tf.rate = 100
	fs.VarP(&tf.pids, "pid", "p", "a running Python process (repeatable)")
	fs.VarP(&tf.rate, "rate", "r", "samples per second")
	fs.BoolVarP(&tf.subprocesses, "subprocesses", "s", false, "profile child processes too (fork, multiprocessing, workers)")
	fs.BoolVar(&tf.blocking, "blocking", false, "stop the target while reading each sample (consistent stacks, slows the target)")
	fs.BoolVar(&tf.nonblocking, "nonblocking", false, "never stop the target (the default)")
	fs.BoolVarP(&tf.idle, "idle", "i", false, "include idle threads (not running on a CPU)")
	fs.BoolVarP(&tf.gil, "gil", "g", false, "only sample the thread holding the GIL")
	fs.BoolVar(&tf.opcodes, "opcodes", false, "add the bytecode instruction each stack is at as a leaf frame, e.g. [BINARY_OP_ADD_INT (BINARY_OP)]")
	fs.BoolVar(&tf.noGC, "no-gc", false, "do not mark the garbage collector's work with a <GC> frame (3.7+)")
	fs.BoolVarP(&tf.native, "native", "n", false, "merge C/C++/Cython frames with the Python stack (stops the target per sample; x86_64)")
	fs.BoolVar(&tf.nativeAll, "native-all", false, "with --native, keep the interpreter's own call and start-up frames")
	fs.BoolVar(&tf.memory, "memory", false, "attribute each process's resident memory growth between samples to the stack running (an estimate, like austin -m)")
	fs.BoolVar(&tf.async, "async", false, "for a thread running an asyncio event loop, show its running task's await chain (<task NAME> frames) instead of the loop (CPython 3.11+)")
	tf.threadFlags.bind(fs)
	fs.StringVar(&tf.log, "log", "warn", "`LEVEL` of logging: debug, info, warn, error")
}

// session is a set of sampled processes: given pids, or a launched
// command and, with --subprocesses, their descendants.
type session struct {
	tf      *targetFlags
	log     *slog.Logger
	child   *attach.Child // launched command, or nil
	roots   []int         // pids whose descendants are followed
	sampler *sampler.Sampler
	opener  *sampler.Opener // shares each Python binary's facts between processes
	pausers map[int]*attach.Pauser
	regs    []attach.ThreadRegs // reused by stopped
	nregs   []native.ThreadRegs
	opened  map[int]bool
	events  *attach.ProcEvents // with --subprocesses where permitted
	family  map[int]bool       // the roots and their descendants, with process events
	pending map[int]bool       // members that forked or exec'd and did not open yet
	joined  func(pid int)      // tests: called as a child's fork is seen
	// command and python describe the first target, for headers.
	command, python string
	procs           sync.Map // pid -> upload.Process, for the upload's resource attributes
}

// openSession attaches to the pids or launches argv, and builds the
// sampler. A launched child is waited for until its interpreter is up, so
// that sampling starts before its first line of Python.
func openSession(ctx context.Context, tf *targetFlags, argv []string, launch attach.LaunchOptions, p *prof.Profile, o sampler.Options, log *slog.Logger) (*session, error) {
	if len(tf.pids) == 0 && len(argv) == 0 {
		return nil, errors.New("nothing to sample: give --pid PID or a command after --")
	}
	if len(tf.pids) > 0 && len(argv) > 0 {
		return nil, errors.New("give either --pid or a command, not both")
	}
	if tf.blocking && tf.nonblocking {
		return nil, errors.New("--blocking and --nonblocking exclude each other")
	}
	if err := checkNative(tf); err != nil {
		return nil, err
	}
	var err error
	if o.Threads, err = tf.filter(); err != nil {
		return nil, err
	}
	s := &session{tf: tf, log: log, opener: sampler.NewOpener(log), pausers: map[int]*attach.Pauser{}, opened: map[int]bool{}}
	if tf.subprocesses {
		// Subscribed before the launch: a child forked and gone before
		// follow starts is still in the socket's queue.
		var err error
		if s.events, err = attach.ListenProcEvents(); err != nil {
			log.Debug("no process events: children are found by scanning /proc", "err", err)
		}
	}
	var targets []*sampler.Target
	if len(argv) > 0 {
		child, err := attach.Launch(argv, launch)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.child = child
		s.roots = []int{child.Pid}
		t, err := s.openWhenReady(ctx, argv[0], child)
		if err != nil {
			return s, err
		}
		targets = append(targets, t)
	}
	for _, pid := range tf.pids {
		if slices.Contains(s.roots, pid) {
			continue // --pid given twice
		}
		err := attach.Check(pid)
		var t *sampler.Target
		if err == nil {
			t, err = s.openStarting(ctx, pid)
		}
		if err != nil {
			for _, t := range targets {
				t.Close()
			}
			return s, err
		}
		s.roots = append(s.roots, pid)
		targets = append(targets, t)
	}
	// Refused up front for the targets we start with; a child that cannot
	// is logged and sampled without (sampler.AddTarget).
	for i := 0; tf.opcodes && i < len(targets); i++ {
		if err := targets[i].Interp.EnableOpcodes(); err != nil {
			for _, t := range targets {
				t.Close()
			}
			return s, fmt.Errorf("--opcodes: pid %d: %w", targets[i].Pid, err)
		}
	}
	// --gil on a build whose GIL state cannot be read would drop every
	// sample without a word.
	for i := 0; tf.gil && i < len(targets); i++ {
		if err := targets[i].Interp.CanReadGIL(); err != nil {
			for _, t := range targets {
				t.Close()
			}
			return s, fmt.Errorf("--gil: pid %d: %w", targets[i].Pid, err)
		}
	}
	// --async on a version whose tasks cannot be read would show the
	// loop's frames without a word. On 3.14+ the offsets may come with
	// the _asyncio module, loaded later: the sampler looks again.
	for i := 0; tf.async && i < len(targets); i++ {
		if err := targets[i].EnableAsync(); sampler.AsyncUnsupported(err) {
			for _, t := range targets {
				t.Close()
			}
			return s, fmt.Errorf("--async: pid %d: %w", targets[i].Pid, err)
		}
	}
	o.Async = tf.async
	o.Opcodes = tf.opcodes
	o.GC = !tf.noGC
	o.Memory = tf.memory
	var desc []string
	if len(targets) > 0 {
		s.command, s.python = strings.Join(targets[0].Cmdline, " "), targets[0].Interp.Version.String()
	}
	for _, t := range targets {
		s.opened[t.Pid] = true
		s.remember(t)
		desc = append(desc, fmt.Sprintf("pid %d %s (Python %s)", t.Pid, strings.Join(t.Cmdline, " "), t.Interp.Version))
	}
	p.Target = strings.Join(desc, "; ")
	if len(targets) > 0 {
		p.Binary = mainBinary(targets[0].Pid)
	}
	o.Log = log
	o.ProcessRoots = o.ProcessRoots || len(targets) > 1 || tf.subprocesses
	if tf.blocking || tf.native {
		o.Pause, o.Resume, o.Detach = s.pause, s.resume, s.detach
	}
	if tf.native {
		// Stop-and-read needs ptrace: refuse now, naming the remedy,
		// rather than count every sample as failed.
		for _, t := range targets {
			if err := s.pause(t.Pid); err != nil {
				s.Close()
				return s, fmt.Errorf("--native: %w", err)
			}
			if err := s.resume(t.Pid); err != nil {
				s.Close()
				return s, fmt.Errorf("--native: %w", err)
			}
		}
		o.Native, o.NativeAll, o.Stopped = true, tf.nativeAll, s.stopped
	}
	s.sampler = sampler.New(targets, p, o)
	return s, nil
}

// checkNative refuses --native where the unwinder cannot work.
func checkNative(tf *targetFlags) error {
	if tf.nativeAll && !tf.native {
		return errors.New("--native-all needs --native")
	}
	if tf.native && tf.async {
		return errors.New("--async and --native cannot be combined: choose the task view or the C stack")
	}
	if tf.native && tf.nonblocking {
		return errors.New("--native stops each thread to read its registers: it cannot be combined with --nonblocking")
	}
	if tf.native && (runtime.GOOS != "linux" || runtime.GOARCH != "amd64") {
		return fmt.Errorf("--native is supported on x86_64 Linux only, not %s/%s; drop --native to profile Python frames", runtime.GOOS, runtime.GOARCH)
	}
	return nil
}

// appendNativeRegs converts attach's register sets to the unwinder's.
func appendNativeRegs(dst []native.ThreadRegs, regs []attach.ThreadRegs) []native.ThreadRegs {
	for _, r := range regs {
		dst = append(dst, native.ThreadRegs{TID: r.TID, Regs: native.Regs{PC: r.PC, SP: r.SP, FP: r.FP}})
	}
	return dst
}

func toNativeRegs(regs []attach.ThreadRegs) []native.ThreadRegs { return appendNativeRegs(nil, regs) }

// startWait bounds how long an attach waits for an interpreter that is
// still initialising: a process caught as it starts or exec()s a new
// Python, which takes tens of milliseconds, more on a loaded machine.
// execWait bounds the wait for an image that looks like no Python: caught
// mid-exec, a process maps nothing yet, or not yet its libpython.
const (
	startWait = 2 * time.Second
	execWait  = 250 * time.Millisecond
)

// openStarting opens pid, retrying while its interpreter is initialising.
func (s *session) openStarting(ctx context.Context, pid int) (*sampler.Target, error) {
	start := time.Now()
	for {
		t, err := s.opener.Open(pid)
		waited := time.Since(start)
		retry := errors.Is(err, pyabi.ErrNotReady) && waited < startWait ||
			errors.Is(err, pyabi.ErrNotPython) && waited < execWait
		if !retry {
			return t, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// openWhenReady retries until the launched command, or a process it
// started (a shell script, env, uv run), has a Python interpreter to read;
// it fails when the command exits first or ctx ends.
func (s *session) openWhenReady(ctx context.Context, name string, child *attach.Child) (*sampler.Target, error) {
	// Retry fast at first, so sampling starts before the first line of
	// Python, then back off: opening reads the ELF files of a command that
	// may not be Python for a long while (a shell script's first steps).
	wait := time.Millisecond
	timer := time.NewTimer(0)
	defer timer.Stop()
	var last error
	for try := 0; ; try++ {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("interrupted before %s started Python", name)
		case <-child.Exited():
			code, _ := child.Wait()
			if errors.Is(last, pyabi.ErrNotReady) {
				return nil, fmt.Errorf("%s exited (status %d) before Python started", name, code)
			}
			s.log.Debug("no interpreter found before the command exited", "err", last)
			return nil, fmt.Errorf("the command is not a Python program: %s exited (status %d) and no Python interpreter "+
				"was found in it or in a process it started (--log debug tells why)", name, code)
		case <-timer.C:
		}
		pids := []int{child.Pid}
		if try%8 == 7 {
			kids, _ := attach.Descendants(child.Pid)
			pids = append(pids, kids...)
		}
		for _, pid := range pids {
			t, err := s.opener.Open(pid)
			if err == nil {
				return t, nil
			}
			var unsup *pyabi.UnsupportedVersionError
			var perm *procmem.PermissionError
			if errors.As(err, &unsup) || errors.As(err, &perm) {
				return nil, err
			}
			if pid == child.Pid {
				last = err
			}
		}
		wait = min(2*wait, 50*time.Millisecond)
		timer.Reset(wait)
	}
}

// follow adds new descendants of the root processes as they appear. With
// the kernel's process events (root only) each is opened as it forks or
// execs, so even a pool worker living 100 ms is seen; the /proc scan runs
// too, every second then (events can be dropped), every 100 ms without.
func (s *session) follow(ctx context.Context) {
	every := 100 * time.Millisecond
	var events chan []attach.ProcEvent
	if s.events != nil {
		defer s.events.Close() // ends readProcEvents
		events = make(chan []attach.ProcEvent, 256)
		go readProcEvents(s.events, events)
		every = time.Second
		s.family, s.pending = map[int]bool{}, map[int]bool{}
		for _, pid := range s.roots {
			s.family[pid] = true
		}
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	tries := map[int]int{}
	for {
		s.poll(tries)
		for wait := true; wait; {
			// A child caught at its fork may not read as Python yet (its
			// interpreter is still cleaning up after the fork): retried
			// every few milliseconds while it is young.
			var retry <-chan time.Time
			if len(s.pending) > 0 {
				retry = time.After(5 * time.Millisecond)
			}
			select {
			case <-ctx.Done():
				return
			case <-s.sampler.Done():
				return
			case <-retry:
				for pid := range s.pending {
					if s.openChild(pid, tries); s.opened[pid] || tries[pid] > 50 {
						delete(s.pending, pid)
					}
				}
			case <-tick.C:
				wait = false
			case evs, ok := <-events:
				switch {
				case !ok:
					// The subscription failed: scan as often as without.
					events = nil
					tick.Reset(100 * time.Millisecond)
				case evs == nil:
					s.log.Debug("process events lost: scanning /proc")
					wait = false // events were lost: scan now
				default:
					s.onProcEvents(evs, tries)
				}
			}
		}
	}
}

// readProcEvents hands batches of process events to follow: nil after
// lost events, and closes the channel when the subscription ends.
func readProcEvents(pe *attach.ProcEvents, out chan<- []attach.ProcEvent) {
	defer close(out)
	for {
		evs, err := pe.Read(nil)
		switch {
		case errors.Is(err, attach.ErrProcEventsLost):
			out <- nil
		case err != nil:
			return
		case len(evs) > 0:
			out <- evs
		}
	}
}

// onProcEvents follows the family of the roots through forks and exits and
// opens a member as it forks (a forked Python is Python at once) or execs.
func (s *session) onProcEvents(evs []attach.ProcEvent, tries map[int]int) {
	for _, ev := range evs {
		switch ev.Kind {
		case attach.ProcFork:
			if !s.family[ev.Parent] {
				continue
			}
			s.family[ev.Pid] = true
			if s.joined != nil {
				s.joined(ev.Pid)
			}
		case attach.ProcExec:
			// A root's exec is its launch, seen late: it was opened after.
			if !s.family[ev.Pid] || slices.Contains(s.roots, ev.Pid) {
				continue
			}
			if s.opened[ev.Pid] {
				// Opened between its fork and this exec (a subprocess):
				// the memory read is another program's now.
				s.sampler.RemoveTarget(ev.Pid)
				delete(s.opened, ev.Pid)
			}
			tries[ev.Pid] = 0 // a new program: maybe Python now
		case attach.ProcExit:
			delete(s.family, ev.Pid)
			delete(s.pending, ev.Pid)
			delete(tries, ev.Pid)
			continue
		}
		if s.openChild(ev.Pid, tries); !s.opened[ev.Pid] {
			s.pending[ev.Pid] = true
		}
	}
}

// poll opens the descendants of the roots not opened yet; tries counts the
// failed opens of each pid. Every process of a build seen before costs a
// read of its maps (sampler.Opener), so a pool's workers are all opened in
// the poll that first lists them.
func (s *session) poll(tries map[int]int) {
	for _, root := range s.roots {
		kids, err := attach.Descendants(root)
		if err != nil {
			continue
		}
		for _, pid := range kids {
			if s.family != nil {
				s.family[pid] = true
			}
			s.openChild(pid, tries)
		}
	}
}

// openChild opens descendant pid and adds it to the sampler, unless it is
// open already or has failed too often.
func (s *session) openChild(pid int, tries map[int]int) {
	// A child may exec Python a little after fork; give up on a process
	// that is still no Python after many tries.
	if s.opened[pid] || tries[pid] > 50 {
		return
	}
	t, err := s.opener.Open(pid)
	if err != nil {
		tries[pid]++
		return
	}
	s.opened[pid] = true
	s.remember(t)
	s.sampler.AddTarget(t)
}

// pauser is pid's pauser, made on first use.
func (s *session) pauser(pid int) (*attach.Pauser, error) {
	if p, ok := s.pausers[pid]; ok {
		return p, nil
	}
	p, err := attach.NewPauser(pid)
	if err != nil {
		return nil, err
	}
	s.pausers[pid] = p
	return p, nil
}

func (s *session) pause(pid int) error {
	p, err := s.pauser(pid)
	if err != nil {
		return err
	}
	return p.Pause()
}

// stopped runs fn with pid's threads stopped and their registers read
// (--native), on the thread that stopped them.
func (s *session) stopped(pid int, fn func(regs []native.ThreadRegs) error) error {
	p, err := s.pauser(pid)
	if err != nil {
		return err
	}
	s.regs, err = p.WhilePaused(s.regs[:0], func(regs []attach.ThreadRegs) error {
		s.nregs = appendNativeRegs(s.nregs[:0], regs)
		return fn(s.nregs)
	})
	return err
}

func (s *session) resume(pid int) error { return s.pausers[pid].Resume() }

// detach closes the pauser of a target that exited: each holds an OS
// thread, and with --subprocesses children come and go all the time.
func (s *session) detach(pid int) {
	if p, ok := s.pausers[pid]; ok {
		p.Close()
		delete(s.pausers, pid)
	}
}

// Close detaches from everything; the targets keep running.
func (s *session) Close() {
	if s.events != nil {
		s.events.Close() // also when follow never ran
	}
	for pid, p := range s.pausers {
		p.Close()
		delete(s.pausers, pid)
	}
}

// mainBinary names a target's executable and its build id, read through
// /proc so that a process in another mount namespace works too.
func mainBinary(pid int) prof.Binary {
	exe := "/proc/" + strconv.Itoa(pid) + "/exe"
	path, err := os.Readlink(exe)
	if err != nil {
		return prof.Binary{}
	}
	b := prof.Binary{Path: path}
	if bin, err := procmem.OpenBinary(exe); err == nil {
		b.BuildID = bin.BuildID
		bin.Close()
	}
	return b
}
