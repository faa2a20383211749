//go:build !linux

package procmem

// The /proc readers need Linux; elsewhere they return ErrUnsupported so
// callers can still be built and the pure parsers tested.

// ReadMaps returns ErrUnsupported outside Linux.
func ReadMaps(pid int) ([]Mapping, error) { return nil, ErrUnsupported }

// Threads returns ErrUnsupported outside Linux.
func Threads(pid int) ([]int, error) { return nil, ErrUnsupported }

// ThreadCount returns ErrUnsupported outside Linux.
func ThreadCount(pid int) (int, error) { return 0, ErrUnsupported }

// ThreadState returns ErrUnsupported outside Linux.
func ThreadState(pid, tid int) (byte, error) { return 0, ErrUnsupported }

// ThreadComm returns ErrUnsupported outside Linux.
func ThreadComm(pid, tid int) (string, error) { return "", ErrUnsupported }

// Cmdline returns ErrUnsupported outside Linux.
func Cmdline(pid int) ([]string, error) { return nil, ErrUnsupported }

// Cwd returns ErrUnsupported outside Linux.
func Cwd(pid int) (string, error) { return "", ErrUnsupported }

// MappedFile returns ErrUnsupported outside Linux.
func MappedFile(pid int, m Mapping) (string, error) { return "", ErrUnsupported }

// Exe returns ErrUnsupported outside Linux.
func Exe(pid int) (string, error) { return "", ErrUnsupported }

// StatReader reads thread states; only Linux is supported.
type StatReader struct{ pid int }

// NewStatReader returns a StatReader whose State always fails.
func NewStatReader(pid int) *StatReader { return &StatReader{pid: pid} }

// State returns ErrUnsupported.
func (s *StatReader) State(tid int) (byte, error) { return 0, ErrUnsupported }

// Retain does nothing.
func (s *StatReader) Retain(tids []int) {}

// Close does nothing.
func (s *StatReader) Close() error { return nil }

// StartTime returns ErrUnsupported outside Linux.
func StartTime(pid int) (uint64, error) { return 0, ErrUnsupported }
