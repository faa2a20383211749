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
// (EPERM or EACCES). It carries no remedy: the CLI knows the user's
// situation (sudo, CAP_SYS_PTRACE, ptrace_scope, containers) and adds it.
type PermissionError struct {
	Pid int
	Op  string // what we tried, e.g. "process_vm_readv" or "open maps"
	Err error  // the underlying errno
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
