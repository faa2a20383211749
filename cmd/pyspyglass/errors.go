package main

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/pyspyglass/pyspyglass/procmem"
	"github.com/pyspyglass/pyspyglass/pyabi"
	"github.com/pyspyglass/pyspyglass/sampler"
)

// explain turns an error into the one line a person reads, with the fix
// where there is one. Remedies live here, not in the packages.
func explain(err error) string {
	var perm *procmem.PermissionError
	var unsup *pyabi.UnsupportedVersionError
	var unreadable *sampler.UnreadableBinaryError
	switch {
	case errors.As(err, &unreadable):
		return fmt.Sprintf("%v\n  pyspyglass reads the target's Python binary to find its interpreter: run as root (sudo), "+
			"or let it read the file too (sudo setcap cap_sys_ptrace,cap_dac_read_search+ep $(which pyspyglass)), "+
			"or make %s readable by you", err, unreadable.Path)
	case errors.As(err, &perm) && perm.Facts != nil:
		return fmt.Sprintf("%v\n  %s", err, remedy(perm.Pid, *perm.Facts))
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

// sudoHint names the tool in commands we suggest.
const sudoHint = "sudo pyspyglass ..."

// remedy turns the facts of a refused access to pid into one or two
// sentences telling a person how to get access, most direct fix first.
func remedy(pid int, f procmem.Facts) string {
	switch {
	case f.TracerPid != 0:
		return fmt.Sprintf("pid %d is already traced by pid %d (a debugger?); detach it first, or profile without --blocking.", pid, f.TracerPid)
	case f.PtraceScope == 3:
		return "kernel.yama.ptrace_scope is 3, which forbids attaching to any process until the next reboot."
	}
	privileged := f.Root || f.CapSysPtrace
	var s string
	switch {
	case privileged && f.Container:
		// Root in a container usually lacks CAP_SYS_PTRACE or is held back
		// by the runtime's seccomp profile.
		s = "Inside a container the runtime must allow tracing: start it with `docker run --cap-add SYS_PTRACE` (Kubernetes: securityContext.capabilities.add: [SYS_PTRACE])."
	case f.Root && !f.CapSysPtrace:
		s = "We run as root but without CAP_SYS_PTRACE; run with that capability (e.g. `docker run --cap-add SYS_PTRACE` in a container)."
	case privileged:
		s = "Access was refused despite CAP_SYS_PTRACE; a security module (AppArmor, SELinux) or a seccomp policy is likely denying it."
	case f.PtraceScope == 2:
		s = "kernel.yama.ptrace_scope is 2, so only CAP_SYS_PTRACE may attach: run as root (" + sudoHint + ") or grant the capability: `sudo setcap cap_sys_ptrace+ep $(which pyspyglass)`."
	case f.OtherUser:
		who := "another user"
		if f.TargetUID >= 0 {
			who = "uid " + strconv.Itoa(f.TargetUID)
		}
		s = fmt.Sprintf("pid %d runs as %s: run as root (%s) or grant CAP_SYS_PTRACE: `sudo setcap cap_sys_ptrace+ep $(which pyspyglass)`.", pid, who, sudoHint)
	case f.PtraceScope == 1:
		s = "kernel.yama.ptrace_scope is 1, so only a parent may read its children: run as root (" + sudoHint + "), launch the program under pyspyglass (`pyspyglass record -- python app.py`), or allow it with `echo 0 | sudo tee /proc/sys/kernel/yama/ptrace_scope`."
	default:
		// Same user, no Yama: the target changed credentials (setuid,
		// setgid) or made itself non-dumpable.
		s = fmt.Sprintf("pid %d changed its credentials or is not dumpable: run as root (%s) or grant CAP_SYS_PTRACE: `sudo setcap cap_sys_ptrace+ep $(which pyspyglass)`.", pid, sudoHint)
	}
	if f.Container && !privileged {
		s += " Inside Docker also start the container with `--cap-add SYS_PTRACE`."
	}
	return s
}
