package procmem

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
)

// What a thread waits on, from the kernel's point of view: the system call
// it is blocked in (/proc/PID/task/TID/syscall), with the file descriptor,
// child or timeout it names resolved through /proc. The parsers here are
// pure; waits_linux.go opens the files.

// Syscall is one line of /proc/PID/task/TID/syscall.
type Syscall struct {
	Running bool // on a CPU: the kernel reports no system call
	// Nr is the system call number, or -1 for a thread blocked outside
	// any system call (a page fault, a stop).
	Nr   int
	Args [6]uint64
}

var errMalformedSyscall = errors.New("malformed syscall line")

// ParseSyscall parses "NR ARG0 ... ARG5 SP PC", "-1 SP PC" or "running"
// (Documentation/filesystems/proc.rst; fs/proc/base.c proc_pid_syscall).
func ParseSyscall(b []byte) (Syscall, error) {
	f := strings.Fields(string(b))
	switch {
	case len(f) == 1 && f[0] == "running":
		return Syscall{Running: true, Nr: -1}, nil
	case len(f) == 0:
		return Syscall{}, errMalformedSyscall
	}
	nr, err := strconv.Atoi(f[0])
	if err != nil || nr < -1 {
		return Syscall{}, errMalformedSyscall
	}
	s := Syscall{Nr: nr}
	if nr == -1 {
		return s, nil
	}
	if len(f) < 7 {
		return Syscall{}, errMalformedSyscall
	}
	for i := range s.Args {
		v, err := strconv.ParseUint(strings.TrimPrefix(f[1+i], "0x"), 16, 64)
		if err != nil {
			return Syscall{}, errMalformedSyscall
		}
		s.Args[i] = v
	}
	return s, nil
}

// The x86_64 numbers of the system calls a blocked thread is found in
// (arch/x86/entry/syscalls/syscall_64.tbl). Other architectures number
// them differently; there the wait shows as "syscall N".
const (
	sysRead         = 0
	sysWrite        = 1
	sysPoll         = 7
	sysPread64      = 17
	sysReadv        = 19
	sysWritev       = 20
	sysSelect       = 23
	sysPause        = 34
	sysNanosleep    = 35
	sysConnect      = 42
	sysAccept       = 43
	sysSendto       = 44
	sysRecvfrom     = 45
	sysSendmsg      = 46
	sysRecvmsg      = 47
	sysWait4        = 61
	sysSemop        = 65
	sysFcntl        = 72
	sysFlock        = 73
	sysSigtimedwait = 128
	sysSigsuspend   = 130
	sysFutex        = 202
	sysSemtimedop   = 220
	sysClockNanosl  = 230
	sysEpollWait    = 232
	sysWaitid       = 247
	sysPselect6     = 270
	sysPpoll        = 271
	sysEpollPwait   = 281
	sysAccept4      = 288
	sysRecvmmsg     = 299
	sysSendmmsg     = 307
	sysEpollPwait2  = 441
	sysFutexWaitv   = 449
)

// archNumbers: the numbers above are this architecture's.
const archNumbers = runtime.GOARCH == "amd64"

var syscallNames = map[int]string{
	sysRead: "read", sysWrite: "write", sysPoll: "poll", sysPread64: "pread64",
	sysReadv: "readv", sysWritev: "writev", sysSelect: "select", sysPause: "pause",
	sysNanosleep: "nanosleep", sysConnect: "connect", sysAccept: "accept",
	sysSendto: "sendto", sysRecvfrom: "recvfrom", sysSendmsg: "sendmsg",
	sysRecvmsg: "recvmsg", sysWait4: "wait4", sysSemop: "semop", sysFcntl: "fcntl",
	sysFlock: "flock", sysSigtimedwait: "rt_sigtimedwait", sysSigsuspend: "rt_sigsuspend",
	sysFutex: "futex", sysSemtimedop: "semtimedop", sysClockNanosl: "clock_nanosleep",
	sysEpollWait: "epoll_wait", sysWaitid: "waitid", sysPselect6: "pselect6",
	sysPpoll: "ppoll", sysEpollPwait: "epoll_pwait", sysAccept4: "accept4",
	sysRecvmmsg: "recvmmsg", sysSendmmsg: "sendmmsg", sysEpollPwait2: "epoll_pwait2",
	sysFutexWaitv: "futex_waitv",
}

// SyscallName names system call nr of this architecture, or "syscall N".
func SyscallName(nr int) string {
	if n, ok := syscallNames[nr]; ok && archNumbers {
		return n
	}
	return "syscall " + strconv.Itoa(nr)
}

// WaitKind classifies a wait, so callers need not know syscall numbers.
type WaitKind string

const (
	WaitRunning WaitKind = "running" // on a CPU
	WaitFutex   WaitKind = "futex"   // a lock, condition or semaphore
	WaitIO      WaitKind = "io"      // read, write, recv, send, accept, connect on one fd
	WaitPoll    WaitKind = "poll"    // poll, select, epoll on several fds
	WaitSleep   WaitKind = "sleep"   // nanosleep, or select with no fds
	WaitChild   WaitKind = "child"   // wait4, waitid
	WaitSignal  WaitKind = "signal"  // pause, sigsuspend, sigtimedwait
	WaitOther   WaitKind = "other"   // another system call, or none
)

// Wait is what one thread is blocked in, resolved as far as /proc allows.
type Wait struct {
	Kind    WaitKind
	Syscall string // the system call's name; "" when running or not in one
	// FD is the descriptor an I/O or epoll wait names, -1 if none; FDDesc
	// what it is ("tcp 127.0.0.1:5000 -> 127.0.0.1:40112", "pipe:[123]",
	// a path).
	FD     int
	FDDesc string
	NFDs   int // fds of a poll, select or epoll wait; -1 if not known
	// Child is the pid a wait4/waitid waits for: >0 one child, -1 any,
	// 0 or less than -1 a process group (wait4's own encoding).
	Child int
	// Futex is the address of the futex word a futex wait sleeps on, in
	// the target's address space: callers match it against lock objects.
	Futex uint64
	Wchan string // the kernel function it sleeps in, when readable
}

// String is the wait in a few words for a thread's header line.
func (w Wait) String() string {
	switch w.Kind {
	case WaitRunning:
		return "running"
	case WaitFutex:
		return "futex wait"
	case WaitSleep:
		return "sleep (" + w.Syscall + ")"
	case WaitChild:
		switch {
		case w.Child > 0:
			return fmt.Sprintf("%s for child %d", w.Syscall, w.Child)
		case w.Child == -1:
			return w.Syscall + " for any child"
		}
		return fmt.Sprintf("%s for process group %d", w.Syscall, -w.Child)
	case WaitPoll:
		s := w.Syscall
		if w.NFDs >= 0 {
			s += fmt.Sprintf(" on %d fd%s", w.NFDs, plural(w.NFDs))
		}
		if w.FD >= 0 {
			s += fmt.Sprintf(" (epoll fd %d)", w.FD)
		}
		return s
	case WaitIO:
		s := fmt.Sprintf("%s on fd %d", w.Syscall, w.FD)
		if w.FDDesc != "" {
			s += ": " + w.FDDesc
		}
		return s
	}
	if w.Syscall != "" {
		return w.Syscall
	}
	if w.Wchan != "" {
		return "in kernel " + w.Wchan
	}
	return "blocked"
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Classify turns a parsed syscall line into a Wait, without resolving fds.
func Classify(s Syscall) Wait {
	w := Wait{Kind: WaitOther, FD: -1, NFDs: -1}
	if s.Running {
		w.Kind = WaitRunning
		return w
	}
	if s.Nr < 0 {
		return w
	}
	w.Syscall = SyscallName(s.Nr)
	if !archNumbers {
		return w
	}
	a := s.Args
	switch s.Nr {
	case sysFutex:
		w.Kind, w.Futex = WaitFutex, a[0]
	case sysFutexWaitv:
		w.Kind = WaitFutex
	case sysRead, sysWrite, sysPread64, sysReadv, sysWritev, sysConnect, sysAccept, sysAccept4,
		sysSendto, sysRecvfrom, sysSendmsg, sysRecvmsg, sysRecvmmsg, sysSendmmsg, sysFlock, sysFcntl:
		w.Kind, w.FD = WaitIO, int(int32(a[0]))
	case sysPoll, sysPpoll:
		w.Kind, w.NFDs = WaitPoll, int(min(a[1], 1<<20))
		if w.NFDs == 0 {
			w.Kind = WaitSleep // poll(NULL, 0, ms) is a sleep
		}
	case sysSelect, sysPselect6:
		// select(0, NULL, NULL, NULL, &tv) is how time.sleep sleeps
		// before 3.11 (Modules/timemodule.c pysleep).
		w.Kind = WaitPoll
		if a[0] == 0 {
			w.Kind = WaitSleep
		}
	case sysEpollWait, sysEpollPwait, sysEpollPwait2:
		w.Kind, w.FD = WaitPoll, int(int32(a[0]))
	case sysNanosleep, sysClockNanosl:
		w.Kind = WaitSleep
	case sysWait4:
		w.Kind, w.Child = WaitChild, int(int32(a[0]))
	case sysWaitid:
		// waitid(idtype, id, ...): P_ALL 0, P_PID 1, P_PGID 2, P_PIDFD 3.
		w.Kind = WaitChild
		switch a[0] {
		case 1:
			w.Child = int(int32(a[1]))
		case 2:
			w.Child = -int(int32(a[1]))
		default:
			w.Child = -1
		}
	case sysPause, sysSigsuspend, sysSigtimedwait:
		w.Kind = WaitSignal
	}
	return w
}

// selectFDs counts the descriptors in select's three fd_sets: nfds bits
// each, as raw little-endian words (read from the target by the caller).
func selectFDs(nfds int, sets ...[]byte) int {
	seen := make([]bool, nfds)
	for _, s := range sets {
		for i := 0; i < nfds && i/8 < len(s); i++ {
			if s[i/8]>>(i%8)&1 == 1 {
				seen[i] = true
			}
		}
	}
	n := 0
	for _, b := range seen {
		if b {
			n++
		}
	}
	return n
}

// ParseFDLink turns the target of a /proc/PID/fd/N link into a kind and an
// inode: "socket:[123]" is ("socket", 123), "pipe:[9]" ("pipe", 9),
// "anon_inode:[eventpoll]" ("anon_inode", 0), a path ("file", 0).
func ParseFDLink(link string) (kind string, inode uint64) {
	if strings.HasPrefix(link, "/") {
		return "file", 0
	}
	i := strings.Index(link, ":[")
	if i < 0 || !strings.HasSuffix(link, "]") {
		return "other", 0
	}
	kind = link[:i]
	inode, _ = strconv.ParseUint(link[i+2:len(link)-1], 10, 64)
	return kind, inode
}

// Socket is one row of /proc/PID/net/{tcp,tcp6,udp,udp6,unix}.
type Socket struct {
	Proto string // tcp, tcp6, udp, udp6, unix
	Local string // address:port, or a unix socket's path
	Peer  string // "" when unconnected
	State string // ESTABLISHED, LISTEN, ... ("" for udp and unix)
}

// String is the socket as a thread header shows it.
func (s Socket) String() string {
	out := s.Proto + " " + s.Local
	if s.Local == "" {
		out = s.Proto
	}
	if s.Peer != "" {
		out += " -> " + s.Peer
	}
	if s.State != "" && s.State != "ESTABLISHED" {
		out += " (" + s.State + ")"
	}
	return out
}

// TCP states by their number in /proc/net/tcp (include/net/tcp_states.h).
var tcpStates = [...]string{"", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
	"TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"}

// maxSocketRows bounds one /proc/net table: a busy server has many
// sockets, but a table this long is not worth reading for one dump.
const maxSocketRows = 1 << 20

// ParseNetInet reads /proc/net/tcp, tcp6, udp or udp6 (proto names which)
// into sockets by inode. Malformed rows are skipped.
func ParseNetInet(r io.Reader, proto string, into map[uint64]Socket) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), 4096)
	first := true
	for n := 0; sc.Scan() && n < maxSocketRows; n++ {
		if first {
			first = false // the header row
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 10 {
			continue
		}
		local, ok1 := parseInetAddr(f[1])
		peer, ok2 := parseInetAddr(f[2])
		st, err := strconv.ParseUint(f[3], 16, 8)
		inode, err2 := strconv.ParseUint(f[9], 10, 64)
		if !ok1 || !ok2 || err != nil || err2 != nil || inode == 0 {
			continue
		}
		s := Socket{Proto: proto, Local: local}
		if !isZeroAddr(f[2]) {
			s.Peer = peer
		}
		if strings.HasPrefix(proto, "tcp") && int(st) < len(tcpStates) {
			s.State = tcpStates[st]
		}
		into[inode] = s
	}
	return sc.Err()
}

func isZeroAddr(hexAddr string) bool {
	return strings.Trim(strings.Replace(hexAddr, ":", "", 1), "0") == ""
}

// parseInetAddr decodes "0100007F:1F90" (IPv4) or the 32-digit IPv6 form:
// the address as the kernel's 32-bit words in host (little-endian) order,
// the port in hex.
func parseInetAddr(s string) (string, bool) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return "", false
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return "", false
	}
	raw, err := hex.DecodeString(a)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return "", false
	}
	// Each 4-byte group is a native-endian word: reverse it.
	for i := 0; i < len(raw); i += 4 {
		w := binary.LittleEndian.Uint32(raw[i:])
		binary.BigEndian.PutUint32(raw[i:], w)
	}
	ip, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(ip.Unmap(), uint16(port)).String(), true
}

// ParseNetUnix reads /proc/net/unix into sockets by inode. The peer of a
// unix socket is not in the table; a bound path is.
func ParseNetUnix(r io.Reader, into map[uint64]Socket) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), 8192)
	first := true
	for n := 0; sc.Scan() && n < maxSocketRows; n++ {
		if first {
			first = false
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 7 {
			continue
		}
		inode, err := strconv.ParseUint(f[6], 10, 64)
		if err != nil || inode == 0 {
			continue
		}
		s := Socket{Proto: "unix"}
		if len(f) >= 8 {
			s.Local = f[7]
		}
		into[inode] = s
	}
	return sc.Err()
}

// CountEpollFDs counts the watched descriptors in /proc/PID/fdinfo/N of an
// epoll fd: one "tfd:" line each (fs/eventpoll.c ep_show_fdinfo).
func CountEpollFDs(fdinfo []byte) int {
	n := 0
	for line := range bytes.SplitSeq(fdinfo, []byte{'\n'}) {
		if bytes.HasPrefix(line, []byte("tfd:")) {
			n++
		}
	}
	return n
}
