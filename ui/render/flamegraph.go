package render

import (
	"bufio"
	_ "embed"
	"encoding/xml"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// Flamegraph writes a self-contained interactive SVG flame graph in the
// style people know from flamegraph.pl and inferno: the root ("all") at the
// bottom, callees stacked above their callers, frame widths proportional to
// samples, warm colours picked by a hash of the function name (other colours
// for native, process/thread and synthetic frames). Threads are merged;
// children are sorted by name so the picture is deterministic.
//
// The embedded script (flamegraph.js) adds click-to-zoom ("Reset Zoom" or
// Escape to undo, a click on "all" too), search (the "Search" button or
// Ctrl-F; a regular expression, case-insensitive unless it has upper case;
// matches turn magenta and "Matched: X%" gives their share of all samples,
// nested matches counted once), and a details line on hover. Each frame's
// <title> is its tooltip: "name (file:line)" and "N samples, P%". Frames
// narrower than Options.MinWidth pixels are left out, as flamegraph.pl does.
type Flamegraph struct{}

func (Flamegraph) Name() string { return "flamegraph" }
func (Flamegraph) Ext() string  { return ".svg" }

//go:embed flamegraph.js
var flamegraphJS string

// Geometry, in pixels. charWidth approximates the average advance of the
// 12px sans-serif font; the script truncates labels with the same rule after
// a zoom.
const (
	fgFrameHeight = 16
	fgFontSize    = 12
	fgCharWidth   = 0.59 * fgFontSize
	fgXPad        = 10
	fgTitle       = 36 // the title line, above the subtitle lines
	fgLine        = 16 // one subtitle line
	fgBottom      = 30 // details and matched lines
)

// flameNode is a frame of a flame graph built as a tree: the diff's, whose
// frames merge two profiles.
type flameNode struct {
	frame    prof.Frame
	label    string
	n        int64
	children []*flameNode
	index    map[prof.FrameID]*flameNode
	fill     string // colour; empty: by function (flameColor)
	note     string // a tooltip line after the counts (the diff's change)
}

// Write draws the merged stacks without building their tree: the stacks,
// sorted as the tree's depth-first walk visits them (children by label, a
// frame's own samples after its callees), are that walk, so one pass finds
// each frame's total and a second draws. What a write holds beyond the
// profile is a count per distinct stack and a total per frame drawn.
func (Flamegraph) Write(w io.Writer, p *prof.Profile, o Options) error {
	if err := checkCounts(p); err != nil {
		return err
	}
	subtitle := healthLine(p)
	if p.Target != "" {
		subtitle = p.Target + " · " + subtitle
	}
	labels := make([]string, len(p.Frames))
	for i, f := range p.Frames {
		labels[i] = oneLine(frameLabel(f))
	}
	counts := countsByStack(p)
	slices.SortFunc(counts, func(a, b stackCount) int {
		return compareFlame(p, labels, p.Stacks[a.Stack], p.Stacks[b.Stack])
	})
	var total int64
	for _, c := range counts {
		total += c.N
	}
	fw, err := newFlameWriter(w, o, total)
	if err != nil {
		return err
	}
	// walk calls open where each frame of the tree starts in the walk,
	// with its depth (the root "all" is 0), how many samples lie to its
	// left and its index in the walk, and done where it ends, with its
	// samples.
	walk := func(open func(id prof.FrameID, d int, x int64, node int), done func(node, d int, n int64)) {
		type opened struct {
			node int
			x    int64
		}
		var path []opened
		var prev []prof.FrameID
		var x int64
		closeTo := func(k int) {
			for len(path) > k {
				o := path[len(path)-1]
				done(o.node, len(path), x-o.x)
				path = path[:len(path)-1]
			}
		}
		nodes := 0
		for _, c := range counts {
			s := p.Stacks[c.Stack]
			k := 0
			for k < len(s) && k < len(prev) && s[k] == prev[k] {
				k++
			}
			closeTo(k)
			for d := k; d < len(s); d++ {
				open(s[d], d+1, x, nodes)
				path = append(path, opened{nodes, x})
				nodes++
			}
			x += c.N
			prev = s
		}
		closeTo(0)
	}
	// The height comes first in the file: the first walk finds each
	// frame's samples and how deep the drawn ones go.
	nodes := 0
	walk(func(prof.FrameID, int, int64, int) { nodes++ }, func(int, int, int64) {})
	totals := make([]int64, nodes) // counted first: appending would hold up to twice as much
	maxDepth := 0
	walk(func(prof.FrameID, int, int64, int) {}, func(node, d int, n int64) {
		totals[node] = n
		if fw.drawn(n) {
			maxDepth = max(maxDepth, d)
		}
	})
	fw.header(maxDepth, subtitle)
	if total > 0 {
		fw.frame(0, total, 0, "all", flameColor(prof.Frame{Name: "all", Kind: prof.KindOther}), "")
		walk(func(id prof.FrameID, d int, x int64, node int) {
			if n := totals[node]; fw.drawn(n) {
				fw.frame(x, n, d, labels[id], flameColor(p.Frames[id]), "")
			}
		}, func(int, int, int64) {})
	}
	return fw.end()
}

// compareFlame orders stacks as the flame graph draws them left to right:
// frame by frame from the root by label, then kind, then id (distinct
// frames that read the same stay apart, as they are in the tree), and a
// stack that ends where another goes on after it (a frame's own samples
// lie right of its callees).
func compareFlame(p *prof.Profile, labels []string, a, b []prof.FrameID) int {
	for k := 0; ; k++ {
		switch {
		case k == len(a) && k == len(b):
			return 0
		case k == len(a):
			return 1
		case k == len(b):
			return -1
		case a[k] == b[k]:
			continue
		}
		x, y := a[k], b[k]
		if c := strings.Compare(labels[x], labels[y]); c != 0 {
			return c
		}
		if c := int(p.Frames[x].Kind) - int(p.Frames[y].Kind); c != 0 {
			return c
		}
		return int(x - y)
	}
}

// writeFlameSVG draws the tree under root, widths by n.
func writeFlameSVG(w io.Writer, root *flameNode, o Options, subtitle string) error {
	fw, err := newFlameWriter(w, o, root.n)
	if err != nil {
		return err
	}
	// Sort, and find how deep the drawn frames go, before writing: the
	// height comes first in the file.
	var depth func(n *flameNode, d int) int
	depth = func(n *flameNode, d int) int {
		slices.SortFunc(n.children, func(a, b *flameNode) int {
			if c := strings.Compare(a.label, b.label); c != 0 {
				return c
			}
			return int(a.frame.Kind) - int(b.frame.Kind)
		})
		deepest := d
		for _, c := range n.children {
			if fw.drawn(c.n) {
				deepest = max(deepest, depth(c, d+1))
			}
		}
		return deepest
	}
	fw.header(depth(root, 0), subtitle)
	var draw func(n *flameNode, x int64, d int)
	draw = func(n *flameNode, x int64, d int) {
		fill := n.fill
		if fill == "" {
			fill = flameColor(n.frame)
		}
		fw.frame(x, n.n, d, n.label, fill, n.note)
		for _, c := range n.children {
			if fw.drawn(c.n) {
				draw(c, x, d+1)
			}
			x += c.n
		}
	}
	if root.n > 0 {
		draw(root, 0, 0)
	}
	return fw.end()
}

// flameWriter writes the SVG: header, frames in any order, end.
type flameWriter struct {
	bw              *bufio.Writer
	o               Options
	width, height   int
	top             int
	total           int64
	scale, minWidth float64
	plotWidth       float64
}

func newFlameWriter(w io.Writer, o Options, total int64) (*flameWriter, error) {
	fw := &flameWriter{bw: bufio.NewWriter(w), o: o, width: o.FlameWidth, minWidth: o.MinWidth, total: total}
	if fw.width == 0 {
		fw.width = 1200
	}
	if fw.width < 200 {
		return nil, fmt.Errorf("flamegraph width %d is too narrow (at least 200 pixels)", fw.width)
	}
	if fw.minWidth == 0 {
		fw.minWidth = 0.1
	}
	fw.plotWidth = float64(fw.width - 2*fgXPad)
	if total > 0 {
		fw.scale = fw.plotWidth / float64(total)
	}
	return fw, nil
}

// drawn says whether a frame of n samples is wide enough to draw.
func (fw *flameWriter) drawn(n int64) bool { return float64(n)*fw.scale >= fw.minWidth }

// header writes everything before the frames; maxDepth is the deepest
// frame drawn (the root is 0).
func (fw *flameWriter) header(maxDepth int, subtitle string) {
	bw, width := fw.bw, fw.width
	title := fw.o.Title
	if title == "" {
		title = "Flame Graph"
	}
	// The subtitle (target and health) is wrapped to the width rather than
	// centred past both edges.
	// Digits, which the health line is full of, are wider than the average
	// character: the wrap width allows for them.
	// The target (a command line can be long) and the health get their own
	// lines, so neither pushes the other out.
	chars := int(fw.plotWidth / (0.66 * fgFontSize))
	var sub []string
	if target, health, ok := strings.Cut(subtitle, " · "); ok {
		sub = append(wrapText(target, chars, 2), wrapText(health, chars, 2)...)
	} else {
		sub = wrapText(subtitle, chars, 3)
	}
	fw.top = fgTitle + len(sub)*fgLine + 8
	fw.height = fw.top + (maxDepth+1)*fgFrameHeight + fgBottom
	height := fw.height
	fmt.Fprintf(bw, `<?xml version="1.0" standalone="no"?>
<svg version="1.1" width="%d" height="%d" viewBox="0 0 %d %d" xmlns="http://www.w3.org/2000/svg">
<!-- Flame graph written by pyspyglass. Click a frame to zoom, Ctrl-F to search. -->
<style type="text/css">
text { font-family: Verdana, "DejaVu Sans", sans-serif; font-size: %dpx; fill: rgb(0,0,0); }
#title { text-anchor: middle; font-size: 17px; }
.subtitle { text-anchor: middle; fill: rgb(90,90,90); }
#search, #matched, #case { text-anchor: end; }
#case { fill: rgb(160,160,160); }
#case.on { fill: rgb(0,0,0); font-weight: bold; text-decoration: underline; }
.btn { cursor: pointer; }
.btn:hover { text-decoration: underline; }
.hide { display: none; }
#frames > g { cursor: pointer; }
#frames > g:hover > rect { stroke: rgb(0,0,0); stroke-width: 0.5; }
#frames > g > text { pointer-events: none; }
#frames > g.parent { opacity: 0.5; }
</style>
<defs><linearGradient id="background" x1="0" y1="0" x2="0" y2="1"><stop stop-color="#eeeeee" offset="5%%"/><stop stop-color="#eeeeb0" offset="95%%"/></linearGradient></defs>
<rect x="0" y="0" width="%d" height="%d" fill="url(#background)"/>
`, width, height, width, height, fgFontSize, width, height)
	fmt.Fprintf(bw, "<text id=\"title\" x=\"%d\" y=\"24\">%s</text>\n", width/2, esc(title))
	for i, line := range sub {
		id := ""
		if i == 0 {
			id = ` id="subtitle"`
		}
		fmt.Fprintf(bw, "<text%s class=\"subtitle\" x=\"%d\" y=\"%d\">%s</text>\n", id, width/2, fgTitle+8+i*fgLine, esc(line))
	}
	fmt.Fprintf(bw, "<text id=\"unzoom\" class=\"btn hide\" x=\"%d\" y=\"24\">Reset Zoom</text>\n", fgXPad)
	fmt.Fprintf(bw, "<text id=\"search\" class=\"btn\" x=\"%d\" y=\"24\">Search</text>\n", width-fgXPad-30)
	fmt.Fprintf(bw, "<text id=\"case\" class=\"btn\" x=\"%d\" y=\"24\"><title>match case in search (off: ignore case)</title>Aa</text>\n", width-fgXPad)
	fmt.Fprintf(bw, "<text id=\"details\" x=\"%d\" y=\"%d\"> </text>\n", fgXPad, height-10)
	fmt.Fprintf(bw, "<text id=\"matched\" x=\"%d\" y=\"%d\"> </text>\n", width-fgXPad, height-10)
	bw.WriteString("<g id=\"frames\">\n")
	if fw.total == 0 {
		fmt.Fprintf(bw, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">no samples were recorded</text>\n", width/2, fw.top+fgFrameHeight)
	}
}

// frame draws one frame of n samples, x samples from the left, d deep.
func (fw *flameWriter) frame(x, n int64, d int, label, fill, note string) {
	bw, o := fw.bw, fw.o
	px, pw := fgXPad+float64(x)*fw.scale, float64(n)*fw.scale
	y := fw.height - fgBottom - (d+1)*fgFrameHeight
	if o.Icicle {
		y = fw.top + d*fgFrameHeight // root on top, as py-spy and inferno draw it
	}
	pct := 100 * float64(n) / float64(fw.total)
	unit := "samples"
	switch {
	case o.Unit != "":
		unit = o.Unit
	case n == 1:
		unit = "sample"
	}
	if note != "" {
		note = "\n" + esc(note)
	}
	fmt.Fprintf(bw, `<g data-x="%d" data-w="%d" data-d="%d"><title>%s`+"\n"+`%d %s, %s%%%s</title>`,
		x, n, d, esc(label), n, unit, strconv.FormatFloat(pct, 'f', 2, 64), note)
	fmt.Fprintf(bw, `<rect x="%s" y="%d" width="%s" height="%d" fill="%s" rx="2" ry="2"/>`,
		ff(px), y, ff(pw), fgFrameHeight-1, fill)
	fmt.Fprintf(bw, `<text x="%s" y="%s">%s</text></g>`+"\n",
		ff(px+3), ff(float64(y)+fgFrameHeight-4.5), esc(fitLabel(label, pw)))
}

// end writes what follows the frames.
func (fw *flameWriter) end() error {
	bw := fw.bw
	bw.WriteString("</g>\n")
	// The script reads its geometry from here rather than from the DOM.
	fmt.Fprintf(bw, "<script type=\"text/ecmascript\"><![CDATA[\nvar fg = {total: %d, xpad: %d, width: %s, charWidth: %s};\n%s]]></script>\n</svg>\n",
		fw.total, fgXPad, ff(fw.plotWidth), ff(fgCharWidth), flamegraphJS)
	return bw.Flush()
}

// wrapText breaks s at spaces into lines of at most width characters, at
// most maxLines of them, the last one cut with "…" when s is longer.
func wrapText(s string, width, maxLines int) []string {
	width = max(width, 10)
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		switch {
		case line == "":
			line = w
		case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w) <= width:
			line += " " + w
		default:
			lines = append(lines, line)
			line = w
		}
	}
	if line != "" || len(lines) == 0 {
		lines = append(lines, line)
	}
	for i, l := range lines {
		if r := []rune(l); len(r) > width {
			lines[i] = string(r[:width-1]) + "…"
		}
	}
	if len(lines) > maxLines {
		last := []rune(lines[maxLines-1])
		lines = lines[:maxLines]
		lines[maxLines-1] = string(last[:min(len(last), width-1)]) + "…"
	}
	return lines
}

// fitLabel truncates s to what fits in a frame w pixels wide, the same rule
// as fit() in flamegraph.js: nothing below three characters, ".." marking a
// cut.
func fitLabel(s string, w float64) string {
	n := int(math.Floor((w - 6) / fgCharWidth))
	switch {
	case n < 3:
		return ""
	case utf8.RuneCountInString(s) <= n:
		return s
	}
	r := []rune(s)
	return string(r[:n-2]) + ".."
}

// flameColor is a frame's fill: a function always gets the same colour, in
// a palette that tells Python, native and synthetic frames apart.
func flameColor(f prof.Frame) string {
	h := fnv.New32a()
	h.Write([]byte(f.Name))
	v := h.Sum32()
	a, b, c := float64(v&0xff)/255, float64(v>>8&0xff)/255, float64(v>>16&0xff)/255
	var r, g, bl float64
	switch f.Kind {
	case prof.KindPython:
		r, g, bl = 205+50*c, 230*a, 55*b // red to yellow
	case prof.KindNative:
		r, g, bl = 50+60*a, 165+55*a, 165+55*a // aqua
	case prof.KindProcess, prof.KindThread, prof.KindInterpreter:
		r, g, bl = 180+40*a, 150+40*a, 215+40*b // lavender
	case prof.KindInstruction:
		r, g, bl = 90+50*a, 190+40*b, 90+40*c // green
	default:
		r, g, bl = 160+40*a, 160+40*a, 160+40*a // grey: "all", <GC>, <idle>
	}
	return fmt.Sprintf("rgb(%d,%d,%d)", int(r), int(g), int(bl))
}

// esc escapes s for XML text and attribute values; characters XML cannot
// hold at all become U+FFFD.
func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s)) // a strings.Builder never fails
	return b.String()
}

// ff formats a coordinate with two decimals, enough for a pixel and short.
func ff(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
