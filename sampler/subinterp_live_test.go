package sampler

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/internal/testutil"
	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// TestSubinterpretersLive runs a function in a sub-interpreter's thread
// (3.12+) while the main interpreter parks: samples show the function under
// that interpreter's root frame and the park under the main one's, and a
// snapshot lists the sub-interpreter's thread after the main ones.
func TestSubinterpretersLive(t *testing.T) {
	ins := testutil.Select(t, testutil.Interpreters(t), "3.12")
	testutil.ForEach(t, ins, func(t *testing.T, in testutil.Interpreter) {
		tg := testutil.Spawn(t, in, "subinterpreters.py")
		sub := "interpreter " + tg.Field("sub")
		target, err := Open(tg.Pid, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer target.Close()

		// The readiness line comes from sub_spin's line 3, just before
		// its loop: snapshot until the loop is seen (bounded).
		var order []int64
		spinning := false
		for deadline := time.Now().Add(10 * time.Second); !spinning && time.Now().Before(deadline); {
			threads, err := target.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			order = order[:0]
			for _, th := range threads {
				order = append(order, th.InterpID)
				if th.InterpID > 0 && len(th.Frames) > 0 && th.Frames[0].Code.Name == "sub_spin" && th.Frames[0].Line == 4 {
					spinning = true
				}
			}
		}
		if !spinning {
			t.Errorf("no thread of a sub-interpreter in sub_spin (<string>:4); interpreters in order %v", order)
		}
		for i := 1; i < len(order); i++ {
			if order[i] < order[i-1] {
				t.Errorf("snapshot not grouped by interpreter: %v", order)
			}
		}

		p := prof.New(time.Now())
		s := New([]*Target{target}, p, Options{Rate: 200, Idle: true})
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		s.Run(ctx)
		var subSpin, mainPark int64
		park := testutil.Mark(t, "subinterpreters.py", "main-park")
		for _, c := range p.Counts() {
			st := p.Stacks[c.Stack]
			root, leaf := p.Frames[st[0]], p.Frames[st[len(st)-1]]
			switch {
			case root.Kind == prof.KindInterpreter && root.Name == sub && leaf.Name == "sub_spin" && leaf.Line == 4:
				subSpin += c.N
			case root.Kind == prof.KindInterpreter && root.Name == "main interpreter" && leaf.Name == "main" &&
				strings.HasSuffix(leaf.File, "subinterpreters.py") && leaf.Line == park:
				mainPark += c.N
			}
		}
		if subSpin == 0 || mainPark == 0 {
			var got []string
			for _, c := range p.Counts() {
				var names []string
				for _, f := range p.Stacks[c.Stack] {
					names = append(names, p.Frames[f].Name)
				}
				got = append(got, strings.Join(names, ";"))
			}
			t.Errorf("sub_spin under %q: %d samples, main's park under the main interpreter: %d; stacks:\n%s",
				sub, subSpin, mainPark, strings.Join(got, "\n"))
		}
	})
}
