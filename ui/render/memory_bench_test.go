package render

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// syntheticProfile is ten minutes at 1 kHz of a program of 5,000 generated
// functions: 600,000 thread samples on 4 threads over 50,000 distinct
// stacks 8 to 30 frames deep, with the timeline kept (the formats that
// draw time need it). It is deterministic.
func syntheticProfile() *prof.Profile {
	const (
		funcs    = 5_000
		stacks   = 50_000
		samples  = 600_000
		threads  = 4
		interval = time.Millisecond
	)
	rng := rand.New(rand.NewPCG(1, 2))
	p := prof.New(time.Unix(1_700_000_000, 0))
	p.KeepTimeline = true
	p.Target = "pid 4242: python generated.py"
	p.Health.Rate = 1000
	fn := make([]prof.Frame, funcs)
	for i := range fn {
		fn[i] = prof.Frame{Name: fmt.Sprintf("generated_function_%04d", i), File: fmt.Sprintf("app/generated_%02d.py", i%50), FirstLine: 10 + i}
	}
	var ths []int
	for i := range threads {
		ths = append(ths, p.Thread(prof.Thread{Pid: 4242, TID: 4242 + i, Name: fmt.Sprintf("worker-%d", i)}))
	}
	ids := make([]prof.StackID, 0, stacks)
	var buf []prof.FrameID
	for len(ids) < stacks {
		// A call path: each caller calls one of a few callees, so stacks
		// share prefixes as a real program's do.
		buf = buf[:0]
		f := rng.IntN(20)
		for range 8 + rng.IntN(23) {
			fr := fn[f]
			fr.Line = fr.FirstLine + 1 + rng.IntN(5)
			buf = append(buf, p.Frame(fr))
			f = (f*31 + 1 + rng.IntN(8)) % funcs
		}
		if id := p.Stack(buf); int(id) == len(ids) {
			ids = append(ids, id)
		}
	}
	for i := range samples {
		p.Add(ids[rng.IntN(len(ids))], ths[i%threads], time.Duration(i/threads)*interval*threads, 1)
	}
	p.Health.Samples = samples / threads
	p.Health.Elapsed = samples / threads * interval * threads
	return p
}

// BenchmarkWriteMemory writes syntheticProfile in every format and reports
// per distinct stack what the profile holds (profile-B/stack), the most
// heap a write holds on top of it (peak-B/stack: see peakDuring) and the
// output's size: the figures README's Safety section states.
func BenchmarkWriteMemory(b *testing.B) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	p := syntheticProfile()
	runtime.GC()
	runtime.ReadMemStats(&after)
	profileBytes := float64(after.HeapAlloc - before.HeapAlloc)
	stacks := float64(len(p.Stacks))
	// A write while recording reads a Snapshot, which copies the counts.
	b.Run("snapshot", func(b *testing.B) {
		var peak uint64
		var snap *prof.Profile
		for b.Loop() {
			peak, _ = peakDuring(func() error { snap = p.Snapshot(); return nil })
		}
		runtime.KeepAlive(snap)
		b.ReportMetric(float64(peak)/stacks, "peak-B/stack")
	})
	for _, f := range Formats() {
		b.Run(f.Name(), func(b *testing.B) {
			var out countingWriter
			var peak uint64
			for b.Loop() {
				out = 0
				var err error
				peak, err = peakDuring(func() error { return f.Write(&out, p, Options{}) })
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(profileBytes/stacks, "profile-B/stack")
			b.ReportMetric(float64(peak)/stacks, "peak-B/stack")
			b.ReportMetric(float64(out)/stacks, "output-B/stack")
		})
	}
}

// peakDuring runs fn and returns the most heap that was in use during the
// run beyond what was in use before it, read every 100 µs. The collector
// runs at GOGC=10 meanwhile, so garbage not yet collected adds at most a
// tenth of the heap (of the profile, mostly) to the figure.
func peakDuring(fn func() error) (uint64, error) {
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	heap := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(heap)
	base := heap[0].Value.Uint64()
	peak := base
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Microsecond)
		defer tick.Stop()
		s := []metrics.Sample{{Name: heap[0].Name}}
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				metrics.Read(s)
				peak = max(peak, s[0].Value.Uint64())
			}
		}
	}()
	err := fn()
	close(stop)
	<-done
	return peak - base, err
}

// TestFlamegraphStreamedAsTree: the flame graph drawn from the sorted
// stacks is byte for byte the one drawn from their merged tree, with a
// frame's own samples beside its callees' and frames narrower than the
// minimum left out.
func TestFlamegraphStreamedAsTree(t *testing.T) {
	p := prof.New(time.Unix(0, 0))
	th := p.Thread(prof.Thread{Pid: 1, TID: 1, Name: "t"})
	rng := rand.New(rand.NewPCG(3, 4))
	var fr []prof.FrameID
	for i := range 12 {
		fr = append(fr, p.Frame(prof.Frame{Name: fmt.Sprint("f", i%9), File: "a.py", Line: i % 9, Kind: prof.Kind(i / 10)}))
	}
	for range 400 {
		s := make([]prof.FrameID, 1+rng.IntN(7))
		for d := range s {
			s[d] = fr[rng.IntN(len(fr))]
		}
		p.Add(p.Stack(s), th, 0, 1+rng.Int64N(int64(1+rng.IntN(500))))
	}
	for _, o := range []Options{{}, {Icicle: true, MinWidth: -1}, {MinWidth: 3, FlameWidth: 300}} {
		var got, want bytes.Buffer
		if err := (Flamegraph{}).Write(&got, p, o); err != nil {
			t.Fatal(err)
		}
		root := &flameNode{frame: prof.Frame{Name: "all", Kind: prof.KindOther}, label: "all", index: map[prof.FrameID]*flameNode{}}
		for _, c := range countsByStack(p) {
			node := root
			node.n += c.N
			for _, id := range p.Stacks[c.Stack] {
				child := node.index[id]
				if child == nil {
					child = &flameNode{frame: p.Frames[id], label: oneLine(frameLabel(p.Frames[id])), index: map[prof.FrameID]*flameNode{}}
					node.index[id] = child
					node.children = append(node.children, child)
				}
				child.n += c.N
				node = child
			}
		}
		subtitle := healthLine(p)
		if err := writeFlameSVG(&want, root, o, subtitle); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("options %+v: streamed flame graph differs from the tree's (%d and %d bytes)", o, got.Len(), want.Len())
		}
	}
}
