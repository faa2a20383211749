package attach

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// helperEnv makes the test binary run checkHelper instead of the tests:
// the permission test re-executes it as another user.
const helperEnv = "ATTACH_TEST_CHECK_PID"

func TestMain(m *testing.M) {
	if pid := os.Getenv(helperEnv); pid != "" {
		checkHelper(pid)
		return
	}
	os.Exit(m.Run())
}

type helperResult struct {
	Err        string
	Permission bool
	Facts      procmem.Facts
}

// checkHelper runs "check:PID" (Check) or "pause:PID" (NewPauser) and
// prints the outcome as JSON.
func checkHelper(arg string) {
	op, pidText, _ := strings.Cut(arg, ":")
	pid, _ := strconv.Atoi(pidText)
	var res helperResult
	var err error
	switch op {
	case "check":
		err = Check(pid)
	case "pause":
		var p *Pauser
		if p, err = NewPauser(pid); err == nil {
			p.Close()
		}
	}
	if err != nil {
		res.Err = err.Error()
		var perr *procmem.PermissionError
		if errors.As(err, &perr) && perr.Facts != nil {
			res.Permission, res.Facts = true, *perr.Facts
		}
	}
	json.NewEncoder(os.Stdout).Encode(res)
}

func TestCheckSelf(t *testing.T) {
	if err := Check(os.Getpid()); err != nil {
		t.Errorf("Check(self): %v", err)
	}
}

func TestCheckChild(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if err := Check(cmd.Process.Pid); err != nil {
		t.Errorf("Check(sleep %d): %v", cmd.Process.Pid, err)
	}
}

func TestCheckNoProcess(t *testing.T) {
	// Pids are below pid_max, so pid_max itself never exists.
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []int{pid, 0, -1} {
		err := Check(p)
		if !errors.Is(err, procmem.ErrNoProcess) {
			t.Errorf("Check(%d) = %v, want ErrNoProcess", p, err)
		}
		if err != nil && !strings.Contains(err.Error(), strconv.Itoa(p)) {
			t.Errorf("Check(%d) = %q, want the pid named", p, err)
		}
	}
}

func TestCheckZombie(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	// Wait for the exit without reaping it: the child stays a zombie.
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != nil {
		t.Fatal(err)
	}
	err := Check(pid)
	cmd.Wait()
	if !errors.Is(err, procmem.ErrExited) {
		t.Errorf("Check(zombie %d) = %v, want ErrExited", pid, err)
	}
}

// TestPermission runs Check and NewPauser as nobody against this (root)
// process, the everyday "other user" refusal.
func TestPermission(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a helper as another user")
	}
	// The test binary lives in a directory only root may enter; copy it
	// where nobody can run it.
	dir := t.TempDir() // $TMPDIR/TestName123/001, both made 0700
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	exe := filepath.Join(dir, "attach.test")
	if err := copyFile(exe, os.Args[0]); err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"check", "pause"} {
		t.Run(op, func(t *testing.T) {
			cmd := exec.Command(exe)
			cmd.Env = append(os.Environ(), helperEnv+"="+op+":"+strconv.Itoa(os.Getpid()))
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{65534}}}
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("helper as nobody: %v (output %q)", err, out)
			}
			var res helperResult
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatalf("helper output %q: %v", out, err)
			}
			if !res.Permission {
				t.Fatalf("%s as nobody = %q, want a *procmem.PermissionError with facts", op, res.Err)
			}
			t.Logf("as nobody: %s\nfacts: %+v", res.Err, res.Facts)
			f := res.Facts
			if f.Root || f.CapSysPtrace || !f.OtherUser || f.TargetUID != 0 {
				t.Errorf("facts = %+v, want not root, no CAP_SYS_PTRACE, other user, target uid 0", f)
			}
			if !strings.Contains(res.Err, fmt.Sprint(os.Getpid())) {
				t.Errorf("error %q does not name the pid", res.Err)
			}
		})
	}
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
