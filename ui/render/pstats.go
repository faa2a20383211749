package render

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// Pstats writes the file cProfile writes with -o, the one `python -m pstats`,
// pstats.Stats, snakeviz and tuna read: a marshalled dict from (file, first
// line, function name) to (primitive calls, calls, tottime, cumtime,
// callers), where callers maps each calling function to the same four
// numbers for the calls it made. Only marshal types every reader since
// Python 2.5 knows are used (dict, tuple, unicode, int, long, binary float),
// so Python 2.7 loads the file as well as 3.x.
//
// Times come from the samples: each thread sample stands for one sampling
// interval (the requested one; else the achieved one). tottime is the time
// a function was the leaf, cumtime the time it was anywhere on the stack,
// counted once per sample however deep it recursed, like cProfile counts
// only the outermost call. A caller entry's times are those of its callee
// under that caller, also counted once per sample.
//
// Call counts cannot be known from samples. With a timeline (every
// recording and --format pstats keep one) a call is counted each time a
// function appears on a thread's stack where the previous sample of that
// thread did not have it at that depth: a lower bound, since calls that
// begin and end between two samples are not seen. Without a timeline the
// counts are the number of samples the function was on the stack.
// Primitive calls are the calls that were not recursive.
//
// Python functions are keyed by the file as shown, their first line and
// name; native and synthetic frames (processes, threads) are keyed like
// cProfile's built-ins, ("~", 0, name), so each process of a
// --subprocesses recording is one root function.
type Pstats struct{}

func (Pstats) Name() string { return "pstats" }
func (Pstats) Ext() string  { return ".pstats" }

// funcKey is a function as cProfile names it.
type funcKey struct {
	File string
	Line int
	Name string
}

func funcKeyOf(f prof.Frame) funcKey {
	if f.Kind != prof.KindPython {
		name := f.Name
		if f.Kind == prof.KindNative && f.File != "" {
			name = f.Name + " (" + f.File + ")"
		}
		return funcKey{File: "~", Name: name}
	}
	line := f.FirstLine
	if line == 0 {
		// A recording made before first lines were kept, or --nolineno.
		line = f.Line
	}
	return funcKey{File: f.File, Line: line, Name: f.Name}
}

// pstat is one function's or one caller edge's numbers, times in samples.
type pstat struct {
	cc, nc int64
	tt, ct int64
}

type edge struct{ caller, callee int }

// funcStats is the per-function view of a profile that pstats, the line
// tables and the diff share.
type funcStats struct {
	keys    []funcKey
	frameFn []int // frame id -> index into keys
	fn      []pstat
	callers map[edge]*pstat
	total   int64 // thread samples
}

// newFuncStats maps frames to functions and sums self and inclusive samples
// per function and per caller edge, recursion counted once per sample.
func newFuncStats(p *prof.Profile) *funcStats {
	fs := &funcStats{frameFn: make([]int, len(p.Frames)), callers: map[edge]*pstat{}}
	index := map[funcKey]int{}
	for i, f := range p.Frames {
		k := funcKeyOf(f)
		j, ok := index[k]
		if !ok {
			j = len(fs.keys)
			index[k] = j
			fs.keys = append(fs.keys, k)
		}
		fs.frameFn[i] = j
	}
	fs.fn = make([]pstat, len(fs.keys))
	seenFn := make([]int, len(fs.keys)) // generation marks: no clearing per stack
	seenEdge := map[edge]int{}
	var fns []int
	for gen, c := range countsByStack(p) {
		gen++
		fns = fs.stackFuncs(p.Stacks[c.Stack], fns[:0])
		fs.total += c.N
		if len(fns) == 0 {
			continue
		}
		fs.fn[fns[len(fns)-1]].tt += c.N
		for i, f := range fns {
			if seenFn[f] != gen {
				seenFn[f] = gen
				fs.fn[f].ct += c.N
			}
			if i == 0 {
				continue
			}
			e := edge{fns[i-1], f}
			st := fs.edge(e)
			if seenEdge[e] != gen {
				seenEdge[e] = gen
				st.ct += c.N
			}
			if i == len(fns)-1 {
				st.tt += c.N
			}
		}
	}
	return fs
}

func (fs *funcStats) stackFuncs(stack []prof.FrameID, out []int) []int {
	for _, f := range stack {
		out = append(out, fs.frameFn[f])
	}
	return out
}

func (fs *funcStats) edge(e edge) *pstat {
	st := fs.callers[e]
	if st == nil {
		st = &pstat{}
		fs.callers[e] = st
	}
	return st
}

// countCalls fills the call counts (see Pstats).
func (fs *funcStats) countCalls(p *prof.Profile) {
	if !p.KeepTimeline || len(p.Timeline) == 0 {
		for i := range fs.fn {
			fs.fn[i].nc, fs.fn[i].cc = fs.fn[i].ct, fs.fn[i].ct
		}
		for _, st := range fs.callers {
			st.nc, st.cc = st.ct, st.ct
		}
		return
	}
	prev := map[int][]int{} // thread -> functions of its previous sample
	var fns []int
	for _, s := range p.Timeline {
		fns = fs.stackFuncs(p.Stacks[s.Stack], fns[:0])
		old := prev[s.Thread]
		same := 0
		for same < len(old) && same < len(fns) && old[same] == fns[same] {
			same++
		}
		for i := same; i < len(fns); i++ {
			f := fns[i]
			primitive := !slices.Contains(fns[:i], f)
			fs.fn[f].nc++
			if primitive {
				fs.fn[f].cc++
			}
			if i > 0 {
				st := fs.edge(edge{fns[i-1], f})
				st.nc++
				if primitive {
					st.cc++
				}
			}
		}
		prev[s.Thread] = append(old[:0], fns...)
	}
}

// secondsPerSample is what one thread sample stands for.
func secondsPerSample(p *prof.Profile) float64 {
	if d := samplingPeriod(p); d > 0 {
		return d.Seconds()
	}
	if h := p.Health; h.Samples > 0 && h.Elapsed > 0 {
		return h.Elapsed.Seconds() / float64(h.Samples)
	}
	return (10 * time.Millisecond).Seconds()
}

func (Pstats) Write(w io.Writer, p *prof.Profile, o Options) error {
	if err := checkCounts(p); err != nil {
		return err
	}
	for _, s := range p.Timeline {
		if err := checkIDs(p, s.Stack, s.Thread); err != nil {
			return err
		}
	}
	fs := newFuncStats(p)
	fs.countCalls(p)
	sec := secondsPerSample(p)

	callersOf := make([][]int, len(fs.keys))
	for e := range fs.callers {
		callersOf[e.callee] = append(callersOf[e.callee], e.caller)
	}
	order := make([]int, len(fs.keys))
	for i := range order {
		order[i] = i
	}
	byKey := func(a, b int) int {
		ka, kb := fs.keys[a], fs.keys[b]
		return cmp.Or(strings.Compare(ka.File, kb.File), cmp.Compare(ka.Line, kb.Line), strings.Compare(ka.Name, kb.Name))
	}
	slices.SortFunc(order, byKey)

	m := &marshaller{w: bufio.NewWriter(w)}
	m.dictStart()
	for _, f := range order {
		st := fs.fn[f]
		if st.ct == 0 && st.nc == 0 {
			continue // a frame only of stacks with no samples left
		}
		m.funcKey(fs.keys[f])
		m.tuple(5)
		m.int(st.cc)
		m.int(st.nc)
		m.float(float64(st.tt) * sec)
		m.float(float64(st.ct) * sec)
		m.dictStart()
		callers := callersOf[f]
		slices.SortFunc(callers, byKey)
		for _, c := range callers {
			e := fs.callers[edge{c, f}]
			m.funcKey(fs.keys[c])
			m.tuple(4)
			m.int(e.cc)
			m.int(e.nc)
			m.float(float64(e.tt) * sec)
			m.float(float64(e.ct) * sec)
		}
		m.dictEnd()
	}
	m.dictEnd()
	return m.w.Flush()
}

// marshaller writes the subset of Python's marshal format that pstats
// files use.
type marshaller struct {
	w *bufio.Writer
	b [8]byte
}

func (m *marshaller) dictStart() { m.w.WriteByte('{') }
func (m *marshaller) dictEnd()   { m.w.WriteByte('0') }

func (m *marshaller) tuple(n int) {
	m.w.WriteByte('(')
	m.u32(uint32(n))
}

func (m *marshaller) u32(v uint32) {
	binary.LittleEndian.PutUint32(m.b[:4], v)
	m.w.Write(m.b[:4])
}

func (m *marshaller) str(s string) {
	s = strings.ToValidUTF8(s, "\uFFFD") // marshal decodes strictly
	m.w.WriteByte('u')
	m.u32(uint32(len(s)))
	m.w.WriteString(s)
}

// int writes a 32-bit int, or a long made of 15-bit digits when v does not
// fit.
func (m *marshaller) int(v int64) {
	if v >= math.MinInt32 && v <= math.MaxInt32 {
		m.w.WriteByte('i')
		m.u32(uint32(int32(v)))
		return
	}
	neg := v < 0
	u := uint64(v)
	if neg {
		u = uint64(-v)
	}
	var digits []uint16
	for ; u > 0; u >>= 15 {
		digits = append(digits, uint16(u&0x7fff))
	}
	n := int32(len(digits))
	if neg {
		n = -n
	}
	m.w.WriteByte('l')
	m.u32(uint32(n))
	for _, d := range digits {
		binary.LittleEndian.PutUint16(m.b[:2], d)
		m.w.Write(m.b[:2])
	}
}

func (m *marshaller) float(f float64) {
	m.w.WriteByte('g')
	binary.LittleEndian.PutUint64(m.b[:8], math.Float64bits(f))
	m.w.Write(m.b[:8])
}

func (m *marshaller) funcKey(k funcKey) {
	m.tuple(3)
	m.str(k.File)
	m.int(int64(k.Line))
	m.str(k.Name)
}
