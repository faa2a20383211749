package sampler

import (
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// preciseSleeper waits for each sample on a timerfd parked in Go's network
// poller: the goroutine blocks like any other, its P goes idle, and the
// thread that sleeps in the poller is the one that runs the sample when
// the timer fires. That is one thread wake-up per sample, as in a C loop:
//   - no thread sleeps while holding a P, so the runtime's monitor (sysmon)
//     sleeps too, instead of waking every 10 ms to watch a running thread,
//     and never asks the sampler to yield (each such yield of a locked
//     goroutine hands it between two threads);
//   - a timerfd fires at its exact time (no timer slack), so no locked
//     thread is needed for precision at high rates;
//   - its timing calls are raw system calls, which do not tell the
//     scheduler either (an ordinary one would wake the sleeping monitor).
//
// A wake (cancel, Reset) arms the timer to fire at once; the flag it sets
// first says the sleep was woken rather than over.
type preciseSleeper struct {
	fd   int
	file *os.File
	raw  syscall.RawConn
	// ready is the poller's callback, made once: a closure per sleep
	// would allocate per sample. until and polled are its state.
	ready  func(uintptr) bool
	until  time.Time
	polled bool
	woken  atomic.Bool
}

func newPreciseSleeper() *preciseSleeper {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return &preciseSleeper{fd: -1} // no timerfd (seccomp?): Go timers
	}
	// A non-blocking descriptor: os registers it with the poller.
	f := os.NewFile(uintptr(fd), "timerfd")
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return &preciseSleeper{fd: -1}
	}
	p := &preciseSleeper{fd: fd, file: f, raw: raw}
	p.ready = func(uintptr) bool {
		if !p.polled {
			p.polled = true
			return p.woken.Load() || !time.Now().Before(p.until)
		}
		return true
	}
	return p
}

func (p *preciseSleeper) ok() bool { return p.fd >= 0 }

// monoAt is t on the monotonic clock as the kernel's timers count it.
// Go's clock is that clock but only shows differences, so one kernel
// reading pairs the two; later conversions make no system call (an
// ordinary one would wake the monitor, see above). The kernel is read
// second, so the pairing errs late: the timer never fires before t by Go's
// clock, which sleepUntil's check relies on.
func monoAt(t time.Time) int64 {
	monoOnce.Do(func() {
		monoBase = time.Now()
		var ts unix.Timespec
		unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
		monoBaseNs = ts.Nano()
	})
	return monoBaseNs + int64(t.Sub(monoBase))
}

var (
	monoOnce   sync.Once
	monoBase   time.Time
	monoBaseNs int64
)

// arm sets the timer to fire once, at the absolute monotonic time at.
func (p *preciseSleeper) arm(at int64) {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(max(at, 1))}
	unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, uintptr(p.fd), unix.TFD_TIMER_ABSTIME,
		uintptr(unsafe.Pointer(&spec)), 0, 0, 0)
}

// sleepUntil waits until t, or until wake is called, and says whether it
// was woken.
func (p *preciseSleeper) sleepUntil(t time.Time) (woken bool) {
	d := time.Until(t)
	if d <= 0 {
		return p.woken.Swap(false)
	}
	p.arm(monoAt(t))
	// After arming: a wake that armed before us is seen here, one after
	// us fires the timer.
	if p.woken.Swap(false) {
		return true
	}
	// The poller forgets any readiness before the first call of the
	// callback (p.ready), so that call checks, without a system call, that
	// neither the timer nor a wake has fired yet: one firing after it is a
	// new event (the poller's wait is edge-triggered), one before it is
	// seen by the check. The expiry count is not read: arming resets it.
	p.until, p.polled = t, false
	p.raw.Read(p.ready)
	return p.woken.Swap(false)
}

// wake ends the current or the next sleep; any goroutine may call it.
func (p *preciseSleeper) wake() {
	if p.fd < 0 {
		return
	}
	p.woken.Store(true)
	p.arm(1) // long past: fires at once
}

// close leaves the descriptor to the file's finalizer: a late wake must
// not arm a reused descriptor number.
func (p *preciseSleeper) close() {}
