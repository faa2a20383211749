//go:build !linux

package procmem

// Options tune Open.
type Options struct {
	ProcMem bool
}

// Process reads the memory of a live process; only Linux is supported.
type Process struct{ pid int }

// Open returns ErrUnsupported outside Linux.
func Open(pid int) (*Process, error) { return OpenWith(pid, Options{}) }

// OpenWith returns ErrUnsupported outside Linux.
func OpenWith(pid int, o Options) (*Process, error) { return nil, ErrUnsupported }

// Pid returns the process id.
func (p *Process) Pid() int { return p.pid }

// Exited reports true: there is no process.
func (p *Process) Exited() bool { return true }

// Close does nothing.
func (p *Process) Close() error { return nil }

// ReadAt returns ErrUnsupported.
func (p *Process) ReadAt(b []byte, addr uint64) (int, error) { return 0, ErrUnsupported }

// ReadBatch returns ErrUnsupported.
func (p *Process) ReadBatch(spans []Span) error { return ErrUnsupported }
