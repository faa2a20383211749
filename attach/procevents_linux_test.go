package attach

import (
	"os/exec"
	"testing"
	"time"
)

// TestProcEventsSeeFork starts a process and checks that its fork (from
// this test process), exec and exit arrive as events, in that order.
func TestProcEventsSeeFork(t *testing.T) {
	e, err := ListenProcEvents()
	if err != nil {
		t.Skipf("skipped: no process events here (%v); --subprocesses scans /proc instead", err)
	}
	defer e.Close()
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	cmd.Wait()
	var kinds []ProcEventKind
	got := make(chan []ProcEventKind, 1)
	go func() {
		var evs []ProcEvent
		for {
			var err error
			evs, err = e.Read(evs[:0])
			if err != nil && err != ErrProcEventsLost {
				got <- kinds
				return
			}
			for _, ev := range evs {
				if ev.Pid == pid {
					kinds = append(kinds, ev.Kind)
				}
			}
			if len(kinds) > 0 && kinds[len(kinds)-1] == ProcExit {
				got <- kinds
				return
			}
		}
	}()
	select {
	case k := <-got:
		if len(k) != 3 || k[0] != ProcFork || k[1] != ProcExec || k[2] != ProcExit {
			t.Errorf("events of pid %d: %v, want fork, exec, exit", pid, k)
		}
	case <-time.After(10 * time.Second):
		e.Close()
		t.Errorf("events of pid %d: %v after 10 s, want fork, exec, exit", pid, <-got)
	}
}
