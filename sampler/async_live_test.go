package sampler

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/internal/testutil"
	"github.com/pyspyglass/pyspyglass/pyabi"
	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// asyncInterpreters are the interpreters whose asyncio tasks are read
// (3.11+, not free-threaded); the others are named as skipped.
func asyncInterpreters(t *testing.T) []testutil.Interpreter {
	var out []testutil.Interpreter
	for _, in := range testutil.Select(t, testutil.Interpreters(t), "3.11") {
		if in.FreeThreaded {
			t.Logf("skipping %s: asyncio tasks of free-threaded builds are not read", in.Name)
			continue
		}
		out = append(out, in)
	}
	return out
}

// openAsync opens the target and enables --async, which on 3.14+ finds
// _AsyncioDebug in the binaries mapped.
func openAsync(t *testing.T, in testutil.Interpreter, pid int) *Target {
	t.Helper()
	target, err := Open(pid, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { target.Close() })
	if err := target.EnableAsync(); err != nil {
		t.Fatalf("%s: %v", in.Name, err)
	}
	return target
}

// wantTaskChain is the stack, root first, of spinner<suffix> in
// testdata/asyncio_tree.py, down to compute.
func wantTaskChain(t *testing.T, suffix string) []string {
	m := func(fn, mark string) string {
		return fmt.Sprintf("%s:%d", fn, testutil.Mark(t, "asyncio_tree.py", mark))
	}
	return []string{
		TaskFrameName("root" + suffix), m("main_task", "root-await"),
		TaskFrameName("middle" + suffix), m("middle", "middle-await"),
		TaskFrameName("spinner" + suffix), m("spin_task", "spin-await"),
	}
}

// frameLabel is a frame as wantTaskChain names it.
func frameLabel(f prof.Frame) string {
	if f.Kind == prof.KindOther {
		return f.Name
	}
	return fmt.Sprintf("%s:%d", f.Name, f.Line)
}

// TestAsyncRecordLive samples testdata/asyncio_tree.py with one and with
// three event loops (each in its own thread) with Options.Async: in at
// least 90% of each loop thread's samples the stack is its spinner task's
// chain (root task, the coroutine awaiting, middle, spinner, then compute),
// and no thread's stack has another loop's task. With three loops, three
// threads take turns at the GIL, and a thread that yielded to its loop
// waits for the GIL in select: those samples are the loop's, truly, so
// that run counts the samples of the thread holding the GIL.
func TestAsyncRecordLive(t *testing.T) {
	testutil.ForEach(t, asyncInterpreters(t), func(t *testing.T, in testutil.Interpreter) {
		for _, loops := range []int{1, 3} {
			t.Run(strconv.Itoa(loops)+"-loops", func(t *testing.T) {
				tg := testutil.Spawn(t, in, "asyncio_tree.py", strconv.Itoa(loops))
				target := openAsync(t, in, tg.Pid)
				p := prof.New(time.Now())
				// Sample in rounds until every loop thread has enough
				// samples: a loaded machine may starve one for a while.
				for round := 0; round < 10 && !enoughSamples(p, loops, 50); round++ {
					s := New([]*Target{target}, p, Options{Rate: 100, Async: true, GILOnly: loops > 1})
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
					s.Run(ctx)
					cancel()
				}
				perThread := map[string][2]int64{} // thread name -> spinner samples, all samples
				for _, c := range p.Counts() {
					name := p.Threads[c.Thread].Name
					if name != "MainThread" && !strings.HasPrefix(name, "loop-") {
						continue // the thread printing the ready line, ending
					}
					suffix := ""
					if name != "MainThread" {
						suffix = "-" + strings.TrimPrefix(name, "loop-")
					}
					want := wantTaskChain(t, suffix)
					st := p.Stacks[c.Stack]
					got := make([]string, 0, len(st))
					for _, f := range st {
						got = append(got, frameLabel(p.Frames[f]))
					}
					n := perThread[name]
					n[1] += c.N
					for _, g := range got {
						if strings.HasPrefix(g, "<task ") && !strings.HasSuffix(g, suffix+">") || suffix == "" && strings.Contains(g, "-") && strings.HasPrefix(g, "<task ") {
							t.Errorf("thread %s has another loop's task: %s", name, strings.Join(got, ";"))
						}
					}
					if len(got) > len(want) && strings.Join(got[:len(want)], ";") == strings.Join(want, ";") && strings.HasPrefix(got[len(want)], "compute:") {
						n[0] += c.N
					} else {
						t.Logf("thread %s, %d samples: %s", name, c.N, strings.Join(got, ";"))
					}
					perThread[name] = n
				}
				if len(perThread) != loops {
					t.Errorf("samples of %d threads, want %d: %v", len(perThread), loops, perThread)
				}
				for name, n := range perThread {
					share := 100 * float64(n[0]) / float64(max(n[1], 1))
					t.Logf("%s: thread %s: spinner's chain in %d of %d samples (%.1f%%)", in.Name, name, n[0], n[1], share)
					if n[1] < 50 || share < 90 {
						t.Errorf("thread %s: spinner's chain in %d of %d samples, want >= 90%%", name, n[0], n[1])
					}
				}
			})
		}
	})
}

// enoughSamples says whether each of the loops threads of asyncio_tree.py
// has at least n samples in p.
func enoughSamples(p *prof.Profile, loops int, n int64) bool {
	per := map[string]int64{}
	for _, c := range p.Counts() {
		per[p.Threads[c.Thread].Name] += c.N
	}
	if per["MainThread"] < n {
		return false
	}
	for i := 1; i < loops; i++ {
		if per["loop-"+strconv.Itoa(i)] < n {
			return false
		}
	}
	return true
}

// TestAsyncTasksLive lists the tasks of testdata/asyncio_tree.py with two
// loops: exactly the tree of each loop, its spinner running on its thread.
func TestAsyncTasksLive(t *testing.T) {
	testutil.ForEach(t, asyncInterpreters(t), func(t *testing.T, in testutil.Interpreter) {
		tg := testutil.Spawn(t, in, "asyncio_tree.py", "2")
		target := openAsync(t, in, tg.Pid)
		var tasks []pyabi.AsyncTask
		var err error
		var tree string
		want := "root(waiting) main_task:@ [middle(waiting) middle:@ [spinner(running) spin_task:@ compute:@ []] sleeper(waiting) sleeper:@ TaskGroup.__aexit__:@ [napper(waiting) nap:@ sleep:@ []]]\n" +
			"root-1(waiting) main_task:@ [middle-1(waiting) middle:@ [spinner-1(running) spin_task:@ compute:@ []] sleeper-1(waiting) sleeper:@ TaskGroup.__aexit__:@ [napper-1(waiting) nap:@ sleep:@ []]]"
		// The spinners yield to their loops now and then: read until both
		// are caught running (bounded).
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
			tasks, err = target.AsyncTasks()
			if err != nil {
				t.Fatal(err)
			}
			if tree = taskTree(tasks); tree == want {
				break
			}
		}
		if tree != want {
			t.Errorf("%s: tasks\n%s\nwant\n%s", in.Name, tree, want)
		}
	})
}

// taskTree prints tasks as nested lists from their roots, sorted by name:
// name(state) then its frames outermost first (function:@, lines left
// out) and its children in brackets.
func taskTree(tasks []pyabi.AsyncTask) string {
	byAddr := map[uint64]*pyabi.AsyncTask{}
	awaited := map[uint64]bool{}
	for i := range tasks {
		byAddr[tasks[i].Addr] = &tasks[i]
		for _, c := range tasks[i].Awaits {
			awaited[c] = true
		}
	}
	var walk func(t *pyabi.AsyncTask, depth int) string
	walk = func(t *pyabi.AsyncTask, depth int) string {
		var b strings.Builder
		fmt.Fprintf(&b, "%s(%s)", t.Name, t.State)
		for i := len(t.Stack) - 1; i >= 0 && i >= len(t.Stack)-2; i-- {
			fmt.Fprintf(&b, " %s:@", t.Stack[i].Code.Name)
		}
		var kids []string
		for _, c := range t.Awaits {
			if k := byAddr[c]; k != nil && depth < 10 {
				kids = append(kids, walk(k, depth+1))
			}
		}
		sort.Strings(kids)
		fmt.Fprintf(&b, " [%s]", strings.Join(kids, " "))
		return b.String()
	}
	var roots []string
	for i := range tasks {
		if !awaited[tasks[i].Addr] {
			roots = append(roots, walk(&tasks[i], 0))
		}
	}
	sort.Strings(roots)
	return strings.Join(roots, "\n")
}
