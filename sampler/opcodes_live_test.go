package sampler

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/internal/testutil"
	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// TestOpcodesLive records testdata/opcodes.py with Opcodes on and checks
// each hot line's instruction leaves against what dis says of that line in
// the same interpreter: every instruction seen is one of the line's, the
// line's defining instruction is among them (a float multiply, an
// attribute load, a call), and from 3.11 the multiply and the attribute
// load are seen in a specialised form.
func TestOpcodesLive(t *testing.T) {
	testutil.ForEach(t, testutil.Interpreters(t), func(t *testing.T, in testutil.Interpreter) {
		if in.FreeThreaded && in.AtLeast(3, 14) {
			t.Skipf("%s: opcodes are refused on free-threaded 3.14+ (thread-local bytecode)", in.Name)
		}
		tg := testutil.Spawn(t, in, "opcodes.py")
		lines := map[string]string{"fmul": "fmul-line", "attr": "attr-line", "builtin": "builtin-line"}
		dis := map[string][]string{}
		for fn := range lines {
			dis[fn] = strings.Split(tg.Field(fn), ",")
		}
		call := "CALL"
		switch {
		case !in.AtLeast(3, 11):
			call = "CALL_FUNCTION"
		case !in.AtLeast(3, 12):
			call = "PRECALL" // 3.11's PRECALL_NO_KW_LEN runs len() itself
		}
		mul := "BINARY_OP"
		if !in.AtLeast(3, 11) {
			mul = "BINARY_MULTIPLY"
		}
		key := map[string]string{"fmul": mul, "attr": "LOAD_ATTR", "builtin": call}
		specialised := in.AtLeast(3, 11) && !in.FreeThreaded // 3.13t does not specialise
		if in.FreeThreaded {
			t.Logf("%s: free-threaded 3.13 does not specialise; specialised forms not checked", in.Name)
		}

		target, err := Open(tg.Pid, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer target.Close()
		p := prof.New(time.Now())
		s := New([]*Target{target}, p, Options{Rate: 300, Opcodes: true})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go s.Run(ctx)

		// Sample until every check has had its evidence, or the deadline.
		var problems []string
		deadline := time.Now().Add(20 * time.Second)
		for {
			time.Sleep(200 * time.Millisecond)
			s.View(func(p *prof.Profile) {
				problems = checkOpcodes(t, p, lines, dis, key, specialised)
			})
			if len(problems) == 0 || time.Now().After(deadline) {
				break
			}
		}
		cancel()
		<-s.Done()
		for _, pr := range problems {
			t.Error(pr)
		}
	})
}

// checkOpcodes lists what p does not show yet: per function, its hot
// line's instruction leaves checked against dis's names for that line.
func checkOpcodes(t *testing.T, p *prof.Profile, lines map[string]string, dis map[string][]string, key map[string]string, specialised bool) []string {
	type seen struct{ names, bases map[string]int64 }
	got := map[string]*seen{}
	for fn := range lines {
		got[fn] = &seen{map[string]int64{}, map[string]int64{}}
	}
	for _, c := range p.Counts() {
		st := p.Stacks[c.Stack]
		if len(st) < 2 {
			continue
		}
		leaf, parent := p.Frames[st[len(st)-1]], p.Frames[st[len(st)-2]]
		g := got[parent.Name]
		if leaf.Kind != prof.KindInstruction || g == nil || parent.Line != testutil.Mark(t, "opcodes.py", lines[parent.Name]) {
			continue
		}
		name, base := instrNames(leaf.Name)
		g.names[name] += c.N
		g.bases[base] += c.N
	}
	var out []string
	for fn, g := range got {
		for base, n := range g.bases {
			if !slices.Contains(dis[fn], base) {
				out = append(out, fmt.Sprintf("%s: %d samples at %s, which is not on the line; dis shows %s", fn, n, base, strings.Join(dis[fn], ",")))
			}
		}
		if g.bases[key[fn]] == 0 {
			out = append(out, fn+": no sample at "+key[fn]+"; seen "+summary(g.names))
		}
		if !specialised {
			continue
		}
		var spec bool
		for name := range g.names {
			spec = spec || strings.HasPrefix(name, key[fn]+"_") && !strings.HasSuffix(name, "_ADAPTIVE")
		}
		if fn != "builtin" && !spec {
			out = append(out, fn+": no specialised "+key[fn]+" seen; seen "+summary(g.names))
		}
	}
	slices.Sort(out)
	return out
}

// instrNames splits a leaf "[NAME (BASE)]" or "[NAME]".
func instrNames(leaf string) (name, base string) {
	s := strings.TrimSuffix(strings.TrimPrefix(leaf, "["), "]")
	if n, b, ok := strings.Cut(s, " ("); ok {
		return n, strings.TrimSuffix(b, ")")
	}
	return s, s
}

func summary(m map[string]int64) string {
	var parts []string
	for k := range m {
		parts = append(parts, k)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}
