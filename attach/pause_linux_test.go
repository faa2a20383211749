package attach

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// busyScript spins in the main thread and two more threads, and prints
// "got" for every SIGUSR1.
const busyScript = `
import signal, sys, threading
def spin():
    while True:
        pass
signal.signal(signal.SIGUSR1, lambda *a: print("got", flush=True))
for _ in range(2):
    threading.Thread(target=spin, daemon=True).start()
print("ready", flush=True)
while True:
    pass
`

// busyThreads starts two spinning threads.
const busyThreads = `
import sys, threading
def spin():
    while True:
        pass
for _ in range(2):
    threading.Thread(target=spin, daemon=True).start()
`

func newPauser(t *testing.T, pid int) *Pauser {
	t.Helper()
	p, err := NewPauser(pid)
	if err != nil {
		t.Fatalf("NewPauser(%d): %v", pid, err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestPauseResumeClose(t *testing.T) {
	c, _ := launchReady(t, findPython(t), "-c", busyScript)
	p := newPauser(t, c.Pid)
	if n := len(threadStates(t, c.Pid)); n != 3 {
		t.Fatalf("target has %d threads, want 3", n)
	}
	for i := range 20 {
		if err := p.Pause(); err != nil {
			t.Fatalf("round %d: Pause: %v", i, err)
		}
		for tid, s := range threadStates(t, c.Pid) {
			if s != 't' {
				t.Fatalf("round %d: paused, tid %d is in state %c, want t (tracing stop): %s", i, tid, s, formatStates(threadStates(t, c.Pid)))
			}
		}
		if err := p.Pause(); err != nil {
			t.Fatalf("round %d: second Pause: %v", i, err)
		}
		if err := p.Resume(); err != nil {
			t.Fatalf("round %d: Resume: %v", i, err)
		}
		for tid, s := range threadStates(t, c.Pid) {
			if s == 't' || s == 'T' {
				t.Fatalf("round %d: resumed, tid %d is still stopped: %s", i, tid, formatStates(threadStates(t, c.Pid)))
			}
		}
	}
	for tid, tp := range tracerPids(t, c.Pid) {
		if tp == 0 {
			t.Errorf("tid %d not traced while the pauser is open", tid)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for tid, tp := range tracerPids(t, c.Pid) {
		if tp != 0 {
			t.Errorf("tid %d still traced by %d after Close", tid, tp)
		}
	}
	for tid, s := range threadStates(t, c.Pid) {
		if s == 't' || s == 'T' {
			t.Errorf("tid %d stopped after Close: %c", tid, s)
		}
	}
	if err := p.Pause(); err == nil {
		t.Error("Pause after Close succeeded")
	}
}

// TestPauseCloseWhilePaused: Close must also let a paused target go.
func TestPauseCloseWhilePaused(t *testing.T) {
	c, _ := launchReady(t, findPython(t), "-c", busyScript)
	p := newPauser(t, c.Pid)
	if err := p.Pause(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for tid, s := range threadStates(t, c.Pid) {
		if s == 't' || s == 'T' {
			t.Errorf("tid %d stopped after Close: %c", tid, s)
		}
	}
}

// TestPauseSignals checks that the target's signals are delivered while
// seized, both when they arrive while it runs and while it is paused.
func TestPauseSignals(t *testing.T) {
	c, out := launchReady(t, findPython(t), "-c", busyScript)
	p := newPauser(t, c.Pid)
	expectGot := func(when string) {
		t.Helper()
		// Blocks until the handler ran; a lost signal hangs the test
		// until go test's -timeout reports it.
		if line, err := out.ReadString('\n'); err != nil || line != "got\n" {
			t.Fatalf("%s: read %q, %v; want \"got\"", when, line, err)
		}
	}
	if err := c.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	expectGot("sent while running")

	if err := p.Pause(); err != nil {
		t.Fatal(err)
	}
	if err := c.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	// Pausing again must not swallow the pending signal either.
	if err := p.Resume(); err != nil {
		t.Fatal(err)
	}
	if err := p.Pause(); err != nil {
		t.Fatal(err)
	}
	if err := p.Resume(); err != nil {
		t.Fatal(err)
	}
	expectGot("sent while paused")

	if err := p.Pause(); err != nil {
		t.Fatal(err)
	}
	if err := c.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	// Close with a signal pending: it must still arrive.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	expectGot("pending at Close")
}

// TestPauseJobControl stops the seized target with SIGSTOP: Pause and
// Resume must keep it stopped (job control is the user's, not ours) and
// SIGCONT must still wake it.
func TestPauseJobControl(t *testing.T) {
	c, out := launchReady(t, findPython(t), "-c", busyScript)
	p := newPauser(t, c.Pid)
	if err := c.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// The stop spreads to the threads asynchronously; each Pause sees a
	// later state. A bounded number of rounds, not a clock, decides.
	stopped := false
	for i := 0; i < 1000 && !stopped; i++ {
		if err := p.Pause(); err != nil {
			t.Fatal(err)
		}
		stopped = allGroupStopped(t, p)
		if err := p.Resume(); err != nil {
			t.Fatal(err)
		}
	}
	if !stopped {
		t.Fatal("after SIGSTOP the threads never reported a group stop")
	}
	if err := c.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if err := c.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	if line, err := out.ReadString('\n'); err != nil || line != "got\n" {
		t.Fatalf("after SIGCONT: read %q, %v; want \"got\"", line, err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}

// allGroupStopped reports whether Pause found every thread in a job
// control stop.
func allGroupStopped(t *testing.T, p *Pauser) bool {
	t.Helper()
	all := true
	err := p.do(func(tr *tracer) error {
		for _, th := range tr.threads {
			all = all && th.stopped && th.groupStop
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return all
}

func TestPauseTargetExits(t *testing.T) {
	py := findPython(t)
	t.Run("killed while running", func(t *testing.T) {
		c, _ := launchReady(t, py, "-c", busyScript)
		p := newPauser(t, c.Pid)
		if err := c.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err := p.Pause()
		if !errors.Is(err, procmem.ErrExited) {
			t.Errorf("Pause after kill = %v, want ErrExited", err)
		}
		if err := p.Pause(); !errors.Is(err, procmem.ErrExited) {
			t.Errorf("second Pause after kill = %v, want ErrExited", err)
		}
		if err := p.Close(); err != nil {
			t.Errorf("Close after exit: %v", err)
		}
		// The exit status is still ours to collect.
		if code, err := c.Wait(); code != 128+9 || err != nil {
			t.Errorf("Wait() = %d, %v; want %d", code, err, 128+9)
		}
	})
	t.Run("killed while paused", func(t *testing.T) {
		c, _ := launchReady(t, py, "-c", busyScript)
		p := newPauser(t, c.Pid)
		if err := p.Pause(); err != nil {
			t.Fatal(err)
		}
		if err := c.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		p.Resume() // may or may not see the threads gone yet
		if err := p.Pause(); !errors.Is(err, procmem.ErrExited) {
			t.Errorf("Pause after kill = %v, want ErrExited", err)
		}
		if err := p.Close(); err != nil {
			t.Errorf("Close after exit: %v", err)
		}
		if code, err := c.Wait(); code != 128+9 || err != nil {
			t.Errorf("Wait() = %d, %v; want %d", code, err, 128+9)
		}
	})
	t.Run("exits by itself", func(t *testing.T) {
		// The target exits with 3 once its stdin closes: its exit code
		// must reach Wait although it is seized, and Pause must notice.
		in, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		c, err := Launch([]string{py, "-c", busyThreads + "sys.stdin.read(); sys.exit(3)"}, LaunchOptions{Stdin: in})
		in.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Signal(syscall.SIGKILL); c.Wait() })
		p := newPauser(t, c.Pid)
		if err := p.Pause(); err != nil {
			t.Fatal(err)
		}
		w.Close()
		if err := p.Resume(); err != nil {
			t.Fatal(err)
		}
		if code, err := c.Wait(); code != 3 || err != nil {
			t.Errorf("Wait() = %d, %v; want 3", code, err)
		}
		if err := p.Pause(); !errors.Is(err, procmem.ErrExited) {
			t.Errorf("Pause after exit = %v, want ErrExited", err)
		}
	})
}

func TestNewPauserNoProcess(t *testing.T) {
	_, err := NewPauser(1 << 30)
	if !errors.Is(err, procmem.ErrNoProcess) || !strings.Contains(err.Error(), "1073741824") {
		t.Errorf("NewPauser(missing) = %v, want ErrNoProcess naming the pid", err)
	}
}

// TestPauseGrandchild seizes a process that is not our child, as with
// --pid: its exit must reach its real parent (here a sh waiting for it)
// while we are still attached.
func TestPauseGrandchild(t *testing.T) {
	py := findPython(t)
	cmd := exec.Command("sh", "-c", `"$0" -c "$1" & wait $!; echo "status $?"`, py, busyScript)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	out := bufio.NewReader(stdout)
	if line, err := out.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("readiness line = %q, %v", line, err)
	}
	kids, err := Descendants(cmd.Process.Pid)
	if err != nil || len(kids) != 1 {
		t.Fatalf("Descendants(sh) = %v, %v; want the python", kids, err)
	}
	pid := kids[0]
	p := newPauser(t, pid)
	if err := p.Pause(); err != nil {
		t.Fatal(err)
	}
	if err := p.Resume(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := p.Pause(); !errors.Is(err, procmem.ErrExited) {
		t.Errorf("Pause after kill = %v, want ErrExited", err)
	}
	// Still attached (no Close yet): sh must nevertheless see the exit.
	if line, err := out.ReadString('\n'); err != nil || line != "status 137\n" {
		t.Errorf("sh reported %q, %v; want status 137", line, err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// BenchmarkPauseResume measures one Pause and Resume of a target whose
// three threads spin, as blocking mode does per sample.
func BenchmarkPauseResume(b *testing.B) {
	py := findPython(b)
	c, _ := launchReady(b, py, "-c", busyScript)
	p, err := NewPauser(c.Pid)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	for b.Loop() {
		if err := p.Pause(); err != nil {
			b.Fatal(err)
		}
		if err := p.Resume(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPausersShareThreads: many Pausers (one per child with
// --subprocesses) share tracerThreads OS threads rather than holding one
// each; processes traced from one thread pause and die independently, and
// the threads go away with the last Pauser.
func TestPausersShareThreads(t *testing.T) {
	const n = 40
	var kids []*Child
	for range n {
		c, _ := launchReady(t, "sh", "-c", "echo ready; exec sleep 60")
		kids = append(kids, c)
	}
	before := ownThreads(t)
	var ps []*Pauser
	for _, c := range kids {
		p, err := NewPauser(c.Pid)
		if err != nil {
			t.Fatalf("NewPauser(%d): %v", c.Pid, err)
		}
		defer p.Close()
		ps = append(ps, p)
	}
	// Go starts a few threads of its own (the signal watcher, threads
	// for the P a blocking syscall left); a thread per Pauser is n more.
	const slack = 8
	if after := ownThreads(t); after > before+tracerThreads+slack {
		t.Fatalf("%d OS threads before %d Pausers, %d with them: want at most %d more", before, n, after, tracerThreads+slack)
	}
	for i := range n / 2 {
		kids[i].Signal(syscall.SIGKILL)
		kids[i].Wait()
	}
	for i, p := range ps {
		err := p.Pause()
		if i < n/2 {
			if !errors.Is(err, procmem.ErrExited) {
				t.Errorf("child %d (killed): Pause = %v, want ErrExited", i, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("child %d: Pause: %v", i, err)
		}
	}
	for i, p := range ps[n/2:] {
		for tid, s := range threadStates(t, kids[n/2+i].Pid) {
			if s != 't' {
				t.Errorf("child %d tid %d: state %c while paused, want t", n/2+i, tid, s)
			}
		}
		if err := p.Resume(); err != nil {
			t.Errorf("Resume: %v", err)
		}
	}
	for _, p := range ps {
		p.Close()
	}
	hosts.mu.Lock()
	left := hosts.slot
	hosts.mu.Unlock()
	for _, h := range left {
		if h != nil {
			t.Errorf("a tracer thread with %d Pausers is left after every Pauser was closed", h.users)
		}
	}
}

// ownThreads is this process's number of OS threads.
func ownThreads(t *testing.T) int {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	return len(tasks)
}
