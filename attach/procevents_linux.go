package attach

import (
	"encoding/binary"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// The kernel's process events (the proc connector, linux/cn_proc.h): a
// netlink multicast that tells of every fork, exec and exit as it happens.
const (
	cnIdxProc         = 1 // CN_IDX_PROC
	cnValProc         = 1 // CN_VAL_PROC
	procCNMcastListen = 1 // PROC_CN_MCAST_LISTEN

	procEventFork = 0x00000001
	procEventExec = 0x00000002
	procEventExit = 0x80000000

	nlmsgHdrLen = 16 // struct nlmsghdr
	cnMsgLen    = 20 // struct cn_msg without its data
)

// ListenProcEvents subscribes to every process event of the machine.
func ListenProcEvents() (*ProcEvents, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil, fmt.Errorf("process events: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc, Pid: 0}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("process events: %w", err)
	}
	// A larger receive buffer: a fork storm must not overflow it between
	// two reads (the kernel drops events then, and says ENOBUFS).
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20)
	msg := make([]byte, nlmsgHdrLen+cnMsgLen+4)
	ne := binary.NativeEndian
	ne.PutUint32(msg[0:], uint32(len(msg)))     // nlmsg_len
	ne.PutUint16(msg[4:], unix.NLMSG_DONE)      // nlmsg_type
	ne.PutUint32(msg[12:], uint32(os.Getpid())) // nlmsg_pid
	ne.PutUint32(msg[16:], cnIdxProc)           // cb_id.idx
	ne.PutUint32(msg[20:], cnValProc)           // cb_id.val
	ne.PutUint16(msg[32:], 4)                   // len of the data
	ne.PutUint32(msg[36:], procCNMcastListen)   // the data: listen
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("process events: %w", err)
	}
	// Nonblocking, so reads go through Go's poller and Close ends one.
	return &ProcEvents{f: os.NewFile(uintptr(fd), "proc-events"), buf: make([]byte, 64<<10)}, nil
}

// Read waits for the next batch of events and appends the process forks,
// execs and exits among them to dst. A lost batch (ErrProcEventsLost) is
// not the end: the caller should look at /proc once and read on.
func (e *ProcEvents) Read(dst []ProcEvent) ([]ProcEvent, error) {
	n, err := e.f.Read(e.buf)
	if err != nil {
		if pe, ok := err.(*os.PathError); ok && pe.Err == unix.ENOBUFS {
			return dst, ErrProcEventsLost
		}
		return dst, err
	}
	return parseProcEvents(dst, e.buf[:n]), nil
}

// Close ends the subscription; a Read waiting returns an error.
func (e *ProcEvents) Close() error { return e.f.Close() }

// parseProcEvents decodes the netlink messages in b, each bounds-checked.
func parseProcEvents(dst []ProcEvent, b []byte) []ProcEvent {
	ne := binary.NativeEndian
	for len(b) >= nlmsgHdrLen {
		l := int(ne.Uint32(b))
		if l < nlmsgHdrLen || l > len(b) {
			break
		}
		m := b[nlmsgHdrLen:l]
		b = b[min(len(b), (l+3)&^3):] // messages are 4-byte aligned
		if len(m) < cnMsgLen || ne.Uint32(m[0:]) != cnIdxProc || ne.Uint32(m[4:]) != cnValProc {
			continue
		}
		ev := m[cnMsgLen:]
		// struct proc_event: what, cpu, timestamp_ns, then the event.
		if len(ev) < 16 {
			continue
		}
		what, data := ne.Uint32(ev[0:]), ev[16:]
		switch {
		case what == procEventFork && len(data) >= 16:
			// parent_pid, parent_tgid, child_pid, child_tgid
			ptgid, cpid, ctgid := ne.Uint32(data[4:]), ne.Uint32(data[8:]), ne.Uint32(data[12:])
			if cpid == ctgid { // a process, not a thread
				dst = append(dst, ProcEvent{Kind: ProcFork, Pid: int(ctgid), Parent: int(ptgid)})
			}
		case what == procEventExec && len(data) >= 8:
			dst = append(dst, ProcEvent{Kind: ProcExec, Pid: int(ne.Uint32(data[4:]))})
		case what == procEventExit && len(data) >= 8:
			if pid, tgid := ne.Uint32(data[0:]), ne.Uint32(data[4:]); pid == tgid {
				dst = append(dst, ProcEvent{Kind: ProcExit, Pid: int(tgid)})
			}
		}
	}
	return dst
}
