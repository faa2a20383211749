// Package prof is the one profile model every output and the live view read:
// frames and stacks interned into ids, sample counts per (stack, thread), an
// optional timeline of individual samples, and the recorder's own health.
// It owns no I/O and knows nothing about how samples were taken.
package prof

import (
	"hash/maphash"
	"maps"
	"slices"
	"time"
)

// FrameID indexes Profile.Frames; StackID indexes Profile.Stacks.
type (
	FrameID int32
	StackID int32
)

// Kind says what a frame stands for.
type Kind uint8

const (
	KindPython  Kind = iota // a Python function
	KindNative              // a C/C++ function (--native)
	KindProcess             // synthetic root: one process (--subprocesses, several pids)
	KindThread              // synthetic root: one thread (--threads)
	KindOther               // synthetic: e.g. "<GC>" or "<idle>"
	// KindInstruction is a leaf under a Python frame naming the bytecode
	// instruction it was at (--opcodes); File and Line are the frame's.
	KindInstruction
	// KindInterpreter is a synthetic root: one interpreter of a process
	// that runs sub-interpreters.
	KindInterpreter
)

// Frame is one interned location. Line is 0 when lines are not recorded
// (--function, --nolineno) or unknown.
type Frame struct {
	Name      string // function name (qualified where the interpreter knows it)
	File      string // file as shown (shortened unless --full-filenames)
	Line      int
	FirstLine int // the function's first line (co_firstlineno); 0 when unknown
	Kind      Kind
	// Native frames: the binary's path as the target sees it and its GNU
	// build id ("" when unknown), for pprof mappings and object names.
	Module  string
	BuildID string
}

// Binary is the interpreter's executable file, for the formats that name
// the program they profile (pprof's main mapping).
type Binary struct {
	Path    string
	BuildID string // hex GNU build id, "" if none
}

// Thread is one sampled OS thread of one process.
type Thread struct {
	Pid  int
	TID  int // native thread id
	Name string
}

// Count is the aggregate of one (stack, thread) pair.
type Count struct {
	Stack  StackID
	Thread int // index into Profile.Threads
	N      int64
}

// Sample is one timeline entry, kept only when Profile.KeepTimeline is set.
type Sample struct {
	At     time.Duration // since Profile.Start
	Stack  StackID
	Thread int
	GIL    bool // the thread held the GIL (false also where that is unknown)
}

// Health is what the recorder says about itself; every output that can
// hold it stores it.
type Health struct {
	Rate       float64       // requested samples per second
	Samples    int64         // sampling rounds taken
	Errors     int64         // rounds (or threads within them) that failed to read
	Late       int64         // rounds that started late by more than one interval
	TotalLag   time.Duration // sum of lateness
	Elapsed    time.Duration
	IdleDrops  int64 // thread samples dropped as idle
	GILSamples int64 // thread samples taken while holding the GIL
	// NoPython counts thread samples of running threads with no Python
	// frame (C threads, start-up, teardown): shown as "<native>" without
	// --native, as their C stack with it.
	NoPython int64
	// Truncated counts thread samples deeper than pyabi.MaxDepth frames,
	// kept with a marker frame in place of their middle; Cycles counts
	// failed reads whose frame chain looped (also counted in Errors).
	Truncated, Cycles int64
}

// AchievedRate is rounds per second over the elapsed time.
func (h Health) AchievedRate() float64 {
	if h.Elapsed <= 0 {
		return 0
	}
	return float64(h.Samples) / h.Elapsed.Seconds()
}

// Profile is the aggregated recording. Stacks are stored root first.
// It is not safe for concurrent use: one goroutine owns it, and others
// read Snapshots of it.
type Profile struct {
	Start        time.Time
	Target       string // human description: pid(s), command line, Python version
	Binary       Binary // the (first) target's interpreter executable
	Frames       []Frame
	Stacks       [][]FrameID
	Threads      []Thread
	KeepTimeline bool
	Timeline     []Sample
	Health       Health
	// Sources maps a frame's File to the text of that file, read from the
	// target's view of the filesystem while recording (Options.Sources),
	// so line-level outputs can show code the reader's machine lacks.
	Sources map[string]string
	// Memory says resident memory changes were recorded (MemoryCounts).
	Memory bool

	counts     map[countKey]int64
	memory     map[countKey]memDelta
	frameIndex map[Frame]FrameID
	stackIndex map[uint64][]StackID
	threadIdx  map[Thread]int
	seed       maphash.Seed
}

type countKey struct {
	stack  StackID
	thread int
}

// New returns an empty profile.
func New(start time.Time) *Profile {
	return &Profile{
		Start:      start,
		counts:     map[countKey]int64{},
		memory:     map[countKey]memDelta{},
		frameIndex: map[Frame]FrameID{},
		stackIndex: map[uint64][]StackID{},
		threadIdx:  map[Thread]int{},
		seed:       maphash.MakeSeed(),
	}
}

// Frame interns f.
func (p *Profile) Frame(f Frame) FrameID {
	if id, ok := p.frameIndex[f]; ok {
		return id
	}
	id := FrameID(len(p.Frames))
	p.Frames = append(p.Frames, f)
	p.frameIndex[f] = id
	return id
}

// Stack interns a root-first list of frames. The slice is copied on first
// sight only, so a caller may reuse its buffer: steady state allocates nothing.
func (p *Profile) Stack(frames []FrameID) StackID {
	h := p.hashStack(frames)
	for _, id := range p.stackIndex[h] {
		if slices.Equal(p.Stacks[id], frames) {
			return id
		}
	}
	id := StackID(len(p.Stacks))
	p.Stacks = append(p.Stacks, slices.Clone(frames))
	p.stackIndex[h] = append(p.stackIndex[h], id)
	return id
}

func (p *Profile) hashStack(frames []FrameID) uint64 {
	var h maphash.Hash
	h.SetSeed(p.seed)
	var b [4]byte
	for _, f := range frames {
		b[0], b[1], b[2], b[3] = byte(f), byte(f>>8), byte(f>>16), byte(f>>24)
		h.Write(b[:])
	}
	return h.Sum64()
}

// Thread interns a thread; a thread whose name changes gets a new entry.
func (p *Profile) Thread(t Thread) int {
	if i, ok := p.threadIdx[t]; ok {
		return i
	}
	i := len(p.Threads)
	p.Threads = append(p.Threads, t)
	p.threadIdx[t] = i
	return i
}

// Add records n samples of stack on thread at time at.
func (p *Profile) Add(stack StackID, thread int, at time.Duration, n int64) {
	p.counts[countKey{stack, thread}] += n
	if p.KeepTimeline {
		for range n {
			p.Timeline = append(p.Timeline, Sample{At: at, Stack: stack, Thread: thread})
		}
	}
}

// Counts returns the aggregates sorted by thread, then stack id, so every
// writer's output is deterministic.
func (p *Profile) Counts() []Count {
	out := make([]Count, 0, len(p.counts))
	for k, n := range p.counts {
		out = append(out, Count{Stack: k.stack, Thread: k.thread, N: n})
	}
	slices.SortFunc(out, func(a, b Count) int {
		if a.Thread != b.Thread {
			return a.Thread - b.Thread
		}
		return int(a.Stack - b.Stack)
	})
	return out
}

// EachCount calls fn with every aggregate, in no particular order and
// without the sorted copy Counts makes: for a writer that only sums or
// checks them.
func (p *Profile) EachCount(fn func(Count)) {
	for k, n := range p.counts {
		fn(Count{Stack: k.stack, Thread: k.thread, N: n})
	}
}

// MemCount is the change of the process's resident memory attributed to
// one (stack, thread): the growth and the shrinkage, in bytes, both >= 0.
type MemCount struct {
	Stack        StackID
	Thread       int
	Grow, Shrink int64
}

type memDelta struct{ grow, shrink int64 }

// AddMemory attributes a change of delta bytes of resident memory to stack
// on thread.
func (p *Profile) AddMemory(stack StackID, thread int, delta int64) {
	d := p.memory[countKey{stack, thread}]
	if delta >= 0 {
		d.grow += delta
	} else {
		d.shrink -= delta
	}
	p.memory[countKey{stack, thread}] = d
}

// MemoryCounts returns the memory changes, sorted like Counts; empty when
// memory was not recorded.
func (p *Profile) MemoryCounts() []MemCount {
	out := make([]MemCount, 0, len(p.memory))
	for k, d := range p.memory {
		out = append(out, MemCount{Stack: k.stack, Thread: k.thread, Grow: d.grow, Shrink: d.shrink})
	}
	slices.SortFunc(out, func(a, b MemCount) int {
		if a.Thread != b.Thread {
			return a.Thread - b.Thread
		}
		return int(a.Stack - b.Stack)
	})
	return out
}

// Total is the number of thread samples recorded.
func (p *Profile) Total() int64 {
	var t int64
	for _, n := range p.counts {
		t += n
	}
	return t
}

// SetSource keeps the text of file (as in Frame.File).
func (p *Profile) SetSource(file, text string) {
	if p.Sources == nil {
		p.Sources = map[string]string{}
	}
	p.Sources[file] = text
}

// Snapshot is a read-only copy of p as it is now, for a writer or viewer
// on another goroutine while p's owner goes on sampling. It costs a copy
// of the counts, memory changes and the map of sources (not their text): frames, stacks,
// threads and the timeline only ever grow
// (Reset starts a new timeline rather than reusing the old one), so the
// snapshot shares them up to their current length. Interning into a
// snapshot (Frame, Stack, Thread, Add) is not allowed.
func (p *Profile) Snapshot() *Profile {
	return &Profile{
		Start:        p.Start,
		Target:       p.Target,
		Frames:       p.Frames[:len(p.Frames):len(p.Frames)],
		Stacks:       p.Stacks[:len(p.Stacks):len(p.Stacks)],
		Threads:      p.Threads[:len(p.Threads):len(p.Threads)],
		KeepTimeline: p.KeepTimeline,
		Timeline:     p.Timeline[:len(p.Timeline):len(p.Timeline)],
		Health:       p.Health,
		Sources:      maps.Clone(p.Sources),
		Memory:       p.Memory,
		counts:       maps.Clone(p.counts),
		memory:       maps.Clone(p.memory),
		seed:         p.seed,
	}
}

// Reset drops all counts and the timeline but keeps interned frames and
// stacks, so ids held by a viewer stay valid.
func (p *Profile) Reset(start time.Time) {
	clear(p.counts)
	clear(p.memory)
	p.Timeline = nil // a snapshot may still read the old one
	p.Health = Health{Rate: p.Health.Rate}
	p.Start = start
}
