package prof

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"
)

func TestInterning(t *testing.T) {
	p := New(time.Unix(0, 0))
	a := p.Frame(Frame{Name: "a", File: "x.py", Line: 1})
	b := p.Frame(Frame{Name: "b", File: "x.py", Line: 2})
	if again := p.Frame(Frame{Name: "a", File: "x.py", Line: 1}); again != a || a == b {
		t.Fatalf("frame ids a=%d b=%d again=%d", a, b, again)
	}
	buf := []FrameID{a, b}
	s1 := p.Stack(buf)
	buf[1] = a // the caller reuses its buffer: the interned stack must not change
	if got := p.Stacks[s1]; !slices.Equal(got, []FrameID{a, b}) {
		t.Fatalf("stack %d is %v after the caller's buffer changed", s1, got)
	}
	if s2 := p.Stack([]FrameID{a, b}); s2 != s1 {
		t.Fatalf("same stack interned twice: %d, %d", s1, s2)
	}
	if s3 := p.Stack([]FrameID{a, a}); s3 == s1 {
		t.Fatal("different stacks share an id")
	}
	t1 := p.Thread(Thread{Pid: 1, TID: 1, Name: "main"})
	if t2 := p.Thread(Thread{Pid: 1, TID: 1, Name: "renamed"}); t2 == t1 {
		t.Fatal("a renamed thread kept its entry")
	}
}

func TestCountsSortedAndTotal(t *testing.T) {
	p := New(time.Unix(0, 0))
	f := p.Frame(Frame{Name: "f"})
	g := p.Frame(Frame{Name: "g"})
	sf, sg := p.Stack([]FrameID{f}), p.Stack([]FrameID{g})
	t0, t1 := p.Thread(Thread{Pid: 1, TID: 1}), p.Thread(Thread{Pid: 1, TID: 2})
	p.Add(sg, t1, 0, 2)
	p.Add(sf, t1, 0, 1)
	p.Add(sg, t0, 0, 4)
	p.Add(sg, t0, 0, 1)
	want := []Count{{sg, t0, 5}, {sf, t1, 1}, {sg, t1, 2}}
	if got := p.Counts(); !slices.Equal(got, want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
	if p.Total() != 8 {
		t.Fatalf("total %d, want 8", p.Total())
	}
	if len(p.Timeline) != 0 {
		t.Fatal("timeline kept without KeepTimeline")
	}
}

func TestResetKeepsIDs(t *testing.T) {
	p := New(time.Unix(0, 0))
	p.KeepTimeline = true
	p.Health.Rate = 100
	f := p.Frame(Frame{Name: "f"})
	st := p.Stack([]FrameID{f})
	p.Add(st, p.Thread(Thread{Pid: 1}), time.Millisecond, 3)
	p.Health.Samples = 3
	p.Reset(time.Unix(5, 0))
	if p.Total() != 0 || len(p.Timeline) != 0 || p.Health.Samples != 0 {
		t.Fatalf("after reset: total %d, timeline %d, samples %d", p.Total(), len(p.Timeline), p.Health.Samples)
	}
	if p.Health.Rate != 100 || !p.Start.Equal(time.Unix(5, 0)) {
		t.Fatalf("after reset: rate %v, start %v", p.Health.Rate, p.Start)
	}
	if p.Frame(Frame{Name: "f"}) != f || p.Stack([]FrameID{f}) != st {
		t.Fatal("ids changed across a reset")
	}
}

// TestSnapshotIsolated checks that what the owner does after a snapshot,
// adding, interning and resetting, does not show in it.
func TestSnapshotIsolated(t *testing.T) {
	p := New(time.Unix(0, 0))
	p.KeepTimeline = true
	f := p.Frame(Frame{Name: "f"})
	st := p.Stack([]FrameID{f})
	th := p.Thread(Thread{Pid: 1, TID: 1})
	p.Add(st, th, time.Millisecond, 2)
	p.Health.Samples = 2
	snap := p.Snapshot()

	p.Reset(time.Unix(9, 0))
	p.Add(st, th, 3*time.Millisecond, 1) // where the old timeline was, were it reused
	g := p.Frame(Frame{Name: "g"})
	p.Add(p.Stack([]FrameID{f, g}), p.Thread(Thread{Pid: 1, TID: 2}), 2*time.Millisecond, 5)
	p.Health.Samples = 7

	if got := snap.Counts(); !slices.Equal(got, []Count{{st, th, 2}}) {
		t.Errorf("snapshot counts %v", got)
	}
	if len(snap.Frames) != 1 || len(snap.Stacks) != 1 || len(snap.Threads) != 1 {
		t.Errorf("snapshot grew: %d frames, %d stacks, %d threads", len(snap.Frames), len(snap.Stacks), len(snap.Threads))
	}
	if want := []Sample{{At: time.Millisecond, Stack: st, Thread: th}, {At: time.Millisecond, Stack: st, Thread: th}}; !slices.Equal(snap.Timeline, want) {
		t.Errorf("snapshot timeline %v, want %v", snap.Timeline, want)
	}
	if snap.Health.Samples != 2 || !snap.Start.Equal(time.Unix(0, 0)) {
		t.Errorf("snapshot health %+v, start %v", snap.Health, snap.Start)
	}
}

// BenchmarkDistinctStackMemory measures what one more distinct stack costs
// the profile (its frame ids, index and count), 30 frames deep over
// frames already interned: the figure README's Safety section states.
func BenchmarkDistinctStackMemory(b *testing.B) {
	const depth, n = 30, 100_000
	for b.Loop() {
		p := New(time.Unix(0, 0))
		ids := make([]FrameID, depth)
		for i := range depth + 1000 {
			p.Frame(Frame{Name: fmt.Sprint("f", i), File: "app.py", Line: i})
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := range n {
			for d := range ids {
				ids[d] = FrameID(d)
			}
			ids[depth-1] = FrameID(depth + i%1000) // distinct innermost pair
			ids[depth-2] = FrameID(depth + i/1000)
			p.Add(p.Stack(ids), 0, 0, 1)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/stack")
		runtime.KeepAlive(p)
	}
}
