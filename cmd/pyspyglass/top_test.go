package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/internal/testutil"
)

// tmux runs a tmux command on the test's own server socket.
func tmux(t *testing.T, sock string, args ...string) string {
	t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", sock}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// waitScreen captures the pane until ok accepts it or the deadline passes.
func waitScreen(t *testing.T, sock string, d time.Duration, ok func(string) bool) (string, bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		screen := tmux(t, sock, "capture-pane", "-p", "-t", "top")
		if ok(screen) {
			return screen, true
		}
		if time.Now().After(deadline) {
			return screen, false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTopInTerminal runs `top` in a real pseudo-terminal against the 3:1
// workload: heavy() must lead the table within 3 seconds of the first
// screen, and q must end the program with the terminal restored.
func TestTopInTerminal(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux not installed")
	}
	in := newest(t)
	proc := testutil.Spawn(t, in, "cpu_split.py")
	sock := t.TempDir() + "/tmux.sock"
	tmux(t, sock, "new-session", "-d", "-s", "top", "-x", "100", "-y", "30",
		fmt.Sprintf("%s top --pid %d; echo exit=$?; sleep 600", bin, proc.Pid))
	t.Cleanup(func() { exec.Command("tmux", "-S", sock, "kill-server").Run() })

	if screen, ok := waitScreen(t, sock, 30*time.Second, func(s string) bool { return strings.Contains(s, "%Own") }); !ok {
		t.Fatalf("no table on screen:\n%s", screen)
	}
	screen, ok := waitScreen(t, sock, 3*time.Second, func(s string) bool {
		rows := strings.Split(s, "\n")
		for i, r := range rows {
			if strings.Contains(r, "%Own") && i+1 < len(rows) {
				return strings.Contains(rows[i+1], "heavy (")
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("heavy is not the first row after 3s:\n%s", screen)
	}
	if !strings.Contains(screen, "pid "+strconv.Itoa(proc.Pid)) || !strings.Contains(screen, "Python "+in.Version) {
		t.Errorf("header lacks pid or version:\n%s", screen)
	}
	tmux(t, sock, "send-keys", "-t", "top", "q")
	screen, ok = waitScreen(t, sock, 20*time.Second, func(s string) bool { return strings.Contains(s, "exit=") })
	if !ok {
		t.Fatalf("top did not exit on q:\n%s", screen)
	}
	if !strings.Contains(screen, "exit=0") || strings.Contains(screen, "%Own") {
		t.Fatalf("after q the terminal should be back to the shell with exit 0:\n%s", screen)
	}
}

// TestTopLaunchedCommand: a command launched under top writes its output
// to the file named in the header, never onto the table; q leaves it
// running, Ctrl-C stops it.
func TestTopLaunchedCommand(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux not installed")
	}
	in := newest(t)
	in.Prepare(t)
	for _, key := range []string{"q", "C-c"} {
		t.Run(key, func(t *testing.T) {
			sock := t.TempDir() + "/tmux.sock"
			tmux(t, sock, "new-session", "-d", "-s", "top", "-x", "160", "-y", "30",
				fmt.Sprintf("%s top -- %s; echo exit=$?; sleep 600", bin, shellQuote(in.Argv(testutil.TestdataPath("cpu_split.py")))))
			t.Cleanup(func() { exec.Command("tmux", "-S", sock, "kill-server").Run() })
			re := regexp.MustCompile(`pid (\d+) .*\n.*Output (\S+)`)
			screen, ok := waitScreen(t, sock, 30*time.Second, func(s string) bool {
				return re.MatchString(s) && strings.Contains(s, "heavy (")
			})
			if !ok {
				t.Fatalf("no table with the output file in the header:\n%s", screen)
			}
			m := re.FindStringSubmatch(screen)
			pid, _ := strconv.Atoi(m[1])
			t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
			if strings.Contains(screen, "ready main=") {
				t.Errorf("the command's output is on the screen:\n%s", screen)
			}
			b, err := os.ReadFile(m[2])
			if err != nil || !strings.Contains(string(b), "ready main=") {
				t.Errorf("the output file %s lacks the command's output: %v %q", m[2], err, b)
			}
			os.Remove(m[2])
			tmux(t, sock, "send-keys", "-t", "top", key)
			screen, ok = waitScreen(t, sock, 20*time.Second, func(s string) bool { return strings.Contains(s, "exit=") })
			if !ok {
				t.Fatalf("top did not exit on %s:\n%s", key, screen)
			}
			alive := syscall.Kill(pid, 0) == nil
			if key == "q" && (!alive || !strings.Contains(screen, "exit=0")) {
				t.Errorf("after q the command must run on (alive %v) and top exit 0:\n%s", alive, screen)
			}
			if key == "C-c" && (alive || !strings.Contains(screen, "exit=130")) {
				t.Errorf("after Ctrl-C the command must be stopped (alive %v) with its exit code 130:\n%s", alive, screen)
			}
		})
	}
}

// shellQuote joins argv for sh, each word single-quoted.
func shellQuote(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
