package procmem

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers test them with errors.Is; the messages that wrap
// them name the pid, tid or address involved.
var (
	// ErrNoProcess reports a pid that does not exist (at Open, or when a
	// /proc file of the pid is missing).
	ErrNoProcess = errors.New("no such process")
	// ErrExited reports a process or thread that went away while we were
	// reading it.
	ErrExited = errors.New("process exited")
	// ErrUnsupported is returned by the OS-specific parts on systems other
	// than Linux, so the pure parsers still build and test there.
	ErrUnsupported = errors.New("not supported on this operating system")
)

// PermissionError reports that the kernel refused access to a process
// (EPERM or EACCES). It carries no remedy, only facts: the CLI turns them
// into advice for the user (sudo, CAP_SYS_PTRACE, ptrace_scope, containers).
type PermissionError struct {
	Pid   int
	Op    string // what we tried, e.g. "process_vm_readv" or "open maps"
	Err   error  // the underlying errno
	Facts *Facts // what decides the fix; nil until attach gathers them
}

// Facts are what decides how a refused access can be fixed, gathered (by
// attach) when the kernel says no, not up front.
type Facts struct {
	Root         bool // our effective uid is 0
	CapSysPtrace bool // CAP_SYS_PTRACE is in our effective capability set
	// PtraceScope is /proc/sys/kernel/yama/ptrace_scope, or -1 when the
	// kernel has no Yama: 0 classic, 1 descendants only, 2 CAP_SYS_PTRACE
	// only, 3 nobody until reboot.
	PtraceScope int
	Container   bool // we seem to run inside a container (Docker, Kubernetes, Podman)
	// OtherUser: the target's real, effective or saved uid differs from
	// our real uid, which the kernel's ptrace_may_access compares.
	OtherUser bool
	TargetUID int // the target's effective uid, -1 if unknown
	TracerPid int // a tracer (debugger) already attached to the target, 0 if none
}

func (e *PermissionError) Error() string {
	msg := "permission denied"
	if e.Err != nil && e.Err.Error() != msg {
		msg += " (" + e.Err.Error() + ")" // EPERM says "operation not permitted"
	}
	return fmt.Sprintf("pid %d: %s: %s", e.Pid, e.Op, msg)
}

// Unwrap exposes the errno, so errors.Is(err, os.ErrPermission) holds.
func (e *PermissionError) Unwrap() error { return e.Err }
