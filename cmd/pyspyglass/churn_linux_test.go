package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pyspyglass/pyspyglass/internal/testutil"
)

// TestRecordPoolChurn launches a pool that forks a new worker for each of
// 60 tasks of about 150 ms (maxtasksperchild=1) under record
// --subprocesses and checks that every worker's task is in the profile,
// under the worker's own process root. As root the children are found
// through the kernel's process events, the moment they fork; the /proc
// scan every 100 ms missed some. One interpreter after the other: each
// run forks 60 processes.
func TestRecordPoolChurn(t *testing.T) {
	interps := testutil.Interpreters(t)
	if len(interps) == 0 {
		t.Skip("no Python interpreter found")
	}
	const tasks = 60
	rootRe := regexp.MustCompile(`^process (\d+): `)
	for _, in := range interps {
		t.Run(in.Name, func(t *testing.T) {
			in.Prepare(t)
			out := filepath.Join(t.TempDir(), "churn.txt")
			args := append([]string{"record", "--subprocesses", "--format", "collapsed", "-o", out, "--"},
				in.Argv(testutil.TestdataPath("pool_churn.py"), "60")...)
			cmd := exec.Command(bin, args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%v\n%s", err, stderr.String())
			}
			line := strings.TrimSpace(stdout.String())
			want, ok := strings.CutPrefix(line, "workers=")
			if !ok || len(strings.Split(want, ",")) != tasks {
				t.Fatalf("pool_churn.py printed %q, want workers= and %d pids", line, tasks)
			}
			seen := map[string]bool{}
			for stack := range collapsedCounts(t, out) {
				if m := rootRe.FindStringSubmatch(stack); m != nil && strings.Contains(stack, "churn_task (") {
					seen[m[1]] = true
				}
			}
			var missed []string
			for _, pid := range strings.Split(want, ",") {
				if !seen[pid] {
					missed = append(missed, pid)
				}
			}
			if len(missed) > 0 {
				t.Errorf("%d of %d workers have no churn_task sample: %v\n%s", len(missed), tasks, missed, stderr.String())
			}
		})
	}
}
