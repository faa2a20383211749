package attach

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// TestDescendants builds sh -> {sleep, sh -> sleep} and expects all four
// below the outer sh, found both ways.
func TestDescendants(t *testing.T) {
	// The outer sh forks the first sleep before the inner sh, and the
	// inner sh prints "ready" after forking its sleep: once we read it,
	// all of them exist.
	cmd := exec.Command("sh", "-c", `sleep 60 & sh -c 'sleep 60 & echo ready; wait' & wait`)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // to kill the whole tree
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("readiness line = %q, %v", line, err)
	}
	root := cmd.Process.Pid

	got, err := Descendants(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("Descendants(%d) = %v, want 3 pids (sleep, sh, sleep)", root, got)
	}
	parents := map[int]bool{}
	for _, pid := range got {
		ppid, err := parentOf(pid)
		if err != nil {
			t.Fatal(err)
		}
		if ppid != root && !slices.Contains(got, ppid) {
			t.Errorf("pid %d has parent %d, outside the tree of %d", pid, ppid, root)
		}
		parents[ppid] = true
	}
	if len(parents) != 2 {
		t.Errorf("the tree of %d has %d parents, want 2 (outer and inner sh)", root, len(parents))
	}
	byStat, err := descendantsByStat(root)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(byStat, got) {
		t.Errorf("descendantsByStat = %v, Descendants = %v", byStat, got)
	}
	for _, pid := range got {
		if !parents[pid] {
			if d, err := Descendants(pid); err != nil || len(d) != 0 {
				t.Errorf("Descendants(leaf %d) = %v, %v; want none", pid, d, err)
			}
		}
	}
}

func TestDescendantsNoProcess(t *testing.T) {
	if _, err := Descendants(1 << 30); !errors.Is(err, procmem.ErrNoProcess) {
		t.Errorf("Descendants(missing) = %v, want ErrNoProcess", err)
	}
	if _, err := Descendants(os.Getpid()); err != nil {
		t.Errorf("Descendants(self): %v", err)
	}
}
