package hang

import (
	"testing"

	"github.com/pyspyglass/pyspyglass/attach"
	"github.com/pyspyglass/pyspyglass/internal/testutil"
	"github.com/pyspyglass/pyspyglass/sampler"
)

// BenchmarkDump50Threads is one dump of a hung process of 50 threads
// (hang.py deadlock threads=40 on the newest interpreter whose waits are
// read): the OS view, stopping the target, stacks, waits, holders and the
// deadlock verdict, resuming it. The target stays open across iterations,
// as it does for one dump after sampler.Open.
func BenchmarkDump50Threads(b *testing.B) {
	benchDump(b, Options{})
}

// BenchmarkDump50ThreadsLocals adds every frame's locals.
func BenchmarkDump50ThreadsLocals(b *testing.B) {
	benchDump(b, Options{Locals: true})
}

// BenchmarkDump50ThreadsNonblocking is the same without stopping the
// target (--nonblocking).
func BenchmarkDump50ThreadsNonblocking(b *testing.B) {
	benchDumpStop(b, Options{}, false)
}

func benchDump(b *testing.B, o Options) { benchDumpStop(b, o, true) }

func benchDumpStop(b *testing.B, o Options, stop bool) {
	var chosen *testutil.Interpreter
	for _, in := range testutil.Interpreters(b) {
		if in.Major == 3 && in.Minor <= 13 && !in.FreeThreaded {
			chosen = &in
		}
	}
	if chosen == nil {
		b.Skip("no interpreter 3.x up to 3.13 found")
	}
	testutil.RequireModules(b, *chosen, "socket", "subprocess", "queue")
	tg := testutil.Spawn(b, *chosen, "hang.py", "deadlock", "threads=40")
	t, err := sampler.Open(tg.Pid, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer t.Close()
	p, err := attach.NewPauser(tg.Pid)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	var s Stopper = p
	if !stop {
		s = nil
	}
	d, err := Take(t, o, s)
	if err != nil {
		b.Fatal(err)
	}
	if len(d.Threads) != 50 {
		b.Fatalf("%d threads, want 50", len(d.Threads))
	}
	b.ReportMetric(float64(len(d.Threads)), "threads")
	for b.Loop() {
		if _, err := Take(t, o, s); err != nil {
			b.Fatal(err)
		}
	}
}
