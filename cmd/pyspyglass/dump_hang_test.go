package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/internal/testutil"
)

// dumpDoc is the part of dump --json these tests read.
type dumpDoc struct {
	Pid     int      `json:"pid"`
	Cmdline []string `json:"cmdline"`
	Threads []struct {
		Name     string `json:"name"`
		GIL      bool   `json:"gil"`
		WaitsGIL bool   `json:"waiting_for_gil"`
		Frames   []struct {
			Name string `json:"name"`
			Line int    `json:"line"`
		} `json:"frames"`
	} `json:"threads"`
}

// TestDumpSubprocesses dumps forker.py's parent and its two children with
// one --subprocesses: an array of three processes, each with its pid,
// command line and the frames the script documents.
func TestDumpSubprocesses(t *testing.T) {
	testutil.ForEach(t, testutil.Interpreters(t), func(t *testing.T, in testutil.Interpreter) {
		testutil.RequireModules(t, in, "multiprocessing.synchronize")
		tg := testutil.Spawn(t, in, "forker.py")
		var c1, c2 int
		for _, f := range strings.Fields(tg.Ready) {
			k, v, _ := strings.Cut(f, "=")
			n, _ := strconv.Atoi(v)
			switch k {
			case "child1":
				c1 = n
			case "child2":
				c2 = n
			}
		}
		r := pyspyglass(t, "dump", "--subprocesses", "--json", "--pid", strconv.Itoa(tg.Pid))
		var docs []dumpDoc
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &docs) != nil {
			t.Fatalf("exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		found := map[int]bool{}
		for _, d := range docs {
			found[d.Pid] = true
			if len(d.Cmdline) == 0 || len(d.Threads) == 0 {
				t.Errorf("pid %d: cmdline %q, %d threads", d.Pid, d.Cmdline, len(d.Threads))
				continue
			}
			// A child is in its loop: on the marked line or on the while
			// line just above it, which each outer round runs.
			want, line, lines := "parent_wait", testutil.Mark(t, "forker.py", "parent-sleep"), 1
			if d.Pid != tg.Pid {
				want, line, lines = "child_work", testutil.Mark(t, "forker.py", "child-loop")-1, 2
			}
			if fs := d.Threads[0].Frames; len(fs) == 0 || fs[0].Name != want || fs[0].Line < line || fs[0].Line >= line+lines {
				t.Errorf("pid %d: frames %+v, want %s at line %d..%d first", d.Pid, fs, want, line, line+lines-1)
			}
		}
		if len(docs) != 3 || !found[tg.Pid] || !found[c1] || !found[c2] {
			t.Errorf("dumped %d processes %v, want %d, %d and %d", len(docs), found, tg.Pid, c1, c2)
		}
		text := pyspyglass(t, "dump", "-s", "--pid", strconv.Itoa(tg.Pid))
		for _, pid := range []int{tg.Pid, c1, c2} {
			if !strings.Contains(text.stdout, "Process "+strconv.Itoa(pid)+": ") {
				t.Errorf("text dump lacks process %d:\n%s", pid, text.stdout)
			}
		}
	})
}

// TestDumpWaitingForGIL dumps two spinning threads: while one holds the
// GIL the other sleeps on it, and dump says so instead of "idle". 2.7
// and 3.6 keep their GIL in static variables dump does not find.
func TestDumpWaitingForGIL(t *testing.T) {
	testutil.ForEach(t, testutil.Select(t, testutil.Interpreters(t), "3.7"), func(t *testing.T, in testutil.Interpreter) {
		if in.FreeThreaded {
			t.Skip("a free-threaded build has no GIL")
		}
		tg := testutil.Spawn(t, in, "threads_many.py", "4")
		deadline := time.Now().Add(20 * time.Second)
		for {
			r := pyspyglass(t, "dump", "--json", "--pid", strconv.Itoa(tg.Pid))
			var d dumpDoc
			if r.code != 0 || json.Unmarshal([]byte(r.stdout), &d) != nil {
				t.Fatalf("exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			waiting := ""
			for _, th := range d.Threads {
				if th.WaitsGIL && strings.HasPrefix(th.Name, "cpu-") {
					waiting = th.Name
				}
				if th.WaitsGIL && th.GIL {
					t.Fatalf("%s both holds and waits for the GIL", th.Name)
				}
			}
			if waiting != "" {
				// The text dump is another moment: the GIL may be between
				// two threads then, held by none and awaited by none.
				var text result
				for range 10 {
					text = pyspyglass(t, "dump", "--pid", strconv.Itoa(tg.Pid))
					if strings.Contains(text.stdout, "(waiting for the GIL)") || strings.Contains(text.stdout, "+gil") {
						return
					}
				}
				t.Errorf("10 text dumps show no GIL state, the last:\n%s", text.stdout)
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no spinning thread seen waiting for the GIL; last dump:\n%s", r.stdout)
			}
		}
	})
}

// TestDumpChangingTarget dumps a process whose stacks change thousands
// of times a second, stopped and running: every dump succeeds and shows
// the stack the script documents, never a crash.
func TestDumpChangingTarget(t *testing.T) {
	testutil.ForEach(t, testutil.Interpreters(t), func(t *testing.T, in testutil.Interpreter) {
		tg := testutil.Spawn(t, in, "generators.py")
		whole := 0 // nonblocking dumps that read the stack whole
		for i := range 10 {
			args := []string{"dump", "--locals", "--pid", strconv.Itoa(tg.Pid)}
			stopped := i%2 == 0
			if !stopped {
				args = append(args, "--nonblocking")
			}
			r := pyspyglass(t, args...)
			// A stopped target always reads whole; a running one that
			// switches generators thousands of times a second may defeat
			// every retry of a read, which must then say so, not crash.
			if r.code != 0 || stopped && !strings.Contains(r.stdout, "consume (") {
				t.Fatalf("%v: exit %d:\n%s\n%s", args, r.code, r.stdout, r.stderr)
			}
			if !stopped && strings.Contains(r.stdout, "consume (") {
				whole++
			}
			if stopped && strings.Contains(r.stdout, "<error reading stack") {
				t.Errorf("a stopped target gave a torn stack:\n%s", r.stdout)
			}
		}
		if whole == 0 {
			t.Errorf("none of 5 nonblocking dumps read the stack whole")
		}
	})
}
