package top

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// rowText is a row as one comparable line.
func rowText(r Row) string {
	loc := r.File
	if r.Line > 0 {
		loc = fmt.Sprintf("%s:%d", r.File, r.Line)
	}
	return fmt.Sprintf("%s (%s) own=%d total=%d %.1f%% %.1f%% %.2fs %.2fs",
		r.Name, loc, r.Own, r.Total, r.OwnPct, r.TotalPct, r.OwnTime, r.TotalTime)
}

func rowTexts(rows []Row) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = rowText(r)
	}
	return out
}

func TestModelRows(t *testing.T) {
	const (
		inner   = "inner (lib.py) own=50 total=50 50.0% 50.0% 0.50s 0.50s"
		compute = "compute (app.py) own=20 total=70 20.0% 70.0% 0.20s 0.70s"
		fib     = "fib (fib.py) own=20 total=20 20.0% 20.0% 0.20s 0.20s" // recursion counted once per stack
		run     = "run (worker.py) own=10 total=30 10.0% 30.0% 0.10s 0.30s"
		main    = "main (app.py) own=0 total=70 0.0% 70.0% 0.00s 0.70s"
	)
	tests := []struct {
		name   string
		setup  func(m *Model)
		want   []string
		thread string // selected thread name, "" for all
	}{
		{
			name:  "default sorts by %Own, ties by %Total",
			setup: func(m *Model) {},
			want:  []string{inner, compute, fib, run, main},
		},
		{
			name:  "%Total, ties by %Own",
			setup: func(m *Model) { m.SetSort(SortTotal) },
			want:  []string{compute, main, inner, run, fib},
		},
		{
			name:  "OwnTime orders as %Own",
			setup: func(m *Model) { m.SetSort(SortOwnTime) },
			want:  []string{inner, compute, fib, run, main},
		},
		{
			name:  "TotalTime orders as %Total",
			setup: func(m *Model) { m.SetSort(SortTotalTime) },
			want:  []string{compute, main, inner, run, fib},
		},
		{
			name:  "same key again reverses",
			setup: func(m *Model) { m.SetSort(SortOwn) },
			want:  []string{main, run, fib, compute, inner},
		},
		{
			name:  "third press restores",
			setup: func(m *Model) { m.SetSort(SortTotal); m.SetSort(SortTotal); m.SetSort(SortTotal) },
			want:  []string{compute, main, inner, run, fib},
		},
		{
			name:  "new key starts largest first",
			setup: func(m *Model) { m.SetSort(SortOwn); m.SetSort(SortTotal) },
			want:  []string{compute, main, inner, run, fib},
		},
		{
			name:  "filter matches file",
			setup: func(m *Model) { m.SetFilter("app.py") },
			want:  []string{compute, main},
		},
		{
			name:  "filter matches function, ignoring case",
			setup: func(m *Model) { m.SetFilter("FIB") },
			want:  []string{fib},
		},
		{
			name:  "filter matching nothing",
			setup: func(m *Model) { m.SetFilter("nope") },
			want:  []string{},
		},
		{
			name:  "by line",
			setup: func(m *Model) { m.SetLines(true) },
			want: []string{
				"inner (lib.py:5) own=50 total=50 50.0% 50.0% 0.50s 0.50s",
				"compute (app.py:21) own=20 total=20 20.0% 20.0% 0.20s 0.20s",
				"fib (fib.py:4) own=20 total=20 20.0% 20.0% 0.20s 0.20s",
				"run (worker.py:7) own=10 total=30 10.0% 30.0% 0.10s 0.30s",
				"main (app.py:10) own=0 total=70 0.0% 70.0% 0.00s 0.70s",
				"compute (app.py:20) own=0 total=50 0.0% 50.0% 0.00s 0.50s",
				"fib (fib.py:3) own=0 total=20 0.0% 20.0% 0.00s 0.20s",
			},
		},
		{
			name:  "by line sorted by %Total",
			setup: func(m *Model) { m.SetLines(true); m.SetSort(SortTotal) },
			want: []string{
				"main (app.py:10) own=0 total=70 0.0% 70.0% 0.00s 0.70s",
				"inner (lib.py:5) own=50 total=50 50.0% 50.0% 0.50s 0.50s",
				"compute (app.py:20) own=0 total=50 0.0% 50.0% 0.00s 0.50s",
				"run (worker.py:7) own=10 total=30 10.0% 30.0% 0.10s 0.30s",
				"compute (app.py:21) own=20 total=20 20.0% 20.0% 0.20s 0.20s",
				"fib (fib.py:4) own=20 total=20 20.0% 20.0% 0.20s 0.20s",
				"fib (fib.py:3) own=0 total=20 0.0% 20.0% 0.00s 0.20s",
			},
		},
		{
			name:   "one thread: shares of that thread's samples",
			setup:  func(m *Model) { m.NextThread() },
			thread: "MainThread",
			want: []string{
				"inner (lib.py) own=50 total=50 71.4% 71.4% 0.50s 0.50s",
				"compute (app.py) own=20 total=70 28.6% 100.0% 0.20s 0.70s",
				"main (app.py) own=0 total=70 0.0% 100.0% 0.00s 0.70s",
			},
		},
		{
			name:   "second thread",
			setup:  func(m *Model) { m.NextThread(); m.NextThread() },
			thread: "worker",
			want: []string{
				"fib (fib.py) own=20 total=20 66.7% 66.7% 0.20s 0.20s",
				"run (worker.py) own=10 total=30 33.3% 100.0% 0.10s 0.30s",
			},
		},
		{
			name:  "cycle skips the thread without samples and returns to all",
			setup: func(m *Model) { m.NextThread(); m.NextThread(); m.NextThread() },
			want:  []string{inner, compute, fib, run, main},
		},
		{
			name:   "thread and filter combine",
			setup:  func(m *Model) { m.NextThread(); m.SetFilter("main") },
			thread: "MainThread",
			want:   []string{"main (app.py) own=0 total=70 0.0% 100.0% 0.00s 0.70s"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewModel(false, 0)
			m.Update(fixture())
			tc.setup(m)
			got := rowTexts(m.Rows())
			if !slices.Equal(got, tc.want) {
				t.Errorf("rows:\n got  %q\n want %q", got, tc.want)
			}
			th, ok := m.Thread()
			if ok != (tc.thread != "") || th.Name != tc.thread {
				t.Errorf("thread = %+v, %v; want %q", th, ok, tc.thread)
			}
		})
	}
}

func TestModelStats(t *testing.T) {
	m := NewModel(false, 0)
	m.Update(fixture())
	st := m.Stats()
	want := Stats{
		Target: "pid 100 python app.py",
		Health: prof.Health{Rate: 100, Samples: 80, Errors: 2, Late: 1,
			Elapsed: 800 * time.Millisecond, IdleDrops: 60, GILSamples: 40},
		Rate: 100, Threads: 3, Active: 2, Samples: 100, ViewSamples: 100,
		GILPct: 50, IdlePct: 37.5,
	}
	if st != want {
		t.Errorf("stats:\n got  %+v\n want %+v", st, want)
	}
	m.NextThread()
	st = m.Stats()
	if !st.ThreadSelected || st.Thread.TID != 100 || st.ViewSamples != 70 || st.Samples != 100 {
		t.Errorf("thread stats = %+v", st)
	}
}

func TestModelEdgeCases(t *testing.T) {
	t.Run("empty profile", func(t *testing.T) {
		m := NewModel(false, 0)
		m.Update(prof.New(time.Time{}))
		if rows := m.Rows(); len(rows) != 0 {
			t.Errorf("rows = %v", rows)
		}
		st := m.Stats()
		if st.GILPct != -1 || st.IdlePct != -1 {
			t.Errorf("unknown shares = %v, %v; want -1", st.GILPct, st.IdlePct)
		}
		m.NextThread()
		if _, ok := m.Thread(); ok {
			t.Error("NextThread selected a thread in an empty profile")
		}
	})
	t.Run("no rate in profile uses the fallback", func(t *testing.T) {
		p := prof.New(time.Time{})
		p.Add(p.Stack([]prof.FrameID{p.Frame(prof.Frame{Name: "f", File: "a.py"})}), p.Thread(prof.Thread{TID: 1}), 0, 50)
		m := NewModel(false, 10)
		m.Update(p)
		if got := rowTexts(m.Rows()); !slices.Equal(got, []string{"f (a.py) own=50 total=50 100.0% 100.0% 5.00s 5.00s"}) {
			t.Errorf("rows = %q", got)
		}
	})
	t.Run("stack of only synthetic frames counts in the denominator", func(t *testing.T) {
		p := prof.New(time.Time{})
		p.Health.Rate = 100
		th := p.Thread(prof.Thread{TID: 1})
		proc := p.Frame(prof.Frame{Name: "pid 1", Kind: prof.KindProcess})
		p.Add(p.Stack([]prof.FrameID{proc}), th, 0, 3)
		p.Add(p.Stack([]prof.FrameID{proc, p.Frame(prof.Frame{Name: "<idle>", Kind: prof.KindOther})}), th, 0, 1)
		m := NewModel(false, 0)
		m.Update(p)
		rows := m.Rows()
		if got := rowTexts(rows); !slices.Equal(got, []string{"<idle> () own=1 total=1 25.0% 25.0% 0.01s 0.01s"}) {
			t.Errorf("rows = %q", got)
		}
		if rows[0].Kind != prof.KindOther {
			t.Errorf("kind = %v", rows[0].Kind)
		}
	})
	t.Run("update does not keep the profile", func(t *testing.T) {
		p := fixture()
		m := NewModel(false, 0)
		m.Update(p)
		before := rowTexts(m.Rows())
		p.Reset(time.Time{})
		p.Threads[0].Name = "renamed"
		m.NextThread()
		m.SelectThread(-1)
		if after := rowTexts(m.Rows()); !slices.Equal(before, after) {
			t.Errorf("rows changed with the profile:\n%q\n%q", before, after)
		}
	})
	t.Run("a selected thread keeps its place after a reset", func(t *testing.T) {
		p := fixture()
		m := NewModel(false, 0)
		m.Update(p)
		m.NextThread()
		p.Reset(time.Time{})
		m.Update(p)
		if th, ok := m.Thread(); !ok || th.Name != "MainThread" {
			t.Errorf("thread = %+v, %v", th, ok)
		}
		if rows := m.Rows(); len(rows) != 0 {
			t.Errorf("rows after reset = %q", rowTexts(rows))
		}
		if m.Stats().ViewSamples != 0 {
			t.Errorf("view samples after reset = %d", m.Stats().ViewSamples)
		}
		m.NextThread()
		if _, ok := m.Thread(); ok {
			t.Error("cycle from a thread without samples did not return to all")
		}
	})
}

func TestModelFollowsTheProfile(t *testing.T) {
	p := fixture()
	m := NewModel(false, 0)
	m.Update(p)
	// New frames and stacks interned after the first update are picked up.
	th := p.Thread(prof.Thread{Pid: 100, TID: 100, Name: "MainThread"})
	p.Add(p.Stack([]prof.FrameID{p.Frame(prof.Frame{Name: "late", File: "late.py"})}), th, 0, 100)
	m.Update(p)
	if got := rowTexts(m.Rows())[0]; got != "late (late.py) own=100 total=100 50.0% 50.0% 1.00s 1.00s" {
		t.Errorf("first row after new samples = %q", got)
	}
	// Another profile replaces the copies instead of extending them.
	q := prof.New(time.Time{})
	q.Health.Rate = 100
	q.Add(q.Stack([]prof.FrameID{q.Frame(prof.Frame{Name: "other", File: "o.py"})}), q.Thread(prof.Thread{TID: 9}), 0, 1)
	m.Update(q)
	if got := rowTexts(m.Rows()); !slices.Equal(got, []string{"other (o.py) own=1 total=1 100.0% 100.0% 0.01s 0.01s"}) {
		t.Errorf("rows of another profile = %q", got)
	}
}

func TestThreadLabel(t *testing.T) {
	p := prof.New(time.Time{})
	f := p.Stack([]prof.FrameID{p.Frame(prof.Frame{Name: "f"})})
	p.Add(f, p.Thread(prof.Thread{Pid: 1, TID: 1, Name: "MainThread"}), 0, 1)
	p.Add(f, p.Thread(prof.Thread{Pid: 2, TID: 5}), 0, 1)
	m := NewModel(false, 0)
	m.Update(p)
	var got []string
	for range 3 {
		m.NextThread()
		st := m.Stats()
		if !st.ThreadSelected {
			got = append(got, "all")
			continue
		}
		got = append(got, threadLabel(st.Thread, st.MultiPid))
	}
	want := []string{"MainThread (pid 1 tid 1)", "thread (pid 2 tid 5)", "all"}
	if !slices.Equal(got, want) {
		t.Errorf("labels = %q, want %q", got, want)
	}
}
