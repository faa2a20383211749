package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestUnreadableBinary: a user who may read the process (CAP_SYS_PTRACE,
// the remedy we print) but not its Python binary, under a mode-700
// directory, is told that, with the fix, not "not a python process".
func TestUnreadableBinary(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run as another user with CAP_SYS_PTRACE")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv not installed")
	}
	// Debian's python3.11 has libpython linked in: a copy of it is the
	// whole interpreter, and a copy in a mode-700 directory is unreadable
	// for anyone else.
	const debian = "/usr/bin/python3.11"
	if _, err := os.Stat(debian); err != nil {
		t.Skip("no Debian python3.11 (statically linked) to copy")
	}
	hidden := filepath.Join(t.TempDir(), "home")
	if err := os.Mkdir(hidden, 0o700); err != nil {
		t.Fatal(err)
	}
	py := filepath.Join(hidden, "python3.11")
	copyFile(t, debian, py, 0o755)
	open := t.TempDir()
	os.Chmod(open, 0o755)
	tool := filepath.Join(open, "pyspyglass")
	copyFile(t, bin, tool, 0o755)

	target := exec.Command(py, "-c", "import sys, time; print('ready', flush=True); time.sleep(600)")
	target.Env = append(os.Environ(), "PYTHONHOME=/usr")
	out, _ := target.StdoutPipe()
	if err := target.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { target.Process.Kill(); target.Wait() })
	buf := make([]byte, 6)
	if _, err := io.ReadFull(out, buf); err != nil {
		t.Fatalf("target did not start: %v", err)
	}
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
		"--inh-caps=+sys_ptrace", "--ambient-caps=+sys_ptrace", tool, "dump", "--pid", strconv.Itoa(target.Process.Pid))
	b, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("dump succeeded without access to the binary:\n%s", b)
	}
	msg := string(b)
	if strings.Contains(msg, "not a python process") || !strings.Contains(msg, "permission denied") ||
		!strings.Contains(msg, py) || !strings.Contains(msg, "cap_dac_read_search") {
		t.Errorf("want the unreadable binary, the denial and the fix named:\n%s", msg)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}
