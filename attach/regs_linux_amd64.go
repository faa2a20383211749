package attach

import (
	"errors"

	"golang.org/x/sys/unix"
)

var errRegsUnsupported = errors.New("native unwinding is supported on x86_64 only")

// getRegs reads a stopped tracee's registers (PTRACE_GETREGS). It runs on
// the ptrace goroutine.
func getRegs(tid int) (ThreadRegs, error) {
	var r unix.PtraceRegs
	if err := unix.PtraceGetRegs(tid, &r); err != nil {
		return ThreadRegs{}, err
	}
	return ThreadRegs{PC: r.Rip, SP: r.Rsp, FP: r.Rbp}, nil
}
