package procmem

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// backends runs a test against both ways of reading memory.
var backends = []struct {
	name string
	opts Options
}{
	{"process_vm_readv", Options{}},
	{"proc_mem", Options{ProcMem: true}},
}

// openSelf opens this test process: reading our own memory needs no
// privileges and lets the test know exactly what the bytes should be.
func openSelf(t testing.TB, o Options) *Process {
	t.Helper()
	p, err := OpenWith(os.Getpid(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func addrOf(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

var selfData = []byte("the quick brown fox jumps over the lazy dog")

// guardedPage maps two pages and unmaps the second, returning the first:
// reads running off its end must fail at a known address.
func guardedPage(t *testing.T) []byte {
	t.Helper()
	ps := os.Getpagesize()
	b, err := unix.Mmap(-1, 0, 2*ps, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, e := unix.Syscall(unix.SYS_MUNMAP, uintptr(addrOf(b))+uintptr(ps), uintptr(ps), 0); e != 0 {
		t.Fatal(e)
	}
	page := b[:ps:ps]
	t.Cleanup(func() { unix.Syscall(unix.SYS_MUNMAP, uintptr(addrOf(page)), uintptr(ps), 0) })
	copy(page[ps-8:], "TAILTAIL")
	return page
}

func TestProcessReadSelf(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			p := openSelf(t, be.opts)
			if p.Pid() != os.Getpid() {
				t.Errorf("Pid() = %d", p.Pid())
			}
			buf := make([]byte, len(selfData))
			n, err := p.ReadAt(buf, addrOf(selfData))
			if err != nil || n != len(buf) || !bytes.Equal(buf, selfData) {
				t.Fatalf("ReadAt = %d, %v, %q", n, err, buf)
			}
			a, b, c := make([]byte, 3), make([]byte, 0), make([]byte, 4)
			spans := []Span{{addrOf(selfData) + 4, a}, {addrOf(selfData), b}, {addrOf(selfData) + 16, c}}
			if err := p.ReadBatch(spans); err != nil {
				t.Fatal(err)
			}
			if string(a) != "qui" || string(c) != "fox " {
				t.Errorf("batch read %q %q", a, c)
			}
		})
	}
}

// TestProcessReadBatchLarge crosses the IOV_MAX chunk boundary.
func TestProcessReadBatchLarge(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			p := openSelf(t, be.opts)
			spans := make([]Span, 2*iovMax+3)
			for i := range spans {
				spans[i] = Span{Addr: addrOf(selfData) + uint64(i%len(selfData)), Buf: make([]byte, 1)}
			}
			if err := p.ReadBatch(spans); err != nil {
				t.Fatal(err)
			}
			for i, s := range spans {
				if s.Buf[0] != selfData[i%len(selfData)] {
					t.Fatalf("span %d: got %q", i, s.Buf)
				}
			}
		})
	}
}

func TestProcessFault(t *testing.T) {
	page := guardedPage(t)
	end := addrOf(page) + uint64(len(page))
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			p := openSelf(t, be.opts)

			// Page zero is never mapped.
			buf := make([]byte, 8)
			n, err := p.ReadAt(buf, 0x10)
			if !errors.Is(err, ErrFault) || n != 0 {
				t.Errorf("read at 0x10: n=%d err=%v, want ErrFault", n, err)
			}

			// A read running off the end of the page stops part way.
			buf = make([]byte, 16)
			n, err = p.ReadAt(buf, end-8)
			if !errors.Is(err, ErrFault) || n != 8 || string(buf[:8]) != "TAILTAIL" {
				t.Errorf("read across end: n=%d err=%v buf=%q", n, err, buf)
			}

			// In a batch the failing span is named, earlier ones are filled,
			// whether it fails part way or at its first byte.
			for _, bad := range []Span{{end - 8, make([]byte, 16)}, {end, make([]byte, 4)}} {
				first := make([]byte, 5)
				spans := []Span{{addrOf(selfData), first}, bad, {addrOf(selfData), make([]byte, 3)}}
				err = p.ReadBatch(spans)
				if !errors.Is(err, ErrFault) || !bytes.Contains([]byte(err.Error()), []byte("span 1:")) {
					t.Errorf("batch with bad span at %#x: %v, want ErrFault naming span 1", bad.Addr, err)
				}
				if string(first) != "the q" {
					t.Errorf("span before the bad one not filled: %q", first)
				}
			}
		})
	}
}

func TestProcessAllocs(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			p := openSelf(t, be.opts)
			buf := make([]byte, 16)
			spans := []Span{{addrOf(selfData), make([]byte, 8)}, {addrOf(selfData) + 10, make([]byte, 4)}, {addrOf(selfData) + 20, make([]byte, 2)}}
			if got := testing.AllocsPerRun(100, func() {
				if _, err := p.ReadAt(buf, addrOf(selfData)); err != nil {
					t.Fatal(err)
				}
			}); got != 0 {
				t.Errorf("ReadAt allocates %v times", got)
			}
			if got := testing.AllocsPerRun(100, func() {
				if err := p.ReadBatch(spans); err != nil {
					t.Fatal(err)
				}
			}); got != 0 {
				t.Errorf("ReadBatch allocates %v times", got)
			}
		})
	}
}

func TestOpenNoProcess(t *testing.T) {
	for _, pid := range []int{0, -1, 1 << 30} {
		if _, err := Open(pid); !errors.Is(err, ErrNoProcess) {
			t.Errorf("Open(%d) = %v, want ErrNoProcess", pid, err)
		}
	}
}

func BenchmarkReadAt(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			p := openSelf(b, be.opts)
			buf := make([]byte, 8)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.ReadAt(buf, addrOf(selfData)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReadBatch reads 64 small spans per call, like one sample of a
// deep stack.
func BenchmarkReadBatch(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			p := openSelf(b, be.opts)
			spans := make([]Span, 64)
			for i := range spans {
				spans[i] = Span{Addr: addrOf(selfData) + uint64(i%32), Buf: make([]byte, 8)}
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := p.ReadBatch(spans); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestErrorMapping checks how errnos become our errors; as root the
// kernel never refuses us, so EPERM cannot be provoked for real here.
func TestErrorMapping(t *testing.T) {
	p := &Process{pid: 42}
	var perr *PermissionError
	for _, errno := range []unix.Errno{unix.EPERM, unix.EACCES} {
		err := p.sysErr(0x1000, errno)
		if !errors.As(err, &perr) || perr.Pid != 42 || perr.Op != "process_vm_readv" || !errors.Is(err, os.ErrPermission) {
			t.Errorf("%v became %v", errno, err)
		}
	}
	if err := p.sysErr(0x1000, unix.ESRCH); !errors.Is(err, ErrExited) {
		t.Errorf("ESRCH became %v", err)
	}
	pathErr := &os.PathError{Op: "open", Path: "/proc/42/maps", Err: unix.EACCES}
	if err := procErr(42, "open maps", pathErr); !errors.As(err, &perr) || perr.Err != unix.EACCES || perr.Op != "open maps" {
		t.Errorf("EACCES on open became %v", err)
	}
	if err := procErr(42, "open maps", &os.PathError{Err: unix.ENOENT}); !errors.Is(err, ErrNoProcess) {
		t.Errorf("ENOENT on open became %v", err)
	}
	if got := (&PermissionError{Pid: 7, Op: "process_vm_readv", Err: unix.EPERM}).Error(); got != "pid 7: process_vm_readv: permission denied (operation not permitted)" {
		t.Errorf("message %q", got)
	}
}
