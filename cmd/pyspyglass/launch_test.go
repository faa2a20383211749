package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/internal/testutil"
	"github.com/pyspyglass/pyspyglass/ui/render"
)

// TestRecordDurationStopsCommand: our --duration ending is not the
// command failing: exit 0, the profile written, and the summary says the
// command was stopped. A command that ends first keeps its exit code
// (TestRecordLaunchExitCode).
func TestRecordDurationStopsCommand(t *testing.T) {
	in := newest(t)
	out := filepath.Join(t.TempDir(), "d.txt")
	in.Prepare(t)
	r := pyspyglass(t, append([]string{"record", "-d", "2", "-o", out, "--"}, in.Argv(testutil.TestdataPath("cpu_split.py"), "600")...)...)
	if r.code != 0 {
		t.Fatalf("exit %d, want 0\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "stopped the command") {
		t.Errorf("the summary does not say the command was stopped:\n%s", r.stderr)
	}
	// What was recorded is written; on a loaded machine a slow (debug,
	// containerised) interpreter may still be starting at the end.
	if n := samplesWhere(collapsedCounts(t, out), "cpu_split.py"); n == 0 {
		t.Errorf("no samples of the script written\n%s", r.stderr)
	}
}

// TestRecordNotPython: a command that is not Python is an error in our
// voice with a non-zero exit, not an empty profile; a command that starts
// Python later (a shell that execs it, or runs it as a child as env or uv
// run do) is followed.
func TestRecordNotPython(t *testing.T) {
	for _, argv := range [][]string{{"true"}, {"sleep", "0.3"}} {
		out := filepath.Join(t.TempDir(), "none.txt")
		r := pyspyglass(t, append([]string{"record", "-o", out, "--"}, argv...)...)
		if r.code == 0 || !strings.Contains(r.stderr, "is not a Python program") {
			t.Errorf("%v: exit %d, want non-zero with \"is not a Python program\":\n%s", argv, r.code, r.stderr)
		}
		if strings.Contains(r.stderr, "level=") {
			t.Errorf("%v: a log line instead of a message:\n%s", argv, r.stderr)
		}
	}
	in := newest(t)
	in.Prepare(t)
	python := in.Argv(testutil.TestdataPath("cpu_split.py"), "1.5")
	for name, shell := range map[string]string{
		"exec":  `sleep 0.2; exec "$@"`,
		"child": `sleep 0.2; "$@"; exit 0`,
	} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "later.txt")
			r := pyspyglass(t, append([]string{"record", "-o", out, "--", "sh", "-c", shell, "sh"}, python...)...)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			if n := samplesWhere(collapsedCounts(t, out), "heavy ("); n < 20 {
				t.Errorf("%d samples of heavy", n)
			}
		})
	}
}

// TestRecordSIGHUP: a closed terminal ends the recording like SIGTERM,
// with everything written.
func TestRecordSIGHUP(t *testing.T) {
	in := newest(t)
	proc := testutil.Spawn(t, in, "cpu_split.py")
	out := filepath.Join(t.TempDir(), "hup.txt")
	cmd := exec.Command(bin, "record", "-o", out, "--pid", strconv.Itoa(proc.Pid))
	stderr := startAndWaitSampling(t, cmd)
	time.Sleep(500 * time.Millisecond) // some samples; the assertion below does not depend on how many
	cmd.Process.Signal(syscall.SIGHUP)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGHUP: %v\n%s", err, stderr())
	}
	if n := samplesWhere(collapsedCounts(t, out)); n == 0 {
		t.Fatalf("nothing written after SIGHUP\n%s", stderr())
	}
}

// startAndWaitSampling starts a record command and returns once it says
// it samples (its signal handlers are then in place).
func startAndWaitSampling(t *testing.T, cmd *exec.Cmd) (stderr func() string) {
	t.Helper()
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	var b strings.Builder
	started, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "pyspyglass: sampling") {
				close(started)
			}
		}
	}()
	select {
	case <-started:
	case <-done:
		t.Fatalf("record ended before sampling:\n%s", b.String())
	}
	return func() string { <-done; return b.String() }
}

// TestRecordFullDisk: when the output cannot be written at the end (here
// a full file system), the samples are saved in a recording elsewhere and
// the error says where; nothing is lost silently.
func TestRecordFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	in := newest(t)
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	// Fill it: creating the output still works, writing it does not.
	exec.Command("dd", "if=/dev/zero", "of="+filepath.Join(mnt, "fill"), "bs=4k").Run()
	rescueDir := t.TempDir()
	in.Prepare(t)
	cmd := exec.Command(bin, append([]string{"record", "-d", "1", "-o", filepath.Join(mnt, "out.svg"), "--"},
		in.Argv(testutil.TestdataPath("cpu_split.py"), "600")...)...)
	cmd.Env = append(os.Environ(), "TMPDIR="+rescueDir)
	b, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("exit 0 although the output could not be written:\n%s", b)
	}
	m := regexp.MustCompile(`samples are saved in (\S+);`).FindSubmatch(b)
	if m == nil || !strings.Contains(string(b), "no space left") {
		t.Fatalf("no rescue file or no cause named:\n%s", b)
	}
	f, err := os.Open(string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := render.ReadRecording(f)
	if err != nil {
		t.Fatalf("rescued recording: %v", err)
	}
	if p.Total() < 10 {
		t.Fatalf("rescued recording has %d samples", p.Total())
	}
}
