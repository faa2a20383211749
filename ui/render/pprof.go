package render

import (
	"io"
	"slices"

	"github.com/google/pprof/profile"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// Pprof writes the gzipped profile.proto that go tool pprof, Pyroscope and
// Parca read, built with google/pprof's profile package. Each (stack,
// thread) aggregate is one sample with two values, samples/count and
// cpu/nanoseconds (count × the requested sampling period), and labels
// "thread" (name), "thread_id" and "pid", so pprof's -tagfocus can pick
// threads. Each interned frame is one Location with one Line; functions are
// shared by name and file and carry their first line (start_line). The
// interpreter's executable is the main mapping (path and build id), which
// pprof names as the profiled binary; its functions are already symbolised.
// Target and health go into the comments.
type Pprof struct{}

func (Pprof) Name() string { return "pprof" }
func (Pprof) Ext() string  { return ".pb.gz" }

func (Pprof) Write(w io.Writer, p *prof.Profile, o Options) error {
	pp, err := toPprof(p)
	if err != nil {
		return err
	}
	return pp.Write(w)
}

func toPprof(p *prof.Profile) (*profile.Profile, error) {
	if err := checkCounts(p); err != nil {
		return nil, err
	}
	period := int64(samplingPeriod(p))
	pp := &profile.Profile{
		SampleType: []*profile.ValueType{
			{Type: "samples", Unit: "count"},
			{Type: "cpu", Unit: "nanoseconds"},
		},
		PeriodType:    &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:        period,
		DurationNanos: int64(p.Health.Elapsed),
	}
	if period == 0 {
		// Without a rate the time values are all zero; count is the
		// meaningful default.
		pp.DefaultSampleType = "samples"
	}
	if !p.Start.IsZero() {
		pp.TimeNanos = p.Start.UnixNano()
	}
	if p.Target != "" {
		pp.Comments = append(pp.Comments, "target: "+p.Target)
	}
	pp.Comments = append(pp.Comments, "pyspyglass: "+healthLine(p))
	mem := map[[2]int][2]int64{}
	if p.Memory {
		// Resident memory growth and shrinkage between rounds, attributed
		// to the stack running (an estimate, like austin's memory mode).
		pp.SampleType = append(pp.SampleType,
			&profile.ValueType{Type: "alloc_space", Unit: "bytes"},
			&profile.ValueType{Type: "free_space", Unit: "bytes"})
		pp.Comments = append(pp.Comments, "alloc_space/free_space: resident memory growth/shrinkage between samples, attributed to the stack running (estimate)")
		for _, m := range p.MemoryCounts() {
			if err := checkIDs(p, m.Stack, m.Thread); err != nil {
				return nil, err
			}
			mem[[2]int{int(m.Stack), m.Thread}] = [2]int64{m.Grow, m.Shrink}
		}
	}

	main := &profile.Mapping{ID: 1, File: p.Binary.Path, BuildID: p.Binary.BuildID,
		HasFunctions: true, HasFilenames: true, HasLineNumbers: true}
	if main.File == "" {
		main.File = "python" // a profile from before the binary was recorded
	}
	pp.Mapping = []*profile.Mapping{main}
	// Native frames (--native) sit in their own binaries: one mapping
	// each, with its path and build id, so pprof names the object.
	mappings := map[string]*profile.Mapping{main.File: main}
	mappingOf := func(f prof.Frame) *profile.Mapping {
		if f.Kind != prof.KindNative || f.Module == "" {
			return main
		}
		m := mappings[f.Module]
		if m == nil {
			m = &profile.Mapping{ID: uint64(len(pp.Mapping) + 1), File: f.Module, BuildID: f.BuildID,
				HasFunctions: true, HasFilenames: true, HasLineNumbers: true}
			mappings[f.Module] = m
			pp.Mapping = append(pp.Mapping, m)
		}
		return m
	}

	type fnKey struct{ name, file string }
	funcs := map[fnKey]*profile.Function{}
	locs := make([]*profile.Location, len(p.Frames))
	for i, f := range p.Frames {
		k := fnKey{f.Name, f.File}
		fn := funcs[k]
		if fn == nil {
			// SystemName stays empty: pprof treats a function whose
			// SystemName equals its Name as not yet demangled and strips
			// "<...>" from it as if it were C++, which would turn Python's
			// "<module>" and "<lambda>" into nothing.
			name := f.Name
			if name == "" {
				name = "<unknown>"
			}
			fn = &profile.Function{ID: uint64(len(pp.Function) + 1), Name: name, Filename: f.File, StartLine: int64(f.FirstLine)}
			funcs[k] = fn
			pp.Function = append(pp.Function, fn)
		}
		locs[i] = &profile.Location{ID: uint64(i + 1), Mapping: mappingOf(f), Line: []profile.Line{{Function: fn, Line: int64(f.Line)}}}
	}
	pp.Location = locs

	// A thread's labels are one pair of maps that its samples share: the
	// library only reads them, and a map per sample costs more than the
	// sample.
	type labels struct {
		str map[string][]string
		num map[string][]int64
	}
	byThread := make([]*labels, len(p.Threads))
	for _, c := range p.Counts() {
		stack := p.Stacks[c.Stack]
		s := &profile.Sample{
			Location: make([]*profile.Location, 0, len(stack)),
			Value:    []int64{c.N, c.N * period},
		}
		if p.Memory {
			m := mem[[2]int{int(c.Stack), c.Thread}]
			s.Value = append(s.Value, m[0], m[1])
		}
		// pprof lists a sample's locations leaf first.
		for _, f := range slices.Backward(stack) {
			s.Location = append(s.Location, locs[f])
		}
		l := byThread[c.Thread]
		if l == nil {
			t := p.Threads[c.Thread]
			l = &labels{num: map[string][]int64{"thread_id": {int64(t.TID)}, "pid": {int64(t.Pid)}}}
			if t.Name != "" {
				l.str = map[string][]string{"thread": {t.Name}}
			}
			byThread[c.Thread] = l
		}
		s.Label, s.NumLabel = l.str, l.num
		pp.Sample = append(pp.Sample, s)
	}
	if err := pp.CheckValid(); err != nil {
		return nil, err
	}
	return pp, nil
}
