package top

import (
	"errors"
	"strings"
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
	hs.wait(func(st step) bool {
		ek, ok := st.ev.(*tcell.EventKey)
		return ok && ek.Key() == k && (k != tcell.KeyRune || ek.Rune() == r)
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
	hs := start(t, 80, 24, newFakeSource(fixture()), Options{Header: testHeader})
	t.Logf("80x24:\n%s", hs.screen())
	hs.resize(40, 10)
	t.Logf("40x10:\n%s", hs.screen())
	hs.resize(80, 24)
	hs.press("?")
	t.Logf("help:\n%s", hs.screen())
	_ = prof.KindPython
	_ = errors.New
}
