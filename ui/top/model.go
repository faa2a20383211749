package top

import (
	"cmp"
	"slices"
	"strings"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// SortKey selects the column rows are ordered by; the values follow the
// 1–4 keys of the live view.
type SortKey int

const (
	SortOwn       SortKey = iota // %Own
	SortTotal                    // %Total
	SortOwnTime                  // OwnTime
	SortTotalTime                // TotalTime
	SortOwnMem                   // OwnMem (--memory)
	SortTotalMem                 // TotalMem (--memory)
)

func (k SortKey) String() string {
	switch k {
	case SortOwn:
		return "%Own"
	case SortTotal:
		return "%Total"
	case SortOwnTime:
		return "OwnTime"
	case SortTotalTime:
		return "TotalTime"
	case SortOwnMem:
		return "OwnMem"
	case SortTotalMem:
		return "TotalMem"
	}
	return "?"
}

// Row is one function (or one line, when aggregating by line) of the table.
type Row struct {
	Name string
	File string
	Line int // 0 when aggregating by function
	Kind prof.Kind

	Own   int64 // samples where this was the innermost frame
	Total int64 // samples whose stack contains it, once per stack

	OwnPct, TotalPct   float64 // percent of the samples in view
	OwnTime, TotalTime float64 // seconds: samples / requested rate
	// Resident memory growth in bytes attributed to the row (--memory):
	// as the innermost frame, and anywhere on the stack.
	OwnMem, TotalMem int64
}

// Stats are the numbers of the header, taken with the rows of one update.
type Stats struct {
	Target         string      // Profile.Target, for when Options.Header is empty
	Health         prof.Health // the recorder's own view of itself
	Rate           float64     // samples per second used for the time columns
	Threads        int         // threads seen since sampling started
	Active         int         // threads with samples in this window
	Samples        int64       // thread samples in this window, all threads
	ViewSamples    int64       // thread samples behind the rows (one thread or all)
	Thread         prof.Thread // the selected thread, when ThreadSelected
	ThreadSelected bool
	GILPct         float64 // share of sampling rounds that found the GIL held; -1 unknown
	IdlePct        float64 // share of thread samples dropped as idle; -1 unknown
	GCPct          float64 // share of thread samples in the garbage collector
	MultiPid       bool    // threads of more than one process
	Memory         bool    // memory growth was recorded (OwnMem, TotalMem)
}

// Model turns a profile into the rows of the table. It holds a snapshot
// of the aggregates, so sorting, filtering, per-thread and line/function
// changes apply to a paused display without new data. It knows nothing
// about terminals.
type Model struct {
	sort    SortKey
	reverse bool
	lines   bool
	instr   bool // rows are the instructions (--opcodes leaves), by line
	filter  string
	thread  int // prof.Profile.Threads index; -1 for all threads
	rate    float64

	snap snapshot

	// Copies of the profile's interned frames and stacks, grown by each
	// capture; from identifies the profile they belong to. Row keys are
	// interned too, so aggregation indexes slices instead of hashing
	// strings per frame.
	from   *prof.Profile
	frames []frameInfo
	stacks [][]prof.FrameID
	fns    keySet // function rows: name and file
	lns    keySet // line rows: name, file and line
}

// keySet interns row keys into dense ids.
type keySet struct {
	keys  []key
	kinds []prof.Kind
	index map[key]int32
}

func (ks *keySet) id(k key, kind prof.Kind) int32 {
	if id, ok := ks.index[k]; ok {
		return id
	}
	if ks.index == nil {
		ks.index = map[key]int32{}
	}
	id := int32(len(ks.keys))
	ks.keys = append(ks.keys, k)
	ks.kinds = append(ks.kinds, kind)
	ks.index[k] = id
	return id
}

// NewModel returns a model sorted by %Own, aggregating by line when lines
// is set. fallbackRate is used for the time columns when the profile does
// not carry its requested rate.
func NewModel(lines bool, fallbackRate float64) *Model {
	return &Model{lines: lines, thread: -1, rate: fallbackRate}
}

// key identifies a row: Line is 0 for function aggregation.
type key struct {
	Name string
	File string
	Line int
}

// snapshot is the data of one update: counts refer to the model's copies
// of frames and stacks.
type snapshot struct {
	target    string
	health    prof.Health
	threads   []prof.Thread // all interned threads, by prof index
	counts    []prof.Count
	perThread map[int]int64 // thread samples by prof thread index
	samples   int64
	memory    bool
	mem       []prof.MemCount
}

// Update replaces the snapshot with the aggregates of p. It copies what it
// needs: p is not read after Update returns.
func (m *Model) Update(p *prof.Profile) { m.apply(m.capture(p)) }

// captured is what Update copies out of a profile. Taking it is cheap, so
// the view holds the sampler's lock only for this and aggregates after.
type captured struct {
	fresh     bool // frames and stacks start over (another profile)
	target    string
	health    prof.Health
	threads   []prof.Thread
	counts    []prof.Count
	memory    bool
	mem       []prof.MemCount
	newFrames []prof.Frame
	newStacks [][]prof.FrameID
}

// capture copies p's header, counts, and the frames and stacks interned
// since the last capture. Interned frames and stacks never change and
// survive Reset (prof's contract), so only the new ones are copied.
func (m *Model) capture(p *prof.Profile) captured {
	c := captured{
		target:  p.Target,
		health:  p.Health,
		threads: slices.Clone(p.Threads),
		counts:  p.Counts(),
		memory:  p.Memory,
	}
	if p.Memory {
		c.mem = p.MemoryCounts()
	}
	// The pointer is compared, never followed, outside this call.
	if p != m.from || len(p.Frames) < len(m.frames) || len(p.Stacks) < len(m.stacks) {
		c.fresh = true
		m.from = p
	}
	nf, ns := len(m.frames), len(m.stacks)
	if c.fresh {
		nf, ns = 0, 0
	}
	c.newFrames = slices.Clone(p.Frames[nf:])
	c.newStacks = make([][]prof.FrameID, len(p.Stacks)-ns)
	for i, st := range p.Stacks[ns:] {
		c.newStacks[i] = slices.Clone(st)
	}
	return c
}

// frameInfo is a frame's row ids, computed once per interned frame.
type frameInfo struct {
	fn, ln int32
	skip   bool // synthetic process/thread roots are not rows
	instr  bool // an instruction leaf: a row only in the instructions view
	gc     bool // the <GC> leaf: time the collector ran
}

func (m *Model) apply(c captured) {
	if c.fresh {
		m.frames, m.stacks = m.frames[:0], m.stacks[:0]
		m.fns, m.lns = keySet{}, keySet{}
	}
	for _, f := range c.newFrames {
		m.frames = append(m.frames, frameInfo{
			fn:    m.fns.id(key{Name: f.Name, File: f.File}, f.Kind),
			ln:    m.lns.id(key{Name: f.Name, File: f.File, Line: f.Line}, f.Kind),
			skip:  f.Kind == prof.KindProcess || f.Kind == prof.KindThread || f.Kind == prof.KindInterpreter,
			instr: f.Kind == prof.KindInstruction,
			gc:    f.Kind == prof.KindOther && f.Name == "<GC>",
		})
	}
	m.stacks = append(m.stacks, c.newStacks...)

	s := snapshot{
		target:    c.target,
		health:    c.health,
		threads:   c.threads,
		counts:    c.counts,
		perThread: map[int]int64{},
		memory:    c.memory,
		mem:       c.mem,
	}
	for _, cnt := range c.counts {
		if cnt.N > 0 {
			s.perThread[cnt.Thread] += cnt.N
			s.samples += cnt.N
		}
	}
	m.snap = s
}

// SetSort orders rows by k, largest first; choosing the active key again
// reverses the order.
func (m *Model) SetSort(k SortKey) {
	if k == m.sort {
		m.reverse = !m.reverse
		return
	}
	m.sort, m.reverse = k, false
}

// Sort returns the active key and whether the order is reversed
// (smallest first).
func (m *Model) Sort() (SortKey, bool) { return m.sort, m.reverse }

// SetLines chooses aggregation by line (true) or by function.
func (m *Model) SetLines(on bool) { m.lines = on }

// Lines reports whether rows are per line.
func (m *Model) Lines() bool { return m.lines }

// SetInstructions shows the instructions recorded with --opcodes, each
// with its line, instead of the functions; off, they are left out of the
// rows so functions keep their own time.
func (m *Model) SetInstructions(on bool) { m.instr = on }

// Instructions reports whether rows are instructions.
func (m *Model) Instructions() bool { return m.instr }

// SetFilter keeps only rows whose function or file contains s, ignoring
// case; "" shows all.
func (m *Model) SetFilter(s string) { m.filter = s }

// Filter returns the active filter.
func (m *Model) Filter() string { return m.filter }

// NextThread cycles the view: all threads, then each thread with samples
// in the snapshot in the order they were first seen, then all again.
func (m *Model) NextThread() {
	var idx []int
	for i := range m.snap.perThread {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	for _, i := range idx {
		if i > m.thread {
			m.thread = i
			return
		}
	}
	m.thread = -1
}

// SelectThread restricts rows to the thread at prof index i; -1 shows all.
func (m *Model) SelectThread(i int) { m.thread = i }

// Thread returns the selected thread, and false when all threads are shown.
func (m *Model) Thread() (prof.Thread, bool) {
	if m.thread < 0 || m.thread >= len(m.snap.threads) {
		return prof.Thread{}, false
	}
	return m.snap.threads[m.thread], true
}

func (m *Model) rateUsed() float64 {
	if r := m.snap.health.Rate; r > 0 {
		return r
	}
	if m.rate > 0 {
		return m.rate
	}
	return m.snap.health.AchievedRate()
}

// Stats returns the header numbers of the snapshot.
func (m *Model) Stats() Stats {
	s := m.snap
	st := Stats{
		Target:      s.target,
		Health:      s.health,
		Rate:        m.rateUsed(),
		Threads:     len(s.threads),
		Active:      len(s.perThread),
		Samples:     s.samples,
		ViewSamples: s.samples,
		GILPct:      -1,
		IdlePct:     -1,
		Memory:      s.memory,
	}
	for _, t := range s.threads {
		if t.Pid != s.threads[0].Pid {
			st.MultiPid = true
		}
	}
	if t, ok := m.Thread(); ok {
		st.Thread, st.ThreadSelected = t, true
		st.ViewSamples = s.perThread[m.thread]
	}
	if s.health.Samples > 0 {
		st.GILPct = pct(s.health.GILSamples, s.health.Samples)
	}
	var gc int64
	for _, c := range s.counts {
		if st := int(c.Stack); st >= 0 && st < len(m.stacks) && len(m.stacks[st]) > 0 {
			if leaf := m.stacks[st][len(m.stacks[st])-1]; int(leaf) < len(m.frames) && m.frames[leaf].gc {
				gc += c.N
			}
		}
	}
	st.GCPct = pct(gc, s.samples)
	if d := s.health.IdleDrops + s.samples; d > 0 {
		st.IdlePct = pct(s.health.IdleDrops, d)
	}
	return st
}

func pct(n, of int64) float64 {
	if of <= 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

// Rows returns the table: aggregated per the current mode and thread,
// filtered, and sorted. It walks the snapshot's stacks each time, which
// keeps the snapshot small and makes every setting apply to it at once.
func (m *Model) Rows() []Row {
	ks, lines := &m.fns, m.lines || m.instr
	if lines {
		ks = &m.lns
	}
	own := make([]int64, len(ks.keys))
	total := make([]int64, len(ks.keys))
	seen := make([]int, len(ks.keys)) // count index + 1 that last added to total
	var all int64
	for ci, cnt := range m.snap.counts {
		if cnt.N <= 0 || (m.thread >= 0 && cnt.Thread != m.thread) {
			continue
		}
		all += cnt.N
		if int(cnt.Stack) < 0 || int(cnt.Stack) >= len(m.stacks) {
			continue
		}
		m.addStack(m.stacks[cnt.Stack], cnt.N, lines, ci+1, seen, own, total)
	}
	ownMem := make([]int64, len(ks.keys))
	totalMem := make([]int64, len(ks.keys))
	clear(seen)
	for ci, mc := range m.snap.mem {
		if mc.Grow <= 0 || (m.thread >= 0 && mc.Thread != m.thread) || int(mc.Stack) < 0 || int(mc.Stack) >= len(m.stacks) {
			continue
		}
		m.addStack(m.stacks[mc.Stack], mc.Grow, lines, ci+1, seen, ownMem, totalMem)
	}
	rate := m.rateUsed()
	secs := func(n int64) float64 {
		if rate <= 0 {
			return 0
		}
		return float64(n) / rate
	}
	filter := strings.ToLower(m.filter)
	var rows []Row
	for id, k := range ks.keys {
		if total[id] == 0 {
			continue
		}
		if filter != "" && !strings.Contains(strings.ToLower(k.Name), filter) &&
			!strings.Contains(strings.ToLower(k.File), filter) {
			continue
		}
		rows = append(rows, Row{
			Name: k.Name, File: k.File, Line: k.Line, Kind: ks.kinds[id],
			Own: own[id], Total: total[id],
			OwnPct: pct(own[id], all), TotalPct: pct(total[id], all),
			OwnTime: secs(own[id]), TotalTime: secs(total[id]),
			OwnMem: ownMem[id], TotalMem: totalMem[id],
		})
	}
	slices.SortFunc(rows, m.compare)
	return rows
}

// addStack adds v to the own value of stack's innermost row and to the
// total of every row on it. A recursive function is on the stack once as
// far as totals go: the sample spent its time in it once (seen, marked
// with mark, remembers the rows already counted for this stack).
func (m *Model) addStack(stack []prof.FrameID, v int64, lines bool, mark int, seen []int, own, total []int64) {
	leaf := int32(-1)
	for _, fid := range stack {
		if int(fid) < 0 || int(fid) >= len(m.frames) || m.frames[fid].skip || m.frames[fid].instr != m.instr {
			continue
		}
		id := m.frames[fid].fn
		if lines {
			id = m.frames[fid].ln
		}
		if seen[id] != mark {
			seen[id] = mark
			total[id] += v
		}
		leaf = id
	}
	if leaf >= 0 {
		own[leaf] += v
	}
}

// compare orders largest first by the active key; ties fall to the other
// measure and then to name, file and line so the order never flickers
// between refreshes.
func (m *Model) compare(a, b Row) int {
	primary, secondary := a.Own, a.Total
	bp, bs := b.Own, b.Total
	switch m.sort {
	case SortTotal, SortTotalTime:
		primary, secondary, bp, bs = a.Total, a.Own, b.Total, b.Own
	case SortOwnMem:
		primary, secondary, bp, bs = a.OwnMem, a.TotalMem, b.OwnMem, b.TotalMem
	case SortTotalMem:
		primary, secondary, bp, bs = a.TotalMem, a.OwnMem, b.TotalMem, b.OwnMem
	}
	c := cmp.Compare(bp, primary)
	if c == 0 {
		c = cmp.Compare(bs, secondary)
	}
	if c == 0 {
		c = cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	}
	if m.reverse {
		return -c
	}
	return c
}
