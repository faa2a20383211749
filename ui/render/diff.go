package render

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// Folded is a profile reduced to function-level stacks for comparing two
// runs: "root;...;leaf" of frame labels without line numbers ("name
// (file)"), so a stack still matches after an edit moved its lines, mapped
// to its samples.
type Folded map[string]int64

// Total is the number of samples.
func (f Folded) Total() int64 {
	var t int64
	for _, n := range f {
		t += n
	}
	return t
}

// FoldProfile folds p by function.
func FoldProfile(p *prof.Profile) (Folded, error) {
	if err := checkCounts(p); err != nil {
		return nil, err
	}
	labels := make([]string, len(p.Frames))
	for i, f := range p.Frames {
		f.Line = 0
		labels[i] = foldLabel(frameLabel(f))
	}
	out := Folded{}
	var b strings.Builder
	for _, c := range countsByStack(p) {
		b.Reset()
		for i, f := range p.Stacks[c.Stack] {
			if i > 0 {
				b.WriteByte(';')
			}
			b.WriteString(labels[f])
		}
		out[b.String()] += c.N
	}
	return out, nil
}

func foldLabel(s string) string { return strings.ReplaceAll(oneLine(s), ";", ":") }

// lineSuffix is the ":LINE" of a collapsed frame label "name (file:LINE)".
var lineSuffix = regexp.MustCompile(`:\d+\)$`)

// ReadFolded reads collapsed stacks ("a;b;c N" per line, as Collapsed,
// py-spy, austin's and flamegraph.pl's stackcollapse write), dropping line
// numbers from "name (file:line)" labels.
func ReadFolded(r io.Reader) (Folded, error) {
	out := Folded{}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			return nil, fmt.Errorf("line %d: no sample count after the stack", n)
		}
		count, err := strconv.ParseInt(line[i+1:], 10, 64)
		if err != nil || count < 0 {
			return nil, fmt.Errorf("line %d: sample count %q is not a whole number", n, line[i+1:])
		}
		frames := strings.Split(strings.TrimSpace(line[:i]), ";")
		for j, f := range frames {
			frames[j] = lineSuffix.ReplaceAllString(f, ")")
		}
		out[strings.Join(frames, ";")] += count
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// Diff compares two runs by each stack's and function's share of its run's
// samples, so runs of different lengths compare fairly.
type Diff struct {
	Base, New Folded
}

func (d Diff) totals() (base, new float64, err error) {
	b, n := d.Base.Total(), d.New.Total()
	if b == 0 {
		return 0, 0, fmt.Errorf("the base profile has no samples")
	}
	if n == 0 {
		return 0, 0, fmt.Errorf("the new profile has no samples")
	}
	return float64(b), float64(n), nil
}

// WriteCollapsed writes the difference as flamegraph.pl's difffolded.pl
// does, the input of `flamegraph.pl` and `inferno-flamegraph` for a
// differential flame graph: "stack BASE NEW" per line, sorted, BASE scaled
// to NEW's total so that the columns compare shares. A stack present in
// one run only has 0 in the other column.
func (d Diff) WriteCollapsed(w io.Writer) error {
	bt, nt, err := d.totals()
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	for _, k := range unionKeys(d.Base, d.New) {
		base := int64(math.Round(float64(d.Base[k]) * nt / bt))
		fmt.Fprintf(bw, "%s %d %d\n", k, base, d.New[k])
	}
	return bw.Flush()
}

func unionKeys(a, b Folded) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// DiffRow is one function's shares of the two runs, in percent.
type DiffRow struct {
	Function            string
	BaseSelf, NewSelf   float64
	BaseTotal, NewTotal float64
}

// Change is the larger of the inclusive and self changes, in points.
func (r DiffRow) Change() float64 {
	return max(math.Abs(r.NewTotal-r.BaseTotal), math.Abs(r.NewSelf-r.BaseSelf))
}

// Rows lists the functions whose share changed, biggest change first.
// Changes under half a hundredth of a point are not changes (rounding).
func (d Diff) Rows() ([]DiffRow, error) {
	bt, nt, err := d.totals()
	if err != nil {
		return nil, err
	}
	// Whole samples are summed first and divided once, so the shares do
	// not depend on the order stacks come out of a map.
	type sums struct{ baseSelf, baseIncl, newSelf, newIncl int64 }
	fns := map[string]*sums{}
	add := func(f Folded, self, incl func(s *sums) *int64) {
		for stack, n := range f {
			frames := strings.Split(stack, ";")
			seen := map[string]bool{}
			for _, fn := range frames {
				s := fns[fn]
				if s == nil {
					s = &sums{}
					fns[fn] = s
				}
				if !seen[fn] {
					seen[fn] = true
					*incl(s) += n
				}
			}
			*self(fns[frames[len(frames)-1]]) += n
		}
	}
	add(d.Base, func(s *sums) *int64 { return &s.baseSelf }, func(s *sums) *int64 { return &s.baseIncl })
	add(d.New, func(s *sums) *int64 { return &s.newSelf }, func(s *sums) *int64 { return &s.newIncl })
	share := func(n int64, total float64) float64 { return 100 * float64(n) / total }
	rows := map[string]*DiffRow{}
	for fn, s := range fns {
		rows[fn] = &DiffRow{Function: fn,
			BaseSelf: share(s.baseSelf, bt), BaseTotal: share(s.baseIncl, bt),
			NewSelf: share(s.newSelf, nt), NewTotal: share(s.newIncl, nt)}
	}
	var out []DiffRow
	for _, r := range rows {
		if r.Change() >= 0.005 {
			out = append(out, *r)
		}
	}
	slices.SortFunc(out, func(a, b DiffRow) int {
		return cmp.Or(cmp.Compare(b.Change(), a.Change()), strings.Compare(a.Function, b.Function))
	})
	return out, nil
}

// WriteTable writes the top functions whose share changed most, like a
// before/after comparison of two pstats listings.
func (d Diff) WriteTable(w io.Writer, top int) error {
	rows, err := d.Rows()
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "base: %d samples, new: %d samples; shares of each run's samples, in %%\n", d.Base.Total(), d.New.Total())
	if len(rows) == 0 {
		fmt.Fprintln(bw, "no function's share changed")
		return bw.Flush()
	}
	fmt.Fprintf(bw, "%8s %7s %7s  %8s %7s %7s  %s\n", "Δtotal", "base", "new", "Δself", "base", "new", "function")
	for i, r := range rows {
		if top > 0 && i == top {
			fmt.Fprintf(bw, "(%d more)\n", len(rows)-top)
			break
		}
		fmt.Fprintf(bw, "%+8.2f %7.2f %7.2f  %+8.2f %7.2f %7.2f  %s\n",
			r.NewTotal-r.BaseTotal, r.BaseTotal, r.NewTotal, r.NewSelf-r.BaseSelf, r.BaseSelf, r.NewSelf, r.Function)
	}
	return bw.Flush()
}

// WriteFlamegraph writes a differential flame graph: the new run's flame
// graph (widths by its samples) with each frame coloured by how its share
// changed from the base run, red where it grew and blue where it shrank,
// deeper for bigger changes, white where it held; the tooltip gives both
// runs' samples and shares. Stacks only in the base run have no width here;
// the table lists them.
func (d Diff) WriteFlamegraph(w io.Writer, o Options) error {
	bt, nt, err := d.totals()
	if err != nil {
		return err
	}
	type node struct {
		fn        *flameNode
		base, new int64
		kids      map[string]*node
	}
	root := &node{fn: &flameNode{frame: prof.Frame{Name: "all", Kind: prof.KindOther}, label: "all"}, kids: map[string]*node{}}
	walk := func(stack string, base, new int64) {
		n := root
		n.base += base
		n.new += new
		for _, label := range strings.Split(stack, ";") {
			c := n.kids[label]
			if c == nil {
				c = &node{fn: &flameNode{label: label, frame: prof.Frame{Name: label}}, kids: map[string]*node{}}
				n.kids[label] = c
			}
			c.base += base
			c.new += new
			n = c
		}
	}
	for _, k := range unionKeys(d.Base, d.New) {
		walk(k, d.Base[k], d.New[k])
	}
	change := func(n *node) float64 { return 100 * (float64(n.new)/nt - float64(n.base)/bt) }
	var most float64
	var scan func(n *node)
	scan = func(n *node) {
		most = max(most, math.Abs(change(n)))
		for _, c := range n.kids {
			scan(c)
		}
	}
	scan(root)
	var build func(n *node) *flameNode
	build = func(n *node) *flameNode {
		f := n.fn
		f.n = n.new
		ch := change(n)
		f.fill = diffColor(ch, most)
		f.note = fmt.Sprintf("base %d samples, %.2f%%; new %d samples, %.2f%%; %+.2f points",
			n.base, 100*float64(n.base)/bt, n.new, 100*float64(n.new)/nt, ch)
		for _, c := range n.kids {
			if c.new > 0 {
				f.children = append(f.children, build(c))
			}
		}
		return f
	}
	top := build(root)
	if o.Title == "" {
		o.Title = "Differential Flame Graph"
	}
	subtitle := fmt.Sprintf("widths: new run (%d samples); red grew, blue shrank against the base run (%d samples)", int64(nt), int64(bt))
	return writeFlameSVG(w, top, o, subtitle)
}

// diffColor shades from white to red (growth) or blue (shrinkage), in
// proportion to the largest change in the graph.
func diffColor(change, most float64) string {
	if most < 0.005 || math.Abs(change) < 0.005 {
		return "rgb(250,250,250)"
	}
	k := int(math.Round(210 * math.Min(1, math.Abs(change)/most)))
	if change > 0 {
		return fmt.Sprintf("rgb(255,%d,%d)", 250-k, 250-k)
	}
	return fmt.Sprintf("rgb(%d,%d,255)", 250-k, 250-k)
}
