package render

import (
	"bufio"
	"cmp"
	"fmt"
	"html"
	"io"
	"slices"
	"strings"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// Lines writes line_profiler's view from samples: for the hottest Python
// functions (Options.LinesTop, by inclusive samples), each source line of
// the function with the samples taken while the function was at that line
// (its callees included, as line_profiler times a line), their share of the
// function's samples and of all samples, the samples spent in the line
// itself rather than in a callee ("Self"), and the source text.
//
// The source comes from the profile (Profile.Sources), read from the
// target's filesystem while recording, so a recording renders the same on
// another machine or after the file changed. A function's lines run from its
// first line to the end of its indented body; module code shows only the
// lines that have samples. Lines whose source is missing say so. A recursive
// function counts each sample once, at the line of its innermost call.
type Lines struct{}

func (Lines) Name() string { return "lines" }
func (Lines) Ext() string  { return ".lines.txt" }

// LinesHTML writes the same tables as Lines as a self-contained HTML page,
// each line's background shaded by its share of the function (a heat map).
type LinesHTML struct{}

func (LinesHTML) Name() string { return "lines-html" }
func (LinesHTML) Ext() string  { return ".lines.html" }

// defaultLinesTop is how many functions Lines shows when Options.LinesTop
// is 0.
const defaultLinesTop = 10

type lineRow struct {
	line      int
	hits      int64 // samples with the function at this line
	self      int64 // of which the line was the leaf
	text      string
	hasSource bool
	instrs    []instrShare // --opcodes: the instructions of its self samples, most first
}

// instrShare is one instruction leaf (--opcodes) under a line.
type instrShare struct {
	name string
	n    int64
}

type lineFunc struct {
	key       funcKey
	samples   int64
	self      int64
	rows      []lineRow
	hasSource bool
}

// lineTables computes the per-line tables of the top functions.
func lineTables(p *prof.Profile, top int) ([]lineFunc, int64, error) {
	if err := checkCounts(p); err != nil {
		return nil, 0, err
	}
	if top <= 0 {
		top = defaultLinesTop
	}
	type lineKey struct {
		fn   funcKey
		line int
	}
	keys := make([]funcKey, len(p.Frames))
	for i, f := range p.Frames {
		keys[i] = funcKeyOf(f)
	}
	incl := map[funcKey]int64{}
	self := map[funcKey]int64{}
	hits := map[lineKey]int64{}
	selfHits := map[lineKey]int64{}
	instrs := map[lineKey]map[string]int64{}
	var total int64
	seen := map[funcKey]bool{}
	for _, c := range countsByStack(p) {
		total += c.N
		stack := p.Stacks[c.Stack]
		// The innermost Python frame is the one running; instruction
		// leaves (--opcodes) belong to it.
		leaf := -1
		for i := len(stack) - 1; i >= 0; i-- {
			if p.Frames[stack[i]].Kind == prof.KindPython {
				leaf = i
				break
			}
		}
		clear(seen)
		for i := len(stack) - 1; i >= 0; i-- {
			f := p.Frames[stack[i]]
			if f.Kind != prof.KindPython || seen[keys[stack[i]]] {
				continue
			}
			k := keys[stack[i]]
			seen[k] = true
			incl[k] += c.N
			hits[lineKey{k, f.Line}] += c.N
			if i == leaf {
				self[k] += c.N
				selfHits[lineKey{k, f.Line}] += c.N
				if last := p.Frames[stack[len(stack)-1]]; last.Kind == prof.KindInstruction {
					lk := lineKey{k, f.Line}
					if instrs[lk] == nil {
						instrs[lk] = map[string]int64{}
					}
					instrs[lk][last.Name] += c.N
				}
			}
		}
	}
	var fns []lineFunc
	for k, n := range incl {
		fns = append(fns, lineFunc{key: k, samples: n, self: self[k]})
	}
	slices.SortFunc(fns, func(a, b lineFunc) int {
		return cmp.Or(cmp.Compare(b.samples, a.samples), strings.Compare(a.key.File, b.key.File),
			cmp.Compare(a.key.Line, b.key.Line), strings.Compare(a.key.Name, b.key.Name))
	})
	if len(fns) > top {
		fns = fns[:top]
	}
	byFunc := map[funcKey][]int{}
	for lk := range hits {
		byFunc[lk.fn] = append(byFunc[lk.fn], lk.line)
	}
	for i := range fns {
		fn := &fns[i]
		sampled := byFunc[fn.key]
		slices.Sort(sampled)
		src, ok := p.Sources[fn.key.File]
		fn.hasSource = ok
		var lines []string
		if ok {
			lines = strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
		}
		show := sampled
		if ok && fn.key.Name != "<module>" && fn.key.Line > 0 {
			show = mergeLines(functionBody(lines, fn.key.Line, sampled), sampled)
		}
		for _, l := range show {
			r := lineRow{line: l, hits: hits[lineKey{fn.key, l}], self: selfHits[lineKey{fn.key, l}]}
			for name, n := range instrs[lineKey{fn.key, l}] {
				r.instrs = append(r.instrs, instrShare{name, n})
			}
			slices.SortFunc(r.instrs, func(a, b instrShare) int { return cmp.Or(cmp.Compare(b.n, a.n), strings.Compare(a.name, b.name)) })
			if l >= 1 && l <= len(lines) {
				r.text, r.hasSource = strings.TrimRight(lines[l-1], " \t\r"), true
			}
			fn.rows = append(fn.rows, r)
		}
	}
	return fns, total, nil
}

// functionBody lists the lines of the function defined at first: the def
// line (after any decorators) to the last line indented deeper than it,
// and at least to the last sampled line.
func functionBody(lines []string, first int, sampled []int) []int {
	if first < 1 || first > len(lines) {
		return nil
	}
	indent := func(s string) int { return len(s) - len(strings.TrimLeft(s, " \t")) }
	def := first
	// co_firstlineno is the first decorator's line; the body's indentation
	// is measured against the def.
	for def <= len(lines) && !isDef(lines[def-1]) && def-first < 50 {
		def++
	}
	if def > len(lines) || !isDef(lines[def-1]) {
		def = first
	}
	base := indent(lines[def-1])
	last := def
	for l := def + 1; l <= len(lines); l++ {
		s := lines[l-1]
		if strings.TrimSpace(s) == "" {
			continue
		}
		if indent(s) <= base {
			break
		}
		last = l
	}
	if len(sampled) > 0 {
		last = max(last, sampled[len(sampled)-1])
	}
	var out []int
	for l := first; l <= last && l <= len(lines); l++ {
		out = append(out, l)
	}
	return out
}

func isDef(s string) bool {
	s = strings.TrimSpace(s)
	return strings.HasPrefix(s, "def ") || strings.HasPrefix(s, "async def ") || strings.HasPrefix(s, "class ")
}

// mergeLines returns the sorted union of a and b.
func mergeLines(a, b []int) []int {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

// instrMix is a line's instruction mix (--opcodes): each instruction with
// its share of the line's self samples, the most frequent first.
func instrMix(r lineRow) string {
	var parts []string
	for i, in := range r.instrs {
		if i == 6 {
			parts = append(parts, fmt.Sprintf("%d more", len(r.instrs)-i))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.0f%%", strings.Trim(oneLine(in.name), "[]"), pct(in.n, r.self)))
	}
	return strings.Join(parts, ", ")
}

func pct(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

func (Lines) Write(w io.Writer, p *prof.Profile, o Options) error {
	fns, total, err := lineTables(p, o.LinesTop)
	if err != nil {
		return err
	}
	sec := secondsPerSample(p)
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Samples: %d (%.2f s at %.4g ms per sample)\n", total, float64(total)*sec, sec*1000)
	if p.Target != "" {
		fmt.Fprintf(bw, "Target: %s\n", oneLine(p.Target))
	}
	if len(fns) == 0 {
		fmt.Fprintln(bw, "\nNo Python samples were recorded.")
	}
	for _, fn := range fns {
		fmt.Fprintf(bw, "\nFunction: %s at %s:%d\n", oneLine(fn.key.Name), oneLine(fn.key.File), fn.key.Line)
		fmt.Fprintf(bw, "Samples: %d (%.1f%% of all), %d in its own lines (%.1f%%)\n", fn.samples, pct(fn.samples, total), fn.self, pct(fn.self, total))
		if !fn.hasSource {
			fmt.Fprintf(bw, "Source: not available (%s was not readable while recording)\n", oneLine(fn.key.File))
		}
		fmt.Fprintf(bw, "\n%6s %9s %7s %7s %9s  %s\n", "Line", "Samples", "% Func", "% All", "Self", "Line Contents")
		fmt.Fprintln(bw, strings.Repeat("=", 72))
		for _, r := range fn.rows {
			text := r.text
			if !r.hasSource {
				text = "<source not available>"
			}
			if r.hits == 0 {
				fmt.Fprintf(bw, "%6d %9s %7s %7s %9s  %s\n", r.line, "", "", "", "", text)
				continue
			}
			fmt.Fprintf(bw, "%6d %9d %7.1f %7.1f %9d  %s\n", r.line, r.hits, pct(r.hits, fn.samples), pct(r.hits, total), r.self, text)
			if len(r.instrs) > 0 {
				fmt.Fprintf(bw, "%42s  %s\n", "instructions:", instrMix(r))
			}
		}
	}
	return bw.Flush()
}

func (LinesHTML) Write(w io.Writer, p *prof.Profile, o Options) error {
	fns, total, err := lineTables(p, o.LinesTop)
	if err != nil {
		return err
	}
	title := o.Title
	if title == "" {
		title = "Line profile"
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>%s</title>
<style>
body { font-family: sans-serif; margin: 1em 2em; }
table { border-collapse: collapse; margin-bottom: 2em; }
td, th { padding: 0 0.6em; text-align: right; white-space: nowrap; }
th { border-bottom: 1px solid #888; }
td.src { text-align: left; font-family: monospace; white-space: pre; }
td.na { color: #999; font-style: italic; }
p.sub { color: #555; }
</style></head><body>
<h1>%s</h1>
<p class="sub">%s · %d samples. Shading: the line's share of its function's samples.</p>
`, html.EscapeString(title), html.EscapeString(title), html.EscapeString(oneLine(p.Target)), total)
	if len(fns) == 0 {
		bw.WriteString("<p>No Python samples were recorded.</p>\n")
	}
	for _, fn := range fns {
		fmt.Fprintf(bw, "<h2>%s <small>%s:%d</small></h2>\n<p class=\"sub\">%d samples (%.1f%% of all), %d in its own lines</p>\n",
			html.EscapeString(fn.key.Name), html.EscapeString(fn.key.File), fn.key.Line, fn.samples, pct(fn.samples, total), fn.self)
		if !fn.hasSource {
			fmt.Fprintf(bw, "<p class=\"sub\">Source not available: %s was not readable while recording.</p>\n", html.EscapeString(fn.key.File))
		}
		bw.WriteString("<table><tr><th>Line</th><th>Samples</th><th>% Func</th><th>% All</th><th>Self</th><th style=\"text-align:left\">Line Contents</th></tr>\n")
		for _, r := range fn.rows {
			share := pct(r.hits, fn.samples)
			// White to red by share of the function.
			shade := 255 - int(share*1.8)
			fmt.Fprintf(bw, `<tr style="background:rgb(255,%d,%d)"><td>%d</td>`, shade, shade, r.line)
			if r.hits > 0 {
				fmt.Fprintf(bw, "<td>%d</td><td>%.1f</td><td>%.1f</td><td>%d</td>", r.hits, share, pct(r.hits, total), r.self)
			} else {
				bw.WriteString("<td></td><td></td><td></td><td></td>")
			}
			if r.hasSource {
				fmt.Fprintf(bw, "<td class=\"src\">%s</td></tr>\n", html.EscapeString(r.text))
			} else {
				bw.WriteString("<td class=\"src na\">source not available</td></tr>\n")
			}
			if len(r.instrs) > 0 {
				fmt.Fprintf(bw, "<tr><td colspan=\"5\"></td><td class=\"src na\">instructions: %s</td></tr>\n", html.EscapeString(instrMix(r)))
			}
		}
		bw.WriteString("</table>\n")
	}
	bw.WriteString("</body></html>\n")
	return bw.Flush()
}
