package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/internal/testutil"
)

// asyncInterps splits the interpreters found into those --async reads
// (3.11+, not free-threaded) and those it refuses.
func asyncInterps(t *testing.T) (read, refused []testutil.Interpreter) {
	for _, in := range testutil.Interpreters(t) {
		if in.AtLeast(3, 11) && !in.FreeThreaded {
			read = append(read, in)
		} else {
			refused = append(refused, in)
		}
	}
	return read, refused
}

// stdlibFrame is a task tree's line of a frame of asyncio's own, whose
// function, file and line are the interpreter's.
var stdlibFrame = regexp.MustCompile(`(?m)^[│ ]* [A-Za-z_.]+ \([^)]*/asyncio/[a-z_]+\.py:\d+\)\n`)

// TestDumpAsyncEveryInterpreter runs `dump --async` on asyncio_tree.py
// with its cycle: the main thread's stack is its spinner task's chain, the
// task tree is exactly the script's, with the frame each task waits in,
// and the two tasks awaiting each other are reported as a cycle; --json
// has the same tasks with both directions of awaiting, and the cycle.
func TestDumpAsyncEveryInterpreter(t *testing.T) {
	read, _ := asyncInterps(t)
	testutil.ForEach(t, read, func(t *testing.T, in testutil.Interpreter) {
		proc := testutil.Spawn(t, in, "asyncio_tree.py", "1", "cycle")
		const s = "asyncio_tree.py"
		line := func(m string) int { return testutil.Mark(t, s, m) }
		file := testutil.TestdataPath(s)
		wantStack := fmt.Sprintf(": \"MainThread\"\n    burn (%s:%d)\n    compute (%s:%d)\n    spin_task (%s:%d)\n    <task spinner>\n"+
			"    middle (%s:%d)\n    <task middle>\n    main_task (%s:%d)\n    <task root>\n",
			s, line("burn-loop"), s, line("compute-burn"), s, line("spin-await"), s, line("middle-await"), s, line("root-await"))
		wantTree := strings.Join([]string{
			fmt.Sprintf("Thread %d \"MainThread\":", proc.Pid),
			"└── root (waiting)",
			fmt.Sprintf("    │   main_task (%s:%d)", s, line("root-await")),
			"    ├── middle (waiting)",
			fmt.Sprintf("    │   │   middle (%s:%d)", s, line("middle-await")),
			"    │   └── spinner (running)",
			fmt.Sprintf("    │           burn (%s:%d)", s, line("burn-loop")),
			fmt.Sprintf("    │           compute (%s:%d)", s, line("compute-burn")),
			fmt.Sprintf("    │           spin_task (%s:%d)", s, line("spin-await")),
			"    └── sleeper (waiting)",
			fmt.Sprintf("        │   sleeper (%s:%d)", s, line("sleeper-await")),
			"        └── napper (waiting)",
			fmt.Sprintf("                nap (%s:%d)", s, line("nap-await")),
			"",
			fmt.Sprintf("Thread %d \"MainThread\":", proc.Pid),
			"└── cycle-a (waiting)",
			fmt.Sprintf("    │   cycle_member (%s:%d)", s, line("cycle-await")),
			"    └── cycle-b (waiting)",
			fmt.Sprintf("        │   cycle_member (%s:%d)", s, line("cycle-await")),
			"        └── cycle-a (waiting, shown above)",
			"",
		}, "\n")
		// The spinner yields to its loop now and then: retry until the
		// dump catches it running (the deadline bounds a failure).
		var text string
		for deadline := time.Now().Add(20 * time.Second); ; {
			r := pyspyglass(t, "dump", "--async", "--pid", strconv.Itoa(proc.Pid))
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			text = stdlibFrame.ReplaceAllString(strings.ReplaceAll(r.stdout, file, s), "")
			if strings.Contains(text, wantStack) && strings.Contains(text, "\nAsyncio tasks: 7\nCYCLE: \"cycle-a\" -> \"cycle-b\" -> \"cycle-a\" (each awaits the next)\n\n"+wantTree) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("dump --async lacks the spinner's stack\n%s\nor the tree\n%s\n in:\n%s", wantStack, wantTree, text)
			}
		}
		r := pyspyglass(t, "dump", "--async", "--json", "--pid", strconv.Itoa(proc.Pid))
		var doc struct {
			Asyncio struct {
				Tasks []struct {
					ID, Name, State string
					NativeID        int `json:"native_id"`
					Awaits          []string
					AwaitedBy       []string `json:"awaited_by"`
				} `json:"tasks"`
				Cycles [][]string `json:"cycles"`
			} `json:"asyncio"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatalf("dump --async --json: %v\n%s", err, r.stdout)
		}
		names := map[string]string{}
		for _, tk := range doc.Asyncio.Tasks {
			names[tk.ID] = tk.Name
		}
		var got []string
		for _, tk := range doc.Asyncio.Tasks {
			var aw, by []string
			for _, id := range tk.Awaits {
				aw = append(aw, names[id])
			}
			for _, id := range tk.AwaitedBy {
				by = append(by, names[id])
			}
			got = append(got, fmt.Sprintf("%s awaits %v, awaited by %v, thread %v", tk.Name, aw, by, tk.NativeID == proc.Pid))
		}
		want := []string{
			"cycle-a awaits [cycle-b], awaited by [cycle-b], thread true",
			"cycle-b awaits [cycle-a], awaited by [cycle-a], thread true",
			"middle awaits [spinner], awaited by [root], thread true",
			"napper awaits [], awaited by [sleeper], thread true",
			"root awaits [middle sleeper], awaited by [], thread true",
			"sleeper awaits [napper], awaited by [root], thread true",
			"spinner awaits [], awaited by [middle], thread true",
		}
		var cycles []string
		for _, c := range doc.Asyncio.Cycles {
			var ns []string
			for _, id := range c {
				ns = append(ns, names[id])
			}
			cycles = append(cycles, strings.Join(ns, ","))
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") || strings.Join(cycles, ";") != "cycle-a,cycle-b" {
			t.Errorf("dump --async --json tasks:\n%s\ncycles %v\nwant\n%s", strings.Join(got, "\n"), cycles, strings.Join(want, "\n"))
		}
	})
}

// TestRecordAsyncCollapsed records asyncio_tree.py with --async on the
// newest interpreter: most samples are the spinner's chain; `top --once
// --async` has a row for each task of the chain.
func TestRecordAsyncCollapsed(t *testing.T) {
	read, _ := asyncInterps(t)
	if len(read) == 0 {
		t.Skip("no interpreter --async reads (3.11+)")
	}
	in := read[len(read)-1]
	proc := testutil.Spawn(t, in, "asyncio_tree.py")
	out := filepath.Join(t.TempDir(), "async.txt")
	r := pyspyglass(t, "record", "--async", "-d", "2", "-f", "collapsed", "-o", out, "--pid", strconv.Itoa(proc.Pid))
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	counts := collapsedCounts(t, out)
	all, chain := 0, samplesWhere(counts, "<task root>;main_task (", "<task middle>;middle (", "<task spinner>;spin_task (", "compute (")
	for _, n := range counts {
		all += n
	}
	t.Logf("%s: spinner's chain in %d of %d samples", in.Name, chain, all)
	if all < 10 || float64(chain) < 0.9*float64(all) {
		data, _ := os.ReadFile(out)
		t.Errorf("spinner's chain in %d of %d samples, want >= 90%%:\n%s", chain, all, data)
	}
	r = pyspyglass(t, "top", "--once", "--async", "--delay", "1", "--pid", strconv.Itoa(proc.Pid))
	for _, task := range []string{"<task root>", "<task middle>", "<task spinner>"} {
		if r.code != 0 || !strings.Contains(r.stdout, "  "+task+"\n") {
			t.Errorf("top --once --async: exit %d, no row %s:\n%s%s", r.code, task, r.stdout, r.stderr)
		}
	}
}

// TestAsyncRefused: --async on a version whose tasks are not read, and
// with --native, is a one-line error naming the supported span.
func TestAsyncRefused(t *testing.T) {
	_, refused := asyncInterps(t)
	testutil.ForEach(t, refused, func(t *testing.T, in testutil.Interpreter) {
		proc := testutil.Spawn(t, in, "sleepers.py")
		for _, args := range [][]string{{"dump", "--async"}, {"record", "--async", "-d", "1", "-o", filepath.Join(t.TempDir(), "x.txt"), "-f", "collapsed"}} {
			r := pyspyglass(t, append(args, "--pid", strconv.Itoa(proc.Pid))...)
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			last := lines[len(lines)-1]
			if r.code == 0 || !strings.Contains(last, "--async: pid "+strconv.Itoa(proc.Pid)) || !strings.Contains(last, "CPython 3.11 or newer") {
				t.Errorf("%v: exit %d, stderr:\n%s", args, r.code, r.stderr)
			}
		}
	})
	r := pyspyglass(t, "dump", "--async", "--native", "--pid", "1")
	if r.code == 0 || !strings.Contains(r.stderr, "--async and --native cannot be combined") {
		t.Errorf("--async --native: exit %d, stderr %s", r.code, r.stderr)
	}
}
