package procmem

import (
	"errors"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"sync"
	"testing"
)

func TestProcSelf(t *testing.T) {
	pid := os.Getpid()
	tids, err := Threads(pid)
	if err != nil {
		t.Fatal(err)
	}
	// The main thread's tid is the pid.
	if !slices.Contains(tids, pid) || !slices.IsSorted(tids) {
		t.Errorf("Threads = %v, want sorted and containing %d", tids, pid)
	}
	if state, err := ThreadState(pid, pid); err != nil || !isStateLetter(state) {
		t.Errorf("ThreadState = %q, %v", state, err)
	}
	if comm, err := ThreadComm(pid, pid); err != nil || comm == "" {
		t.Errorf("ThreadComm = %q, %v", comm, err)
	}
	if args, err := Cmdline(pid); err != nil || !reflect.DeepEqual(args, os.Args) {
		t.Errorf("Cmdline = %q, %v, want %q", args, err, os.Args)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Exe(pid); err != nil || got != exe {
		t.Errorf("Exe = %q, %v, want %q", got, err, exe)
	}
	if maps, err := ReadMaps(pid); err != nil || len(maps) == 0 {
		t.Errorf("ReadMaps = %d mappings, %v", len(maps), err)
	}
}

func isStateLetter(b byte) bool { return b >= 'A' && b <= 'z' }

func TestProcNoProcess(t *testing.T) {
	const pid = 1 << 30 // above pid_max, so never a live process
	if _, err := Threads(pid); !errors.Is(err, ErrNoProcess) {
		t.Errorf("Threads: %v", err)
	}
	if _, err := ThreadCount(pid); !errors.Is(err, ErrNoProcess) {
		t.Errorf("ThreadCount: %v", err)
	}
	if _, err := ReadMaps(pid); !errors.Is(err, ErrNoProcess) {
		t.Errorf("ReadMaps: %v", err)
	}
	if _, err := Cmdline(pid); !errors.Is(err, ErrNoProcess) {
		t.Errorf("Cmdline: %v", err)
	}
	if _, err := Exe(pid); !errors.Is(err, ErrNoProcess) {
		t.Errorf("Exe: %v", err)
	}
	if _, err := ThreadState(os.Getpid(), pid); !errors.Is(err, ErrExited) {
		t.Errorf("ThreadState of a missing tid: %v", err)
	}
}

// startCat starts a child that just waits on its stdin, and reaps it at
// the end of the test. kill ends it early.
func startCat(t *testing.T) (pid int, kill func()) {
	t.Helper()
	cmd := exec.Command("cat")
	if _, err := cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start cat: %v", err)
	}
	var once sync.Once
	kill = func() { once.Do(func() { cmd.Process.Kill(); cmd.Wait() }) }
	t.Cleanup(kill)
	return cmd.Process.Pid, kill
}

func TestStatReader(t *testing.T) {
	// A child's main thread stands for a thread we can make exit.
	pid, kill := startCat(t)
	tid := pid
	s := NewStatReader(pid)
	defer s.Close()
	if state, err := s.State(tid); err != nil || !isStateLetter(state) {
		t.Errorf("State(%d) = %q, %v", tid, state, err)
	}
	if got := testing.AllocsPerRun(100, func() {
		if _, err := s.State(tid); err != nil {
			t.Fatal(err)
		}
	}); got != 0 {
		t.Errorf("State allocates %v times per call", got)
	}
	if _, err := s.State(1 << 30); !errors.Is(err, ErrExited) {
		t.Errorf("State of a missing tid: %v", err)
	}

	// Once the thread is reaped its open stat file fails with ESRCH, and
	// the reader forgets it.
	kill()
	if _, err := s.State(tid); !errors.Is(err, ErrExited) {
		t.Errorf("State of an exited thread: %v", err)
	}
	if s.files[tid] != nil {
		t.Error("exited thread's file still open")
	}

	self := NewStatReader(os.Getpid())
	defer self.Close()
	self.State(os.Getpid())
	self.Retain([]int{})
	if len(self.files) != 0 {
		t.Errorf("after Retain: open files for %v", self.files)
	}
}

func TestCwdSelf(t *testing.T) {
	want, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Cwd(os.Getpid()); err != nil || got != want {
		t.Errorf("Cwd(self) = %q, %v; want %q", got, err, want)
	}
	if _, err := Cwd(1 << 30); !errors.Is(err, ErrNoProcess) {
		t.Errorf("Cwd(no such pid) = %v, want ErrNoProcess", err)
	}
}
