package sampler

import (
	"errors"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// timerSlack is the slack asked for the sampling thread. The kernel's
// default of 50 µs would stretch every 100 µs gap of a 10 kHz rate by half.
const timerSlack = 1000 // ns

// preciseSleeper sleeps with clock_nanosleep on the calling goroutine's
// own OS thread, with a small timer slack (prctl PR_SET_TIMERSLACK, which
// is per thread: hence the locked thread).
type preciseSleeper struct {
	locked bool
	slack  int // the thread's slack before, restored by close
}

func newPreciseSleeper() *preciseSleeper {
	runtime.LockOSThread()
	p := &preciseSleeper{locked: true}
	old, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil || unix.Prctl(unix.PR_SET_TIMERSLACK, timerSlack, 0, 0, 0) != nil {
		// No slack control: plain sleeps are still finer than Go timers.
		old = -1
	}
	p.slack = old
	return p
}

func (p *preciseSleeper) ok() bool { return p.locked }

// sleep waits d on CLOCK_MONOTONIC, resuming after signals (the Go
// runtime preempts with SIGURG) until the absolute wake-up time.
func (p *preciseSleeper) sleep(d time.Duration) {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		time.Sleep(d)
		return
	}
	ts = unix.NsecToTimespec(ts.Nano() + d.Nanoseconds())
	for {
		err := unix.ClockNanosleep(unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME, &ts, nil)
		if !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

func (p *preciseSleeper) close() {
	if !p.locked {
		return
	}
	if p.slack >= 0 {
		unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(p.slack), 0, 0, 0)
	}
	p.locked = false
	runtime.UnlockOSThread()
}
