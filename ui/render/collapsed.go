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
	folded := map[string]int64{}
	var b strings.Builder
	for _, c := range countsByStack(p) {
		b.Reset()
		for i, f := range p.Stacks[c.Stack] {
			if i > 0 {
				b.WriteByte(';')
			}
			b.WriteString(labels[f])
		}
		folded[b.String()] += c.N
	}
	keys := make([]string, 0, len(folded))
	for k := range folded {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	bw := bufio.NewWriter(w)
	for _, k := range keys {
		bw.WriteString(k)
		bw.WriteByte(' ')
		bw.WriteString(strconv.FormatInt(folded[k], 10))
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
