package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/attach"
	"github.com/pyspyglass/pyspyglass/internal/testutil"
	"github.com/pyspyglass/pyspyglass/sampler"
	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// TestFollowPoolChurn launches a pool that forks a new worker for each of
// 60 tasks of about 150 ms (maxtasksperchild=1) with --subprocesses and
// checks that the session saw every worker's fork through the kernel's
// process events (the /proc scan every 100 ms missed some). How many it
// also opened is logged, not asserted: on a machine loaded far beyond its
// cores the session's goroutine can be kept off a CPU for longer than a
// worker lives, and a worker gone before it is opened cannot be read. One
// interpreter after the other: each run forks 60 processes.
func TestFollowPoolChurn(t *testing.T) {
	if pe, err := attach.ListenProcEvents(); err != nil {
		t.Skipf("skipped: no process events here (%v): --subprocesses scans /proc instead", err)
	} else {
		pe.Close()
	}
	interps := testutil.Interpreters(t)
	if len(interps) == 0 {
		t.Skip("no Python interpreter found")
	}
	for _, in := range interps {
		t.Run(in.Name, func(t *testing.T) {
			in.Prepare(t)
			seen, opened := followChurn(t, in)
			t.Logf("%d of %d workers opened: %v of %v", len(opened), len(seen), opened, seen)
		})
	}
}

// followChurn runs pool_churn.py 60 under a following session and returns
// the workers whose fork it did not see and those it did not open.
func followChurn(t *testing.T, in testutil.Interpreter) (seen, opened []string) {
	const tasks = 60
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tf := &targetFlags{subprocesses: true, rate: 100}
	s, err := openSession(ctx, tf, in.Argv(testutil.TestdataPath("pool_churn.py"), strconv.Itoa(tasks)),
		attach.LaunchOptions{Stdout: w, Stderr: os.Stderr}, prof.New(time.Now()), sampler.Options{Rate: 100}, slog.New(slog.DiscardHandler))
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	forks := map[int]bool{}
	s.joined = func(pid int) { forks[pid] = true } // on follow's goroutine
	go s.sampler.Run(ctx)
	s.follow(ctx) // until every process has exited
	s.child.Wait()
	out, _ := io.ReadAll(r)
	line := strings.TrimSpace(string(out))
	want, ok := strings.CutPrefix(line, "workers=")
	pids := strings.Split(want, ",")
	if !ok || len(pids) != tasks {
		t.Fatalf("pool_churn.py printed %q, want workers= and %d pids", line, tasks)
	}
	var missed []string
	for _, p := range pids {
		pid, _ := strconv.Atoi(p)
		if forks[pid] {
			seen = append(seen, p)
		} else {
			missed = append(missed, p)
		}
		if s.opened[pid] {
			opened = append(opened, p)
		}
	}
	if len(missed) > 0 {
		t.Errorf("the forks of %d of %d workers were not seen: %v", len(missed), tasks, missed)
	}
	return seen, opened
}
