package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// live holds the process groups of the targets and the profilers running,
// so that an interrupted harness leaves nothing behind.
var live = struct {
	sync.Mutex
	pids map[int]bool
}{pids: map[int]bool{}}

func track(pid int, on bool) {
	live.Lock()
	defer live.Unlock()
	if on {
		live.pids[pid] = true
	} else {
		delete(live.pids, pid)
	}
}

// killAll ends every process group still running.
func killAll() {
	live.Lock()
	defer live.Unlock()
	for pid := range live.pids {
		syscall.Kill(-pid, syscall.SIGKILL)
	}
}

// target is a Python workload started by the harness: its stdout is read
// line by line (readiness, then the result line) and its stdin is the gate.
type target struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	ready string // payload of the readiness line
	done  chan struct{}
}

// startTarget runs python on a testdata script and waits for its readiness
// line. The script's own process group lets kill reach its threads' forks.
func startTarget(python, root, script string, args ...string) (*target, error) {
	return startTargetArgv([]string{python}, root, filepath.Join(root, "testdata", script), args...)
}

// startTargetArgv runs script with the interpreter command prefix (a
// chroot one, say) in dir.
func startTargetArgv(prefix []string, dir, script string, args ...string) (*target, error) {
	python := strings.Join(prefix, " ")
	argv := append(append(slices.Clone(prefix[1:]), "-u", script), args...)
	cmd := exec.Command(prefix[0], argv...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "LC_ALL=C.UTF-8")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s %s: %w", python, script, err)
	}
	track(cmd.Process.Pid, true)
	t := &target{cmd: cmd, stdin: stdin, lines: make(chan string, 16), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			t.lines <- sc.Text()
		}
		close(t.lines)
	}()
	line, err := t.line(60 * time.Second)
	if err != nil || !strings.HasPrefix(line, "ready") {
		t.kill()
		return nil, fmt.Errorf("%s %s: no readiness line (got %q): %w", python, script, line, err)
	}
	t.ready = strings.TrimSpace(strings.TrimPrefix(line, "ready"))
	return t, nil
}

func (t *target) pid() int { return t.cmd.Process.Pid }

// line waits for the next line of the target's stdout.
func (t *target) line(timeout time.Duration) (string, error) {
	select {
	case l, ok := <-t.lines:
		if !ok {
			return "", errors.New("target closed its stdout")
		}
		return l, nil
	case <-time.After(timeout):
		return "", fmt.Errorf("no line from the target within %v", timeout)
	}
}

// open opens the gate: the script starts its work.
func (t *target) open() error {
	if _, err := io.WriteString(t.stdin, "go\n"); err != nil {
		return fmt.Errorf("open the gate: %w", err)
	}
	return nil
}

// result waits for "done seconds=S" and returns S.
func (t *target) result(timeout time.Duration) (float64, error) {
	line, err := t.line(timeout)
	if err != nil {
		return 0, err
	}
	v, ok := strings.CutPrefix(line, "done seconds=")
	if !ok {
		return 0, fmt.Errorf("unexpected line %q, want done seconds=...", line)
	}
	return strconv.ParseFloat(v, 64)
}

// run opens the gate and waits for the result.
func (t *target) run(timeout time.Duration) (float64, error) {
	if err := t.open(); err != nil {
		return 0, err
	}
	return t.result(timeout)
}

// wait reaps the target.
func (t *target) wait(timeout time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- t.cmd.Wait() }()
	select {
	case err := <-errc:
		return err
	case <-time.After(timeout):
		t.kill()
		return <-errc
	}
}

// kill ends the target's process group; it is safe to call twice.
func (t *target) kill() {
	if t.cmd.Process != nil {
		syscall.Kill(-t.cmd.Process.Pid, syscall.SIGKILL)
		track(t.cmd.Process.Pid, false)
	}
	t.stdin.Close()
}

// profiler is a running profiler process: ours or a peer.
type profiler struct {
	cmd    *exec.Cmd
	stderr strings.Builder
	start  time.Time
	exited chan struct{}
	err    error
	usage  usage
}

// usage is what wait4 says about a finished profiler.
type usage struct {
	cpu  time.Duration // user + system
	wall time.Duration // start to exit
}

func startProfiler(argv []string, stdout io.Writer) (*profiler, error) {
	p := &profiler{cmd: exec.Command(argv[0], argv[1:]...), exited: make(chan struct{})}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own group: a Ctrl-C of the harness is not its SIGINT
	p.cmd.Stdout = stdout
	p.cmd.Stderr = &p.stderr
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	track(p.cmd.Process.Pid, true)
	go func() {
		p.err = p.cmd.Wait()
		track(p.cmd.Process.Pid, false)
		p.usage.wall = time.Since(p.start)
		if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			p.usage.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
		close(p.exited)
	}()
	return p, nil
}

func (p *profiler) pid() int { return p.cmd.Process.Pid }

// wait waits for the profiler to exit by itself, killing it after timeout.
func (p *profiler) wait(timeout time.Duration) error {
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s did not exit within %v; stderr: %s", p.cmd.Path, timeout, p.stderr.String())
	}
	return p.err
}

// stop sends SIGINT (peers without a duration flag stop on it) and waits.
func (p *profiler) stop(timeout time.Duration) error {
	p.cmd.Process.Signal(os.Interrupt)
	return p.wait(timeout)
}

// cpuNow is the CPU time process pid has used so far, in nanoseconds, from
// the schedstat of each of its threads (rusage only comes at exit, and
// /proc/PID/stat counts in clock ticks).
func cpuNow(pid int) (time.Duration, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var total time.Duration
	for _, task := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, task.Name(), "schedstat"))
		if err != nil {
			continue // the thread ended between the listing and now
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err == nil {
			total += time.Duration(ns)
		}
	}
	return total, nil
}

// rssNow is the resident set of pid (VmRSS) and its high-water mark
// (VmHWM) in bytes, 0 if gone. VmHWM rather than rusage's maxrss: a child
// forked from the harness counts the harness's pages in maxrss until it
// execs.
func rssNow(pid int) (rss, hwm int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	kb := func(v string) int64 {
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		return n * 1024
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			rss = kb(v)
		} else if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			hwm = kb(v)
		}
	}
	return rss, hwm
}

// sampling waits until our profiler has taken its first sample of target
// pid: the sampler opens /proc/PID/task/TID/stat the first time it asks
// whether a thread not holding the GIL runs, and every workload parks a
// thread at its gate. It returns false after timeout, or at once if the
// profiler exited.
func sampling(prof *profiler, pid int, timeout time.Duration) bool {
	want := fmt.Sprintf("/proc/%d/task/", pid)
	fdDir := fmt.Sprintf("/proc/%d/fd", prof.pid())
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-prof.exited:
			return false
		default:
		}
		fds, _ := os.ReadDir(fdDir)
		for _, fd := range fds {
			if link, err := os.Readlink(filepath.Join(fdDir, fd.Name())); err == nil && strings.HasPrefix(link, want) {
				return true
			}
		}
		time.Sleep(time.Millisecond)
	}
	return false
}
