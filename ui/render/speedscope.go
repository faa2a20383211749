package render

import (
	"encoding/json"
	"io"
	"slices"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// Speedscope writes speedscope's file format
// (https://www.speedscope.app/file-format-schema.json): the profile's frames
// as the shared frame table and one "sampled" profile per thread, whose
// samples are root-first lists of frame indices weighted by sample counts.
// With a timeline the samples are in time order (consecutive identical
// stacks merged), so speedscope's "Time Order" view is meaningful; without
// one they are the aggregates in stack id order.
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
	StartValue int64     `json:"startValue"`
	EndValue   int64     `json:"endValue"`
	Samples    [][]int32 `json:"samples"`
	Weights    []int64   `json:"weights"`
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
	stack := func(id prof.StackID) []int32 {
		s := make([]int32, len(p.Stacks[id]))
		for i, fr := range p.Stacks[id] {
			s[i] = int32(fr)
		}
		return s
	}
	perThread := make([]*ssProfile, len(p.Threads))
	get := func(t int) *ssProfile {
		if perThread[t] == nil {
			perThread[t] = &ssProfile{Type: "sampled", Name: threadName(p.Threads[t]), Unit: "none",
				Samples: [][]int32{}, Weights: []int64{}}
		}
		return perThread[t]
	}
	if len(p.Timeline) > 0 {
		last := make([]prof.StackID, len(p.Threads))
		for _, s := range sortedTimeline(p) {
			if err := checkIDs(p, s.Stack, s.Thread); err != nil {
				return err
			}
			sp := get(s.Thread)
			if n := len(sp.Weights); n > 0 && last[s.Thread] == s.Stack {
				sp.Weights[n-1]++
			} else {
				sp.Samples = append(sp.Samples, stack(s.Stack))
				sp.Weights = append(sp.Weights, 1)
			}
			sp.EndValue++
			last[s.Thread] = s.Stack
		}
	} else {
		for _, c := range p.Counts() {
			sp := get(c.Thread)
			sp.Samples = append(sp.Samples, stack(c.Stack))
			sp.Weights = append(sp.Weights, c.N)
			sp.EndValue += c.N
		}
	}
	for _, sp := range perThread {
		if sp != nil {
			f.Profiles = append(f.Profiles, *sp)
		}
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
