package testutil

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Deadline bounds every wait in this file: for the readiness line and for a
// process to exit. It is a guard that turns a hang into a failure with the
// child's stderr, never a synchronisation delay: waits return as soon as the
// event happens.
var Deadline = 60 * time.Second

// Target is a process started by Spawn or SpawnCmd. Its whole process group
// is killed and reaped in t.Cleanup.
//
// Nothing reaps the process before Wait or the cleanup: a background wait4
// would also collect the ptrace stops of a tracer in this test process (the
// kernel reports a tracee's stops to any wait in the tracer's thread group),
// stealing them from the package under test. Exited watches for the exit with
// a pidfd instead, which reaps nothing.
type Target struct {
	Pid    int
	Cmd    *exec.Cmd
	Ready  string      // the readiness line's payload after "ready ", once WaitReady returned
	Interp Interpreter // the interpreter Spawn used; zero for SpawnCmd

	readyCh    chan string   // gets the payload of the first readiness line
	eofCh      chan struct{} // closed at the end of the child's stdout
	stderrDone chan struct{} // closed at the end of the child's stderr
	exitCh     chan struct{} // closed when the process has terminated

	mu     sync.Mutex
	stdout []string   // lines other than the readiness line
	stderr tailBuffer // the last bytes of stderr

	waitMu  sync.Mutex // held while reaping, so Kill never signals a reused group id
	reaped  bool
	state   *os.ProcessState
	waitErr error
}

// Spawn runs `interp.Path -u testdata/<script> args...` (in the
// interpreter's root filesystem when it has one) and waits for the
// script's readiness line ("ready" or "ready <payload>"). The test fails with
// the child's output if the line does not come within Deadline or the child
// exits first.
func Spawn(t testing.TB, interp Interpreter, script string, args ...string) *Target {
	t.Helper()
	interp.Prepare(t)
	tg := start(t, interp.Argv(append([]string{"-u", TestdataPath(script)}, args...)...))
	tg.Interp = interp
	tg.WaitReady(t)
	return tg
}

// SpawnCmd starts argv (e.g. "sleep", "60") without waiting for anything;
// call WaitReady if the program prints a readiness line.
func SpawnCmd(t testing.TB, argv ...string) *Target {
	t.Helper()
	if len(argv) == 0 {
		t.Fatal("spawn: empty argv")
	}
	return start(t, argv)
}

func start(t testing.TB, argv []string) *Target {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = ModuleRoot()
	cmd.Env = childEnv()
	// Own process group, so cleanup also kills forked children.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Plain pipes instead of StdoutPipe: exec's Wait would otherwise close
	// them under the reader, and Wait must stay optional (see Target).
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatalf("spawn %q: stdout pipe: %v", argv, err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		t.Fatalf("spawn %q: stderr pipe: %v", argv, err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		t.Fatalf("spawn %q: %v", argv, err)
	}
	tg := &Target{
		Pid:        cmd.Process.Pid,
		Cmd:        cmd,
		readyCh:    make(chan string, 1),
		eofCh:      make(chan struct{}),
		stderrDone: make(chan struct{}),
		exitCh:     make(chan struct{}),
	}
	go tg.readStdout(outR)
	go tg.readStderr(errR)
	watchExit(tg.Pid, tg.exitCh)
	t.Cleanup(func() { tg.cleanup(t) })
	return tg
}

// WaitReady waits for the readiness line and returns its payload (also left
// in t.Ready). Spawn calls it; call it after SpawnCmd for programs that print
// one.
func (tg *Target) WaitReady(t testing.TB) string {
	t.Helper()
	timer := time.NewTimer(Deadline)
	defer timer.Stop()
	select {
	case payload := <-tg.readyCh:
		tg.Ready = payload
		return payload
	case <-tg.eofCh:
		// select picks at random among ready cases, and a short script may
		// print its line and exit before this runs.
		select {
		case payload := <-tg.readyCh:
			tg.Ready = payload
			return payload
		default:
		}
		// The child closed stdout without the line; it has almost always
		// exited, and its status and complete stderr belong in the message.
		status := "stdout closed"
		select {
		case <-tg.exitCh:
			state, err := tg.wait()
			status = fmt.Sprintf("exited (%v, %v)", state, err)
			select {
			case <-tg.stderrDone:
			case <-timer.C:
			}
		case <-timer.C:
		}
		t.Fatalf("pid %d %q %s before printing ready\n%s", tg.Pid, tg.Cmd.Args, status, tg.output())
	case <-timer.C:
		t.Fatalf("pid %d %q printed no ready line within %v (%s)\n%s", tg.Pid, tg.Cmd.Args, Deadline, procState(tg.Pid), tg.output())
	}
	return ""
}

// Field returns the value of key in a "key=value" readiness payload such as
// "main=123 busy-worker=124", or "" when absent.
func (tg *Target) Field(key string) string {
	for _, f := range strings.Fields(tg.Ready) {
		if k, v, ok := strings.Cut(f, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// Fields returns every "key=value" field of the readiness payload.
func (tg *Target) Fields() map[string]string {
	out := map[string]string{}
	for _, f := range strings.Fields(tg.Ready) {
		if k, v, ok := strings.Cut(f, "="); ok {
			out[k] = v
		}
	}
	return out
}

// Exited is closed once the process has terminated (it may still be an
// unreaped zombie). Watching it reaps nothing.
func (tg *Target) Exited() <-chan struct{} { return tg.exitCh }

// Wait waits up to Deadline for the process to exit, reaps it and returns its
// state. It fails the test when the process does not exit in time.
func (tg *Target) Wait(t testing.TB) *os.ProcessState {
	t.Helper()
	select {
	case <-tg.exitCh:
	case <-time.After(Deadline):
		t.Fatalf("pid %d %q did not exit within %v (%s)\n%s", tg.Pid, tg.Cmd.Args, Deadline, procState(tg.Pid), tg.output())
	}
	state, err := tg.wait()
	if state == nil {
		t.Fatalf("reap pid %d: %v", tg.Pid, err)
	}
	// The last lines may still be in the pipes: read them before the
	// caller looks at Stdout (a child the target forked may keep the
	// pipes open, hence the bound).
	outputs := time.After(2 * time.Second)
	for _, done := range []chan struct{}{tg.eofCh, tg.stderrDone} {
		select {
		case <-done:
		case <-outputs:
		}
	}
	return state
}

// ExitCode waits for the process like Wait and returns its exit status, or -1
// when a signal ended it.
func (tg *Target) ExitCode(t testing.TB) int {
	t.Helper()
	return tg.Wait(t).ExitCode()
}

// Kill sends SIGKILL to the process group now, e.g. to test how a sampler
// copes with a target that vanishes. Use Wait to reap it. After the process
// has been reaped it does nothing: its group id may name another group by then.
func (tg *Target) Kill() error {
	tg.waitMu.Lock()
	defer tg.waitMu.Unlock()
	if tg.reaped {
		return nil
	}
	if err := syscall.Kill(-tg.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill process group %d: %w", tg.Pid, err)
	}
	return nil
}

// Stdout returns the lines the child printed besides the readiness line.
func (tg *Target) Stdout() string {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return strings.Join(tg.stdout, "\n")
}

// Stderr returns the end of what the child wrote to stderr so far.
func (tg *Target) Stderr() string {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.stderr.String()
}

func (tg *Target) output() string {
	return fmt.Sprintf("--- stdout:\n%s\n--- stderr:\n%s", tg.Stdout(), tg.Stderr())
}

func (tg *Target) wait() (*os.ProcessState, error) {
	tg.waitMu.Lock()
	defer tg.waitMu.Unlock()
	if !tg.reaped {
		err := tg.Cmd.Wait()
		tg.reaped = true
		tg.state = tg.Cmd.ProcessState
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			err = nil // a non-zero status is a result here, not a failure
		}
		tg.waitErr = err
	}
	return tg.state, tg.waitErr
}

func (tg *Target) cleanup(t testing.TB) {
	if err := tg.Kill(); err != nil {
		t.Logf("cleanup: %v", err)
	}
	select {
	case <-tg.exitCh:
		tg.wait()
	case <-time.After(Deadline):
		t.Errorf("cleanup: pid %d still running %v after SIGKILL", tg.Pid, Deadline)
	}
}

// readStdout hands the first readiness line to WaitReady and keeps every
// other line; it drains the pipe to the end so the child never blocks on it.
func (tg *Target) readStdout(r *os.File) {
	defer r.Close()
	defer close(tg.eofCh)
	br := bufio.NewReader(r)
	sentReady := false
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			line = strings.TrimRight(line, "\r\n")
			if !sentReady && (line == "ready" || strings.HasPrefix(line, "ready ")) {
				sentReady = true
				tg.readyCh <- strings.TrimSpace(strings.TrimPrefix(line, "ready"))
			} else {
				tg.mu.Lock()
				if len(tg.stdout) < maxStdoutLines {
					tg.stdout = append(tg.stdout, line)
				}
				tg.mu.Unlock()
			}
		}
		if err != nil {
			return
		}
	}
}

func (tg *Target) readStderr(r *os.File) {
	defer r.Close()
	defer close(tg.stderrDone)
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			tg.mu.Lock()
			tg.stderr.Write(buf[:n])
			tg.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

const (
	maxStdoutLines = 1000
	maxStderrBytes = 64 << 10
)

// tailBuffer keeps the last maxStderrBytes written, where a traceback ends.
type tailBuffer struct{ b []byte }

func (tb *tailBuffer) Write(p []byte) {
	tb.b = append(tb.b, p...)
	if over := len(tb.b) - maxStderrBytes; over > 0 {
		tb.b = append(tb.b[:0], tb.b[over:]...)
	}
}

func (tb *tailBuffer) String() string { return string(tb.b) }

// procState describes a process that did not do what was expected: its
// scheduler state and where in the kernel it waits, from /proc.
func procState(pid int) string {
	state := "state unknown"
	if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "State:") {
				state = strings.TrimSpace(line)
			}
		}
	}
	if wchan, err := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", pid)); err == nil && len(wchan) > 0 {
		state += ", wchan " + string(wchan)
	}
	return state
}

// childEnv is the environment for every interpreter run: the test's own
// minus the PYTHON* variables that could redirect an interpreter to another
// one's library (PYTHONHOME, PYTHONPATH), plus settings that keep runs alike:
// no .pyc files written into testdata, and a UTF-8 locale so 3.6 can import
// the non-ASCII file names of unicode_names.py.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PYTHON") || k == "LC_ALL" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PYTHONDONTWRITEBYTECODE=1", "LC_ALL=C.UTF-8")
}
