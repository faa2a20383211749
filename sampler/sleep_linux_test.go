package sampler

import (
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestPreciseSleepResumesAfterSignal interrupts a kernel sleep with
// signals (as the Go runtime's preemption does) and checks that the sleep
// still lasts until its wake-up time instead of ending at the first
// signal.
func TestPreciseSleepResumesAfterSignal(t *testing.T) {
	p := newPreciseSleeper()
	defer p.close()
	if !p.ok() {
		t.Skip("no kernel sleeper on this platform")
	}
	tid := unix.Gettid()
	stop := make(chan struct{})
	go func() {
		// SIGURG: what the runtime itself sends to preempt; Go ignores it
		// beyond its own use, so it only interrupts the system call.
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				unix.Tgkill(unix.Getpid(), tid, syscall.SIGURG)
			}
		}
	}()
	const d = 80 * time.Millisecond
	start := time.Now()
	p.sleepUntil(start.Add(d))
	took := time.Since(start)
	close(stop)
	if took < d {
		t.Errorf("a sleep of %v interrupted by signals every 5 ms returned after %v", d, took)
	}
}

// TestPreciseSleepWakes ends a long sleep from another goroutine, as a
// cancel or a Reset does, and checks that the sleep says it was woken
// (it would otherwise run its whole length and say not).
func TestPreciseSleepWakes(t *testing.T) {
	p := newPreciseSleeper()
	defer p.close()
	if !p.ok() {
		t.Skip("no kernel sleeper on this platform")
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		p.wake()
	}()
	end := time.Now().Add(time.Minute)
	for time.Now().Before(end) {
		if p.sleepUntil(end) {
			return
		}
	}
	t.Fatal("a sleep of a minute was not woken")
}

// TestPreciseSleepNoLostWakeups runs many short sleeps in several
// goroutines at once, so that timers fire while sleepers are between
// arming and parking: a sleeper that missed its timer would wait for ever,
// so every sleep must end, however slowly a loaded machine runs them.
func TestPreciseSleepNoLostWakeups(t *testing.T) {
	const sleepers, sleeps = 8, 1000
	var wg sync.WaitGroup
	ps := make([]*preciseSleeper, sleepers)
	for i := range ps {
		ps[i] = newPreciseSleeper()
		if !ps[i].ok() {
			t.Skip("no kernel sleeper on this platform")
		}
		wg.Add(1)
		go func(p *preciseSleeper) {
			defer wg.Done()
			for j := 0; j < sleeps; j++ {
				end := time.Now().Add(time.Duration(j%20) * time.Microsecond)
				for time.Now().Before(end) {
					p.sleepUntil(end)
				}
			}
		}(ps[i])
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		for _, p := range ps {
			p.wake() // let the stuck ones go: the test has failed anyway
		}
		t.Fatalf("%d sleepers of 0-20 µs each, %d times: not done after a minute, a timer was missed", sleepers, sleeps)
	}
}
