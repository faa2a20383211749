package sampler

import (
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// timerSlack is the slack asked for the sampling thread. The kernel's
// default of 50 µs would stretch every 100 µs gap of a 10 kHz rate by half.
const timerSlack = 1000 // ns

// maxSleep bounds one kernel sleep. The raw system call keeps the thread's
// P marked running and, with asynchronous preemption off (the command's
// //go:debug), a stop-the-world of the garbage collector waits for the
// sleep to end: a bound keeps that wait short at low rates. It is above
// the longest gap at 100 Hz (15 ms), so ordinary rates wake once a sample.
const maxSleep = 20 * time.Millisecond

// preciseSleeper sleeps on the calling goroutine's own OS thread, in one
// ppoll per gap on an eventfd that wake writes to: a cancel or a Reset ends
// the sleep at once, so the gap needs no slicing. The small timer slack
// (prctl PR_SET_TIMERSLACK) is per thread: hence the locked thread.
type preciseSleeper struct {
	locked bool
	raw    bool
	slack  int // the thread's slack before, restored by close
	wakeFD int // eventfd; -1 without one
}

func newPreciseSleeper() *preciseSleeper {
	runtime.LockOSThread()
	// A raw system call does not tell the Go scheduler that the thread
	// blocks, which halves the CPU of a wake-up here (about 5 µs against
	// 16 µs for 100 µs sleeps, 25 against 47 for 10 ms): no hand-off of
	// the thread's P and no sysmon retaking it. Its P stays busy
	// meanwhile, so only when there is another for the rest of the
	// program.
	p := &preciseSleeper{locked: true, raw: runtime.GOMAXPROCS(0) >= 2, wakeFD: -1}
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		// No eventfd (seccomp?): the Go timer path, which sees a cancel.
		runtime.UnlockOSThread()
		return &preciseSleeper{wakeFD: -1}
	}
	p.wakeFD = fd
	old, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil || unix.Prctl(unix.PR_SET_TIMERSLACK, timerSlack, 0, 0, 0) != nil {
		// No slack control: plain sleeps are still finer than Go timers.
		old = -1
	}
	p.slack = old
	return p
}

func (p *preciseSleeper) ok() bool { return p.locked }

// sleepUntil waits until t on the monotonic clock, or until wake is
// called, and says whether it was woken. The clock is read with time.Now
// (the vDSO, no system call); a signal (EINTR) resumes the wait.
func (p *preciseSleeper) sleepUntil(t time.Time) (woken bool) {
	fds := []unix.PollFd{{Fd: int32(p.wakeFD), Events: unix.POLLIN}}
	for {
		d := time.Until(t)
		if d <= 0 {
			return false
		}
		ts := unix.NsecToTimespec(min(d, maxSleep).Nanoseconds())
		var n uintptr
		var errno unix.Errno
		if p.raw {
			// RawSyscall6 hands the errno back as its third result.
			n, _, errno = unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), 1,
				uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		} else {
			r, err := unix.Ppoll(fds, &ts, nil)
			n = uintptr(max(r, 0))
			if err != nil {
				errno, _ = err.(unix.Errno)
			}
		}
		switch {
		case errno == unix.EINTR:
			if p.raw {
				// Let a pending preemption (the reason for the signal) happen.
				runtime.Gosched()
			}
		case errno != 0:
			time.Sleep(min(d, maxSleep)) // not expected: still wait, coarsely
		case n > 0:
			var buf [8]byte
			unix.Read(p.wakeFD, buf[:]) // clears the count
			return true
		case d > maxSleep:
			return false // one bounded slice of a long gap: the caller loops
		}
	}
}

// wake ends the current or the next sleep; any goroutine may call it.
func (p *preciseSleeper) wake() {
	if p.wakeFD < 0 {
		return
	}
	one := [8]byte{1} // a little-endian uint64 count of 1
	unix.Write(p.wakeFD, one[:])
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
	// wakeFD stays open: a late wake must not write to a reused number.
	// It is closed when the sleeper is collected.
	fd := p.wakeFD
	runtime.AddCleanup(p, func(fd int) { unix.Close(fd) }, fd)
}
