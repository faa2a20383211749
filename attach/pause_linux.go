package attach

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// Pauser stops and resumes every thread of a process, for blocking mode:
// a stack read while the target runs can be torn, one read while it is
// stopped cannot. It attaches with PTRACE_SEIZE, which, unlike
// PTRACE_ATTACH, does not stop the target, so between Pause and Resume
// the target runs as if we were not there.
//
// Every ptrace request is made by a goroutine locked to its OS thread.
// Linux makes the thread that attached, not the process, the tracer:
// ptrace requests for the tracee from any other thread fail with ESRCH.
// The Go scheduler moves goroutines between threads at will, so calls
// from an ordinary goroutine would work or fail depending on where it
// happened to run. Pauser's methods therefore send their work to that
// goroutine over a channel and wait for the answer (delve does the same).
// With --subprocesses every child gets a Pauser, so the locked threads
// are a small pool (tracerThreads), each tracing several processes; a
// Pauser stays on the thread that seized its process. When such a
// goroutine ends it stays locked, so its thread exits, and the kernel
// detaches whatever might still be attached.
//
// While seized, a signal sent to the target stops the receiving thread
// until the tracer lets it through. The ptrace goroutine listens for
// SIGCHLD and passes such signals on at once, and re-injects any that
// arrive while the target is paused, so the target's signals are delayed
// by microseconds but never lost.
//
// The methods are safe for concurrent use; Close must be called on every
// path, also after an error.
type Pauser struct {
	pid       int
	host      *tracerHost
	t         *tracer // touched only on host's goroutine
	closeOnce sync.Once
	closeErr  error
}

type request struct {
	t     *tracer
	fn    func(*tracer) error
	reply chan error
}

// tracerThreads bounds the OS threads that trace. Pausers share them: a
// Pause waits for the other processes' requests on its thread, which take
// microseconds, at worst stopWait.
const tracerThreads = 4

// tracerHost is one locked OS thread serving the tracers seized from it.
type tracerHost struct {
	reqs chan request
	quit chan struct{} // closed when its last Pauser is closed
	done chan struct{} // closed when its goroutine has ended
	slot int
	// users counts the Pausers on this host; guarded by hosts.mu.
	users int

	// Owned by the host goroutine.
	tracers  map[*tracer]bool
	sigchld  <-chan os.Signal // we were sent SIGCHLD: a tracee reports
	nap      *time.Timer      // bounds a wait for sigchld
	signaled bool             // a tracer's wait took a SIGCHLD the others may need
	broken   bool             // a tracer panicked: end the thread, detaching all
}

// hosts is the pool of tracer threads, started on demand and ended when
// their last Pauser is closed.
var hosts struct {
	mu   sync.Mutex
	slot [tracerThreads]*tracerHost
}

// acquireHost returns a tracer thread for one more Pauser: a new one while
// the pool has room, else the one with the fewest Pausers.
func acquireHost() *tracerHost {
	hosts.mu.Lock()
	defer hosts.mu.Unlock()
	var best *tracerHost
	for i, h := range hosts.slot {
		if h == nil {
			h = &tracerHost{reqs: make(chan request), quit: make(chan struct{}), done: make(chan struct{}), slot: i}
			hosts.slot[i] = h
			go h.serve()
			best = h
			break
		}
		if best == nil || h.users < best.users {
			best = h
		}
	}
	best.users++
	return best
}

// releaseHost gives a Pauser's share of h back; the last one ends it.
func releaseHost(h *tracerHost) {
	hosts.mu.Lock()
	defer hosts.mu.Unlock()
	h.users--
	if h.users == 0 && hosts.slot[h.slot] == h {
		hosts.slot[h.slot] = nil
		close(h.quit)
	}
}

// tracer is the state of one traced process, owned by its host goroutine.
type tracer struct {
	pid  int
	host *tracerHost
	// ownChild: the target is our child (from Launch). Its exit status
	// then belongs to Child.Wait and must not be consumed here.
	ownChild bool
	threads  map[int]*tracee
	stat     *procmem.StatReader // the leader's state, read on every Pause
	exited   bool
	closed   bool
}

// tracee is one seized thread.
type tracee struct {
	stopped bool // in a ptrace stop that Resume must end
	// groupStop: the stop is job control (SIGSTOP, SIGTSTP, ...), so
	// Resume uses PTRACE_LISTEN and leaves the thread stopped as job
	// control wants, instead of continuing it.
	groupStop bool
}

// NewPauser seizes every thread of pid without stopping it. A refusal is
// a *procmem.PermissionError with the facts that decide how to get access.
func NewPauser(pid int) (*Pauser, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("pid %d: %w", pid, procmem.ErrNoProcess)
	}
	h := acquireHost()
	p := &Pauser{pid: pid, host: h}
	p.t = &tracer{pid: pid, host: h, threads: make(map[int]*tracee), stat: procmem.NewStatReader(pid)}
	if err := p.do((*tracer).seizeAll); err != nil {
		releaseHost(h)
		return nil, err
	}
	return p, nil
}

// serve is a tracer thread's goroutine.
func (h *tracerHost) serve() {
	runtime.LockOSThread()
	// No UnlockOSThread: see the Pauser comment.
	defer close(h.done)
	defer func() {
		hosts.mu.Lock()
		if hosts.slot[h.slot] == h {
			hosts.slot[h.slot] = nil
		}
		hosts.mu.Unlock()
	}()
	sigchld := make(chan os.Signal, 1)
	signal.Notify(sigchld, unix.SIGCHLD)
	defer signal.Stop(sigchld)
	h.sigchld, h.nap, h.tracers = sigchld, time.NewTimer(time.Hour), map[*tracer]bool{}
	h.nap.Stop()
	for !h.broken {
		select {
		case r := <-h.reqs:
			r.reply <- h.run(r)
			if h.signaled {
				h.signaled = false
				h.passSignals()
			}
		case <-sigchld:
			h.passSignals()
		case <-h.quit:
			return
		}
	}
}

// run calls a request's fn, turning a panic (a bug of ours) into an error
// that also ends the host goroutine: its thread then exits, and the
// kernel detaches and resumes every thread of every target it traced.
func (h *tracerHost) run(r request) (err error) {
	t := r.t
	if t.closed {
		return fmt.Errorf("pid %d: pauser is closed", t.pid)
	}
	defer func() {
		if r := recover(); r != nil {
			h.broken = true
			err = fmt.Errorf("pid %d: ptrace thread failed: %v", t.pid, r)
		}
	}()
	err = r.fn(t)
	switch {
	case t.closed:
		delete(h.tracers, t)
		t.stat.Close()
	default:
		h.tracers[t] = true
	}
	return err
}

func (h *tracerHost) passSignals() {
	for t := range h.tracers {
		t.passSignals()
	}
}

// do runs fn on p's tracer thread.
func (p *Pauser) do(fn func(*tracer) error) error {
	r := request{t: p.t, fn: fn, reply: make(chan error, 1)}
	select {
	case p.host.reqs <- r:
		return <-r.reply
	case <-p.host.done:
		return fmt.Errorf("pid %d: pauser is closed", p.pid)
	}
}

// Pause stops every thread of the target, seizing threads started since
// the last call. It returns when all are stopped. If the target has
// exited the error wraps procmem.ErrExited.
func (p *Pauser) Pause() error { return p.do((*tracer).pause) }

// Resume lets every thread run again; threads stopped by job control
// stay stopped.
func (p *Pauser) Resume() error { return p.do((*tracer).resume) }

// Close resumes and detaches every thread. It is safe to call more than
// once; later calls return the first result.
func (p *Pauser) Close() error {
	p.closeOnce.Do(func() {
		err := p.do((*tracer).close)
		if err != nil && !errors.Is(err, procmem.ErrExited) {
			p.closeErr = err
		}
		releaseHost(p.host)
	})
	return p.closeErr
}

func (t *tracer) exitedErr() error { return fmt.Errorf("pid %d: %w", t.pid, procmem.ErrExited) }

// seizeAll attaches to the threads present now, the leader first so
// that a refusal is reported as such. On failure it detaches again (the
// thread lives on to trace others) and the tracer is closed.
func (t *tracer) seizeAll() error {
	err := t.seizeEach()
	if err != nil {
		if len(t.threads) > 0 {
			t.close()
		}
		t.closed = true
	}
	return err
}

func (t *tracer) seizeEach() error {
	ppid, err := parentOf(t.pid)
	if err != nil {
		return err
	}
	t.ownChild = ppid == os.Getpid()
	if err := unix.PtraceSeize(t.pid); err != nil {
		return t.seizeErr(err)
	}
	t.threads[t.pid] = &tracee{}
	tids, err := procmem.Threads(t.pid)
	if err != nil {
		return err
	}
	for _, tid := range tids {
		t.seize(tid)
	}
	return nil
}

func (t *tracer) seizeErr(err error) error {
	switch {
	case errors.Is(err, unix.ESRCH):
		return fmt.Errorf("pid %d: %w", t.pid, procmem.ErrNoProcess)
	case errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES):
		// An exiting process also refuses with EPERM.
		if state, serr := processState(t.pid); serr == nil && (state == 'Z' || state == 'X') {
			return t.exitedErr()
		}
		return permissionFromErrno(t.pid, "ptrace seize", err)
	}
	return fmt.Errorf("pid %d: ptrace seize: %w", t.pid, err)
}

// seize attaches to a thread not yet known. A thread that is exiting
// refuses (ESRCH, EPERM); it is simply not tracked.
func (t *tracer) seize(tid int) {
	if _, ok := t.threads[tid]; ok {
		return
	}
	if unix.PtraceSeize(tid) == nil {
		t.threads[tid] = &tracee{}
	}
}

func (t *tracer) pause() error {
	err := t.stopAll()
	if err != nil {
		// Never leave the target stopped after a failed Pause: the
		// caller resumes only after a successful one. Whatever exited
		// is collected now, as no later Pause may come.
		t.resume()
		t.collectExits()
	}
	return err
}

// stopAll is Pause; on failure it may leave some threads stopped.
func (t *tracer) stopAll() error {
	if t.exited {
		return t.exitedErr()
	}
	// Threads can start until every thread is stopped, so list them again
	// after each round until a listing shows nothing running.
	for {
		tids, err := procmem.Threads(t.pid)
		if errors.Is(err, procmem.ErrNoProcess) {
			t.exited = true
			return t.exitedErr()
		}
		if err != nil {
			return err
		}
		t.forget(tids)
		for _, tid := range tids {
			t.seize(tid)
		}
		running := t.running()
		if len(running) == 0 {
			break
		}
		var interrupted []int
		for _, tid := range running {
			if err := unix.PtraceInterrupt(tid); err != nil {
				t.drop(tid) // ESRCH: dead, maybe still to be collected
				continue
			}
			interrupted = append(interrupted, tid)
		}
		deadline := time.Now().Add(stopWait)
		for _, tid := range interrupted {
			if err := t.waitStop(tid, deadline); err != nil {
				return err
			}
		}
	}
	if t.exited || len(t.threads) == 0 {
		t.exited = true
		return t.exitedErr()
	}
	return nil
}

// running lists the threads not in a ptrace stop, the leader last: a
// dying leader's exit is reported only after every other thread's, so
// waiting for it first could block forever. A zombie leader whose other
// threads live on (it called pthread_exit) never stops; it is left out.
func (t *tracer) running() []int {
	var tids []int
	leader := false
	for tid, th := range t.threads {
		switch {
		case th.stopped:
		case tid == t.pid:
			leader = true
		default:
			tids = append(tids, tid)
		}
	}
	slices.Sort(tids)
	if leader {
		if state, err := t.stat.State(t.pid); err != nil || (state != 'Z' && state != 'X') {
			tids = append(tids, t.pid)
		} else if len(t.threads) == 1 {
			// A zombie leader alone: the process has ended.
			t.drop(t.pid)
		}
	}
	return tids
}

// forget drops threads that are no longer listed (tids is sorted),
// collecting the exit status of any that is still waiting for us.
func (t *tracer) forget(tids []int) {
	for tid := range t.threads {
		if _, listed := slices.BinarySearch(tids, tid); !listed {
			t.drop(tid)
		}
	}
}

// waitStop waits until tid, just interrupted, reports its ptrace stop,
// polling: a blocking wait could last forever. When the target is killed
// (SIGKILL, the OOM killer) while some of its threads sit in our stops,
// they wake up and exit, and the leader's exit is reported only once every
// other thread's exit has been collected, by us: blocked waiting for the
// leader we would never collect them. So while tid is silent the other
// threads' exits are collected too, and past stopWait the wait gives up
// (the sample fails; the interrupt stays pending and passSignals lets the
// late stop go on).
// Signal-delivery stops on the way are re-injected at once: the
// interrupt stays pending and traps right after the signal is delivered,
// before any user code of the target runs.
func (t *tracer) waitStop(tid int, deadline time.Time) error {
	th := t.threads[tid]
	for poll := 0; ; poll++ {
		if th == nil || t.threads[tid] != th {
			return nil // collected by collectExits
		}
		// Peek first (WNOWAIT) so that an exit is seen without being
		// consumed: our child's exit status belongs to Child.Wait.
		info, err := waitid(tid, unix.WEXITED|unix.WSTOPPED|unix.WNOWAIT|unix.WNOHANG|unix.WALL)
		if errors.Is(err, unix.ECHILD) {
			t.gone(tid) // reaped by Child.Wait
			return nil
		}
		if err != nil {
			return fmt.Errorf("pid %d tid %d: wait: %w", t.pid, tid, err)
		}
		if info.pid == 0 {
			if giveUp, err := t.stillWaiting(tid, poll, deadline); giveUp || err != nil {
				return err
			}
			continue
		}
		if isExit(info.code) {
			t.drop(tid)
			return nil
		}
		// Consume the stop, and only a stop: without WEXITED an exit
		// that happened since the peek stays for the next peek.
		info, err = waitid(tid, unix.WSTOPPED|unix.WNOHANG|unix.WALL)
		if err != nil && !errors.Is(err, unix.ECHILD) {
			return fmt.Errorf("pid %d tid %d: wait: %w", t.pid, tid, err)
		}
		if err != nil || info.pid == 0 {
			continue
		}
		sig, event := info.stopSignal()
		if event == unix.PTRACE_EVENT_STOP {
			th.stopped, th.groupStop = true, sig != int(unix.SIGTRAP)
			return nil
		}
		if err := unix.PtraceCont(tid, sig); err != nil {
			t.drop(tid) // killed meanwhile
			return nil
		}
	}
}

// stopWait bounds the wait for one thread's stop. A thread normally stops
// within microseconds; one in an uninterruptible sleep (a hung network
// file system) stops only when the kernel lets it go, and on a loaded
// machine a runnable thread may wait well over a second for a CPU to take
// the stop on (a dump failed so at a load of 20 with a 1 s bound).
const stopWait = 5 * time.Second

// stillWaiting is one idle round of waitStop's poll: it yields the CPU
// for the first rounds (a stop takes microseconds), then sleeps until a
// tracee reports (SIGCHLD) or a millisecond passes, and now and then
// collects the exits of the other threads. It gives up on a leader that
// became a zombie while other threads live on (it called pthread_exit):
// that never stops. It fails past the deadline.
func (t *tracer) stillWaiting(tid, poll int, deadline time.Time) (giveUp bool, err error) {
	const spins = 20
	if poll < spins {
		unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
		return false, nil
	}
	if time.Now().After(deadline) {
		return true, fmt.Errorf("pid %d tid %d: thread did not stop within %v", t.pid, tid, stopWait)
	}
	if poll%8 == 0 {
		t.collectExits()
		if tid == t.pid {
			if state, err := t.stat.State(tid); err == nil && (state == 'Z' || state == 'X') {
				return true, nil
			}
		}
	}
	h := t.host
	h.nap.Reset(time.Millisecond)
	select {
	case <-h.sigchld:
		h.signaled = true // other tracers' threads may have reported too
	case <-h.nap.C:
	}
	h.nap.Stop()
	return false, nil
}

// collectExits drops every thread, stopped or not, whose exit is waiting
// to be collected: see waitStop. A tracer is shown its tracees' ptrace
// stops whatever the wait flags say, so the peek may find a stop, which
// is left for its owner.
func (t *tracer) collectExits() {
	for tid := range t.threads {
		info, err := waitid(tid, unix.WEXITED|unix.WNOWAIT|unix.WNOHANG|unix.WALL)
		if errors.Is(err, unix.ECHILD) {
			t.gone(tid)
		} else if err == nil && info.pid != 0 && isExit(info.code) {
			t.drop(tid)
		}
	}
}

// passSignals handles what running threads reported (we were sent
// SIGCHLD): signals for the target are passed on, job-control stops are
// let happen, exits are noted. It never blocks.
func (t *tracer) passSignals() {
	for tid, th := range t.threads {
		info, err := waitid(tid, unix.WEXITED|unix.WSTOPPED|unix.WNOWAIT|unix.WNOHANG|unix.WALL)
		if err != nil || info.pid == 0 {
			continue
		}
		if isExit(info.code) {
			// Also a thread in our stop: SIGKILL ends the stop.
			t.drop(tid)
			continue
		}
		if th.stopped {
			continue
		}
		info, err = waitid(tid, unix.WSTOPPED|unix.WNOHANG|unix.WALL)
		if err != nil || info.pid == 0 {
			continue
		}
		sig, event := info.stopSignal()
		switch {
		case event == unix.PTRACE_EVENT_STOP && sig != int(unix.SIGTRAP):
			// A group stop (someone sent SIGSTOP): stay stopped, as
			// without us, until SIGCONT.
			ptraceListen(tid)
		case event == unix.PTRACE_EVENT_STOP:
			// The end of a group stop reported to a listening tracee.
			unix.PtraceCont(tid, 0)
		default:
			unix.PtraceCont(tid, sig)
		}
	}
}

// drop forgets a thread that exited, collecting its exit status if it
// is waiting for us. Every thread must leave this way: until a traced
// thread's exit is collected, its leader's exit cannot be reported and a
// real parent other than us would wait forever.
func (t *tracer) drop(tid int) {
	t.consumeExit(tid)
	t.gone(tid)
}

// gone forgets a thread that exited; the leader's exit is the process's.
func (t *tracer) gone(tid int) {
	delete(t.threads, tid)
	if tid == t.pid {
		t.exited = true
	}
}

// consumeExit collects the exit status of a thread so the kernel can
// release it, except for our own child's leader, whose status
// Child.Wait collects.
func (t *tracer) consumeExit(tid int) {
	if tid == t.pid && t.ownChild {
		return
	}
	waitid(tid, unix.WEXITED|unix.WNOHANG|unix.WALL)
}

func (t *tracer) resume() error {
	var errs []error
	for tid, th := range t.threads {
		if !th.stopped {
			continue
		}
		th.stopped = false
		var err error
		if th.groupStop {
			err = ptraceListen(tid)
		} else {
			err = unix.PtraceCont(tid, 0)
		}
		switch {
		case errors.Is(err, unix.ESRCH):
			// Killed while stopped; its exit is collected later.
		case err != nil:
			errs = append(errs, fmt.Errorf("pid %d tid %d: resume: %w", t.pid, tid, err))
		}
	}
	return errors.Join(errs...)
}

// close stops everything, because PTRACE_DETACH works only on a stopped
// tracee and because stopping collects signals still waiting to be
// passed on, then detaches every thread, which lets it run.
func (t *tracer) close() error {
	t.closed = true
	err := t.pause()
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for tid, th := range t.threads {
		if !th.stopped {
			continue
		}
		if err := unix.PtraceDetach(tid); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("pid %d tid %d: detach: %w", t.pid, tid, err))
		}
	}
	t.threads = nil
	return errors.Join(errs...)
}

// si_code values of SIGCHLD (include/uapi/asm-generic/siginfo.h).
const (
	cldExited = 1
	cldKilled = 2
	cldDumped = 3
)

func isExit(code int32) bool { return code == cldExited || code == cldKilled || code == cldDumped }

// childInfo is the SIGCHLD layout of the kernel's 128-byte siginfo_t on
// 64-bit Linux; unix.Siginfo hides the fields we need.
type childInfo struct {
	signo, errno, code, _ int32
	pid                   int32
	uid                   uint32
	// status is the exit code for an exit; for a ptrace stop waitid
	// reports the tracee's whole exit_code, signal | event<<8
	// (kernel/exit.c, wait_task_stopped), which wait4 would give as
	// status>>8.
	status int32
	_      [100]byte
}

// stopSignal splits a ptrace stop's status.
func (c childInfo) stopSignal() (sig, event int) {
	return int(c.status & 0xff), int(c.status >> 8)
}

// waitid waits for tid, retrying on EINTR. With WNOHANG and nothing to
// report, the kernel leaves pid 0.
func waitid(tid int, options int) (childInfo, error) {
	for {
		var info childInfo
		_, _, e := unix.Syscall6(unix.SYS_WAITID, unix.P_PID, uintptr(tid), uintptr(unsafe.Pointer(&info)), uintptr(options), 0, 0)
		switch e {
		case 0:
			return info, nil
		case unix.EINTR:
			continue
		}
		return info, e
	}
}

// ptraceListen is PTRACE_LISTEN, which x/sys/unix has no wrapper for:
// resume a thread's tracing but leave it in its group stop.
func ptraceListen(tid int) error {
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_LISTEN, uintptr(tid), 0, 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// parentOf returns the parent pid of pid.
func parentOf(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("pid %d: %w", pid, procmem.ErrNoProcess)
	}
	ppid, err := parsePPid(string(b))
	if err != nil {
		return 0, fmt.Errorf("pid %d: %w", pid, err)
	}
	return ppid, nil
}
