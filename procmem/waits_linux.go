package procmem

import (
	"bytes"
	"os"
	"strconv"
)

// WaitReader resolves what the threads of one process are blocked in. It
// reads the process's socket tables once, on the first socket it meets,
// so one dump costs one read of each table however many threads wait.
type WaitReader struct {
	pid     int
	mem     Reader // the target's memory, for select's fd sets; may be nil
	sockets map[uint64]Socket
	read    map[string]bool // the /proc/PID/net tables read so far
}

// NewWaitReader returns a WaitReader for pid; mem (may be nil) lets it
// count the fds of a select.
func NewWaitReader(pid int, mem Reader) *WaitReader {
	return &WaitReader{pid: pid, mem: mem, sockets: map[uint64]Socket{}, read: map[string]bool{}}
}

// Thread returns what thread tid is blocked in. A thread that exited
// gives an error wrapping ErrExited.
func (wr *WaitReader) Thread(tid int) (Wait, error) {
	task := "task/" + strconv.Itoa(tid) + "/"
	var buf [256]byte // "NR" and six hex arguments, the stack and pc
	b, err := readProc(procPath(wr.pid, task+"syscall"), buf[:])
	if err != nil {
		return Wait{}, threadErr(wr.pid, tid, err)
	}
	s, err := ParseSyscall(b)
	if err != nil {
		return Wait{}, statErr(wr.pid, tid, err)
	}
	w := Classify(s)
	if !s.Running {
		var buf [512]byte // a kernel symbol name (KSYM_NAME_LEN)
		if wc, err := readProc(procPath(wr.pid, task+"wchan"), buf[:]); err == nil && string(wc) != "0" {
			w.Wchan = string(wc)
		}
	}
	switch {
	case w.Kind == WaitIO && w.FD >= 0:
		w.FDDesc = wr.describeFD(w.FD)
	case w.Kind == WaitPoll && w.FD >= 0:
		if info, err := os.ReadFile(procPath(wr.pid, "fdinfo/"+strconv.Itoa(w.FD))); err == nil {
			w.NFDs = CountEpollFDs(info)
		}
	case w.Kind == WaitPoll && w.NFDs < 0 && wr.mem != nil:
		w.NFDs = wr.selectFDs(s)
	}
	return w, nil
}

// describeFD says what fd of the target is: a socket with its addresses,
// a pipe, or a path.
func (wr *WaitReader) describeFD(fd int) string {
	link, err := os.Readlink(procPath(wr.pid, "fd/"+strconv.Itoa(fd)))
	if err != nil {
		return ""
	}
	kind, inode := ParseFDLink(link)
	if kind != "socket" {
		return link
	}
	if s, ok := wr.sockets[inode]; ok {
		return s.String()
	}
	// The target's own network namespace: /proc/PID/net. A table is read
	// only until the socket is found, and each line is parsed only if it
	// names the inode.
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6", "unix"} {
		if wr.read[proto] {
			continue
		}
		wr.read[proto] = true
		b, err := os.ReadFile(procPath(wr.pid, "net/"+proto))
		if err != nil {
			continue
		}
		if proto == "unix" {
			_ = ParseNetUnix(bytes.NewReader(b), wr.sockets)
		} else {
			_ = ParseNetInet(bytes.NewReader(b), proto, wr.sockets)
		}
		if _, ok := wr.sockets[inode]; ok {
			break
		}
	}
	if s, ok := wr.sockets[inode]; ok {
		return s.String()
	}
	return link
}

// selectFDs reads the three fd_sets of a blocked select or pselect6 from
// the target and counts the fds in them; -1 if they cannot be read.
func (wr *WaitReader) selectFDs(s Syscall) int {
	nfds := int(min(s.Args[0], 1024)) // FD_SETSIZE
	var sets [][]byte
	for _, addr := range s.Args[1:4] {
		if addr == 0 {
			continue
		}
		b := make([]byte, (nfds+63)/64*8)
		if err := ReadFull(wr.mem, b, addr); err != nil {
			return -1
		}
		sets = append(sets, b)
	}
	return selectFDs(nfds, sets...)
}
