package sampler

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/pyabi"
	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// TestRecordAggregation drives the sampler's aggregation without a
// process: stacks as the walk returns them (innermost first) go in, the
// profile's interned stacks (root first), frames and counts come out.
func TestRecordAggregation(t *testing.T) {
	p := prof.New(time.Unix(0, 0))
	s := New(nil, p, Options{Rate: 100, ProcessRoots: true, ThreadRoots: true})
	tg := &Target{Pid: 42, Cmdline: []string{"python", "app.py"}, Cwd: "/srv", Interp: &pyabi.Interpreter{},
		memos: map[uint64]*stackMemo{}, names: map[uint64]string{7: "MainThread"}}
	th := &pyabi.Thread{ThreadID: 7, NativeID: 100}
	main := &pyabi.Code{Name: "main", File: "/srv/app.py", FirstLine: 1}
	work := &pyabi.Code{Name: "work", File: "/usr/lib/python3.12/json/decoder.py", FirstLine: 10}
	other := &pyabi.Code{Name: "other", File: "/srv/app.py", FirstLine: 20}

	at := time.Millisecond
	s.record(tg, th, []pyabi.Frame{{Code: work, Line: 12}, {Code: main, Line: 3}}, false, at)
	s.record(tg, th, []pyabi.Frame{{Code: work, Line: 12}, {Code: main, Line: 3}}, false, at) // the memo's path
	s.record(tg, th, []pyabi.Frame{{Code: other, Line: 21}, {Code: main, Line: 3}}, false, at)
	s.record(tg, th, []pyabi.Frame{{Code: other, Line: 21}, {Code: main, Line: 3}}, true, at) // the collector ran
	s.record(tg, th, []pyabi.Frame{{Code: work, Line: 14}, {Code: main, Line: 3}}, false, at) // another line of work

	got := map[string]int64{}
	for _, c := range p.Counts() {
		var names []string
		for _, id := range p.Stacks[c.Stack] {
			f := p.Frames[id]
			if f.Kind == prof.KindPython {
				names = append(names, f.Name+"@"+f.File+":"+strconv.Itoa(f.Line))
			} else {
				names = append(names, f.Name)
			}
		}
		got[strings.Join(names, ";")] += c.N
	}
	roots := `process 42: python app.py;thread 100 "MainThread";main@app.py:3;`
	want := map[string]int64{
		roots + "work@json/decoder.py:12": 2,
		roots + "other@app.py:21":         1,
		roots + "other@app.py:21;<GC>":    1,
		roots + "work@json/decoder.py:14": 1,
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("stack %s: %d samples, want %d", k, got[k], n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("stacks %v, want %v", got, want)
	}
	// main@3 is one frame however many stacks it is in; so is each root.
	var mains int
	for _, f := range p.Frames {
		if f.Name == "main" {
			mains++
		}
	}
	if mains != 1 {
		t.Errorf("main interned %d times", mains)
	}
	if len(p.Threads) != 1 || p.Threads[0] != (prof.Thread{Pid: 42, TID: 100, Name: "MainThread"}) {
		t.Errorf("threads %+v", p.Threads)
	}
	// A renamed thread is a new thread entry and root, the frames stay.
	tg.names[7] = "renamed"
	s.record(tg, th, []pyabi.Frame{{Code: work, Line: 12}, {Code: main, Line: 3}}, false, at)
	if len(p.Threads) != 2 || p.Threads[1].Name != "renamed" {
		t.Errorf("after a rename: threads %+v", p.Threads)
	}
	if !slices.ContainsFunc(p.Frames, func(f prof.Frame) bool { return f.Name == `thread 100 "renamed"` }) {
		t.Error("no root frame for the renamed thread")
	}
}
