//go:build linux && !amd64

package attach

import "errors"

var errRegsUnsupported = errors.New("native unwinding is supported on x86_64 only")

// getRegs: the unwinder knows only x86_64's registers and CFI numbering.
func getRegs(tid int) (ThreadRegs, error) { return ThreadRegs{}, errRegsUnsupported }
