package main

// The fault-injection suite (go test -run Fault): the faults a profiler in
// production meets, injected many times each, because each is a race that
// one try rarely hits. Every recording must end (no hang), leave no thread
// of the target stopped or traced, never panic, and write a complete file
// unless we were SIGKILLed ourselves. PYSPYGLASS_FAULT_TRIES sets the number
// of tries per timing-dependent case (default 50, 10 with -short).

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/internal/testutil"
)

// faultTries is how many times each timing-dependent fault is injected.
func faultTries(t *testing.T) int {
	t.Helper()
	if s := os.Getenv("PYSPYGLASS_FAULT_TRIES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("PYSPYGLASS_FAULT_TRIES=%q: want a positive number", s)
		}
		return n
	}
	if testing.Short() {
		return 10
	}
	return 50
}

// hangBound is how long a recording may take to end after the fault: far
// beyond any honest exit, it only tells a hang from a slow machine.
const hangBound = 60 * time.Second

// recording is one pyspyglass run under test.
type recording struct {
	cmd     *exec.Cmd
	mu      sync.Mutex
	stderr  strings.Builder
	started chan struct{} // closed at the "sampling" line
	done    chan struct{} // closed when stderr ends (the process exited)
	pid     int           // the first sampled pid, from the start line
}

var startLine = regexp.MustCompile(`^pyspyglass: sampling pid (\d+) `)

// startRecording runs pyspyglass with args and returns once it samples, or
// nil with the reason when it ended before.
func startRecording(t *testing.T, args ...string) (*recording, string) {
	t.Helper()
	r := &recording{cmd: exec.Command(bin, args...), started: make(chan struct{}), done: make(chan struct{})}
	pipe, err := r.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.cmd.Process.Kill(); r.cmd.Wait() })
	go func() {
		defer close(r.done)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			r.mu.Lock()
			r.stderr.WriteString(sc.Text() + "\n")
			r.mu.Unlock()
			if m := startLine.FindStringSubmatch(sc.Text()); m != nil && r.pid == 0 {
				r.pid, _ = strconv.Atoi(m[1])
				close(r.started)
			}
		}
	}()
	select {
	case <-r.started:
		return r, ""
	case <-r.done:
		r.cmd.Wait()
		return nil, r.output()
	}
}

func (r *recording) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stderr.String()
}

// wait waits for the recording to end and returns its exit code (-1 for a
// signal). A recording still running after hangBound is a hang: its
// goroutines are dumped (SIGQUIT) into the failure.
func (r *recording) wait(t *testing.T, what string) int {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(hangBound):
		r.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-r.done:
		case <-time.After(5 * time.Second):
		}
		t.Fatalf("%s: HANG: pyspyglass did not end within %v\n%s", what, hangBound, r.output())
	}
	r.cmd.Wait()
	out := r.output()
	if strings.Contains(out, "panic:") || strings.Contains(out, "goroutine ") {
		t.Fatalf("%s: pyspyglass panicked:\n%s", what, out)
	}
	return r.cmd.ProcessState.ExitCode()
}

// checkCollapsed fails unless path is a complete collapsed-stacks file:
// every line "frame;frame;... count", ended by a newline.
func checkCollapsed(t *testing.T, what, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatalf("%s: %s does not end with a newline: truncated", what, path)
	}
	for i, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if l == "" && len(data) == 0 {
			break
		}
		sp := strings.LastIndexByte(l, ' ')
		if n, err := strconv.Atoi(l[sp+1:]); sp <= 0 || err != nil || n <= 0 {
			t.Fatalf("%s: %s line %d is not \"stack count\": %q", what, path, i+1, l)
		}
	}
}

// checkNotStopped fails if a thread of the live process pid is stopped or
// traced.
func checkNotStopped(t *testing.T, what string, pid int) {
	t.Helper()
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended
		}
		var state, tracer string
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "State:"); ok {
				state = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(l, "TracerPid:"); ok {
				tracer = strings.TrimSpace(v)
			}
		}
		if strings.HasPrefix(state, "t") || strings.HasPrefix(state, "T") || tracer != "0" {
			t.Fatalf("%s: %s: state %q, tracer %s: left stopped or traced", what, filepath.Dir(f), state, tracer)
		}
	}
}

// gone fails unless process pid has ended and been reaped.
func checkGone(t *testing.T, what string, pid int) {
	t.Helper()
	deadline := time.Now().Add(hangBound)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		// The pid may have been reused; only our zombie or dying target counts.
		if !strings.Contains(string(b), "python") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: target %d still there after the recording ended: %s", what, pid, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// faultInterpreters are the interpreters found, cycled through the tries.
func faultInterpreters(t *testing.T) []testutil.Interpreter {
	ins := testutil.Interpreters(t)
	if len(ins) == 0 {
		t.Skip("no Python interpreter found")
	}
	return ins
}

// jitter is a random delay up to max: the fault lands anywhere in a sample.
func jitter(max time.Duration) { time.Sleep(rand.N(max)) }

// TestFaultTargetKilled SIGKILLs the target while it is sampled (the OOM
// killer does the same), attached and launched, blocking and not: the
// recording must end by itself, write everything, and leave no zombie.
func TestFaultTargetKilled(t *testing.T) {
	ins := faultInterpreters(t)
	tries := faultTries(t)
	for _, mode := range []string{"--blocking", "--nonblocking"} {
		t.Run("attach"+mode, func(t *testing.T) {
			for i := range tries {
				in := ins[i%len(ins)]
				what := fmt.Sprintf("try %d (%s)", i, in.Name)
				tg := testutil.Spawn(t, in, "faults.py", "spin", "4")
				out := filepath.Join(t.TempDir(), "out.txt")
				r, early := startRecording(t, "record", mode, "--rate", "2000", "-o", out, "--pid", strconv.Itoa(tg.Pid))
				if r == nil {
					t.Fatalf("%s: recording ended before sampling:\n%s", what, early)
				}
				jitter(100 * time.Millisecond)
				tg.Kill()
				if code := r.wait(t, what); code != 0 {
					t.Fatalf("%s: exit %d\n%s", what, code, r.output())
				}
				tg.Wait(t) // reaping it proves no traced zombie thread is left
				checkCollapsed(t, what, out)
			}
		})
	}
	// Launching runs the interpreter's own path: this system's only.
	var host []testutil.Interpreter
	for _, in := range ins {
		if in.Root == "" {
			host = append(host, in)
		} else {
			t.Logf("%s left out of launch: it runs in another root", in.Name)
		}
	}
	for _, mode := range []string{"--blocking", "--nonblocking"} {
		t.Run("launch"+mode, func(t *testing.T) {
			if len(host) == 0 {
				t.Skip("no interpreter of this system's own")
			}
			for i := range tries {
				in := host[i%len(host)]
				what := fmt.Sprintf("try %d (%s)", i, in.Name)
				out := filepath.Join(t.TempDir(), "out.txt")
				r, early := startRecording(t, "record", mode, "--rate", "2000", "-o", out, "--",
					in.Path, "-u", testutil.TestdataPath("faults.py"), "spin", "4")
				if r == nil {
					t.Fatalf("%s: recording ended before sampling:\n%s", what, early)
				}
				jitter(150 * time.Millisecond)
				syscall.Kill(r.pid, syscall.SIGKILL)
				if code := r.wait(t, what); code != 128+9 {
					t.Fatalf("%s: exit %d, want %d (the command's)\n%s", what, code, 128+9, r.output())
				}
				checkGone(t, what, r.pid)
				checkCollapsed(t, what, out)
			}
		})
	}
}

// TestFaultBlockingKeepsRunningThreads: threads running without the GIL
// (in zlib) are running, not idle, also while --blocking has them
// stopped: blocking must find about as many of their samples as
// non-blocking does (they were dropped as idle, 20 times fewer).
func TestFaultBlockingKeepsRunningThreads(t *testing.T) {
	in := newest(t)
	tg := testutil.Spawn(t, in, "faults.py", "zlib", "2")
	// Per round: a loaded machine takes fewer blocking rounds.
	perRound := map[string]float64{}
	rounds := regexp.MustCompile(`: (\d+) samples in`)
	for _, mode := range []string{"--nonblocking", "--blocking"} {
		out := filepath.Join(t.TempDir(), "zlib.txt")
		r := pyspyglass(t, "record", mode, "-d", "2", "--rate", "100", "-o", out, "--pid", strconv.Itoa(tg.Pid))
		m := rounds.FindStringSubmatch(r.stderr)
		if r.code != 0 || m == nil {
			t.Fatalf("%s: exit %d\n%s", mode, r.code, r.stderr)
		}
		n, _ := strconv.Atoi(m[1])
		perRound[mode] = float64(samplesWhere(collapsedCounts(t, out), "compress_loop (")) / float64(max(n, 1))
	}
	// Two threads compress: up to 2 per round; dropped, about 0.1.
	if perRound["--nonblocking"] < 0.5 || perRound["--blocking"] < perRound["--nonblocking"]/2 {
		t.Fatalf("compress_loop samples per round: %v; want blocking about as many as non-blocking", perRound)
	}
	t.Logf("compress_loop samples per round: %v", perRound)
}

// TestFaultForkStorm: with --subprocesses, children that come and go must
// not leave their pauser behind, blocking or not, the OS threads that
// trace them (--blocking) are a bounded pool however many live at once,
// and the recording must end cleanly.
func TestFaultForkStorm(t *testing.T) {
	in := newest(t)
	for _, mode := range []string{"--blocking", "--nonblocking"} {
		t.Run(mode, func(t *testing.T) {
			// One every 100 ms, each lives 3 s: about 30 at a time.
			const children, life = 40, 3 * time.Second
			tg := testutil.Spawn(t, in, "faults.py", "forks", strconv.Itoa(children), strconv.Itoa(int(life.Milliseconds())))
			out := filepath.Join(t.TempDir(), "forks.txt")
			r, early := startRecording(t, "record", mode, "--subprocesses", "--rate", "100", "-d", "11", "-o", out, "--pid", strconv.Itoa(tg.Pid))
			if r == nil {
				t.Fatalf("recording ended before sampling:\n%s", early)
			}
			before := osThreads(r.cmd.Process.Pid)
			// Count our threads through the storm and once every child
			// has ended (after 4 s + life).
			peak := before
			for end := time.Now().Add(4*time.Second + life + 1500*time.Millisecond); time.Now().Before(end); {
				time.Sleep(100 * time.Millisecond)
				peak = max(peak, osThreads(r.cmd.Process.Pid))
			}
			after := osThreads(r.cmd.Process.Pid)
			if code := r.wait(t, mode); code != 0 {
				t.Fatalf("exit %d\n%s", code, r.output())
			}
			checkCollapsed(t, mode, out)
			checkNotStopped(t, mode, tg.Pid)
			roots := map[string]bool{}
			for stack := range collapsedCounts(t, out) {
				roots[strings.SplitN(stack, ";", 2)[0]] = true
			}
			if len(roots) < 20 {
				t.Fatalf("only %d processes sampled of %d children: too few to tell a leak", len(roots), children)
			}
			// A thread per live child would be about 30 more; the pool
			// of tracer threads is 4, and Go may start a few of its own.
			if peak > before+12 {
				t.Fatalf("%d OS threads at the start, %d at the peak of the storm: the tracer threads are not bounded", before, peak)
			}
			// A leak keeps a thread per child.
			if after >= before+len(roots)/2 {
				t.Fatalf("%d OS threads at the start, %d after %d children were sampled and exited: a pauser per child left behind", before, after, len(roots))
			}
			t.Logf("%d processes sampled; %d OS threads at the start, %d at the peak, %d once they had exited", len(roots), before, peak, after)
		})
	}
}

// osThreads is the number of threads of process pid, 0 once it is gone.
func osThreads(pid int) int {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	return len(tasks)
}

// TestFaultTargetExitsDuringAttach: a target that exits while we attach is
// reported as exited, not as "not a Python process" or "nothing mapped".
func TestFaultTargetExitsDuringAttach(t *testing.T) {
	ins := faultInterpreters(t)
	for i := range max(faultTries(t)/2, 5) {
		in := ins[i%len(ins)]
		what := fmt.Sprintf("try %d (%s)", i, in.Name)
		tg := testutil.Spawn(t, in, "faults.py", "exit", strconv.Itoa(rand.N(60)))
		cmd, args := "record", []string{"record", "-o", filepath.Join(t.TempDir(), "out.txt"), "--pid", strconv.Itoa(tg.Pid)}
		if i%2 == 1 {
			cmd, args = "dump", []string{"dump", "--pid", strconv.Itoa(tg.Pid)}
		}
		r := pyspyglass(t, args...)
		tg.Wait(t)
		if r.code == 0 {
			continue
		}
		if !strings.Contains(r.stderr, "exited") || strings.Contains(r.stderr, "not a python") || strings.Contains(r.stderr, "no executable") {
			t.Fatalf("%s: %s of a process exiting meanwhile: exit %d, want it said to have exited:\n%s", what, cmd, r.code, r.stderr)
		}
	}
}

// TestFaultPidReuse: after the target exits and a new process gets its pid
// (forced through /proc/sys/kernel/ns_last_pid), the recording ends: it
// must not go on reading the newcomer under the old target's name.
func TestFaultPidReuse(t *testing.T) {
	const lastPid = "/proc/sys/kernel/ns_last_pid"
	if f, err := os.OpenFile(lastPid, os.O_WRONLY, 0); err != nil {
		t.Skipf("%s not writable (%v): pid reuse cannot be forced", lastPid, err)
	} else {
		f.Close()
	}
	in := newest(t)
	for i := range 5 {
		tg := testutil.Spawn(t, in, "faults.py", "spin", "1")
		out := filepath.Join(t.TempDir(), "reuse.txt")
		// At 2 Hz the death and the reuse fall between two samples.
		r, early := startRecording(t, "record", "--rate", "2", "-o", out, "--pid", strconv.Itoa(tg.Pid))
		if r == nil {
			t.Fatalf("recording ended before sampling:\n%s", early)
		}
		tg.Kill()
		tg.Wait(t)
		var reused *testutil.Target
		for range 50 {
			os.WriteFile(lastPid, []byte(strconv.Itoa(tg.Pid-1)), 0)
			next := testutil.SpawnCmd(t, "sleep", "600")
			if next.Pid == tg.Pid {
				reused = next
				break
			}
			next.Kill()
			next.Wait(t)
		}
		if reused == nil {
			t.Logf("try %d: pid %d was not reused (other processes took it)", i, tg.Pid)
			r.cmd.Process.Signal(os.Interrupt)
			r.wait(t, "no reuse")
			continue
		}
		if code := r.wait(t, "pid reused"); code != 0 {
			t.Fatalf("exit %d\n%s", code, r.output())
		}
		checkCollapsed(t, "pid reused", out)
		return
	}
	t.Fatal("the target's pid was never reused in 5 tries: the fault was not injected")
}

// TestFaultOutputs: outputs onto a device, a symbolic link, a FIFO without
// reader and a read-only directory: devices are written through, links
// followed, and what cannot be written is refused before sampling with a
// one-line reason.
func TestFaultOutputs(t *testing.T) {
	in := newest(t)
	tg := testutil.Spawn(t, in, "faults.py", "spin", "1")
	pid := strconv.Itoa(tg.Pid)
	dir := t.TempDir()

	t.Run("device", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("making a device node needs root")
		}
		dev := filepath.Join(dir, "null")
		if err := syscall.Mknod(dev, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
			t.Skipf("mknod: %v", err)
		}
		r := pyspyglass(t, "record", "-d", "0.3", "-f", "collapsed", "-o", dev, "--pid", pid)
		if st, err := os.Stat(dev); r.code != 0 || err != nil || st.Mode()&os.ModeCharDevice == 0 {
			t.Fatalf("exit %d; %s is now %v: want the device written through\n%s", r.code, dev, st.Mode(), r.stderr)
		}
	})
	t.Run("symlink", func(t *testing.T) {
		real, link := filepath.Join(dir, "real.txt"), filepath.Join(dir, "link.txt")
		os.Symlink(real, link)
		r := pyspyglass(t, "record", "-d", "0.3", "-o", link, "--pid", pid)
		if st, err := os.Lstat(link); r.code != 0 || err != nil || st.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("exit %d; the link was replaced\n%s", r.code, r.stderr)
		}
		checkCollapsed(t, "symlink", real)
	})
	t.Run("fifo without reader", func(t *testing.T) {
		fifo := filepath.Join(dir, "fifo")
		syscall.Mkfifo(fifo, 0o600)
		r := pyspyglass(t, "record", "-d", "0.3", "-f", "collapsed", "-o", fifo, "--pid", pid)
		if r.code == 0 || !strings.Contains(r.stderr, "no reader") {
			t.Fatalf("exit %d, want a failure naming the missing reader\n%s", r.code, r.stderr)
		}
	})
	t.Run("read-only file system", func(t *testing.T) {
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o755)
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", ro).CombinedOutput(); err != nil {
			t.Skipf("cannot mount a read-only tmpfs: %v %s", err, out)
		}
		t.Cleanup(func() { exec.Command("umount", ro).Run() })
		r := pyspyglass(t, "record", "-d", "0.3", "-o", filepath.Join(ro, "out.txt"), "--pid", pid)
		if r.code == 0 || strings.Contains(r.stderr, "sampling") || !strings.Contains(r.stderr, "read-only") {
			t.Fatalf("exit %d, want a refusal before sampling naming the read-only file system\n%s", r.code, r.stderr)
		}
	})
}

// TestFaultSudo: under sudo (SUDO_UID/SUDO_GID set, running as root) the
// output belongs to the user who ran sudo, and a command that user may
// not run is refused naming that user.
func TestFaultSudo(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, as under sudo")
	}
	in := newest(t)
	tg := testutil.Spawn(t, in, "faults.py", "spin", "1")
	out := filepath.Join(t.TempDir(), "sudo.txt")
	os.Chmod(filepath.Dir(out), 0o755)
	sudo := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "SUDO_UID=65534", "SUDO_GID=65534")
		return cmd
	}
	if b, err := sudo("record", "-d", "0.3", "-o", out, "--pid", strconv.Itoa(tg.Pid)).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if sys := st.Sys().(*syscall.Stat_t); sys.Uid != 65534 || sys.Gid != 65534 {
		t.Fatalf("%s owned by %d:%d, want the sudo user 65534:65534", out, sys.Uid, sys.Gid)
	}
	// A script only root may read: the launch as the sudo user fails.
	private := filepath.Join(t.TempDir(), "private.py")
	os.WriteFile(private, []byte("print('hi')\n"), 0o700)
	os.Chmod(filepath.Dir(private), 0o700)
	b, err := sudo("record", "-o", filepath.Join(t.TempDir(), "x.txt"), "--", private).CombinedOutput()
	if err == nil || !strings.Contains(string(b), "uid 65534") || !strings.Contains(string(b), "sudo") {
		t.Fatalf("launching a file the sudo user cannot run: %v\n%s\nwant a failure naming uid 65534", err, b)
	}
}

// TestFaultDeepStack: a stack deeper than pyabi.MaxDepth is kept, truncated
// with a marker frame: its innermost frames, then the marker, then its
// outermost frames; a recording counts such stacks.
func TestFaultDeepStack(t *testing.T) {
	const depth = 6000
	testutil.ForEach(t, testutil.Interpreters(t), func(t *testing.T, in testutil.Interpreter) {
		if in.Major < 3 || !in.AtLeast(3, 11) && in.Debug {
			t.Skipf("%s: %d nested calls need more C stack than it has", in.Name, depth)
		}
		tg := testutil.Spawn(t, in, "deep.py", strconv.Itoa(depth))
		// The readiness line comes just before the park: dump again
		// until the innermost frame is there (the deadline bounds it).
		var r result
		var frames []string
		for deadline := time.Now().Add(20 * time.Second); ; {
			r = pyspyglass(t, "dump", "--pid", strconv.Itoa(tg.Pid))
			if r.code != 0 {
				t.Fatalf("dump: exit %d\n%s", r.code, r.stderr)
			}
			frames = frames[:0]
			for _, l := range strings.Split(r.stdout, "\n") {
				if strings.HasPrefix(l, "    ") && strings.Contains(l, "(") {
					frames = append(frames, strings.TrimSpace(l))
				}
			}
			if len(frames) > 0 && strings.HasPrefix(frames[0], "recurse (") || time.Now().After(deadline) {
				break
			}
		}
		marker := -1
		for i, f := range frames {
			if strings.HasPrefix(f, "<truncated") {
				marker = i
			}
		}
		if marker < 1000 || marker == len(frames)-1 {
			t.Fatalf("dump of a %d-deep stack: marker at %d of %d frames, want it after the innermost thousands and before the outermost:\n%s",
				depth, marker, len(frames), r.stdout[:min(len(r.stdout), 2000)])
		}
		if !strings.HasPrefix(frames[0], "recurse (") || !strings.HasPrefix(frames[len(frames)-1], "<module> (") {
			t.Fatalf("innermost %q, outermost %q: want recurse and <module>", frames[0], frames[len(frames)-1])
		}
		if in.Path != newest(t).Path {
			return
		}
		out := filepath.Join(t.TempDir(), "deep.txt")
		r = pyspyglass(t, "record", "--idle", "-d", "1", "--rate", "50", "-o", out, "--pid", strconv.Itoa(tg.Pid))
		if r.code != 0 || !strings.Contains(r.stderr, "kept truncated") {
			t.Fatalf("record: exit %d, want the truncated stacks counted\n%s", r.code, r.stderr)
		}
		if n := samplesWhere(collapsedCounts(t, out), "<truncated"); n == 0 {
			t.Fatalf("no sample holds the marker frame")
		}
	})
}

// TestFaultControlCharacters: a function and a thread named with terminal
// escapes and a newline reach no output raw: dump shows them escaped,
// and collapsed stacks keep one stack per line.
func TestFaultControlCharacters(t *testing.T) {
	in := newest(t)
	if !in.AtLeast(3, 8) {
		t.Skipf("%s: renaming a code object needs 3.8+", in.Name)
	}
	tg := testutil.Spawn(t, in, "faults.py", "names")
	clean := func(what, s string) {
		t.Helper()
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 && c != '\n' || c == 0x7f {
				t.Fatalf("%s holds the raw control byte %#x:\n%q", what, c, s)
			}
		}
	}
	r := pyspyglass(t, "dump", "--pid", strconv.Itoa(tg.Pid))
	clean("dump", r.stdout)
	if !strings.Contains(r.stdout, `evil\x1b]0;pwned\x07\x0a\x1b[2Jname`) {
		t.Fatalf("dump does not show the escaped name:\n%s", r.stdout)
	}
	out := filepath.Join(t.TempDir(), "names.txt")
	r = pyspyglass(t, "record", "--threads", "-d", "0.5", "-o", out, "--pid", strconv.Itoa(tg.Pid))
	if r.code != 0 {
		t.Fatalf("record: exit %d\n%s", r.code, r.stderr)
	}
	b, _ := os.ReadFile(out)
	clean("collapsed output", string(b))
	checkCollapsed(t, "names", out)
	if samplesWhere(collapsedCounts(t, out), `evil\x1b]0`, `pwned\x07\x0a\x1b[2Jname (`) == 0 {
		t.Fatalf("no sample of the escaped function:\n%s", b)
	}
}

// TestFaultProfilerSignals stops the profiler itself mid-sample, blocking
// and not: SIGKILL must leave the target running, untraced and with no
// thread stopped; SIGINT and SIGTERM must also write a complete file.
func TestFaultProfilerSignals(t *testing.T) {
	in := newest(t)
	tries := faultTries(t)
	for _, mode := range []string{"--blocking", "--nonblocking"} {
		for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGINT, syscall.SIGTERM} {
			t.Run(mode+"/"+sig.String(), func(t *testing.T) {
				tg := testutil.Spawn(t, in, "faults.py", "spin", "4")
				n := tries
				if sig != syscall.SIGKILL {
					n = max(tries/5, 5) // each writes and checks a file
				}
				for i := range n {
					what := fmt.Sprintf("try %d", i)
					out := filepath.Join(t.TempDir(), "out.txt")
					r, early := startRecording(t, "record", mode, "--rate", "2000", "-o", out, "--pid", strconv.Itoa(tg.Pid))
					if r == nil {
						t.Fatalf("%s: recording ended before sampling:\n%s", what, early)
					}
					jitter(100 * time.Millisecond)
					r.cmd.Process.Signal(sig)
					code := r.wait(t, what)
					checkNotStopped(t, what, tg.Pid)
					select {
					case <-tg.Exited():
						t.Fatalf("%s: the target died with the profiler", what)
					default:
					}
					if sig == syscall.SIGKILL {
						continue
					}
					if code != 0 {
						t.Fatalf("%s: exit %d after %v\n%s", what, code, sig, r.output())
					}
					checkCollapsed(t, what, out)
				}
			})
		}
	}
}

// TestFaultTargetExitsOrExecs: the target exits by itself (attached and
// launched) or exec()s a new program while it is read, blocking or not:
// the recording ends (or, after an exec, goes on counting failed reads
// until Ctrl-C), always with a complete file.
func TestFaultTargetExitsOrExecs(t *testing.T) {
	in := newestHost(t)
	tries := max(faultTries(t)/10, 3)
	for _, mode := range []string{"--blocking", "--nonblocking"} {
		t.Run("exit/attach"+mode, func(t *testing.T) {
			for i := range tries {
				what := fmt.Sprintf("try %d", i)
				tg := testutil.Spawn(t, in, "faults.py", "exit", strconv.Itoa(50+rand.N(250)))
				out := filepath.Join(t.TempDir(), "out.txt")
				r, early := startRecording(t, "record", mode, "--rate", "1000", "-o", out, "--pid", strconv.Itoa(tg.Pid))
				if r == nil {
					continue // it exited before sampling began: TestFaultTargetExitsDuringAttach's case
				}
				if code := r.wait(t, what); code != 0 {
					t.Fatalf("%s: exit %d\n%s", what, code, r.output())
				}
				tg.Wait(t)
				checkCollapsed(t, what, out)
				_ = early
			}
		})
		t.Run("exit/launch"+mode, func(t *testing.T) {
			for i := range tries {
				what := fmt.Sprintf("try %d", i)
				out := filepath.Join(t.TempDir(), "out.txt")
				r, early := startRecording(t, "record", mode, "--rate", "1000", "-o", out, "--",
					in.Path, "-u", testutil.TestdataPath("faults.py"), "exit", strconv.Itoa(50+rand.N(250)))
				if r == nil {
					t.Fatalf("%s: recording ended before sampling:\n%s", what, early)
				}
				if code := r.wait(t, what); code != 0 {
					t.Fatalf("%s: exit %d, want the command's 0\n%s", what, code, r.output())
				}
				checkGone(t, what, r.pid)
				checkCollapsed(t, what, out)
			}
		})
		t.Run("exec"+mode, func(t *testing.T) {
			for i := range tries {
				what := fmt.Sprintf("try %d", i)
				tg := testutil.Spawn(t, in, "faults.py", "exec", strconv.Itoa(rand.N(200)))
				out := filepath.Join(t.TempDir(), "out.txt")
				r, early := startRecording(t, "record", mode, "--rate", "1000", "-o", out, "--pid", strconv.Itoa(tg.Pid))
				if r == nil {
					t.Fatalf("%s: recording ended before sampling:\n%s", what, early)
				}
				time.Sleep(300 * time.Millisecond) // past the exec
				r.cmd.Process.Signal(os.Interrupt)
				if code := r.wait(t, what); code != 0 {
					t.Fatalf("%s: exit %d\n%s", what, code, r.output())
				}
				checkNotStopped(t, what, tg.Pid)
				checkCollapsed(t, what, out)
			}
		})
	}
}

// TestFaultManyThreads: 500 threads, blocking and not, and 10,000 threads
// that come and go: every live thread is read each round (none dropped as
// stopped or idle by mistake), and nothing hangs or leaks.
func TestFaultManyThreads(t *testing.T) {
	in := newest(t)
	for _, mode := range []string{"--blocking", "--nonblocking"} {
		t.Run("500"+mode, func(t *testing.T) {
			tg := testutil.Spawn(t, in, "faults.py", "many", "500")
			out := filepath.Join(t.TempDir(), "many.txt")
			r := pyspyglass(t, "record", mode, "--idle", "--threads", "-d", "1", "--rate", "20", "-o", out, "--pid", strconv.Itoa(tg.Pid))
			if r.code != 0 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			checkCollapsed(t, mode, out)
			threads := map[string]bool{}
			for stack := range collapsedCounts(t, out) {
				threads[strings.SplitN(stack, ";", 2)[0]] = true
			}
			if len(threads) < 450 {
				t.Fatalf("%d threads seen of 501", len(threads))
			}
			checkNotStopped(t, mode, tg.Pid)
		})
		t.Run("churn"+mode, func(t *testing.T) {
			tg := testutil.Spawn(t, in, "faults.py", "churn", "10000")
			out := filepath.Join(t.TempDir(), "churn.txt")
			r, early := startRecording(t, "record", mode, "--rate", "500", "-o", out, "--pid", strconv.Itoa(tg.Pid))
			if r == nil {
				t.Fatalf("recording ended before sampling:\n%s", early)
			}
			// Until the churn is over.
			deadline := time.Now().Add(hangBound)
			for !strings.Contains(tg.Stdout(), "churned") {
				if time.Now().After(deadline) {
					t.Fatalf("the target never finished its threads\n%s", tg.Stderr())
				}
				time.Sleep(50 * time.Millisecond)
			}
			r.cmd.Process.Signal(os.Interrupt)
			if code := r.wait(t, mode); code != 0 {
				t.Fatalf("exit %d\n%s", code, r.output())
			}
			checkCollapsed(t, mode, out)
			checkNotStopped(t, mode, tg.Pid)
		})
	}
}

// TestFaultCorruptTarget: a target overwriting the name object of the
// function it runs, over and over, blocking and not: bad reads are counted
// errors, never a crash, and the file is complete.
func TestFaultCorruptTarget(t *testing.T) {
	in := newest(t)
	for _, mode := range []string{"--blocking", "--nonblocking"} {
		tg := testutil.Spawn(t, in, "faults.py", "corrupt")
		out := filepath.Join(t.TempDir(), "corrupt.txt")
		r := pyspyglass(t, "record", mode, "-d", "2", "--rate", "500", "-o", out, "--pid", strconv.Itoa(tg.Pid))
		if r.code != 0 {
			t.Fatalf("%s: exit %d\n%s\ntarget's stderr:\n%s", mode, r.code, r.stderr, tg.Stderr())
		}
		checkCollapsed(t, mode, out)
		checkNotStopped(t, mode, tg.Pid)
		select {
		case <-tg.Exited():
			t.Fatalf("%s: the target itself crashed: the test corrupts too much\n%s", mode, tg.Stderr())
		default:
		}
	}
}

// newestHost is the newest interpreter of this system's own (launching
// runs its path directly), or skips.
func newestHost(t *testing.T) testutil.Interpreter {
	t.Helper()
	ins := testutil.Interpreters(t)
	for i := len(ins) - 1; i >= 0; i-- {
		if ins[i].Root == "" {
			return ins[i]
		}
	}
	t.Skip("no interpreter of this system's own")
	return testutil.Interpreter{}
}
