package procmem

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// iovMax is the kernel's UIO_MAXIOV: process_vm_readv refuses more iovecs
// per call (EINVAL), so larger batches are split.
const iovMax = 1024

// Options tune Open.
type Options struct {
	// ProcMem reads through /proc/PID/mem (one pread per span) instead of
	// process_vm_readv. Open switches to it by itself when the kernel lacks
	// process_vm_readv (ENOSYS); tests set it to exercise that path.
	ProcMem bool
}

// Process reads the memory of a live process. It reuses its iovec buffers
// between calls, so steady-state reads do not allocate, and for the same
// reason it is not safe for concurrent use.
type Process struct {
	pid    int
	mem    *os.File // /proc/PID/mem when that backend is in use
	memFd  int      // mem's descriptor, for pread
	local  []unix.Iovec
	remote []unix.RemoteIovec
	one    [1]Span // ReadAt's batch of one, kept here to avoid allocating
	// pidfd names this process, not its pid: it turns readable when the
	// process exits, even if a new process has the pid by then. -1 without
	// pidfds (Linux < 5.3): then start is compared instead.
	pidfd int
	start uint64 // start time from /proc/PID/stat, in clock ticks since boot
	poll  [1]unix.PollFd
}

var (
	_ Reader      = (*Process)(nil)
	_ BatchReader = (*Process)(nil)
)

// Open prepares to read the memory of pid. It fails with ErrNoProcess if
// there is no such process; permission problems show up on the first read.
func Open(pid int) (*Process, error) { return OpenWith(pid, Options{}) }

// OpenWith is Open with options.
func OpenWith(pid int, o Options) (*Process, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("pid %d: %w", pid, ErrNoProcess)
	}
	if _, err := os.Stat(procPath(pid, "")); err != nil {
		return nil, procErr(pid, "open", err)
	}
	p := &Process{
		pid:    pid,
		local:  make([]unix.Iovec, 0, 16),
		remote: make([]unix.RemoteIovec, 0, 16),
		pidfd:  -1,
	}
	start, err := StartTime(pid)
	if err != nil {
		return nil, err
	}
	p.start = start
	if fd, err := unix.PidfdOpen(pid, 0); err == nil {
		p.pidfd = fd
		p.poll[0] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
	}
	if o.ProcMem {
		if err := p.openMem(); err != nil {
			p.Close()
			return nil, err
		}
	}
	return p, nil
}

// Exited reports whether the process opened has ended, also when its pid
// already names another process: reads by pid would then read that one.
func (p *Process) Exited() bool {
	if p.pidfd >= 0 {
		n, err := rawPollNow(p.poll[:])
		return err == nil && n > 0
	}
	start, err := StartTime(p.pid)
	return err != nil || start != p.start
}

func (p *Process) openMem() error {
	f, err := os.Open(procPath(p.pid, "mem"))
	if err != nil {
		return procErr(p.pid, "open mem", err)
	}
	p.mem, p.memFd = f, int(f.Fd())
	return nil
}

// Pid returns the process id.
func (p *Process) Pid() int { return p.pid }

// Close releases the pidfd and the /proc/PID/mem file, if one was opened.
func (p *Process) Close() error {
	if p.pidfd >= 0 {
		unix.Close(p.pidfd)
		p.pidfd = -1
	}
	if p.mem == nil {
		return nil
	}
	err := p.mem.Close()
	p.mem = nil
	return err
}

// ReadAt reads len(b) bytes at addr. On a short read it returns the count
// read and an error wrapping ErrFault.
func (p *Process) ReadAt(b []byte, addr uint64) (int, error) {
	p.one[0] = Span{Addr: addr, Buf: b}
	_, n, err := p.read(p.one[:])
	p.one[0] = Span{} // do not keep the caller's buffer alive
	if err == nil {
		n = len(b)
	}
	return n, err
}

// ReadBatch fills every span, using one system call per iovMax spans.
// If a span cannot be read whole the error names it and wraps ErrFault;
// spans before it are filled, later ones are undefined.
func (p *Process) ReadBatch(spans []Span) error {
	_, _, err := p.read(spans)
	return err
}

// read fills spans. On failure it returns the index of the failing span
// and how many of its bytes were read.
func (p *Process) read(spans []Span) (bad, n int, err error) {
	if p.mem != nil {
		return p.readMem(spans)
	}
	for base := 0; base < len(spans); {
		next, got, err := p.readvChunk(spans[base:])
		if errors.Is(err, unix.ENOSYS) {
			// No process_vm_readv (old kernel, or filtered by seccomp to
			// ENOSYS): /proc/PID/mem reads the same memory, one span at a time.
			if err := p.openMem(); err != nil {
				return base, 0, err
			}
			bad, n, err := p.readMem(spans[base:])
			return base + bad, n, err
		}
		if err != nil {
			return base, 0, p.sysErr(spans[base].Addr, err)
		}
		// A partial read stops at the first span that could not be read
		// whole; find it from the byte count.
		for i, s := range spans[base : base+next] {
			if got < len(s.Buf) {
				return base + i, got, p.faultErr(base+i, s, got)
			}
			got -= len(s.Buf)
		}
		base += next
	}
	return 0, 0, nil
}

// readvChunk reads up to iovMax non-empty spans in one process_vm_readv.
// It returns how many spans it covered and the bytes transferred.
func (p *Process) readvChunk(spans []Span) (next, got int, err error) {
	p.local, p.remote = p.local[:0], p.remote[:0]
	for next < len(spans) && len(p.local) < iovMax {
		s := spans[next]
		next++
		if len(s.Buf) == 0 {
			continue // an empty iovec would be skipped by the kernel anyway
		}
		p.local = append(p.local, unix.Iovec{Base: unsafe.SliceData(s.Buf), Len: uint64(len(s.Buf))})
		p.remote = append(p.remote, unix.RemoteIovec{Base: uintptr(s.Addr), Len: len(s.Buf)})
	}
	if len(p.local) == 0 {
		return next, 0, nil
	}
	got, err = rawProcessVMReadv(p.pid, p.local, p.remote)
	clear(p.local) // drop references to the callers' buffers
	if errors.Is(err, unix.EFAULT) {
		// EFAULT with nothing read: the first span failed; report it as a
		// short read so the caller names that span.
		return next, 0, nil
	}
	return next, got, err
}

// readMem is the /proc/PID/mem backend: one pread per span.
func (p *Process) readMem(spans []Span) (bad, n int, err error) {
	for i, s := range spans {
		got := 0
		for got < len(s.Buf) {
			// Offsets above 1<<63 are negative to pread and fail with
			// EINVAL: such addresses are not user memory anyway.
			k, err := rawPread(p.memFd, s.Buf[got:], int64(s.Addr)+int64(got))
			if err != nil && !errors.Is(err, unix.EIO) && !errors.Is(err, unix.EFAULT) && !errors.Is(err, unix.EINVAL) {
				return i, got, p.sysErr(s.Addr, err)
			}
			if k <= 0 {
				break
			}
			got += k
		}
		if got < len(s.Buf) {
			return i, got, p.faultErr(i, s, got)
		}
	}
	return 0, 0, nil
}

// sysErr maps an errno from a read to our errors.
func (p *Process) sysErr(addr uint64, err error) error {
	switch {
	case errors.Is(err, unix.ESRCH):
		return fmt.Errorf("pid %d: read at %#x: %w", p.pid, addr, ErrExited)
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		op := "process_vm_readv"
		if p.mem != nil {
			op = "read /proc/PID/mem"
		}
		return &PermissionError{Pid: p.pid, Op: op, Err: err}
	}
	return fmt.Errorf("pid %d: read at %#x: %w", p.pid, addr, err)
}

// faultErr reports span i as unreadable. A dead process also reads as
// nothing through /proc/PID/mem (its mm is gone), so check for that first.
func (p *Process) faultErr(i int, s Span, got int) error {
	if got == 0 && !p.alive() {
		return fmt.Errorf("pid %d: read at %#x: %w", p.pid, s.Addr, ErrExited)
	}
	return fmt.Errorf("pid %d: span %d: read %d of %d bytes at %#x: %w", p.pid, i, got, len(s.Buf), s.Addr, ErrFault)
}

// alive reports whether the process still exists and is not a zombie.
func (p *Process) alive() bool {
	b, err := os.ReadFile(procPath(p.pid, "stat"))
	if err != nil {
		return false
	}
	_, _, state, err := parseStat(b)
	return err == nil && state != 'Z' && state != 'X'
}
