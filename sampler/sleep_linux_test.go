package sampler

import (
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
