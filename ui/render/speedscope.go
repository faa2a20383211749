package render

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"

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

func (Speedscope) Write(w io.Writer, p *prof.Profile, o Options) error {
	if err := checkCounts(p); err != nil {
		return err
	}
	for _, s := range p.Timeline {
		if err := checkIDs(p, s.Stack, s.Thread); err != nil {
			return err
		}
	}
	name := o.Title
	if name == "" {
		name = p.Target
	}
	unit, weight := "none", 1.0
	if iv := samplingPeriod(p); iv > 0 {
		unit, weight = "seconds", iv.Seconds()
	}
	// One profile per OS thread: a thread renamed while recorded (the main
	// thread once threading is imported) is still one thread, named by
	// its latest name.
	type key struct{ pid, tid int }
	pids := map[int]bool{}
	for _, t := range p.Threads {
		pids[t.Pid] = true
	}
	index := map[key]int{}
	group := make([]int, len(p.Threads)) // thread -> profile
	var profiles []ssProfile
	for i, th := range p.Threads {
		k := key{th.Pid, th.TID}
		g, ok := index[k]
		if !ok {
			g = len(profiles)
			index[k] = g
			profiles = append(profiles, ssProfile{first: -1})
		}
		group[i] = g
	}
	// The samples, one profile after the other, are read from the model
	// as they are written: timeline entries (or aggregates) by profile,
	// as indices (4 bytes each) rather than copies.
	timeline := len(p.Timeline) > 0
	var entries []prof.Sample
	var counts []prof.Count
	var n int
	if timeline {
		entries = sortedTimeline(p)
		n = len(entries)
	} else {
		counts = p.Counts()
		n = len(counts)
	}
	thread := func(i int32) int {
		if timeline {
			return entries[i].Thread
		}
		return counts[i].Thread
	}
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
		th := thread(int32(i))
		sp := &profiles[group[th]]
		sp.thread = th // the latest name wins
		if timeline {
			sp.count++
		} else {
			sp.count += counts[i].N
		}
		// Seen first: the order among profiles of equal counts.
		if sp.first < 0 {
			sp.first = i
		}
	}
	// By profile, then as recorded (a stable sort keeps the order).
	slices.SortStableFunc(order, func(a, b int32) int { return group[thread(a)] - group[thread(b)] })
	shown := make([]int, 0, len(profiles))
	for g, sp := range profiles {
		if sp.first >= 0 {
			shown = append(shown, g)
		}
	}
	slices.SortStableFunc(shown, func(a, b int) int {
		return cmp.Or(cmp.Compare(profiles[b].count, profiles[a].count), cmp.Compare(profiles[a].first, profiles[b].first))
	})

	bw := bufio.NewWriterSize(w, 1<<16)
	var num []byte
	bw.WriteString(`{"$schema":` + jsonString(speedscopeSchema) + `,"shared":{"frames":[`)
	for i, fr := range p.Frames {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString(`{"name":` + jsonString(cmp.Or(fr.Name, "<unknown>")))
		if fr.File != "" {
			bw.WriteString(`,"file":` + jsonString(fr.File))
		}
		if fr.Line != 0 {
			bw.WriteString(`,"line":` + strconv.Itoa(fr.Line))
		}
		bw.WriteByte('}')
	}
	bw.WriteString(`]},"profiles":[`)
	start := 0
	for i, g := range shown {
		sp := profiles[g]
		// order holds the profiles in group order; find g's run.
		start, _ = slices.BinarySearchFunc(order, g, func(e int32, g int) int { return group[thread(e)] - g })
		end := start
		for end < len(order) && group[thread(order[end])] == g {
			end++
		}
		run := order[start:end]
		stackOf := func(e int32) prof.StackID {
			if timeline {
				return entries[e].Stack
			}
			return counts[e].Stack
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		th := p.Threads[sp.thread]
		label := fmt.Sprintf("Thread %d %q", th.TID, th.Name)
		if len(pids) > 1 {
			label = fmt.Sprintf("Process %d %s", th.Pid, label)
		}
		bw.WriteString(`{"type":"sampled","name":` + jsonString(label) + `,"unit":` + jsonString(unit) + `,"startValue":0,"endValue":`)
		num = appendJSONFloat(num[:0], float64(sp.count)*weight)
		bw.Write(num)
		// With a timeline, consecutive samples of one stack are one
		// entry: its weight is the run's length.
		bw.WriteString(`,"samples":[`)
		for j, e := range run {
			if timeline && j > 0 && stackOf(run[j-1]) == stackOf(e) {
				continue
			}
			if j > 0 {
				bw.WriteByte(',')
			}
			bw.WriteByte('[')
			for k, f := range p.Stacks[stackOf(e)] {
				if k > 0 {
					bw.WriteByte(',')
				}
				num = strconv.AppendInt(num[:0], int64(f), 10)
				bw.Write(num)
			}
			bw.WriteByte(']')
		}
		bw.WriteString(`],"weights":[`)
		for j := 0; j < len(run); {
			k, n := j+1, int64(1)
			if timeline {
				for k < len(run) && stackOf(run[k]) == stackOf(run[j]) {
					k++
				}
				n = int64(k - j)
			} else {
				n = counts[run[j]].N
			}
			if j > 0 {
				bw.WriteByte(',')
			}
			// Counts until here: one product each, no sum of rounded steps.
			num = appendJSONFloat(num[:0], float64(n)*weight)
			bw.Write(num)
			j = k
		}
		bw.WriteString(`]}`)
	}
	bw.WriteByte(']')
	if name != "" {
		bw.WriteString(`,"name":` + jsonString(name))
	}
	bw.WriteString(`,"activeProfileIndex":0,"exporter":"pyspyglass"}` + "\n")
	return bw.Flush()
}

// ssProfile is what speedscope's writer knows of one profile before
// writing its samples.
type ssProfile struct {
	thread int   // the thread of its latest entry, which names it
	count  int64 // samples, for the order
	first  int   // its first entry, for the order among equal counts
}

// appendJSONFloat formats f as encoding/json does.
func appendJSONFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 as e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
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
