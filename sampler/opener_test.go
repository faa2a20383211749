package sampler

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/internal/testutil"
)

// deepWants is the stack of deep.py DEPTH, innermost first.
func deepWants(depth int) []want {
	const s = "deep.py"
	wants := []want{{"recurse", s, "deep-sleep"}}
	for range depth - 1 {
		wants = append(wants, want{"recurse", s, "deep-recurse"})
	}
	return append(wants, want{"main", s, "main-call-recurse"}, want{"<module>", s, "module-call-main"})
}

// TestOpenerSharesBuild opens two processes of each interpreter through one
// Opener: the second parses no file, shares the first one's Build and reads
// its own stack right.
func TestOpenerSharesBuild(t *testing.T) {
	testutil.ForEach(t, testutil.Interpreters(t), func(t *testing.T, in testutil.Interpreter) {
		const depth = 5
		first := testutil.Spawn(t, in, "deep.py", fmt.Sprint(depth))
		second := testutil.Spawn(t, in, "deep.py", fmt.Sprint(depth))
		o := NewOpener(nil)
		o.bins.NoDisk() // count parses, not what earlier tests left on disk
		tg1, err := o.Open(first.Pid)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tg1.Close() })
		parsed := o.bins.Parsed()
		if parsed == 0 {
			t.Fatal("no binary parsed for the first process")
		}
		tg2, err := o.Open(second.Pid)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tg2.Close() })
		if got := o.bins.Parsed(); got != parsed {
			t.Errorf("second process of the build parsed %d more files", got-parsed)
		}
		if tg1.Interp.Build != tg2.Interp.Build {
			t.Error("two processes of one binary got two Builds")
		}
		if tg1.Interp.Head == 0 || tg2.Interp.Head == 0 {
			t.Fatal("interpreter head not found")
		}
		for _, tg := range []*Target{tg1, tg2} {
			settled(t, tg, func(threads []ThreadStack) []string {
				if len(threads) != 1 {
					return []string{fmt.Sprintf("pid %d: %d threads, want 1", tg.Pid, len(threads))}
				}
				return frameProblems(t, threads[0].Frames, deepWants(depth))
			})
		}
	})
}

// BenchmarkOpenAnother measures attaching to one more process of a build
// already open (open, locate, first stack) against a full open that parses
// the binaries again, on every interpreter found:
//
//	go test -run '^$' -bench OpenAnother ./sampler
func BenchmarkOpenAnother(b *testing.B) {
	for _, in := range benchInterpreters(b) {
		b.Run(in.Name, func(b *testing.B) {
			first := testutil.Spawn(b, in, "deep.py", "5")
			other := testutil.Spawn(b, in, "deep.py", "5")
			o := NewOpener(nil)
			tg, err := o.Open(first.Pid)
			if err != nil {
				b.Fatal(err)
			}
			defer tg.Close()
			for _, mode := range []struct {
				name string
				open func(pid int) (*Target, error)
			}{
				{"shared", o.Open},
				{"full", func(pid int) (*Target, error) { return Open(pid, nil) }},
			} {
				b.Run(mode.name, func(b *testing.B) {
					var times []time.Duration
					for b.Loop() {
						start := time.Now()
						tg, err := mode.open(other.Pid)
						if err != nil {
							b.Fatal(err)
						}
						if err := firstStack(tg); err != nil {
							b.Fatal(err)
						}
						times = append(times, time.Since(start))
						tg.Close()
					}
					b.ReportMetric(float64(median(times).Microseconds()), "median-µs")
				})
			}
		})
	}
}

// firstStack lists the threads of tg and reads the first one's stack.
func firstStack(tg *Target) error {
	if err := tg.Refresh(); err != nil {
		return err
	}
	if len(tg.threads) == 0 {
		return fmt.Errorf("pid %d: no threads", tg.Pid)
	}
	_, err := tg.Interp.Stack(&tg.threads[0], nil)
	return err
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
