package pyabi

import (
	"fmt"
	"slices"
	"testing"

	"github.com/pyspyglass/pyspyglass/procmem"
)

func TestFitRanges(t *testing.T) {
	const span, codeSpan = 72, 144
	cases := []struct {
		name   string
		frames []uint64 // innermost first
		codes  []uint64
		want   []memRange
	}{
		{"one chunk, innermost extended to its page end", []uint64{0x10100, 0x10080, 0x10000}, nil,
			[]memRange{{addr: 0x10000, n: 0x10100 + span + pushSlack - 0x10000}}},
		{"slack stops at the page end", []uint64{0x10f80}, nil,
			[]memRange{{addr: 0x10f80, n: 0x11000 - 0x10f80}}},
		{"adjacent pages merge", []uint64{0x11010, 0x10000}, nil,
			[]memRange{{addr: 0x10000, n: 0x11010 + span + pushSlack - 0x10000}}},
		{"a page between splits", []uint64{0x12010, 0x10000}, nil,
			[]memRange{{addr: 0x10000, n: span}, {addr: 0x12010, off: span, n: span + pushSlack}}},
		{"code headers join nearby frames", []uint64{0x10000}, []uint64{0x10800, 0x30000},
			[]memRange{{addr: 0x10000, n: 0x10800 + codeSpan - 0x10000}, {addr: 0x30000, off: 0x10800 + codeSpan - 0x10000, n: codeSpan}}},
		{"not user memory", []uint64{1 << 60}, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var w walkCache
			w.fit(c.frames, span, c.codes, codeSpan, nil)
			if !slices.Equal(w.ranges, c.want) {
				t.Errorf("ranges %+v, want %+v", w.ranges, c.want)
			}
			total := 0
			for _, r := range w.ranges {
				total += r.n
			}
			if len(w.buf) != total {
				t.Errorf("buffer of %d bytes for %d in ranges", len(w.buf), total)
			}
		})
	}
}

func TestFitBounded(t *testing.T) {
	// Frames a page apart each, far more than maxPrefetch in all.
	var frames []uint64
	for i := range 2 * maxPrefetch / pageSize {
		frames = append(frames, 0x100000+uint64(i)*2*pageSize)
	}
	var w walkCache
	w.fit(frames, 72, nil, 0, nil)
	if len(w.buf) > maxPrefetch {
		t.Errorf("%d bytes guessed, bound is %d", len(w.buf), maxPrefetch)
	}
}

func TestLookup(t *testing.T) {
	var w walkCache
	w.fit([]uint64{0x10000}, 64, []uint64{0x20000}, 32, nil)
	for i := range w.buf {
		w.buf[i] = byte(i)
	}
	if w.lookup(0x10000, 64) != nil {
		t.Error("a copy used before it was read")
	}
	w.fresh = true
	cases := []struct {
		addr uint64
		n    int
		ok   bool
	}{{0x10000, 64, true}, {0x10008, 8, true}, {0x20000, 32, true}, {0x20010, 32, false}, {0xfff8, 16, false}, {0x30000, 8, false}}
	for _, c := range cases {
		b := w.lookup(c.addr, c.n)
		if (b != nil) != c.ok {
			t.Errorf("lookup(%#x, %d): got %v, want found %v", c.addr, c.n, b != nil, c.ok)
		}
		if b != nil && len(b) != c.n {
			t.Errorf("lookup(%#x, %d): %d bytes", c.addr, c.n, len(b))
		}
	}
	if b := w.lookup(0x10008, 8); b[0] != 8 {
		t.Errorf("copy at offset 8 starts with %d", b[0])
	}
}

// stackImage is a 3.12 thread with a frame chain in one data stack chunk,
// laid out in an objImage so Stack's guesses can be checked against
// memory that changes between walks.
type stackImage struct {
	*objImage
	in     *Interpreter
	thread Thread
	cframe uint64
	chunk  uint64
	used   int
	reads  int       // ReadBatch and ReadAt calls
	hole   [2]uint64 // memory that reads as unmapped
}

func (s *stackImage) ReadAt(p []byte, addr uint64) (int, error) {
	s.reads++
	if addr < s.hole[1] && addr+uint64(len(p)) > s.hole[0] {
		return 0, procmem.ErrFault
	}
	return s.objImage.ReadAt(p, addr)
}

func (s *stackImage) ReadBatch(spans []procmem.Span) error {
	s.reads++
	for _, sp := range spans {
		if sp.Addr < s.hole[1] && sp.Addr+uint64(len(sp.Buf)) > s.hole[0] {
			return procmem.ErrFault
		}
	}
	return s.objImage.ReadBatch(spans)
}

func newStackImage(t *testing.T) *stackImage {
	v := Version{Major: 3, Minor: 12, Patch: 1}
	s := &stackImage{objImage: newObjImage(t, v)}
	l := s.l
	interp := s.alloc(l.Interp.ThreadsHead + 8)
	tstate := s.alloc(512)
	s.put64(interp+uint64(l.Interp.ThreadsHead), tstate)
	s.cframe = s.alloc(64)
	s.put64(tstate+uint64(l.Thread.CFrame), s.cframe)
	s.chunk = s.alloc(2 * pageSize)
	s.in = newInterpreter(s, v, l)
	s.in.Head = interp
	threads, err := s.in.Threads(nil)
	if err != nil || len(threads) != 1 {
		t.Fatalf("threads %v, %v", threads, err)
	}
	s.thread = threads[0]
	s.shim()
	return s
}

// shim pushes the C-stack entry frame every 3.12 stack ends in
// (FRAME_OWNED_BY_CSTACK, Include/internal/pycore_frame.h v3.12.0).
func (s *stackImage) shim() {
	frame := s.push(s.code("<shim>", 0))
	s.put8(frame+uint64(s.l.Frame.Owner), 3)
}

// code makes a code object named name whose first line is line.
func (s *stackImage) code(name string, line int) uint64 {
	c := s.l.Code
	a := s.alloc(c.CodeAdaptive + 16)
	nameStr := s.str(name)
	s.put64(a+uint64(c.Name), nameStr)
	s.put64(a+uint64(c.QualName), nameStr)
	s.put64(a+uint64(c.Filename), s.str(name+".py"))
	lines := s.alloc(s.l.Bytes.Data + 8) // an empty bytes object: every line is the first
	s.put64(a+uint64(c.LineTable), lines)
	s.put64(a+uint64(c.FirstLineNo), uint64(line))
	return a
}

// push adds a frame running code on top of the stack.
func (s *stackImage) push(code uint64) uint64 {
	f := s.l.Frame
	frame := s.chunk + uint64(s.used)
	s.used += 96
	clear(s.data[frame-s.base : frame-s.base+96])
	s.put64(frame+uint64(f.Previous), s.top())
	s.put64(frame+uint64(f.Code), code)
	s.put64(frame+uint64(f.InstrPtr), code+uint64(s.l.Code.CodeAdaptive))
	s.put64(s.cframe+uint64(s.l.CFrame.CurrentFrame), frame)
	return frame
}

func (s *stackImage) pop() {
	top := s.top()
	s.put64(s.cframe+uint64(s.l.CFrame.CurrentFrame), le64(s.data[top-s.base+uint64(s.l.Frame.Previous):]))
	s.used -= 96
}

func (s *stackImage) top() uint64 {
	return le64(s.data[s.cframe-s.base+uint64(s.l.CFrame.CurrentFrame):])
}

func (s *stackImage) names(t *testing.T) []string {
	t.Helper()
	frames, err := s.in.Stack(&s.thread, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range frames {
		out = append(out, fmt.Sprintf("%s:%d", f.Code.Name, f.Line))
	}
	return out
}

// TestStackGuessesFollowChanges walks a stack that changes between walks
// in every way a live one does, and checks each walk against the memory
// as it is then, and that a repeated stack costs one read.
func TestStackGuessesFollowChanges(t *testing.T) {
	s := newStackImage(t)
	mod, f, g := s.code("<module>", 1), s.code("f", 10), s.code("g", 20)
	s.push(mod)
	s.push(f)
	check := func(step string, want ...string) {
		t.Helper()
		if got := s.names(t); !slices.Equal(got, want) {
			t.Errorf("%s: stack %v, want %v", step, got, want)
		}
	}
	check("first walk", "f:10", "<module>:1")
	s.reads = 0
	check("same stack", "f:10", "<module>:1")
	if s.reads != 1 {
		t.Errorf("a repeated stack took %d reads, want 1", s.reads)
	}
	s.push(g)
	check("a call", "g:20", "f:10", "<module>:1")
	s.pop()
	s.pop()
	s.push(g)
	check("a return, then another call in the same place", "g:20", "<module>:1")
	// The code object of g is freed and its address reused by another.
	s.put64(g+uint64(s.l.Code.Name), s.str("h"))
	s.put64(g+uint64(s.l.Code.QualName), s.str("h"))
	s.put64(g+uint64(s.l.Code.FirstLineNo), 30)
	s.alloc(128) // the string reader reads a whole header past a short str
	check("a code object replaced at the same address", "h:30", "<module>:1")
	// The thread moves to another C-level evaluation loop: a new cframe.
	old := s.cframe
	s.cframe = s.alloc(64)
	s.put64(s.cframe, le64(s.data[old-s.base:]))
	s.put64(s.thread.Addr+uint64(s.l.Thread.CFrame), s.cframe)
	check("a new cframe", "h:30", "<module>:1")
	s.reads = 0
	check("steady again", "h:30", "<module>:1")
	if s.reads != 1 {
		t.Errorf("a repeated stack took %d reads, want 1", s.reads)
	}
}

// TestStackGuessUnreadable checks that a guessed range that can no longer
// be read (a data stack chunk freed as the stack shrank) costs a fallback
// read, not a failed sample, and that the guesses recover.
func TestStackGuessUnreadable(t *testing.T) {
	s := newStackImage(t)
	mod, f := s.code("<module>", 1), s.code("f", 10)
	s.push(mod)
	s.push(f)
	s.names(t)
	// The stack moves to a new chunk; the old one is unmapped.
	old := s.chunk
	s.chunk, s.used = s.alloc(2*pageSize), 0
	s.put64(s.cframe+uint64(s.l.CFrame.CurrentFrame), 0)
	s.shim()
	s.push(mod)
	s.hole = [2]uint64{old, old + 2*pageSize}
	if got := s.names(t); !slices.Equal(got, []string{"<module>:1"}) {
		t.Errorf("stack %v after the chunk went, want [<module>:1]", got)
	}
	s.reads = 0
	s.names(t)
	if s.reads != 1 {
		t.Errorf("%d reads once the guesses were refitted, want 1", s.reads)
	}
}

// TestWalkerSteadyStateAllocs checks that a walk with a warm Walker and
// warm caches allocates nothing, and that one Walker serves two processes.
func TestWalkerSteadyStateAllocs(t *testing.T) {
	a, b := newStackImage(t), newStackImage(t)
	for _, s := range []*stackImage{a, b} {
		s.push(s.code("main", 1))
		s.push(s.code("work", 7))
	}
	var w Walker
	frames := make([]Frame, 0, 16)
	walk := func() {
		for _, s := range []*stackImage{a, b} {
			var err error
			if frames, err = w.Stack(s.in, &s.thread, frames[:0]); err != nil || len(frames) != 2 {
				t.Fatalf("stack %v, %v", frames, err)
			}
		}
	}
	walk()
	if n := testing.AllocsPerRun(50, walk); n != 0 {
		t.Errorf("%v allocations per steady-state walk, want 0", n)
	}
}
