package attach

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// Check reports whether pid exists and we may read its memory. A missing
// pid gives an error wrapping procmem.ErrNoProcess, a zombie one wrapping
// procmem.ErrExited, and a refusal a *procmem.PermissionError carrying the
// Facts that decide how to get access.
func Check(pid int) error {
	p, err := procmem.Open(pid)
	if err != nil {
		return explain(pid, err)
	}
	defer p.Close()
	maps, err := procmem.ReadMaps(pid)
	if err != nil {
		return explain(pid, err)
	}
	m, ok := probeMapping(maps)
	if !ok {
		if state, err := processState(pid); err == nil && (state == 'Z' || state == 'X') {
			return fmt.Errorf("pid %d: %w", pid, procmem.ErrExited)
		}
		return fmt.Errorf("pid %d: no readable memory (a kernel thread?)", pid)
	}
	var b [1]byte
	_, err = p.ReadAt(b[:], m.Start)
	// The kernel checks permission before touching memory, so a fault
	// (the mapping went away since we read maps) still means we may read.
	if err != nil && !errors.Is(err, procmem.ErrFault) {
		return explain(pid, err)
	}
	return nil
}

// probeMapping picks the first readable mapping that process_vm_readv
// can read: [vvar] and [vsyscall] are special to the kernel and fail.
func probeMapping(maps []procmem.Mapping) (procmem.Mapping, bool) {
	for _, m := range maps {
		if m.Readable() && m.Size() > 0 && m.Path != "[vvar]" && m.Path != "[vvar_vclock]" && m.Path != "[vsyscall]" {
			return m, true
		}
	}
	return procmem.Mapping{}, false
}

// explain adds the facts to a permission error and passes other errors
// through.
func explain(pid int, err error) error {
	var perr *procmem.PermissionError
	if errors.As(err, &perr) && perr.Facts == nil {
		f := gatherFacts(pid)
		perr.Facts = &f
	}
	return err
}

// permissionFromErrno builds a *procmem.PermissionError with its facts for
// a refused system call such as ptrace.
func permissionFromErrno(pid int, op string, errno error) *procmem.PermissionError {
	f := gatherFacts(pid)
	return &procmem.PermissionError{Pid: pid, Op: op, Err: errno, Facts: &f}
}

// gatherFacts collects what decides the fix. Every step is best effort: a
// fact we cannot learn keeps its zero value (or -1).
func gatherFacts(pid int) procmem.Facts {
	f := procmem.Facts{Root: unix.Geteuid() == 0, PtraceScope: -1, TargetUID: -1}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		f.CapSysPtrace, _ = parseCapEff(string(b))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/yama/ptrace_scope"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			f.PtraceScope = n
		}
	}
	f.Container = inContainer()
	// /proc/PID/status is readable for everyone's processes.
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status"); err == nil {
		status := string(b)
		if r, e, s, err := parseUids(status); err == nil {
			uid := unix.Getuid()
			f.TargetUID = e
			f.OtherUser = r != uid || e != uid || s != uid
		}
		f.TracerPid, _ = parseTracerPid(status)
	}
	return f
}

// inContainer guesses whether we run in a container: Docker and Podman
// leave marker files, and cgroup v1 paths name the runtime.
func inContainer() bool {
	for _, marker := range []string{"/.dockerenv", "/run/.containerenv"} {
		if _, err := os.Stat(marker); err == nil {
			return true
		}
	}
	b, err := os.ReadFile("/proc/1/cgroup")
	return err == nil && cgroupInContainer(string(b))
}

// processState returns the state letter of pid from /proc/PID/stat.
func processState(pid int) (byte, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	_, state, err := procmem.ParseStat(string(b))
	return state, err
}
