package top

import (
	"strconv"
	"strings"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// Styles use only the 16 standard colours and attributes, so the view
// looks the same in 16- and 256-colour terminals and in light and dark
// themes (default foreground and background are kept for body text).
var (
	stDefault  = tcell.StyleDefault
	stBold     = stDefault.Bold(true)
	stDim      = stDefault.Dim(true)
	stWarn     = stDefault.Foreground(tcell.ColorOlive).Bold(true)
	stBad      = stDefault.Foreground(tcell.ColorRed).Bold(true)
	stAccent   = stDefault.Foreground(tcell.ColorTeal).Bold(true)
	stColHead  = stDefault.Foreground(tcell.ColorBlack).Background(tcell.ColorGreen)
	stColSort  = stDefault.Foreground(tcell.ColorBlack).Background(tcell.ColorTeal).Bold(true)
	stKey      = stDefault.Foreground(tcell.ColorBlack).Background(tcell.ColorTeal)
	stPaused   = stDefault.Foreground(tcell.ColorBlack).Background(tcell.ColorOlive).Bold(true)
	stExited   = stDefault.Foreground(tcell.ColorWhite).Background(tcell.ColorMaroon).Bold(true)
	stHot      = stDefault.Foreground(tcell.ColorRed)
	stWarm     = stDefault.Foreground(tcell.ColorOlive)
	stNative   = stDefault.Foreground(tcell.ColorTeal)
	stHelpBox  = stDefault.Foreground(tcell.ColorWhite).Background(tcell.ColorNavy)
	stHelpKey  = stHelpBox.Foreground(tcell.ColorYellow).Bold(true)
	stHelpHead = stHelpBox.Bold(true)
)

func toneStyle(t tone) tcell.Style {
	switch t {
	case toneValue, toneTitle:
		return stBold
	case toneDim:
		return stDim
	case toneWarn:
		return stWarn
	case toneBad:
		return stBad
	case toneAccent:
		return stAccent
	}
	return stDefault
}

// view is the live table. One goroutine (run) owns it, the screen and the
// model; nothing else touches them.
type view struct {
	screen tcell.Screen
	src    Source
	o      Options
	m      *Model

	paused  bool
	help    bool
	editing bool // typing a filter after '/'
	// threadEdit: typing a thread filter after 'f'; threads is the one
	// in force and threadErr why the last one typed was refused.
	threadEdit         bool
	threads, threadErr string
	ended              bool // src.Done() closed
	showIdle           bool
	offset             int // first row shown, for scrolling
	pageRows           int // rows that fit at the last draw, for paging
}

func newView(screen tcell.Screen, src Source, o Options) *view {
	return &view{
		screen:   screen,
		src:      src,
		o:        o,
		m:        NewModel(o.Lines, o.Header.Rate),
		showIdle: o.ShowIdle,
		threads:  o.Threads,
	}
}

// shownThreads is the thread filter in force, for the header.
func (v *view) shownThreads() string {
	if v.threadEdit {
		return v.o.Threads // not applied yet
	}
	return v.threads
}

// step tells a test what the loop just finished handling and drawing.
type step struct {
	ev   tcell.Event // nil for the first draw, a tick or the end of sampling
	tick bool
	end  bool
}

// run is the event loop. tick drives refreshes; after every draw, hook (if
// not nil) is called with what caused it, which lets tests wait for a key
// to take effect without sleeping.
func (v *view) run(tick <-chan time.Time, hook func(step)) error {
	// Fallbacks for terminals whose character set lacks these glyphs.
	v.screen.RegisterRuneFallback('…', "~")
	v.screen.RegisterRuneFallback('▼', "v")
	v.screen.RegisterRuneFallback('▲', "^")
	v.screen.RegisterRuneFallback('│', "|")
	v.screen.RegisterRuneFallback('·', "-")
	v.screen.HideCursor()

	events := make(chan tcell.Event)
	quit := make(chan struct{})
	defer close(quit)
	go v.screen.ChannelEvents(events, quit)

	v.refresh()
	v.draw()
	if hook != nil {
		hook(step{})
	}
	done := v.src.Done()
	for {
		var st step
		select {
		case ev, ok := <-events:
			if !ok {
				return nil // the screen was finalised under us
			}
			st.ev = ev
			switch ev := ev.(type) {
			case *tcell.EventResize:
				v.screen.Sync()
			case *tcell.EventKey:
				if v.key(ev) {
					switch {
					case v.ended:
						return v.src.Err()
					case ev.Key() == tcell.KeyCtrlC:
						return ErrInterrupted
					}
					return nil
				}
			}
		case <-tick:
			st.tick = true
			if !v.paused && !v.ended {
				v.refresh()
			}
		case <-done:
			st.end = true
			done = nil
			v.ended = true
			v.refresh() // the last samples, whatever the pause state
		}
		v.draw()
		if hook != nil {
			hook(st)
		}
	}
}

// refresh takes new data from the source. Only the copy happens inside
// View, where the sampler waits; the aggregation runs after it.
func (v *view) refresh() {
	var c captured
	v.src.View(func(p *prof.Profile) { c = v.m.capture(p) })
	v.m.apply(c)
}

// key handles one key press and reports whether to leave.
func (v *view) key(ev *tcell.EventKey) (leave bool) {
	if ev.Key() == tcell.KeyCtrlC {
		return true
	}
	if v.ended {
		// The table stays up after the target is gone until the user has
		// seen it; any key leaves.
		return true
	}
	if v.help {
		v.help = false
		return false
	}
	if v.editing {
		v.editKey(ev)
		return false
	}
	if v.threadEdit {
		v.threadKey(ev)
		return false
	}
	switch ev.Key() {
	case tcell.KeyEsc:
		v.m.SetFilter("")
		v.offset = 0
	case tcell.KeyUp:
		v.offset--
	case tcell.KeyDown:
		v.offset++
	case tcell.KeyPgUp:
		v.offset -= max(v.pageRows, 1)
	case tcell.KeyPgDn:
		v.offset += max(v.pageRows, 1)
	case tcell.KeyHome:
		v.offset = 0
	case tcell.KeyEnd:
		v.offset = 1 << 30 // clamped when drawn
	case tcell.KeyRune:
		switch ev.Rune() {
		case 'q', 'Q':
			return true
		case '1', '2', '3', '4':
			v.m.SetSort(SortKey(ev.Rune() - '1'))
			v.offset = 0
		case '5', '6':
			if v.m.Stats().Memory {
				v.m.SetSort(SortKey(ev.Rune() - '1'))
				v.offset = 0
			}
		case 'L', 'l':
			v.m.SetLines(!v.m.Lines())
			v.offset = 0
		case 'o', 'O':
			v.m.SetInstructions(!v.m.Instructions())
			v.offset = 0
		case 't', 'T':
			v.m.NextThread()
			v.offset = 0
		case '/':
			v.editing = true
		case 'f', 'F':
			v.threadEdit, v.threadErr = true, ""
		case ' ':
			v.paused = !v.paused
			if !v.paused {
				v.refresh()
			}
		case 'r', 'R':
			v.src.Reset()
			v.refresh()
			v.offset = 0
		case 'i', 'I':
			v.showIdle = !v.showIdle
			v.src.SetIdle(v.showIdle)
		case '?', 'h':
			v.help = true
		case 'j':
			v.offset++
		case 'k':
			v.offset--
		}
	}
	return false
}

// editKey edits the filter; rows follow each keystroke, Enter keeps the
// filter and Esc drops it.
func (v *view) editKey(ev *tcell.EventKey) {
	f := v.m.Filter()
	switch ev.Key() {
	case tcell.KeyEnter:
		v.editing = false
	case tcell.KeyEsc:
		v.editing = false
		f = ""
	case tcell.KeyBackspace, tcell.KeyBackspace2:
		if r := []rune(f); len(r) > 0 {
			f = string(r[:len(r)-1])
		}
	case tcell.KeyCtrlU:
		f = ""
	case tcell.KeyRune:
		f += string(ev.Rune())
	}
	v.m.SetFilter(f)
	v.offset = 0
}

// threadKey edits the thread filter; Enter applies it to the sampler
// (Esc leaves it as it was), an empty one samples every thread again.
func (v *view) threadKey(ev *tcell.EventKey) {
	switch ev.Key() {
	case tcell.KeyEnter:
		if err := v.src.SetThreads(v.threads); err != nil {
			v.threadErr = firstLine(err.Error())
			return
		}
		v.threadEdit, v.threadErr, v.o.Threads = false, "", v.threads
		v.src.Reset() // the window so far counts the other threads too
		v.refresh()
	case tcell.KeyEsc:
		v.threadEdit, v.threads = false, v.o.Threads
	case tcell.KeyBackspace, tcell.KeyBackspace2:
		if r := []rune(v.threads); len(r) > 0 {
			v.threads = string(r[:len(r)-1])
		}
	case tcell.KeyCtrlU:
		v.threads = ""
	case tcell.KeyRune:
		v.threads += string(ev.Rune())
	}
}

// draw repaints the whole screen from the model. Every write is clipped to
// the screen, so any size, however small, draws without wrapping.
func (v *view) draw() {
	s := v.screen
	s.Clear()
	w, h := s.Size()
	if w <= 0 || h <= 0 {
		s.Show()
		return
	}
	st := v.m.Stats()

	// Rows get what the chrome leaves; the chrome shrinks first on short
	// screens: blank line, then two header lines, then the footer.
	headerN := 3
	if h < 8 {
		headerN = 1
	}
	if h < 3 {
		headerN = 0
	}
	footer := h >= 4
	blank := h >= 16
	y := 0

	hdr := headerLines(st, v.o.Header, viewState{showIdle: v.showIdle, threads: v.shownThreads()})
	badge, badgeStyle := v.badge()
	for i := 0; i < headerN; i++ {
		right := 0
		if i == 0 && badge != "" && w >= width(badge)+10 {
			right = width(badge)
			v.put(w-right, y, badge, badgeStyle, right)
			right++
		}
		v.putSpans(0, y, hdr[i], w-right)
		y++
	}
	if blank {
		y++
	}
	bottom := h
	if footer {
		bottom--
		v.drawFooter(h-1, w)
	}
	if y < bottom {
		cols := visibleColumns(w, v.m)
		v.drawColumnHeader(y, w, cols)
		y++
		v.drawRows(y, bottom, w, cols)
	}
	if v.help {
		v.drawHelp(w, h)
	}
	s.Show()
}

// badge is the state shown at the right of the first header line.
func (v *view) badge() (string, tcell.Style) {
	switch {
	case v.ended && v.src.Err() != nil:
		return " sampling stopped ", stExited
	case v.ended:
		return " target exited ", stExited
	case v.paused:
		return " PAUSED ", stPaused
	}
	return "", stDefault
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// visibleColumns drops the memory columns, the time columns, then %Total,
// on narrow screens so the function name keeps room to be read.
func visibleColumns(w int, m *Model) []column {
	switch {
	case w >= 80:
		return tableColumns(m)
	case w >= 60:
		return columns
	case w >= 36:
		return columns[:2]
	}
	return columns[:1]
}

func colsWidth(cols []column) int {
	n := 0
	for _, c := range cols {
		n += c.width + len(colGap)
	}
	return n
}

func (v *view) drawColumnHeader(y, w int, cols []column) {
	v.fill(0, y, w, stColHead)
	sortKey, rev := v.m.Sort()
	x := 0
	for _, c := range cols {
		title, style := c.title, stColHead
		if c.key == sortKey {
			style = stColSort
			if rev {
				title = "▲" + title
			} else {
				title = "▼" + title
			}
		}
		v.put(x, y, padLeft(title, c.width), style, min(c.width, w-x))
		x += c.width + len(colGap)
	}
	title := "Function (file)"
	switch {
	case v.m.Instructions():
		title = "Instruction (file:line)"
	case v.m.Lines():
		title = "Function (file:line)"
	}
	v.put(x, y, title, stColHead.Bold(true), w-x)
	if f := v.m.Filter(); f != "" && !v.editing {
		x += width(title)
		v.put(x, y, "  filter "+strconv.Quote(f), stColSort, w-x)
	}
}

func (v *view) drawRows(top, bottom, w int, cols []column) {
	rows := v.m.Rows()
	n := bottom - top
	v.pageRows = n
	if len(rows) == 0 {
		msg := "no samples yet"
		switch {
		case v.m.Filter() != "":
			msg = "no function or file matches " + `"` + v.m.Filter() + `"` + " (Esc clears)"
		case v.ended:
			msg = "no samples"
		}
		if n > 0 {
			v.put(1, top, msg, stDim, w-1)
		}
		v.offset = 0
		return
	}
	v.offset = max(min(v.offset, len(rows)-n), 0)
	sortKey, _ := v.m.Sort()
	nameX := colsWidth(cols)
	for i := 0; i < n && v.offset+i < len(rows); i++ {
		r := rows[v.offset+i]
		y := top + i
		x := 0
		for _, c := range cols {
			st := heat(r, c.key)
			if c.key == sortKey {
				st = st.Bold(true)
			}
			v.put(x, y, padLeft(c.value(r), c.width), st, min(c.width, w-x))
			x += c.width + len(colGap)
		}
		v.drawFunction(nameX, y, w-nameX, r)
	}
	if hidden := len(rows) - v.offset - n; hidden > 0 && n > 1 {
		more := " +" + fmtCount(int64(hidden)) + " more "
		if w > width(more)+nameX {
			v.put(w-width(more), bottom-1, more, stDim.Reverse(true), width(more))
		}
	}
}

// heat colours the share columns so the hot spots stand out at a glance.
func heat(r Row, k SortKey) tcell.Style {
	p := r.OwnPct
	if k == SortTotal || k == SortTotalTime {
		p = r.TotalPct
	}
	switch {
	case k == SortOwnTime || k == SortTotalTime || k == SortOwnMem || k == SortTotalMem:
		return stDefault
	case p >= 25:
		return stHot
	case p >= 10:
		return stWarm
	}
	return stDefault
}

// drawFunction writes "name (file:line)" in w columns. The name has
// priority; the location is cut from the left, since a path's end is the
// informative part, and dropped when there is no room at all.
func (v *view) drawFunction(x, y, w int, r Row) {
	if w <= 0 {
		return
	}
	nameStyle := stDefault
	switch r.Kind {
	case prof.KindNative:
		nameStyle = stNative
	case prof.KindOther:
		nameStyle = stDim.Italic(true)
	case prof.KindInstruction:
		nameStyle = stNative.Italic(true)
	}
	name := r.Name
	if name == "" {
		name = "<unknown>"
	}
	loc := location(r)
	nw := width(name)
	if nw >= w || loc == "" {
		v.put(x, y, clip(name, w), nameStyle, w)
		return
	}
	v.put(x, y, name, nameStyle, nw)
	room := w - nw - 3 // " (" and ")"
	if room < 4 {
		return
	}
	v.put(x+nw, y, " ("+clipLeft(loc, room)+")", stDim, w-nw)
}

func (v *view) drawFooter(y, w int) {
	v.fill(0, y, w, stDefault)
	switch {
	case v.ended:
		msg := "target exited"
		if err := v.src.Err(); err != nil {
			msg = "sampling stopped: " + firstLine(err.Error())
		}
		// The hint matters more than the end of a long error.
		hint := " · any key leaves "
		v.put(0, y, " "+clip(msg, w-1-width(hint))+hint, stExited, w)
		return
	case v.editing, v.threadEdit:
		prompt, text := "Filter: ", v.m.Filter()
		if v.threadEdit {
			prompt, text = "Threads (regexp): ", v.threads
		}
		v.put(0, y, prompt, stBold, w)
		// Keep the end of a long filter visible: it is where the typing is.
		room := w - width(prompt) - 1
		shown := clipLeft(text, room)
		v.put(width(prompt), y, shown, stAccent, room)
		if cx := width(prompt) + width(shown); cx < w {
			v.put(cx, y, " ", stKey, 1) // a block cursor that needs no terminal cursor
		}
		hint := "  Enter keep · Esc clear"
		if v.threadEdit {
			hint = "  Enter apply · Esc cancel"
			if v.threadErr != "" {
				hint = "  " + v.threadErr
			}
		}
		if hx := width(prompt) + width(shown) + 1; hx+width(hint) <= w {
			v.put(hx, y, hint, stDim, w-hx)
		}
		return
	}
	keys := []struct{ key, label string }{
		{"1-4", "Sort"}, {"L", "Lines"}, {"t", "Thread"}, {"/", "Filter"},
		{"Spc", "Pause"}, {"r", "Reset"}, {"i", "Idle"}, {"?", "Help"}, {"q", "Quit"},
	}
	x := 0
	for _, k := range keys {
		need := width(k.key) + width(k.label) + 2
		if x+need > w {
			break
		}
		v.put(x, y, k.key, stKey, w-x)
		x += width(k.key)
		v.put(x, y, " "+k.label+" ", stDefault, w-x)
		x += width(k.label) + 2
	}
}

var helpLines = [][2]string{
	{"1 2 3 4", "sort by %Own, %Total, OwnTime, TotalTime; again reverses"},
	{"5 6", "with --memory: sort by OwnMem, TotalMem"},
	{"L", "aggregate by line / by function"},
	{"o", "instructions (--opcodes) by line / functions"},
	{"t", "next thread: all, then each thread, then all"},
	{"/", "filter by function or file; Enter keeps, Esc clears"},
	{"f", "sample only threads whose name matches a regexp (empty: all)"},
	{"space", "pause the display (sampling goes on)"},
	{"r", "reset: start a new window of samples"},
	{"i", "include / exclude idle threads"},
	{"↑ ↓ PgUp PgDn", "scroll"},
	{"?", "this help"},
	{"q  Ctrl-C", "quit"},
}

func (v *view) drawHelp(w, h int) {
	const keyW = 14
	bw := 0
	for _, l := range helpLines {
		bw = max(bw, keyW+width(l[1]))
	}
	bw += 4
	bh := len(helpLines) + 4
	bw, bh = min(bw, w), min(bh, h)
	x0, y0 := (w-bw)/2, (h-bh)/2
	for y := y0; y < y0+bh; y++ {
		v.fill(x0, y, bw, stHelpBox)
	}
	inner := bw - 4
	v.put(x0+2, y0+1, clip("Keys", inner), stHelpHead, inner)
	for i, l := range helpLines {
		y := y0 + 2 + i
		if y >= y0+bh-1 {
			break
		}
		v.put(x0+2, y, clip(l[0], inner), stHelpKey, inner)
		if inner > keyW {
			v.put(x0+2+keyW, y, clip(l[1], inner-keyW), stHelpBox, inner-keyW)
		}
	}
	if bh >= len(helpLines)+4 {
		v.put(x0+2, y0+bh-1, clip("any key closes", inner), stHelpBox.Dim(true), inner)
	}
}

// putSpans writes styled pieces of one line within w columns, ending in an
// ellipsis when they do not fit.
func (v *view) putSpans(x, y int, spans []span, w int) {
	total := 0
	for _, s := range spans {
		total += width(s.text)
	}
	limit := w
	if total > w {
		limit = w - 1 // keep a column for the ellipsis
	}
	used := 0
	for _, s := range spans {
		if used >= limit {
			break
		}
		t := s.text
		if used+width(t) > limit {
			t = cut(t, limit-used)
		}
		v.put(x+used, y, t, toneStyle(s.tone), limit-used)
		used += width(t)
	}
	if total > w && w > 0 {
		v.put(x+used, y, ellipsis, stDim, 1)
	}
}

// put writes s at (x, y) using at most w columns and never past the right
// edge; a wide character that would straddle the limit is left out.
func (v *view) put(x, y int, s string, style tcell.Style, w int) {
	sw, sh := v.screen.Size()
	if y < 0 || y >= sh || x < 0 {
		return
	}
	limit := min(x+w, sw)
	for s != "" && x < limit {
		var cw int
		var c string
		c, s, cw = firstCluster(s)
		if cw == 0 {
			continue
		}
		if x+cw > limit {
			break
		}
		v.screen.Put(x, y, c, style)
		x += cw
	}
}

func (v *view) fill(x, y, w int, style tcell.Style) {
	v.put(x, y, strings.Repeat(" ", max(w, 0)), style, w)
}
