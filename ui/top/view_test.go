package top

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// harness runs the view on a simulation screen. The loop reports every
// draw through the hook, so a test waits for its key to be handled
// instead of sleeping; the refresh clock is a channel the test ticks.
type harness struct {
	t      *testing.T
	s      tcell.SimulationScreen
	src    *fakeSource
	steps  chan step
	tick   chan time.Time
	errc   chan error
	exited bool
	err    error
}

var testHeader = HeaderInfo{Pids: []int{100}, Command: "python app.py --fast", Python: "3.12.1", Rate: 100}

func start(t *testing.T, w, h int, src *fakeSource, o Options) *harness {
	t.Helper()
	hs := &harness{
		t:     t,
		s:     tcell.NewSimulationScreen("UTF-8"),
		src:   src,
		steps: make(chan step),
		tick:  make(chan time.Time),
		errc:  make(chan error, 1),
	}
	go func() {
		hs.errc <- runOn(hs.s, src, o, hs.tick, func(st step) { hs.steps <- st })
	}()
	hs.wait(func(st step) bool { return st.ev == nil && !st.tick && !st.end })
	hs.resize(w, h)
	t.Cleanup(func() {
		if !hs.exited {
			hs.s.InjectKey(tcell.KeyCtrlC, 0, tcell.ModCtrl)
			hs.result()
		}
	})
	return hs
}

// wait consumes steps until one matches.
func (hs *harness) wait(match func(step) bool) {
	hs.t.Helper()
	for {
		select {
		case st := <-hs.steps:
			if match(st) {
				return
			}
		case err := <-hs.errc:
			hs.exited, hs.err = true, err
			hs.t.Fatalf("view returned early: %v", err)
		}
	}
}

func (hs *harness) resize(w, h int) {
	hs.t.Helper()
	hs.s.SetSize(w, h)
	ev := tcell.NewEventResize(w, h)
	if err := hs.s.PostEvent(ev); err != nil {
		hs.t.Fatalf("post resize: %v", err)
	}
	hs.wait(func(st step) bool { return st.ev == ev })
}

// key presses one key and waits until the view has handled and drawn it.
func (hs *harness) key(k tcell.Key, r rune) {
	hs.t.Helper()
	hs.s.InjectKey(k, r, tcell.ModNone)
	want := tcell.NewEventKey(k, r, tcell.ModNone) // as tcell normalises it
	hs.wait(func(st step) bool {
		ek, ok := st.ev.(*tcell.EventKey)
		return ok && ek.Key() == want.Key() && ek.Rune() == want.Rune()
	})
}

func (hs *harness) press(runes string) {
	hs.t.Helper()
	for _, r := range runes {
		hs.key(tcell.KeyRune, r)
	}
}

func (hs *harness) refresh() {
	hs.t.Helper()
	hs.tick <- time.Time{}
	hs.wait(func(st step) bool { return st.tick })
}

// result waits for the view to return, draining draws on the way.
func (hs *harness) result() error {
	hs.t.Helper()
	if hs.exited {
		return hs.err
	}
	for {
		select {
		case <-hs.steps:
		case err := <-hs.errc:
			hs.exited, hs.err = true, err
			return err
		}
	}
}

// lines returns the screen as text, one string per row, trailing blanks
// trimmed.
func (hs *harness) lines() []string {
	w, h := hs.s.Size()
	out := make([]string, h)
	for y := range h {
		var b strings.Builder
		for x := 0; x < w; x++ {
			str, _, cw := hs.s.Get(x, y)
			b.WriteString(str)
			x += cw - 1
		}
		out[y] = strings.TrimRight(b.String(), " ")
	}
	return out
}

func (hs *harness) screen() string { return strings.Join(hs.lines(), "\n") }

// find returns the first row containing s, or -1.
func (hs *harness) find(s string) int {
	for i, l := range hs.lines() {
		if strings.Contains(l, s) {
			return i
		}
	}
	return -1
}

// tableRows returns the function column of the table rows, top first.
func (hs *harness) tableRows() []string {
	lines := hs.lines()
	head := -1
	for i, l := range lines {
		if strings.Contains(l, "Function (file") {
			head = i
			break
		}
	}
	if head < 0 {
		hs.t.Fatalf("no column header on screen:\n%s", hs.screen())
	}
	var rows []string
	for _, l := range lines[head+1:] {
		f := strings.Fields(l)
		if len(f) < 2 || !strings.HasSuffix(f[0], "%") {
			break
		}
		for _, x := range f {
			if !strings.HasSuffix(x, "%") && !strings.HasSuffix(x, "s") || strings.Contains(x, "(") {
				rows = append(rows, x)
				break
			}
		}
	}
	return rows
}

func (hs *harness) mustShow(s string) {
	hs.t.Helper()
	if hs.find(s) < 0 {
		hs.t.Fatalf("screen lacks %q:\n%s", s, hs.screen())
	}
}

func (hs *harness) mustNotShow(s string) {
	hs.t.Helper()
	if hs.find(s) >= 0 {
		hs.t.Fatalf("screen shows %q:\n%s", s, hs.screen())
	}
}

func TestRenderLooksRight(t *testing.T) {
	// Not an assertion: the log is there to be read (go test -v -run
	// Render) whenever the layout changes.
	src := newFakeSource(fixture())
	hs := start(t, 80, 24, src, Options{Header: testHeader})
	t.Logf("80x24:\n%s", hs.screen())
	hs.resize(40, 10)
	t.Logf("40x10:\n%s", hs.screen())
	hs.resize(10, 3)
	t.Logf("10x3:\n%s", hs.screen())
	hs.resize(80, 24)
	hs.press("?")
	t.Logf("help:\n%s", hs.screen())
	hs.press("xtL/ap")
	t.Logf("thread, lines, typing a filter:\n%s", hs.screen())
	hs.key(tcell.KeyEnter, 0)
	hs.press(" ")
	t.Logf("filter applied, paused:\n%s", hs.screen())
	src.finish(errors.New("read pid 100 thread state at 0x7f00dead: no such process"))
	hs.wait(func(st step) bool { return st.end })
	t.Logf("ended with an error:\n%s", hs.screen())
}

func TestViewShowsHeaderAndTable(t *testing.T) {
	hs := start(t, 80, 24, newFakeSource(fixture()), Options{Header: testHeader})
	lines := hs.lines()
	wantPrefix := []string{
		"pyspyglass top · pid 100 · Python 3.12.1 · python app.py --fast",
		"Samples 80  Elapsed 0.8s  Rate 100/100 Hz  Errors 2 (2.5%)  Late 1",
		"Threads 3 (2 active)  GIL 50.0%  Idle 37.5%  │ all threads",
		"",
		" ▼%Own   %Total   OwnTime   TotalTime  Function (file)",
		" 50.0%    50.0%     0.50s       0.50s  inner (lib.py)",
		" 20.0%    70.0%     0.20s       0.70s  compute (app.py)",
	}
	for i, want := range wantPrefix {
		if lines[i] != want {
			t.Errorf("line %d:\n got  %q\n want %q", i, lines[i], want)
		}
	}
	if got, want := hs.tableRows(), []string{"inner", "compute", "fib", "run", "main"}; !slices.Equal(got, want) {
		t.Errorf("rows = %q, want %q", got, want)
	}
	if !strings.HasPrefix(lines[23], "1-4 Sort L Lines t Thread / Filter") {
		t.Errorf("footer = %q", lines[23])
	}
	// The sorted column and the file are styled apart from the rest.
	_, st, _ := hs.s.Get(1, 4)
	if fg, bg, _ := st.Decompose(); fg != tcell.ColorBlack || bg != tcell.ColorTeal {
		t.Errorf("sorted column header colours = %v on %v", fg, bg)
	}
	x := strings.Index(lines[5], "(lib.py)")
	_, st, _ = hs.s.Get(x, 5)
	if _, _, attr := st.Decompose(); attr&tcell.AttrDim == 0 {
		t.Errorf("file is not dimmed: %v", st)
	}
}

func TestViewSortKeys(t *testing.T) {
	hs := start(t, 80, 24, newFakeSource(fixture()), Options{Header: testHeader})
	tests := []struct {
		key    rune
		marker string
		rows   []string
	}{
		{'2', "▼%Total", []string{"compute", "main", "inner", "run", "fib"}},
		{'2', "▲%Total", []string{"fib", "run", "inner", "main", "compute"}},
		{'3', "▼OwnTime", []string{"inner", "compute", "fib", "run", "main"}},
		{'4', "▼TotalTime", []string{"compute", "main", "inner", "run", "fib"}},
		{'1', "▼%Own", []string{"inner", "compute", "fib", "run", "main"}},
		{'1', "▲%Own", []string{"main", "run", "fib", "compute", "inner"}},
	}
	for _, tc := range tests {
		hs.press(string(tc.key))
		hs.mustShow(tc.marker)
		if got := hs.tableRows(); !slices.Equal(got, tc.rows) {
			t.Errorf("after %q: rows = %q, want %q", tc.key, got, tc.rows)
		}
	}
}

func TestViewLines(t *testing.T) {
	hs := start(t, 80, 24, newFakeSource(fixture()), Options{Header: testHeader})
	hs.press("L")
	hs.mustShow("Function (file:line)")
	hs.mustShow("inner (lib.py:5)")
	if got := hs.tableRows(); len(got) != 7 || got[0] != "inner" {
		t.Errorf("rows by line = %q", got)
	}
	hs.press("L")
	hs.mustShow("Function (file)")
	hs.mustNotShow("lib.py:5")
}

func TestViewLinesOption(t *testing.T) {
	hs := start(t, 80, 24, newFakeSource(fixture()), Options{Header: testHeader, Lines: true})
	hs.mustShow("inner (lib.py:5)")
}

func TestViewThreads(t *testing.T) {
	hs := start(t, 80, 24, newFakeSource(fixture()), Options{Header: testHeader})
	hs.press("t")
	hs.mustShow("│ MainThread (tid 100): 70 samples")
	if got, want := hs.tableRows(), []string{"inner", "compute", "main"}; !slices.Equal(got, want) {
		t.Errorf("MainThread rows = %q, want %q", got, want)
	}
	hs.mustShow(" 71.4%")
	hs.press("t")
	hs.mustShow("│ worker (tid 101): 30 samples")
	if got, want := hs.tableRows(), []string{"fib", "run"}; !slices.Equal(got, want) {
		t.Errorf("worker rows = %q, want %q", got, want)
	}
	hs.press("t")
	hs.mustShow("all threads")
	if got := hs.tableRows(); len(got) != 5 {
		t.Errorf("all-thread rows = %q", got)
	}
}

func TestViewFilter(t *testing.T) {
	hs := start(t, 80, 24, newFakeSource(fixture()), Options{Header: testHeader})
	hs.press("/app")
	hs.mustShow("Filter: app")
	if got, want := hs.tableRows(), []string{"compute", "main"}; !slices.Equal(got, want) {
		t.Errorf("rows while typing = %q, want %q", got, want)
	}
	hs.key(tcell.KeyBackspace2, 0)
	hs.mustShow("Filter: ap")
	hs.press("p")
	hs.key(tcell.KeyEnter, 0)
	hs.mustNotShow("Filter: ")
	hs.mustShow(`filter "app"`)
	if got, want := hs.tableRows(), []string{"compute", "main"}; !slices.Equal(got, want) {
		t.Errorf("rows after Enter = %q, want %q", got, want)
	}
	// Keys act as commands again once the filter is applied.
	hs.press("2")
	hs.mustShow("▼%Total")
	hs.key(tcell.KeyEsc, 0)
	hs.mustNotShow("filter")
	if got := hs.tableRows(); len(got) != 5 {
		t.Errorf("rows after Esc = %q", got)
	}

	hs.press("/zzz")
	hs.mustShow(`no function or file matches "zzz"`)
	hs.key(tcell.KeyEsc, 0)
	hs.mustNotShow("Filter: ")
	if got := hs.tableRows(); len(got) != 5 {
		t.Errorf("rows after Esc while typing = %q", got)
	}
}

// addLate adds 1000 samples of a new function, as the sampler would.
func addLate(p *prof.Profile) {
	th := p.Thread(prof.Thread{Pid: 100, TID: 100, Name: "MainThread"})
	p.Add(p.Stack([]prof.FrameID{p.Frame(prof.Frame{Name: "late", File: "late.py", Line: 1})}), th, 0, 1000)
}

func TestViewRefreshAndPause(t *testing.T) {
	src := newFakeSource(fixture())
	hs := start(t, 80, 24, src, Options{Header: testHeader})
	hs.press(" ")
	hs.mustShow("PAUSED")
	src.with(addLate)
	hs.refresh()
	hs.mustNotShow("late")
	// Sorting still works on the frozen table.
	hs.press("2")
	if got := hs.tableRows(); got[0] != "compute" {
		t.Errorf("rows while paused = %q", got)
	}
	hs.press("1 ")
	hs.mustNotShow("PAUSED")
	if got := hs.tableRows(); got[0] != "late" {
		t.Errorf("rows after resume = %q", got)
	}
	src.with(func(p *prof.Profile) {
		p.Add(p.Stack([]prof.FrameID{p.Frame(prof.Frame{Name: "later", File: "late.py", Line: 2})}), 0, 0, 5000)
	})
	hs.refresh()
	if got := hs.tableRows(); got[0] != "later" {
		t.Errorf("rows after a tick = %q", got)
	}
}

func TestViewReset(t *testing.T) {
	src := newFakeSource(fixture())
	hs := start(t, 80, 24, src, Options{Header: testHeader})
	hs.press("r")
	if resets, _ := src.state(); resets != 1 {
		t.Errorf("resets = %d, want 1", resets)
	}
	hs.mustShow("no samples yet")
	hs.mustShow("Samples 0 ")
	src.with(addLate)
	hs.refresh()
	if got := hs.tableRows(); !slices.Equal(got, []string{"late"}) {
		t.Errorf("rows after reset and new samples = %q", got)
	}
}

func TestViewIdle(t *testing.T) {
	src := newFakeSource(fixture())
	hs := start(t, 80, 24, src, Options{Header: testHeader})
	hs.press("i")
	hs.mustShow("Idle shown")
	hs.press("i")
	hs.mustShow("Idle 37.5%")
	if _, idle := src.state(); !slices.Equal(idle, []bool{true, false}) {
		t.Errorf("SetIdle calls = %v, want [true false]", idle)
	}
	hs2 := start(t, 80, 24, newFakeSource(fixture()), Options{Header: testHeader, ShowIdle: true})
	hs2.mustShow("Idle shown")
}

func TestViewHelp(t *testing.T) {
	hs := start(t, 80, 24, newFakeSource(fixture()), Options{Header: testHeader})
	hs.press("?")
	hs.mustShow("any key closes")
	hs.mustShow("pause the display")
	// q closes the help rather than quitting.
	hs.press("q")
	hs.mustNotShow("any key closes")
	hs.mustShow("inner (lib.py)")
}

func TestViewScroll(t *testing.T) {
	p := prof.New(time.Time{})
	p.Health.Rate = 100
	th := p.Thread(prof.Thread{TID: 1, Name: "MainThread"})
	for i := range 100 {
		f := p.Frame(prof.Frame{Name: fmt.Sprintf("f%03d", i), File: "many.py"})
		p.Add(p.Stack([]prof.FrameID{f}), th, 0, int64(1000-i))
	}
	hs := start(t, 80, 24, newFakeSource(p), Options{Header: testHeader})
	rows := hs.tableRows()
	if len(rows) != 18 || rows[0] != "f000" {
		t.Fatalf("first page = %q", rows)
	}
	hs.mustShow("+82 more")
	hs.key(tcell.KeyDown, 0)
	if got := hs.tableRows()[0]; got != "f001" {
		t.Errorf("after Down first row = %q", got)
	}
	hs.key(tcell.KeyPgDn, 0)
	if got := hs.tableRows()[0]; got != "f019" {
		t.Errorf("after PgDn first row = %q", got)
	}
	hs.key(tcell.KeyEnd, 0)
	if got := hs.tableRows(); got[len(got)-1] != "f099" {
		t.Errorf("after End last row = %q", got[len(got)-1])
	}
	hs.mustNotShow("more")
	hs.key(tcell.KeyHome, 0)
	if got := hs.tableRows()[0]; got != "f000" {
		t.Errorf("after Home first row = %q", got)
	}
	hs.key(tcell.KeyUp, 0)
	if got := hs.tableRows()[0]; got != "f000" {
		t.Errorf("Up past the top: first row = %q", got)
	}
}

func TestViewQuit(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  tcell.Key
		r    rune
		want error
	}{
		{"q", tcell.KeyRune, 'q', nil},
		{"ctrl-c", tcell.KeyCtrlC, 0, ErrInterrupted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := start(t, 80, 24, newFakeSource(fixture()), Options{Header: testHeader})
			hs.s.InjectKey(tc.key, tc.r, tcell.ModNone)
			if err := hs.result(); err != tc.want {
				t.Errorf("Run returned %v, want %v", err, tc.want)
			}
		})
	}
}

func TestViewTargetExit(t *testing.T) {
	boom := errors.New("read pid 100 thread list: no such process")
	for _, tc := range []struct {
		name string
		err  error
		note string
	}{
		{"clean", nil, "target exited"},
		{"error", boom, "sampling stopped: read pid 100 thread list: no such process"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := newFakeSource(fixture())
			hs := start(t, 80, 24, src, Options{Header: testHeader})
			hs.press(" ") // the last samples are shown even when paused
			src.with(addLate)
			src.finish(tc.err)
			hs.wait(func(st step) bool { return st.end })
			hs.mustShow(tc.note)
			hs.mustShow("any key leaves")
			if got := hs.tableRows(); got[0] != "late" {
				t.Errorf("rows after exit = %q", got)
			}
			// Ticks leave the final table alone.
			hs.refresh()
			hs.mustShow(tc.note)
			hs.s.InjectKey(tcell.KeyRune, 'x', tcell.ModNone)
			if err := hs.result(); err != tc.err {
				t.Errorf("Run returned %v, want %v", err, tc.err)
			}
		})
	}
}

func TestViewResize(t *testing.T) {
	p := fixture()
	th := p.Thread(prof.Thread{Pid: 100, TID: 100, Name: "MainThread"})
	long := p.Frame(prof.Frame{
		Name: "VeryLongClassNameForTesting.a_method_with_an_unreasonably_long_name_that_goes_on",
		File: "/usr/lib/python3.12/site-packages/some/deep/package/module.py", Line: 1234,
	})
	p.Add(p.Stack([]prof.FrameID{long}), th, 0, 1)
	hs := start(t, 80, 24, newFakeSource(p), Options{Header: testHeader})

	// check resizes and reads the screen back; the drawing code must not
	// panic at any size, and the title leads whenever nothing covers it.
	check := func(w, h int, titled bool) {
		t.Helper()
		hs.resize(w, h)
		lines := hs.lines()
		if len(lines) != h {
			t.Fatalf("%dx%d: %d lines", w, h, len(lines))
		}
		if titled && w > 1 && h >= 3 && !strings.HasPrefix(lines[0], "pyspyglass"[:min(w-1, 10)]) {
			t.Errorf("%dx%d: first line %q", w, h, lines[0])
		}
	}
	check(80, 24, true)
	if i := hs.find("VeryLong"); i < 0 || !strings.Contains(hs.lines()[i], "…") {
		t.Errorf("long name not cut with an ellipsis:\n%s", hs.screen())
	}
	check(40, 10, true)
	if got := hs.tableRows(); len(got) < 4 || got[0] != "inner" {
		t.Errorf("40x10 rows = %q\n%s", got, hs.screen())
	}
	hs.mustShow("inner (lib.py)")
	for _, sz := range [][2]int{{10, 3}, {1, 1}, {3, 2}, {20, 5}, {200, 60}, {80, 24}} {
		check(sz[0], sz[1], true)
	}
	// Overlays and the filter prompt survive tiny screens too.
	hs.press("?")
	check(10, 3, false)
	hs.press("x/abc")
	check(12, 4, true)
	hs.key(tcell.KeyEsc, 0)
	check(80, 24, true)
	hs.mustShow("inner (lib.py)")
}

// TestRunRestoresScreen drives the exported Run: the key is queued from
// the first View call, which happens after Run has initialised the screen.
func TestRunRestoresScreen(t *testing.T) {
	s := tcell.NewSimulationScreen("UTF-8")
	src := &hookSource{fakeSource: newFakeSource(fixture()), onView: func() {
		s.InjectKey(tcell.KeyRune, 'q', tcell.ModNone)
	}}
	if err := Run(s, src, Options{Delay: time.Hour}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if w, h := s.Size(); w != 0 || h != 0 {
		t.Errorf("screen not finalised: size %dx%d", w, h)
	}
}

func TestRunPanicRestoresScreen(t *testing.T) {
	s := tcell.NewSimulationScreen("UTF-8")
	src := &hookSource{fakeSource: newFakeSource(fixture()), onView: func() { panic("boom") }}
	defer func() {
		if r := recover(); r != "boom" {
			t.Errorf("recovered %v, want the original panic", r)
		}
		if w, h := s.Size(); w != 0 || h != 0 {
			t.Errorf("screen not finalised after panic: size %dx%d", w, h)
		}
	}()
	_ = Run(s, src, Options{})
	t.Error("Run returned instead of panicking")
}

type hookSource struct {
	*fakeSource
	once   sync.Once
	onView func()
}

func (h *hookSource) View(f func(p *prof.Profile)) {
	h.once.Do(h.onView)
	h.fakeSource.View(f)
}

func TestViewThreadFilter(t *testing.T) {
	src := newFakeSource(fixture())
	hs := start(t, 120, 24, src, Options{Header: testHeader})
	hs.press("fwork(")
	hs.mustShow("Threads (regexp): work(")
	hs.key(tcell.KeyEnter, 0)
	hs.mustShow("missing closing )") // refused, still editing
	hs.key(tcell.KeyBackspace2, 0)
	hs.key(tcell.KeyEnter, 0)
	hs.mustNotShow("Threads (regexp)")
	hs.mustShow("only work")
	src.mu.Lock()
	got, resets := slices.Clone(src.threads), src.resets
	src.mu.Unlock()
	if !slices.Equal(got, []string{"work"}) || resets != 1 {
		t.Errorf("SetThreads calls %q, resets %d; want [work] and a reset", got, resets)
	}
	// Esc while typing keeps the filter in force.
	hs.press("fxyz")
	hs.key(tcell.KeyEsc, 0)
	hs.mustShow("only work")
	hs.press("f")
	hs.key(tcell.KeyCtrlU, 0)
	hs.key(tcell.KeyEnter, 0)
	hs.mustNotShow("only ")
}
