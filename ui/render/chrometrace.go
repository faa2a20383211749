package render

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// ChromeTrace writes Chrome's trace event JSON
// (https://docs.google.com/document/d/1CvAClvFfyA2R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU),
// which Perfetto and chrome://tracing open as a timeline. It needs the
// profile's timeline; without one it returns ErrNoTimeline.
//
// Each thread's samples become nested B/E (begin/end) slices, one per stack
// depth: a frame stays open while consecutive samples of that thread keep it
// at the same depth under the same parents. A sample lasts until the next
// sampling round; when the thread is not in that round (it was idle and
// left out, or unreadable) its frames close there, so idle time shows as a
// gap rather than a call bridged across it. A round in which no thread at
// all was sampled leaves no trace, so a gap longer than gapIntervals
// sampling intervals also closes everything, one interval after the last
// sample. The synthetic process and thread root frames (--subprocesses,
// --threads) get no slices: tracks already are processes and threads, and
// the process tracks are named by their command lines. Timestamps are
// microseconds since Profile.Start. Threads sharing a (pid, tid) (a renamed
// thread) share one track.
type ChromeTrace struct{}

func (ChromeTrace) Name() string { return "chrometrace" }
func (ChromeTrace) Ext() string  { return ".trace.json" }

// gapIntervals is how many mean sampling intervals without a sample end a
// thread's open frames. No interval between two rounds is longer than 1.5
// means (the sampler catches up on short delays), so such a gap is a time
// nobody saw: the sampler was stalled, and bridging it would claim a call
// that was not seen to last.
const gapIntervals = 2

// defaultInterval stands in for the sampling interval when the profile does
// not say its rate: py-spy's and our default of 100 Hz.
const defaultInterval = 10 * time.Millisecond

// ctThread is one thread's track: its entries in the timeline, as
// indices (4 bytes each, where a copy would be 24).
type ctThread struct {
	pid, tid int
	name     string
	samples  []int32
}

func (ChromeTrace) Write(w io.Writer, p *prof.Profile, o Options) error {
	if len(p.Timeline) == 0 {
		if p.Total() == 0 {
			// Nothing recorded at all: an empty but valid trace.
			return writeTrace(w, p, o, nil, nil)
		}
		return fmt.Errorf("chrometrace: %w", ErrNoTimeline)
	}
	timeline := sortedTimeline(p)
	type key struct{ pid, tid int }
	byKey := map[key]*ctThread{}
	var threads []*ctThread
	for _, s := range timeline {
		if err := checkIDs(p, s.Stack, s.Thread); err != nil {
			return fmt.Errorf("chrometrace: timeline: %w", err)
		}
		t := p.Threads[s.Thread]
		k := key{t.Pid, t.TID}
		ct := byKey[k]
		if ct == nil {
			ct = &ctThread{pid: t.Pid, tid: t.TID}
			byKey[k] = ct
			threads = append(threads, ct)
		}
		if t.Name != "" {
			ct.name = t.Name
		}
	}
	// All tracks' indices in one array, each track's in time order.
	at := map[*ctThread]int{}
	for _, s := range timeline {
		t := p.Threads[s.Thread]
		at[byKey[key{t.Pid, t.TID}]]++
	}
	all, off := make([]int32, len(timeline)), 0
	for _, ct := range threads {
		n := at[ct]
		ct.samples, off = all[off:off:off+n], off+n
	}
	for i, s := range timeline {
		t := p.Threads[s.Thread]
		ct := byKey[key{t.Pid, t.TID}]
		ct.samples = append(ct.samples, int32(i))
	}
	slices.SortFunc(threads, func(a, b *ctThread) int {
		if a.pid != b.pid {
			return a.pid - b.pid
		}
		return a.tid - b.tid
	})
	return writeTrace(w, p, o, timeline, threads)
}

func writeTrace(w io.Writer, p *prof.Profile, o Options, timeline []prof.Sample, threads []*ctThread) error {
	interval := samplingPeriod(p)
	if interval == 0 {
		interval = defaultInterval
	}
	// Event lines are written by hand: a trace can hold millions of events
	// and every one has the same shape.
	bw := bufio.NewWriter(w)
	str := jsonString
	us := func(d time.Duration) string {
		return strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', -1, 64)
	}
	first := true
	event := func(format string, args ...any) {
		if !first {
			bw.WriteString(",\n")
		}
		first = false
		fmt.Fprintf(bw, format, args...)
	}
	title := o.Title
	if title == "" {
		title = p.Target
	}
	bw.WriteString(`{"displayTimeUnit":"ms","otherData":{"exporter":"pyspyglass","title":` + str(title) +
		`,"target":` + str(p.Target) + `,"start":` + str(p.Start.UTC().Format(time.RFC3339Nano)) +
		`,"health":` + str(healthLine(p)) + "},\n\"traceEvents\":[\n")
	pids := map[int]bool{}
	for _, t := range threads {
		if !pids[t.pid] {
			pids[t.pid] = true
			event(`{"ph":"M","name":"process_name","pid":%d,"tid":0,"args":{"name":%s}}`, t.pid, str(processLabel(p, t.pid)))
		}
		name := t.name
		if name == "" {
			name = "tid " + strconv.Itoa(t.tid)
		}
		event(`{"ph":"M","name":"thread_name","pid":%d,"tid":%d,"args":{"name":%s}}`, t.pid, t.tid, str(name))
	}
	// The round after at: the timeline's first entry past it.
	nextRound := func(at time.Duration) (time.Duration, bool) {
		i := sort.Search(len(timeline), func(i int) bool { return timeline[i].At > at })
		if i == len(timeline) {
			return 0, false
		}
		return timeline[i].At, true
	}
	var stack []prof.FrameID
	for _, t := range threads {
		var open []prof.FrameID
		closeTo := func(depth int, at time.Duration) {
			for len(open) > depth {
				f := p.Frames[open[len(open)-1]]
				event(`{"ph":"E","name":%s,"pid":%d,"tid":%d,"ts":%s}`, str(f.Name), t.pid, t.tid, us(at))
				open = open[:len(open)-1]
			}
		}
		for i, e := range t.samples {
			s := timeline[e]
			stack = stack[:0]
			for _, id := range p.Stacks[s.Stack] {
				if k := p.Frames[id].Kind; k != prof.KindProcess && k != prof.KindThread {
					stack = append(stack, id)
				}
			}
			common := 0
			for common < len(open) && common < len(stack) && open[common] == stack[common] {
				common++
			}
			closeTo(common, s.At)
			for _, id := range stack[common:] {
				f := p.Frames[id]
				event(`{"ph":"B","name":%s,"cat":%s,"pid":%d,"tid":%d,"ts":%s,"args":{"file":%s,"line":%d}}`,
					str(f.Name), str(kindName(f.Kind)), t.pid, t.tid, us(s.At), str(f.File), f.Line)
				open = append(open, id)
			}
			// Where this sample ends: the next round, unless the thread is
			// in it too (a tie at s.At is the same round).
			next, ok := nextRound(s.At)
			switch {
			case !ok || next-s.At > gapIntervals*interval:
				if i+1 == len(t.samples) || timeline[t.samples[i+1]].At != s.At {
					closeTo(0, s.At+interval)
				}
			case i+1 < len(t.samples) && (timeline[t.samples[i+1]].At == next || timeline[t.samples[i+1]].At == s.At):
			default:
				closeTo(0, next)
			}
		}
	}
	bw.WriteString("\n]}\n")
	return bw.Flush()
}

// kindName is a frame kind as a trace category.
func kindName(k prof.Kind) string {
	switch k {
	case prof.KindPython:
		return "python"
	case prof.KindNative:
		return "native"
	case prof.KindProcess:
		return "process"
	case prof.KindThread:
		return "thread"
	case prof.KindInstruction:
		return "instruction"
	case prof.KindInterpreter:
		return "interpreter"
	default:
		return "other"
	}
}

// processLabel names a process track by its command line: from the
// process root frame when there is one, else from the profile's target.
func processLabel(p *prof.Profile, pid int) string {
	n := strconv.Itoa(pid)
	for _, f := range p.Frames {
		if f.Kind == prof.KindProcess && strings.HasPrefix(f.Name, "process "+n+":") {
			return "pid " + strings.TrimPrefix(f.Name, "process ")
		}
	}
	for _, part := range strings.Split(p.Target, "; ") {
		if strings.HasPrefix(part, "pid "+n+" ") || strings.HasPrefix(part, "pid "+n+":") {
			return part
		}
	}
	return "pid " + n
}
