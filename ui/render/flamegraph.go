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

type flameNode struct {
	frame    prof.Frame
	label    string
	n        int64
	children []*flameNode
	index    map[prof.FrameID]*flameNode
	fill     string // colour; empty: by function (flameColor)
	note     string // a tooltip line after the counts (the diff's change)
}

func (Flamegraph) Write(w io.Writer, p *prof.Profile, o Options) error {
	if err := checkCounts(p); err != nil {
		return err
	}
	subtitle := healthLine(p)
	if p.Target != "" {
		subtitle = p.Target + " · " + subtitle
	}
	root := &flameNode{frame: prof.Frame{Name: "all", Kind: prof.KindOther}, label: "all", index: map[prof.FrameID]*flameNode{}}
	for _, c := range countsByStack(p) {
		node := root
		node.n += c.N
		for _, id := range p.Stacks[c.Stack] {
			child := node.index[id]
			if child == nil {
				f := p.Frames[id]
				child = &flameNode{frame: f, label: oneLine(frameLabel(f)), index: map[prof.FrameID]*flameNode{}}
				node.index[id] = child
				node.children = append(node.children, child)
			}
			child.n += c.N
			node = child
		}
	}
	return writeFlameSVG(w, root, o, subtitle)
}

// writeFlameSVG draws the tree under root, widths by n.
func writeFlameSVG(w io.Writer, root *flameNode, o Options, subtitle string) error {
	width := o.FlameWidth
	if width == 0 {
		width = 1200
	}
	if width < 200 {
		return fmt.Errorf("flamegraph width %d is too narrow (at least 200 pixels)", width)
	}
	minWidth := o.MinWidth
	if minWidth == 0 {
		minWidth = 0.1
	}
	title := o.Title
	if title == "" {
		title = "Flame Graph"
	}
	total := root.n
	plotWidth := float64(width - 2*fgXPad)
	scale := 0.0
	if total > 0 {
		scale = plotWidth / float64(total)
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
			if float64(c.n)*scale >= minWidth {
				deepest = max(deepest, depth(c, d+1))
			}
		}
		return deepest
	}
	maxDepth := depth(root, 0)
	// The subtitle (target and health) is wrapped to the width rather than
	// centred past both edges.
	// Digits, which the health line is full of, are wider than the average
	// character: the wrap width allows for them.
	// The target (a command line can be long) and the health get their own
	// lines, so neither pushes the other out.
	chars := int(plotWidth / (0.66 * fgFontSize))
	var sub []string
	if target, health, ok := strings.Cut(subtitle, " · "); ok {
		sub = append(wrapText(target, chars, 2), wrapText(health, chars, 2)...)
	} else {
		sub = wrapText(subtitle, chars, 3)
	}
	top := fgTitle + len(sub)*fgLine + 8
	height := top + (maxDepth+1)*fgFrameHeight + fgBottom

	bw := bufio.NewWriter(w)
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
	if total == 0 {
		fmt.Fprintf(bw, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">no samples were recorded</text>\n", width/2, top+fgFrameHeight)
	}
	var draw func(n *flameNode, x int64, d int)
	draw = func(n *flameNode, x int64, d int) {
		px, pw := fgXPad+float64(x)*scale, float64(n.n)*scale
		y := height - fgBottom - (d+1)*fgFrameHeight
		if o.Icicle {
			y = top + d*fgFrameHeight // root on top, as py-spy and inferno draw it
		}
		pct := 100 * float64(n.n) / float64(total)
		unit := "samples"
		switch {
		case o.Unit != "":
			unit = o.Unit
		case n.n == 1:
			unit = "sample"
		}
		note := ""
		if n.note != "" {
			note = "\n" + esc(n.note)
		}
		fmt.Fprintf(bw, `<g data-x="%d" data-w="%d" data-d="%d"><title>%s`+"\n"+`%d %s, %s%%%s</title>`,
			x, n.n, d, esc(n.label), n.n, unit, strconv.FormatFloat(pct, 'f', 2, 64), note)
		fill := n.fill
		if fill == "" {
			fill = flameColor(n.frame)
		}
		fmt.Fprintf(bw, `<rect x="%s" y="%d" width="%s" height="%d" fill="%s" rx="2" ry="2"/>`,
			ff(px), y, ff(pw), fgFrameHeight-1, fill)
		fmt.Fprintf(bw, `<text x="%s" y="%s">%s</text></g>`+"\n",
			ff(px+3), ff(float64(y)+fgFrameHeight-4.5), esc(fitLabel(n.label, pw)))
		for _, c := range n.children {
			if float64(c.n)*scale >= minWidth {
				draw(c, x, d+1)
			}
			x += c.n
		}
	}
	if total > 0 {
		draw(root, 0, 0)
	}
	bw.WriteString("</g>\n")
	// The script reads its geometry from here rather than from the DOM.
	fmt.Fprintf(bw, "<script type=\"text/ecmascript\"><![CDATA[\nvar fg = {total: %d, xpad: %d, width: %s, charWidth: %s};\n%s]]></script>\n</svg>\n",
		total, fgXPad, ff(plotWidth), ff(fgCharWidth), flamegraphJS)
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
