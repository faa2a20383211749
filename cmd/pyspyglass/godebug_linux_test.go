package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLaunchKeepsGODEBUG: the command record launches gets the user's
// GODEBUG (set, empty or absent) and nothing of ours (an earlier version
// re-executed itself with a GODEBUG of its own and leaked it).
func TestLaunchKeepsGODEBUG(t *testing.T) {
	in := newestHost(t)
	script := `import os; print("env=%r %r" % (os.environ.get("GODEBUG"), sorted(k for k in os.environ if k.startswith("PYSPYGLASS"))))`
	for _, c := range []struct {
		env  []string
		want string
	}{
		{nil, "env=None []"},
		{[]string{"GODEBUG="}, "env='' []"},
		{[]string{"GODEBUG=madvdontneed=1"}, "env='madvdontneed=1' []"},
	} {
		cmd := exec.Command(bin, "record", "-o", filepath.Join(t.TempDir(), "out.txt"), "--", in.Path, "-c", script)
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "GODEBUG=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, c.env...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v: %v\n%s", c.env, err, stderr.String())
		}
		if got := strings.TrimSpace(stdout.String()); got != c.want {
			t.Errorf("GODEBUG given as %v: the command saw %s, want %s", c.env, got, c.want)
		}
	}
}
