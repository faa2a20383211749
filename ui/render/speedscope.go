package render

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// Speedscope writes speedscope's file format
// (https://www.speedscope.app/file-format-schema.json): the profile's frames
// as the shared frame table and one "sampled" profile per thread, named
// `Thread TID "name"` as py-spy names them and ordered busiest first (the
// one speedscope opens). Samples are root-first lists of frame indices.
// With a timeline they are in time order (consecutive identical stacks
// merged), so speedscope's default "Time Order" view is the program's
// timeline; without one they are the aggregates in stack id order. Weights
// are seconds (samples times the sampling interval) when the rate is
// known, else sample counts with unit "none".
type Speedscope struct{}

func (Speedscope) Name() string { return "speedscope" }
func (Speedscope) Ext() string  { return ".speedscope.json" }

const speedscopeSchema = "https://www.speedscope.app/file-format-schema.json"

type ssFile struct {
	Schema             string      `json:"$schema"`
	Shared             ssShared    `json:"shared"`
	Profiles           []ssProfile `json:"profiles"`
	Name               string      `json:"name,omitempty"`
	ActiveProfileIndex int         `json:"activeProfileIndex"`
	Exporter           string      `json:"exporter"`
}

type ssShared struct {
	Frames []ssFrame `json:"frames"`
}

type ssFrame struct {
	Name string `json:"name"`
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
}

type ssProfile struct {
	Type       string    `json:"type"`
	Name       string    `json:"name"`
	Unit       string    `json:"unit"`
	StartValue float64   `json:"startValue"`
	EndValue   float64   `json:"endValue"`
	Samples    [][]int32 `json:"samples"`
	Weights    []float64 `json:"weights"`

	count int64 // samples, for the order
}

func (Speedscope) Write(w io.Writer, p *prof.Profile, o Options) error {
	if err := checkCounts(p); err != nil {
		return err
	}
	f := ssFile{
		Schema:   speedscopeSchema,
		Name:     o.Title,
		Exporter: "pyspyglass",
		Shared:   ssShared{Frames: make([]ssFrame, len(p.Frames))},
		Profiles: []ssProfile{},
	}
	if f.Name == "" {
		f.Name = p.Target
	}
	for i, fr := range p.Frames {
		name := fr.Name
		if name == "" {
			name = "<unknown>"
		}
		f.Shared.Frames[i] = ssFrame{Name: name, File: fr.File, Line: fr.Line}
	}
	unit, weight := "none", 1.0
	if iv := samplingPeriod(p); iv > 0 {
		unit, weight = "seconds", iv.Seconds()
	}
	stack := func(id prof.StackID) []int32 {
		s := make([]int32, len(p.Stacks[id]))
		for i, fr := range p.Stacks[id] {
			s[i] = int32(fr)
		}
		return s
	}
	// One profile per OS thread: a thread renamed while recorded (the main
	// thread once threading is imported) is still one thread.
	type key struct{ pid, tid int }
	pids := map[int]bool{}
	for _, t := range p.Threads {
		pids[t.Pid] = true
	}
	byThread := map[key]*ssProfile{}
	var order []*ssProfile
	get := func(t int) *ssProfile {
		th := p.Threads[t]
		k := key{th.Pid, th.TID}
		sp := byThread[k]
		if sp == nil {
			sp = &ssProfile{Type: "sampled", Unit: unit, Samples: [][]int32{}, Weights: []float64{}}
			byThread[k] = sp
			order = append(order, sp)
		}
		name := fmt.Sprintf("Thread %d %q", th.TID, th.Name)
		if len(pids) > 1 {
			name = fmt.Sprintf("Process %d %s", th.Pid, name)
		}
		sp.Name = name // the latest name wins
		return sp
	}
	if len(p.Timeline) > 0 {
		last := map[*ssProfile]prof.StackID{}
		for _, s := range sortedTimeline(p) {
			if err := checkIDs(p, s.Stack, s.Thread); err != nil {
				return err
			}
			sp := get(s.Thread)
			if prev, ok := last[sp]; ok && prev == s.Stack {
				sp.Weights[len(sp.Weights)-1]++
			} else {
				sp.Samples = append(sp.Samples, stack(s.Stack))
				sp.Weights = append(sp.Weights, 1)
			}
			sp.count++
			last[sp] = s.Stack
		}
	} else {
		for _, c := range p.Counts() {
			sp := get(c.Thread)
			sp.Samples = append(sp.Samples, stack(c.Stack))
			sp.Weights = append(sp.Weights, float64(c.N))
			sp.count += c.N
		}
	}
	slices.SortStableFunc(order, func(a, b *ssProfile) int { return cmp.Compare(b.count, a.count) })
	for _, sp := range order {
		// Counts until here: one product each, no sum of rounded steps.
		for i := range sp.Weights {
			sp.Weights[i] *= weight
		}
		sp.EndValue = float64(sp.count) * weight
		f.Profiles = append(f.Profiles, *sp)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(f)
}

// sortedTimeline is the timeline in time order; the sampler appends in
// order already, and the stable sort keeps ties (one round's threads, or
// n>1 samples added at once) as recorded.
func sortedTimeline(p *prof.Profile) []prof.Sample {
	if slices.IsSortedFunc(p.Timeline, cmpSampleAt) {
		return p.Timeline
	}
	s := slices.Clone(p.Timeline)
	slices.SortStableFunc(s, cmpSampleAt)
	return s
}

func cmpSampleAt(a, b prof.Sample) int {
	switch {
	case a.At < b.At:
		return -1
	case a.At > b.At:
		return 1
	}
	return 0
}
