package sampler

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/internal/testutil"
	"github.com/pyspyglass/pyspyglass/sampler/prof"
	"golang.org/x/sys/unix"
)

// TestGCFramesLive samples testdata/gc_churn.py, whose loop makes cyclic
// garbage against a large live heap, and compares the share of its
// samples that end in <GC> with the share of time its gc.callbacks
// measured the collector running, in the same run: within 10 points.
func TestGCFramesLive(t *testing.T) {
	ins := testutil.Select(t, testutil.Interpreters(t), "3.7")
	testutil.ForEach(t, ins, func(t *testing.T, in testutil.Interpreter) {
		if in.FreeThreaded {
			t.Skipf("%s: a free-threaded collector stops the world; <GC> is not shown there", in.Name)
		}
		tg := testutil.Spawn(t, in, "gc_churn.py", "4")
		// The target runs at the highest priority: on a loaded machine a
		// target preempted mid-collection for long stretches, while the
		// sampler too waited for a CPU, made the two shares differ by
		// chance (64% sampled against 43% timed at a load of 20).
		if err := unix.Setpriority(unix.PRIO_PROCESS, tg.Pid, -20); err != nil {
			t.Logf("running the target at normal priority: %v", err)
		}
		target, err := Open(tg.Pid, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer target.Close()
		if !target.Interp.CanReadGC() {
			t.Fatalf("%s: the collector's state is not readable", in.Name)
		}
		p := prof.New(time.Now())
		s := New([]*Target{target}, p, Options{Rate: 250, GC: true})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s.Run(ctx) // until the script exits
		tg.Wait(t)
		var measured float64
		for _, l := range strings.Split(tg.Stdout(), "\n") {
			if v, ok := strings.CutPrefix(l, "gc_share="); ok {
				measured, err = strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil {
					t.Fatalf("gc_share %q: %v", v, err)
				}
			}
		}
		if measured == 0 {
			t.Fatalf("the script measured no time in the collector:\n%s", tg.Stdout())
		}
		var churn, gc int64
		for _, c := range p.Counts() {
			st := p.Stacks[c.Stack]
			in := false
			for _, f := range st {
				in = in || p.Frames[f].Name == "churn"
			}
			if !in {
				continue
			}
			churn += c.N
			if p.Frames[st[len(st)-1]] == GCFrame {
				gc += c.N
			}
		}
		if churn < 200 {
			t.Fatalf("only %d samples in churn", churn)
		}
		got := 100 * float64(gc) / float64(churn)
		t.Logf("%s: <GC> in %.1f%% of %d samples, gc.callbacks measured %.1f%%", in.Name, got, churn, measured)
		if got < measured-10 || got > measured+10 {
			t.Errorf("<GC> in %.1f%% of churn's samples, the collector ran %.1f%% of its time (want within 10 points)", got, measured)
		}
	})
}
