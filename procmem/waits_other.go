//go:build !linux

package procmem

// WaitReader needs /proc; elsewhere Thread returns ErrUnsupported.
type WaitReader struct{}

// NewWaitReader returns a WaitReader whose Thread always fails.
func NewWaitReader(pid int, mem Reader) *WaitReader { return &WaitReader{} }

// Thread returns ErrUnsupported outside Linux.
func (wr *WaitReader) Thread(tid int) (Wait, error) { return Wait{}, ErrUnsupported }
