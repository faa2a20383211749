package attach

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// findPython returns a Python 3 interpreter, skipping the test if there
// is none.
func findPython(t testing.TB) string {
	t.Helper()
	candidates := []string{"/usr/bin/python3"}
	found, _ := filepath.Glob("/root/.pyenv/versions/3.*/bin/python")
	slices.Sort(found)
	candidates = append(candidates, found...)
	for _, p := range candidates {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("no Python 3 interpreter found (tried /usr/bin/python3, /root/.pyenv/versions/3.*/bin/python)")
	return ""
}

// launchReady launches argv with stdout on a pipe, waits for its first
// line "ready", and kills it when the test ends. It returns the child and
// a reader for the rest of its output.
func launchReady(t testing.TB, argv ...string) (*Child, *bufio.Reader) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c, err := Launch(argv, LaunchOptions{Stdout: w})
	w.Close()
	if err != nil {
		r.Close()
		t.Fatalf("Launch(%q): %v", argv, err)
	}
	t.Cleanup(func() {
		c.Signal(syscall.SIGKILL)
		c.Wait()
		r.Close()
	})
	br := bufio.NewReader(r)
	if line, err := br.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("pid %d: readiness line = %q, %v; want \"ready\"", c.Pid, line, err)
	}
	return c, br
}

// threadStates returns the state letter of every thread of pid.
func threadStates(t *testing.T, pid int) map[int]byte {
	t.Helper()
	tids, err := procmem.Threads(pid)
	if err != nil {
		t.Fatalf("Threads(%d): %v", pid, err)
	}
	states := make(map[int]byte)
	for _, tid := range tids {
		s, err := procmem.ThreadState(pid, tid)
		if errors.Is(err, procmem.ErrExited) {
			continue
		}
		if err != nil {
			t.Fatalf("ThreadState(%d, %d): %v", pid, tid, err)
		}
		states[tid] = s
	}
	return states
}

// tracerPids returns the TracerPid of every thread of pid.
func tracerPids(t *testing.T, pid int) map[int]int {
	t.Helper()
	tids, err := procmem.Threads(pid)
	if err != nil {
		t.Fatalf("Threads(%d): %v", pid, err)
	}
	out := make(map[int]int)
	for _, tid := range tids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(tid) + "/status")
		if err != nil {
			continue
		}
		tp, err := parseTracerPid(string(b))
		if err != nil {
			t.Fatalf("tid %d: %v", tid, err)
		}
		out[tid] = tp
	}
	return out
}

func formatStates(m map[int]byte) string {
	var parts []string
	for tid, s := range m {
		parts = append(parts, strconv.Itoa(tid)+":"+string(s))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}
