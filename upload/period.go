// Package upload sends a recording to a profiling backend as it goes: the
// recording is cut into periods, each period is encoded (OTLP profiles or
// Pyroscope's ingest API), queued in a bounded queue and sent with retries,
// and optionally kept as a local pprof file too. Sampling never waits for a
// backend: a period that cannot be sent waits in the queue, and when the
// queue is full the oldest one is dropped and counted.
package upload

import (
	"time"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// Period is what was sampled between From and Until, as a profile of its
// own: it holds only the frames, stacks and threads that the period used,
// so it can be encoded and sent without touching the live profile.
type Period struct {
	Seq         int // 1, 2, ... in the order the periods were cut
	From, Until time.Time
	Profile     *prof.Profile
}

// Cutter cuts periods from a growing profile. It remembers the counts at
// the last cut and hands out the difference, so the live profile (and the
// whole-recording output written from it) is left as it is.
type Cutter struct {
	last   map[cutKey]int64
	health prof.Health
	start  time.Time // the source profile's Start at the last cut
	from   time.Time
	seq    int
}

type cutKey struct {
	stack  prof.StackID
	thread int
}

// NewCutter returns a cutter whose first period starts when the source
// profile's sampling started.
func NewCutter() *Cutter {
	return &Cutter{last: map[cutKey]int64{}}
}

// Cut returns what p gained since the previous cut, as a period ending at
// now. p must not change meanwhile: give it the sampler's Snapshot.
func (c *Cutter) Cut(p *prof.Profile, now time.Time) Period {
	if !p.Start.Equal(c.start) {
		// First cut, or the source was reset (top's window): counts
		// start again from zero.
		clear(c.last)
		c.health = prof.Health{}
		c.start = p.Start
		if c.from.IsZero() || c.from.Before(p.Start) {
			c.from = p.Start
		}
	}
	c.seq++
	out := prof.New(c.from)
	out.Target = p.Target
	h := p.Health
	out.Health = prof.Health{
		Rate:       h.Rate,
		Samples:    h.Samples - c.health.Samples,
		Errors:     h.Errors - c.health.Errors,
		Late:       h.Late - c.health.Late,
		TotalLag:   h.TotalLag - c.health.TotalLag,
		Elapsed:    now.Sub(c.from),
		IdleDrops:  h.IdleDrops - c.health.IdleDrops,
		GILSamples: h.GILSamples - c.health.GILSamples,
	}
	c.health = h

	frames := map[prof.FrameID]prof.FrameID{}
	var buf []prof.FrameID
	for _, n := range p.Counts() {
		k := cutKey{n.Stack, n.Thread}
		d := n.N - c.last[k]
		c.last[k] = n.N
		if d <= 0 {
			continue
		}
		buf = buf[:0]
		for _, f := range p.Stacks[n.Stack] {
			id, ok := frames[f]
			if !ok {
				id = out.Frame(p.Frames[f])
				frames[f] = id
			}
			buf = append(buf, id)
		}
		out.Add(out.Stack(buf), out.Thread(p.Threads[n.Thread]), 0, d)
	}
	per := Period{Seq: c.seq, From: c.from, Until: now, Profile: out}
	c.from = now
	return per
}
