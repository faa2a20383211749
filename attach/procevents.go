package attach

import (
	"errors"
	"os"
)

// ProcEventKind is what happened to a process.
type ProcEventKind int

const (
	ProcFork ProcEventKind = iota + 1 // a new process (not a thread)
	ProcExec                          // a process replaced its program
	ProcExit                          // a process (its last thread) ended
)

// ProcEvent is one process event: Pid forked from Parent, exec'd or exited.
type ProcEvent struct {
	Kind   ProcEventKind
	Pid    int
	Parent int // for ProcFork
}

// ProcEvents is a subscription to the kernel's process events. It needs
// CAP_NET_ADMIN (root); without it, or without CONFIG_PROC_EVENTS,
// ListenProcEvents fails and callers scan /proc instead.
type ProcEvents struct {
	f   *os.File
	buf []byte
}

// ErrProcEventsLost says the kernel dropped events (the reader fell behind).
var ErrProcEventsLost = errors.New("process events lost")
