package render

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
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
// what the profile holds per distinct stack (profile-B/stack) and what a
// write allocates on top of it per distinct stack (write-B/stack, all
// allocations counted, so an upper bound of the peak it adds), with the
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
	for _, f := range Formats() {
		b.Run(f.Name(), func(b *testing.B) {
			var out countingWriter
			var alloc uint64
			for b.Loop() {
				out = 0
				runtime.ReadMemStats(&before)
				if err := f.Write(&out, p, Options{}); err != nil {
					b.Fatal(err)
				}
				runtime.ReadMemStats(&after)
				alloc = after.TotalAlloc - before.TotalAlloc
			}
			b.ReportMetric(profileBytes/stacks, "profile-B/stack")
			b.ReportMetric(float64(alloc)/stacks, "write-B/stack")
			b.ReportMetric(float64(out)/stacks, "output-B/stack")
		})
	}
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
