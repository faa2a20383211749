// Package top is `pyspyglass top`: the live terminal table of where a
// running Python program spends its time (%Own, %Total, OwnTime,
// TotalTime per function or line), and the same table as plain text.
//
// It owns the presentation only. Samples come from a Source (the
// sampler), which it reads through the shared prof.Profile model; it never
// touches the target process. The pure Model computes the rows and has no
// terminal types, so it is tested with plain tables; the view draws it
// with tcell, the only package that imports tcell.
package top

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// Source is a running sampler as the view sees it.
type Source interface {
	View(f func(p *prof.Profile)) // runs f while no sample is being added; f must not keep p
	Reset()                       // starts a new window (the sampler calls p.Reset)
	SetIdle(include bool)         // include idle threads from now on
	// SetThreads samples only threads whose Python or OS name matches the
	// regular expression from now on; "" samples every thread.
	SetThreads(pattern string) error
	Done() <-chan struct{} // closed when sampling has ended (target exited or error)
	Err() error            // why it ended; nil while running or on a clean end
}

// Options configure the view and the text table.
type Options struct {
	Delay    time.Duration // refresh interval; 0 means one second
	ShowIdle bool          // idle threads are included at start
	Lines    bool          // aggregate by line instead of function
	Opcodes  bool          // start on the instructions view (--opcodes)
	Threads  string        // the thread filter given on the command line, shown in the header
	Header   HeaderInfo
}

// HeaderInfo describes the target for the first header line. Empty fields
// are left out; when all are empty the profile's Target is shown.
type HeaderInfo struct {
	Pids    []int
	Command string  // the target's command line
	Python  string  // interpreter version, e.g. "3.12.1"
	Rate    float64 // requested samples per second, used when the profile has none
	Output  string  // where a launched command's output goes, shown so it can be followed
}

// ErrInterrupted is what Run returns when the user left with Ctrl-C rather
// than q: the caller passes the interrupt on to a launched command.
var ErrInterrupted = errors.New("interrupted")

// DefaultDelay is the refresh interval when Options.Delay is zero.
const DefaultDelay = time.Second

// Run shows the live table on screen until the user quits. It initialises
// and finalises screen itself; the terminal is restored on every return,
// including a panic, which is re-raised after the screen is finalised so
// its trace is readable. It returns src.Err() when the user leaves after
// sampling ended, nil when the user quits with q while sampling runs, and
// ErrInterrupted when they quit with Ctrl-C.
func Run(screen tcell.Screen, src Source, o Options) error {
	d := o.Delay
	if d <= 0 {
		d = DefaultDelay
	}
	tick := time.NewTicker(d)
	defer tick.Stop()
	return runOn(screen, src, o, tick.C, nil)
}

// runOn is Run with the refresh clock and the after-draw hook supplied, so
// tests drive both.
func runOn(screen tcell.Screen, src Source, o Options, tick <-chan time.Time, hook func(step)) error {
	if err := screen.Init(); err != nil {
		return fmt.Errorf("top: initialise terminal: %w", err)
	}
	defer func() {
		r := recover()
		screen.Fini()
		if r != nil {
			panic(r)
		}
	}()
	return newView(screen, src, o).run(tick, hook)
}

// WriteText writes the table for p as plain text: the header, the column
// titles and every row sorted by %Own. Nothing is cut to a width.
func WriteText(w io.Writer, p *prof.Profile, o Options) error {
	m := NewModel(o.Lines, o.Header.Rate)
	m.Update(p)
	var b strings.Builder
	st := m.Stats()
	for _, line := range headerLines(st, o.Header, viewState{showIdle: o.ShowIdle, threads: o.Threads}) {
		for _, s := range line {
			b.WriteString(s.text)
		}
		b.WriteByte('\n')
	}
	writeTable(&b, m, "Function (file", o.Lines)
	if o.Opcodes {
		// The instructions the time went to, each with its line.
		m.SetInstructions(true)
		writeTable(&b, m, "Instruction (file", true)
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("top: write table: %w", err)
	}
	return nil
}

// writeTable writes the column titles and every row of m.
func writeTable(b *strings.Builder, m *Model, title string, lines bool) {
	b.WriteByte('\n')
	cols := tableColumns(m)
	for i, c := range cols {
		if i > 0 {
			b.WriteString(colGap)
		}
		b.WriteString(padLeft(c.title, c.width))
	}
	b.WriteString(colGap + title)
	if lines {
		b.WriteString(":line")
	}
	b.WriteString(")\n")
	rows := m.Rows()
	for _, r := range rows {
		for i, c := range cols {
			if i > 0 {
				b.WriteString(colGap)
			}
			b.WriteString(padLeft(c.value(r), c.width))
		}
		b.WriteString(colGap + r.Name)
		if loc := location(r); loc != "" {
			b.WriteString(" (" + loc + ")")
		}
		b.WriteByte('\n')
	}
	if len(rows) == 0 {
		b.WriteString("no samples\n")
	}
}

// column is one numeric column of the table.
type column struct {
	title string
	width int
	key   SortKey
	value func(Row) string
}

const colGap = "  "

var columns = []column{
	{"%Own", 6, SortOwn, func(r Row) string { return fmtPct(r.OwnPct) }},
	{"%Total", 7, SortTotal, func(r Row) string { return fmtPct(r.TotalPct) }},
	{"OwnTime", 8, SortOwnTime, func(r Row) string { return fmtSecs(r.OwnTime) }},
	{"TotalTime", 10, SortTotalTime, func(r Row) string { return fmtSecs(r.TotalTime) }},
}

// memColumns follow the others when memory was recorded (--memory): the
// resident growth attributed to each row, an estimate.
var memColumns = []column{
	{"OwnMem", 8, SortOwnMem, func(r Row) string { return fmtBytes(r.OwnMem) }},
	{"TotalMem", 9, SortTotalMem, func(r Row) string { return fmtBytes(r.TotalMem) }},
}

// tableColumns are the columns of m's table.
func tableColumns(m *Model) []column {
	if m.Stats().Memory {
		return append(slices.Clip(columns), memColumns...)
	}
	return columns
}

// tone is what a piece of header text means; the view maps it to a style
// and the text table ignores it.
type tone int

const (
	toneLabel tone = iota
	toneValue
	toneTitle
	toneDim
	toneWarn
	toneBad
	toneAccent
)

type span struct {
	text string
	tone tone
}

// viewState is what the header needs to know about the view beyond the
// model.
type viewState struct {
	showIdle bool
	threads  string // the thread filter in force, "" for none
}

// headerLines returns the three header lines: the target, the recorder's
// health, and what the table shows.
func headerLines(st Stats, hi HeaderInfo, vs viewState) [][]span {
	l1 := []span{{"pyspyglass top", toneTitle}}
	for _, part := range targetParts(hi, st.Target) {
		l1 = append(l1, span{" · ", toneDim}, span{part, toneLabel})
	}

	h := st.Health
	rateTone := toneValue
	if h.Rate > 0 && h.Samples > 0 && h.AchievedRate() < 0.9*h.Rate {
		rateTone = toneWarn // the sampler cannot keep up: times are less exact
	}
	l2 := []span{
		{"Samples ", toneLabel}, {fmtCount(h.Samples), toneValue},
		{"  Elapsed ", toneLabel}, {fmtElapsed(h.Elapsed), toneValue},
		{"  Rate ", toneLabel}, {fmtRate(h.AchievedRate()), rateTone},
	}
	if st.Rate > 0 {
		l2 = append(l2, span{"/" + fmtRate(st.Rate) + " Hz", toneLabel})
	} else {
		l2 = append(l2, span{" Hz", toneLabel})
	}
	errTone := toneValue
	errText := fmtCount(h.Errors)
	if h.Errors > 0 {
		errTone = toneBad
		if h.Samples > 0 {
			errText += " (" + fmtPct(pct(h.Errors, h.Samples)) + ")"
		}
	}
	l2 = append(l2, span{"  Errors ", toneLabel}, span{errText, errTone})
	lateTone := toneValue
	if h.Late > 0 {
		lateTone = toneWarn
	}
	l2 = append(l2, span{"  Late ", toneLabel}, span{fmtCount(h.Late), lateTone})
	if hi.Output != "" {
		l2 = append(l2, span{"  Output ", toneLabel}, span{hi.Output, toneValue})
	}

	l3 := []span{
		{"Threads ", toneLabel}, {strconv.Itoa(st.Threads), toneValue},
		{" (" + strconv.Itoa(st.Active) + " active)", toneLabel},
		{"  GIL ", toneLabel}, {pctOrDash(st.GILPct), toneValue},
	}
	if st.GCPct > 0 {
		// Only when the collector ran: the line must fit 80 columns.
		l3 = append(l3, span{"  GC ", toneLabel}, span{fmtPct(st.GCPct), toneValue})
	}
	l3 = append(l3, span{"  Idle ", toneLabel})
	if vs.showIdle {
		l3 = append(l3, span{"shown", toneValue})
	} else {
		l3 = append(l3, span{pctOrDash(st.IdlePct), toneValue})
	}
	l3 = append(l3, span{"  │ ", toneDim})
	if st.ThreadSelected {
		l3 = append(l3, span{threadLabel(st.Thread, st.MultiPid), toneAccent},
			span{": " + fmtCount(st.ViewSamples) + " samples", toneLabel})
	} else {
		l3 = append(l3, span{"all threads", toneValue})
	}
	if vs.threads != "" {
		l3 = append(l3, span{" · only ", toneLabel}, span{vs.threads, toneAccent})
	}
	return [][]span{l1, l2, l3}
}

func pctOrDash(p float64) string {
	if p < 0 {
		return "-"
	}
	return fmtPct(p)
}

// targetParts describes the target: pids, Python version, command line.
func targetParts(hi HeaderInfo, fallback string) []string {
	var parts []string
	switch len(hi.Pids) {
	case 0:
	case 1:
		parts = append(parts, "pid "+strconv.Itoa(hi.Pids[0]))
	default:
		ps := make([]string, len(hi.Pids))
		for i, p := range hi.Pids {
			ps[i] = strconv.Itoa(p)
		}
		parts = append(parts, "pids "+strings.Join(ps, ","))
	}
	if hi.Python != "" {
		parts = append(parts, "Python "+hi.Python)
	}
	if hi.Command != "" {
		parts = append(parts, hi.Command)
	}
	if len(parts) == 0 && fallback != "" {
		parts = append(parts, fallback)
	}
	return parts
}
