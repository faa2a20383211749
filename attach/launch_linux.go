package attach

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// LaunchOptions tune Launch. The zero value runs the command with our
// environment, working directory and standard files.
type LaunchOptions struct {
	Dir string   // working directory; empty: ours
	Env []string // environment; nil: ours
	// Stdin, Stdout and Stderr replace ours when set. They are files so
	// the child gets the descriptors themselves and no copying goroutine
	// outlives it.
	Stdin, Stdout, Stderr *os.File
	// KeepRoot runs the child as root even under sudo. By default a root
	// pyspyglass started by sudo runs the child as the invoking user, as
	// if sudo had not been typed.
	KeepRoot bool
}

// Child is a process started by Launch.
//
// It stays in our process group on purpose: Ctrl-C at the terminal then
// reaches both of us, the child stops the way it would without a
// profiler (Python raises KeyboardInterrupt and runs its cleanup), and we
// keep sampling until Exited fires and then write the profile. A child in
// its own group would not see Ctrl-C and would outlive an interrupted
// session. For the same reason the CLI must catch SIGINT with
// signal.Notify, not signal.Ignore: an ignored signal stays ignored in
// the child across exec.
type Child struct {
	Pid int

	proc   *os.Process
	exited chan struct{}
	code   int   // valid once exited is closed
	err    error // valid once exited is closed
}

// Launch starts argv with our standard files (unless o replaces them)
// and returns as soon as it runs, so sampling can begin while Python is
// still starting. A child that a Pauser will trace must come from here:
// see reap.
func Launch(argv []string, o LaunchOptions) (*Child, error) {
	if len(argv) == 0 {
		return nil, errors.New("launch: no command given")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	if cmd.Err != nil {
		return nil, fmt.Errorf("launch: %w", cmd.Err)
	}
	cmd.Dir = o.Dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = orFile(o.Stdin, os.Stdin), orFile(o.Stdout, os.Stdout), orFile(o.Stderr, os.Stderr)
	cmd.Env = o.Env
	if !o.KeepRoot {
		uid, gid, ok, err := sudoIDs(os.Getenv, os.Geteuid())
		if err != nil {
			return nil, fmt.Errorf("launch: %w", err)
		}
		if ok {
			if cmd.Env == nil {
				cmd.Env = os.Environ()
			}
			var cred *syscall.Credential
			cred, cmd.Env = asUser(uid, gid, cmd.Env)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
	}
	if err := cmd.Start(); err != nil {
		if cred := cmd.SysProcAttr; cred != nil && errors.Is(err, fs.ErrPermission) {
			// Not root's permissions: say whose they were.
			who := strconv.Itoa(int(cred.Credential.Uid))
			if u, uerr := user.LookupId(who); uerr == nil {
				who = u.Username + " (uid " + who + ")"
			}
			return nil, fmt.Errorf("launch %s as %s, the user who ran sudo: %w", argv[0], who, err)
		}
		return nil, fmt.Errorf("launch %s: %w", argv[0], err)
	}
	c := &Child{Pid: cmd.Process.Pid, proc: cmd.Process, exited: make(chan struct{})}
	// We never call cmd.Wait: see reap for why.
	go c.wait()
	return c, nil
}

func orFile(f, def *os.File) *os.File {
	if f != nil {
		return f
	}
	return def
}

// asUser returns the credential of uid with its supplementary groups and
// env with HOME, USER and LOGNAME set to that user's. sudo points those
// at root; left so, Python would look for the user's site-packages in
// /root/.local, which the user cannot read. The rest of env is kept.
func asUser(uid, gid int, env []string) (*syscall.Credential, []string) {
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{uint32(gid)}}
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return cred, env // a uid without a passwd entry: ids only
	}
	if gids, err := u.GroupIds(); err == nil {
		cred.Groups = cred.Groups[:0]
		for _, g := range gids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				cred.Groups = append(cred.Groups, uint32(n))
			}
		}
	}
	env = setEnv(env, "HOME", u.HomeDir)
	env = setEnv(env, "USER", u.Username)
	env = setEnv(env, "LOGNAME", u.Username)
	return cred, env
}

// Wait blocks until the child has exited and returns its exit code, or
// 128 plus the signal number when a signal killed it, as shells report.
func (c *Child) Wait() (exitCode int, err error) {
	<-c.exited
	return c.code, c.err
}

// Exited is closed when the child has exited and Wait would not block.
func (c *Child) Exited() <-chan struct{} { return c.exited }

// Signal sends sig to the child; after it exited, os.ErrProcessDone.
func (c *Child) Signal(sig os.Signal) error {
	select {
	case <-c.exited:
		return os.ErrProcessDone
	default:
	}
	// os.Process signals through a pidfd, so a recycled pid is never hit.
	return c.proc.Signal(sig)
}

func (c *Child) wait() {
	defer close(c.exited)
	ws, err := reap(c.Pid)
	if err != nil {
		c.code, c.err = -1, err
		return
	}
	switch {
	case ws.Signaled():
		c.code = 128 + int(ws.Signal())
	default:
		c.code = ws.ExitStatus()
	}
}

// reap waits for pid to exit and collects its status.
//
// os/exec's Wait cannot be used: it waits with waitid(WEXITED), and a
// tracer's thread group is told about a traced child's ptrace stops
// whatever flags it passes, so under a Pauser it would consume the stops
// the ptrace thread waits for, or return a stop as if it were the exit.
// A pidfd becomes readable only when the whole process has exited; by
// then no stop can be pending and wait4 returns the exit itself. The
// Pauser, for its part, never consumes the exit of a child of ours.
func reap(pid int) (unix.WaitStatus, error) {
	if fd, err := unix.PidfdOpen(pid, 0); err == nil {
		// The child is unreaped, so its pid cannot be reused before this.
		err := pollIn(fd)
		unix.Close(fd)
		if err != nil {
			return 0, fmt.Errorf("pid %d: wait for exit: %w", pid, err)
		}
	}
	// Without pidfds (Linux < 5.3) this blocking wait is all we have; it
	// copes with ptrace stops only by skipping them.
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(pid, &ws, 0, nil)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return 0, fmt.Errorf("pid %d: wait: %w", pid, err)
		case ws.Exited() || ws.Signaled():
			return ws, nil
		}
	}
}

// pollIn blocks until fd is readable.
func pollIn(fd int) error {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
