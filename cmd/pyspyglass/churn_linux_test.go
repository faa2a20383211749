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
// checks that the session opened every worker, found through the kernel's
// process events as it forked (the /proc scan every 100 ms missed some).
// On a machine loaded far beyond its cores the session's goroutine can be
// kept off a CPU for longer than a worker lives, so a run that misses
// workers is repeated, up to 3 runs in all; a scan-only follower misses
// workers in every run. One interpreter after the other: each run forks 60
// processes.
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
			var missed []string
			for run := range 3 {
				if missed = followChurn(t, in); len(missed) == 0 {
					return
				}
				t.Logf("run %d: %d of 60 workers not opened: %v", run+1, len(missed), missed)
			}
			t.Errorf("every run missed workers; the last missed %d of 60: %v", len(missed), missed)
		})
	}
}

// followChurn runs pool_churn.py 60 under a following session and returns
// the workers it did not open.
func followChurn(t *testing.T, in testutil.Interpreter) []string {
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
		if pid, _ := strconv.Atoi(p); !s.opened[pid] {
			missed = append(missed, p)
		}
	}
	return missed
}
