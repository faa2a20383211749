package main

import (
	"errors"
	"fmt"

	"github.com/pyspyglass/pyspyglass/attach"
	"github.com/pyspyglass/pyspyglass/procmem"
	"github.com/pyspyglass/pyspyglass/pyabi"
	"github.com/pyspyglass/pyspyglass/sampler"
)

// explain turns an error into the one line a person reads, with the fix
// where there is one. Remedies live here, not in the packages.
func explain(err error) string {
	var remedy *attach.PermissionError
	var perm *procmem.PermissionError
	var unsup *pyabi.UnsupportedVersionError
	var unreadable *sampler.UnreadableBinaryError
	switch {
	case errors.As(err, &unreadable):
		return fmt.Sprintf("%v\n  pyspyglass reads the target's Python binary to find its interpreter: run as root (sudo), "+
			"or let it read the file too (sudo setcap cap_sys_ptrace,cap_dac_read_search+ep $(which pyspyglass)), "+
			"or make %s readable by you", err, unreadable.Path)
	case errors.As(err, &remedy):
		return fmt.Sprintf("%v\n  %s", err, remedy.Remedy())
	case errors.As(err, &perm):
		return fmt.Sprintf("%v\n  permission denied reading process %d: run as root (sudo), or grant CAP_SYS_PTRACE "+
			"(sudo setcap cap_sys_ptrace+ep $(which pyspyglass)); check /proc/sys/kernel/yama/ptrace_scope "+
			"(echo 0 | sudo tee /proc/sys/kernel/yama/ptrace_scope); in Docker add --cap-add SYS_PTRACE", err, perm.Pid)
	case errors.As(err, &unsup):
		return err.Error()
	case errors.Is(err, procmem.ErrNoProcess):
		return fmt.Sprintf("%v: check the pid", err)
	case errors.Is(err, procmem.ErrExited):
		return fmt.Sprintf("%v: the process exited", err)
	case errors.Is(err, pyabi.ErrNotPython):
		return fmt.Sprintf("%v\n  is this a CPython process? pyspyglass looks for libpython or a python executable with "+
			"the _PyRuntime symbol, a .PyRuntime section or an interpreter in .data/.bss (run with --log debug for each step)", err)
	}
	return err.Error()
}
