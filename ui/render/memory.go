package render

import (
	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// MemoryView returns a profile of p's recorded resident memory growth
// (--memory): the same frames, stacks and threads, each (stack, thread)
// counted in bytes of growth attributed to it instead of in samples, so the
// count-based formats (flamegraph, collapsed, callgrind) draw where memory
// grew. It is austin's estimate: the growth between two sampling rounds goes
// to the stack running at the second. Shrinkage is left out, as a memory
// flamegraph shows allocation; pprof keeps both (see Pprof).
func MemoryView(p *prof.Profile) *prof.Profile {
	q := prof.New(p.Start)
	q.Target = p.Target
	q.Health = p.Health
	q.Sources = p.Sources
	q.Memory = p.Memory
	for _, f := range p.Frames {
		q.Frame(f)
	}
	for _, s := range p.Stacks {
		q.Stack(s)
	}
	for _, t := range p.Threads {
		q.Thread(t)
	}
	for _, m := range p.MemoryCounts() {
		if m.Grow > 0 {
			q.Add(m.Stack, m.Thread, 0, m.Grow)
		}
	}
	return q
}

// DrawsMemory says whether format f shows MemoryView when memory was
// recorded: the formats that only weigh stacks. The others keep their CPU
// view (pprof adds memory sample types of its own, a recording keeps
// everything).
func DrawsMemory(f Format) bool {
	switch f.(type) {
	case Flamegraph, Collapsed, Callgrind:
		return true
	}
	return false
}

// ViewFor returns what format f should draw of p: MemoryView, counted in
// bytes, when memory is asked for, p recorded it and f draws it; else p as
// it is.
func ViewFor(p *prof.Profile, f Format, o Options, memory bool) (*prof.Profile, Options) {
	if memory && p.Memory && DrawsMemory(f) {
		o.Unit = "bytes"
		return MemoryView(p), o
	}
	return p, o
}
