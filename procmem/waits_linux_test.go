package procmem

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// blockedWait polls thread tid of pid until it is blocked in a system
// call of kind (the child prints ready just before it blocks).
func blockedWait(t *testing.T, wr *WaitReader, tid int, kind WaitKind) Wait {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		w, err := wr.Thread(tid)
		if err != nil {
			t.Fatal(err)
		}
		if w.Kind == kind || time.Now().After(deadline) {
			return w
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWaitReaderLive(t *testing.T) {
	if !archNumbers {
		t.Skip("syscall numbers are only tabled for amd64")
	}
	t.Run("read on a pipe", func(t *testing.T) {
		c := startChild(t, "sh", "-c", "echo ready; read x")
		w := blockedWait(t, NewWaitReader(c.pid, nil), c.pid, WaitIO)
		if w.Syscall != "read" || w.FD != 0 || !strings.HasPrefix(w.FDDesc, "pipe:[") {
			t.Errorf("got %+v (%s), want a read on fd 0, a pipe", w, w)
		}
	})
	t.Run("wait for a child", func(t *testing.T) {
		c := startChild(t, "sh", "-c", "echo ready; cat >/dev/null; echo never")
		w := blockedWait(t, NewWaitReader(c.pid, nil), c.pid, WaitChild)
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", c.pid, c.pid))
		kids := strings.Fields(string(b))
		if err != nil || len(kids) != 1 {
			t.Fatalf("children of %d: %q %v", c.pid, kids, err)
		}
		// dash waits for any child, bash for the one it started.
		if got := strconv.Itoa(w.Child); w.Kind != WaitChild || (got != kids[0] && w.Child != -1) {
			t.Errorf("got %s, want a wait for child %s", w, kids[0])
		}
	})
}
