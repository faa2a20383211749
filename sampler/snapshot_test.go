package sampler

import (
	"context"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/internal/testutil"
	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// TestResetWhileRunning resets the window of a running sampler from another
// goroutine: the sampling goroutine applies it before Reset returns, and
// snapshots taken meanwhile stay as they were.
func TestResetWhileRunning(t *testing.T) {
	interps := testutil.Interpreters(t)
	if len(interps) == 0 {
		t.Skip("no Python interpreter found")
	}
	in := interps[len(interps)-1]
	proc := testutil.Spawn(t, in, "idle.py")
	p := prof.New(time.Now())
	s := New([]*Target{open(t, proc.Pid)}, p, Options{Rate: 100, Idle: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() {
		cancel()
		<-s.Done()
	}()
	go s.Run(ctx)
	deadline := time.Now().Add(20 * time.Second)
	var before *prof.Profile
	for before = s.Snapshot(); before.Total() < 50; before = s.Snapshot() {
		if time.Now().After(deadline) {
			t.Fatalf("only %d samples of an idle thread in 20 s", before.Total())
		}
		time.Sleep(10 * time.Millisecond) // polling a running sampler, not synchronising with it
	}
	total := before.Total()
	called := time.Now()
	s.Reset()
	after := s.Snapshot()
	if !after.Start.After(called) || after.Total() >= total {
		t.Errorf("after Reset: start %v (called at %v), %d samples (before %d)", after.Start, called, after.Total(), total)
	}
	if before.Total() != total {
		t.Errorf("an earlier snapshot changed: %d samples, was %d", before.Total(), total)
	}
}
