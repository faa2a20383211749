package attach

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

func TestLaunchExitCode(t *testing.T) {
	py := findPython(t)
	c, err := Launch([]string{py, "-c", "import sys; sys.exit(7)"}, LaunchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	code, err := c.Wait()
	if err != nil || code != 7 {
		t.Errorf("Wait() = %d, %v; want 7", code, err)
	}
	select {
	case <-c.Exited():
	default:
		t.Error("Exited() not closed after Wait returned")
	}
	// Wait again gives the same answer.
	if code, err := c.Wait(); code != 7 || err != nil {
		t.Errorf("second Wait() = %d, %v; want 7", code, err)
	}
	if err := c.Signal(syscall.SIGTERM); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("Signal after exit = %v, want os.ErrProcessDone", err)
	}
}

func TestLaunchKilled(t *testing.T) {
	c, err := Launch([]string{"sleep", "60"}, LaunchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-c.Exited()
	if code, err := c.Wait(); err != nil || code != 128+9 {
		t.Errorf("Wait() = %d, %v; want %d", code, err, 128+9)
	}
}

func TestLaunchNotFound(t *testing.T) {
	const name = "pyspyglass-no-such-program"
	_, err := Launch([]string{name, "arg"}, LaunchOptions{})
	if !errors.Is(err, exec.ErrNotFound) || !strings.Contains(err.Error(), name) {
		t.Errorf("Launch(%s) = %v, want ErrNotFound naming it", name, err)
	}
	_, err = Launch([]string{"/nonexistent/" + name}, LaunchOptions{})
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), name) {
		t.Errorf("Launch(/nonexistent/%s) = %v, want ErrNotExist naming it", name, err)
	}
	if _, err := Launch(nil, LaunchOptions{}); err == nil {
		t.Error("Launch(nil) succeeded")
	}
}

func TestLaunchPassesFilesAndEnv(t *testing.T) {
	out := runOutput(t, []string{"sh", "-c", `echo "$PYSPYGLASS_TEST" ; pwd`}, LaunchOptions{
		Env: []string{"PYSPYGLASS_TEST=hello"},
		Dir: "/",
	})
	if out != "hello\n/\n" {
		t.Errorf("output = %q, want hello and /", out)
	}
}

// TestLaunchUnderSudo pretends sudo started us: the child must run as
// the invoking user, with that user's HOME.
func TestLaunchUnderSudo(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	t.Setenv("SUDO_UID", "65534")
	t.Setenv("SUDO_GID", "65534")
	argv := []string{"sh", "-c", `id -u; id -g; echo "$HOME"`}
	out := runOutput(t, argv, LaunchOptions{})
	home := "/nonexistent" // nobody's home in /etc/passwd
	if b, err := os.ReadFile("/etc/passwd"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if f := strings.Split(line, ":"); len(f) > 5 && f[2] == "65534" {
				home = f[5]
			}
		}
	}
	if want := "65534\n65534\n" + home + "\n"; out != want {
		t.Errorf("under sudo: output = %q, want %q", out, want)
	}
	if out := runOutput(t, argv[:3], LaunchOptions{KeepRoot: true}); !strings.HasPrefix(out, "0\n0\n") {
		t.Errorf("KeepRoot: output = %q, want uid and gid 0", out)
	}
}

// runOutput launches argv with stdout on a pipe and returns all of it.
func runOutput(t *testing.T, argv []string, o LaunchOptions) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	o.Stdout = w
	c, err := Launch(argv, o)
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if code, err := c.Wait(); code != 0 || err != nil {
		t.Errorf("%q: Wait() = %d, %v; want 0", argv, code, err)
	}
	return string(b)
}
