package render

import (
	"bufio"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// Collapsed writes Brendan Gregg's folded stacks, the input of flamegraph.pl,
// inferno and speedscope's importer: one line per distinct stack,
// "root;...;leaf N", frames shown as "name (file:line)" the way py-spy does.
// Threads are merged; thread and process roots are frames in the stacks when
// the recording asked for them. The format has no escaping, so a ';' inside a
// frame becomes ':' and line breaks become spaces; stacks that then read the
// same are merged. Lines are sorted, like flamegraph.pl sorts its input.
type Collapsed struct{}

func (Collapsed) Name() string { return "collapsed" }
func (Collapsed) Ext() string  { return ".txt" }

func (Collapsed) Write(w io.Writer, p *prof.Profile, o Options) error {
	if err := checkCounts(p); err != nil {
		return err
	}
	labels := make([]string, len(p.Frames))
	for i, f := range p.Frames {
		labels[i] = strings.ReplaceAll(oneLine(frameLabel(f)), ";", ":")
	}
	// Sorted and merged by their text without building the lines: they
	// are the whole output, and holding it all would double the memory
	// a write needs.
	counts := countsByStack(p)
	folded := func(i int) []prof.FrameID { return p.Stacks[counts[i].Stack] }
	slices.SortFunc(counts, func(a, b stackCount) int {
		return compareFolded(labels, p.Stacks[a.Stack], p.Stacks[b.Stack])
	})
	bw := bufio.NewWriter(w)
	for i := 0; i < len(counts); {
		n, j := counts[i].N, i+1
		for ; j < len(counts) && compareFolded(labels, folded(i), folded(j)) == 0; j++ {
			n += counts[j].N
		}
		for k, f := range folded(i) {
			if k > 0 {
				bw.WriteByte(';')
			}
			bw.WriteString(labels[f])
		}
		bw.WriteByte(' ')
		bw.WriteString(strconv.FormatInt(n, 10))
		bw.WriteByte('\n')
		i = j
	}
	return bw.Flush()
}

// compareFolded compares the lines two stacks fold to ("a;b;c", labels
// joined by ';') as strings, without building them. Frames both share
// from the root are skipped whole: the lines agree there.
func compareFolded(labels []string, a, b []prof.FrameID) int {
	k := 0
	for k < len(a) && k < len(b) && a[k] == b[k] {
		k++
	}
	ca, cb := foldCursor{labels, a, k, 0}, foldCursor{labels, b, k, 0}
	for {
		x, xok := ca.next()
		y, yok := cb.next()
		switch {
		case !xok && !yok:
			return 0
		case !xok:
			return -1
		case !yok:
			return 1
		case x != y:
			return int(x) - int(y)
		}
	}
}

// foldCursor walks the bytes of a stack's folded line from a frame on.
type foldCursor struct {
	labels     []string
	stack      []prof.FrameID
	frame, pos int
}

func (c *foldCursor) next() (byte, bool) {
	for c.frame < len(c.stack) {
		if l := c.labels[c.stack[c.frame]]; c.pos < len(l) {
			c.pos++
			return l[c.pos-1], true
		}
		c.frame, c.pos = c.frame+1, 0
		if c.frame < len(c.stack) {
			return ';', true
		}
	}
	return 0, false
}
