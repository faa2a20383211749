package attach

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// capSysPtrace is CAP_SYS_PTRACE's bit in the capability sets
// (include/uapi/linux/capability.h).
const capSysPtrace = 19

// Facts are what decides how a refused attach can be fixed. They are
// gathered when the kernel says no, not up front.
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

// PermissionError is a refused access to a process together with the
// facts needed to fix it. It wraps the *procmem.PermissionError, so
// errors.As finds either type and errors.Is(err, os.ErrPermission) holds.
type PermissionError struct {
	Pid   int
	Facts Facts
	Err   error // a *procmem.PermissionError
}

func (e *PermissionError) Error() string { return e.Err.Error() }

func (e *PermissionError) Unwrap() error { return e.Err }

// sudoHint names the tool in commands we suggest.
const sudoHint = "sudo pyspyglass ..."

// Remedy turns the facts into one or two sentences telling a person how
// to get access, most direct fix first.
func (e *PermissionError) Remedy() string {
	f := e.Facts
	switch {
	case f.TracerPid != 0:
		return fmt.Sprintf("pid %d is already traced by pid %d (a debugger?); detach it first, or profile without --blocking.", e.Pid, f.TracerPid)
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
		s = fmt.Sprintf("pid %d runs as %s: run as root (%s) or grant CAP_SYS_PTRACE: `sudo setcap cap_sys_ptrace+ep $(which pyspyglass)`.", e.Pid, who, sudoHint)
	case f.PtraceScope == 1:
		s = "kernel.yama.ptrace_scope is 1, so only a parent may read its children: run as root (" + sudoHint + "), launch the program under pyspyglass (`pyspyglass record -- python app.py`), or allow it with `echo 0 | sudo tee /proc/sys/kernel/yama/ptrace_scope`."
	default:
		// Same user, no Yama: the target changed credentials (setuid,
		// setgid) or made itself non-dumpable.
		s = fmt.Sprintf("pid %d changed its credentials or is not dumpable: run as root (%s) or grant CAP_SYS_PTRACE: `sudo setcap cap_sys_ptrace+ep $(which pyspyglass)`.", e.Pid, sudoHint)
	}
	if f.Container && !privileged {
		s += " Inside Docker also start the container with `--cap-add SYS_PTRACE`."
	}
	return s
}

// newPermissionError wraps a procmem permission error with facts.
func newPermissionError(pid int, perr *procmem.PermissionError, f Facts) *PermissionError {
	return &PermissionError{Pid: pid, Facts: f, Err: perr}
}

// statusField returns the value of "Name:\tvalue" in a /proc/PID/status
// text, without the name and surrounding space.
func statusField(status, name string) (string, bool) {
	sc := bufio.NewScanner(strings.NewReader(status))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && k == name {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// parseCapEff reports whether the CapEff line of a /proc/PID/status text
// holds CAP_SYS_PTRACE.
func parseCapEff(status string) (bool, error) {
	v, ok := statusField(status, "CapEff")
	if !ok {
		return false, fmt.Errorf("status: no CapEff line")
	}
	caps, err := strconv.ParseUint(v, 16, 64)
	if err != nil {
		return false, fmt.Errorf("status: bad CapEff %q", v)
	}
	return caps&(1<<capSysPtrace) != 0, nil
}

// parseUids returns the real, effective and saved uid from the Uid line
// of a /proc/PID/status text ("Uid:\treal\teffective\tsaved\tfs").
func parseUids(status string) (real, eff, saved int, err error) {
	v, ok := statusField(status, "Uid")
	if !ok {
		return 0, 0, 0, fmt.Errorf("status: no Uid line")
	}
	f := strings.Fields(v)
	if len(f) < 3 {
		return 0, 0, 0, fmt.Errorf("status: bad Uid %q", v)
	}
	var ids [3]int
	for i := range ids {
		if ids[i], err = strconv.Atoi(f[i]); err != nil {
			return 0, 0, 0, fmt.Errorf("status: bad Uid %q", v)
		}
	}
	return ids[0], ids[1], ids[2], nil
}

// parseTracerPid returns the TracerPid of a /proc/PID/status text.
func parseTracerPid(status string) (int, error) {
	v, ok := statusField(status, "TracerPid")
	if !ok {
		return 0, fmt.Errorf("status: no TracerPid line")
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("status: bad TracerPid %q", v)
	}
	return n, nil
}

// cgroupInContainer reports whether a /proc/1/cgroup text names a
// container runtime. With cgroup v2 and a cgroup namespace the file reads
// "0::/" inside containers too, so this is a hint, not a proof.
func cgroupInContainer(cgroup string) bool {
	for _, w := range []string{"docker", "kubepods", "containerd", "libpod", "lxc"} {
		if strings.Contains(cgroup, w) {
			return true
		}
	}
	return false
}
