//go:build !linux

package attach

import (
	"os"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// Check is supported on Linux only.
func Check(pid int) error { return procmem.ErrUnsupported }

// Descendants is supported on Linux only.
func Descendants(pid int) ([]int, error) { return nil, procmem.ErrUnsupported }

// LaunchOptions tune Launch.
type LaunchOptions struct {
	Dir                   string
	Env                   []string
	Stdin, Stdout, Stderr *os.File
	KeepRoot              bool
}

// Child is a process started by Launch.
type Child struct{ Pid int }

// Launch is supported on Linux only.
func Launch(argv []string, o LaunchOptions) (*Child, error) { return nil, procmem.ErrUnsupported }

// Wait is supported on Linux only.
func (c *Child) Wait() (exitCode int, err error) { return -1, procmem.ErrUnsupported }

// Exited is supported on Linux only.
func (c *Child) Exited() <-chan struct{} { return nil }

// Signal is supported on Linux only.
func (c *Child) Signal(sig os.Signal) error { return procmem.ErrUnsupported }

// Pauser stops and resumes a process; Linux only.
type Pauser struct{}

// NewPauser is supported on Linux only.
func NewPauser(pid int) (*Pauser, error) { return nil, procmem.ErrUnsupported }

// Pause is supported on Linux only.
func (p *Pauser) Pause() error { return procmem.ErrUnsupported }

// Resume is supported on Linux only.
func (p *Pauser) Resume() error { return procmem.ErrUnsupported }

// Close is supported on Linux only.
func (p *Pauser) Close() error { return nil }

// Registers is supported on Linux only.
func (p *Pauser) Registers(dst []ThreadRegs) ([]ThreadRegs, error) {
	return dst, procmem.ErrUnsupported
}

// PauseRegisters is supported on Linux only.
func (p *Pauser) PauseRegisters(dst []ThreadRegs) ([]ThreadRegs, error) {
	return dst, procmem.ErrUnsupported
}

// WhilePaused is supported on Linux only.
func (p *Pauser) WhilePaused(dst []ThreadRegs, fn func(regs []ThreadRegs) error) ([]ThreadRegs, error) {
	return dst, procmem.ErrUnsupported
}

// ListenProcEvents is supported on Linux only.
func ListenProcEvents() (*ProcEvents, error) { return nil, procmem.ErrUnsupported }

// Read is supported on Linux only.
func (e *ProcEvents) Read(dst []ProcEvent) ([]ProcEvent, error) { return dst, procmem.ErrUnsupported }

// Close is supported on Linux only.
func (e *ProcEvents) Close() error { return nil }
