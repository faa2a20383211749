package procmem

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The system calls of a sampling round are made raw. An ordinary system
// call tells Go's scheduler that the thread may block, and when the
// runtime's monitor thread (sysmon) sleeps because every P was idle, that
// wakes it: for a sampler that blocks between rounds (see the sampler's
// sleeper), one more thread wake-up per round, about as costly as the round
// itself. These calls return quickly (memory reads, /proc files, a poll
// without timeout), so the scheduler need not know. A read of a target
// page that is swapped out waits for the disk without telling; the other
// Ps still run the rest of the program meanwhile.

func rawErr(errno unix.Errno) error {
	if errno == 0 {
		return nil
	}
	return errno
}

func rawProcessVMReadv(pid int, local []unix.Iovec, remote []unix.RemoteIovec) (int, error) {
	n, _, errno := unix.RawSyscall6(unix.SYS_PROCESS_VM_READV, uintptr(pid),
		uintptr(unsafe.Pointer(unsafe.SliceData(local))), uintptr(len(local)),
		uintptr(unsafe.Pointer(unsafe.SliceData(remote))), uintptr(len(remote)), 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

func rawPread(fd int, b []byte, off int64) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, errno := unix.RawSyscall6(unix.SYS_PREAD64, uintptr(fd),
		uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(off), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// rawPollNow polls fds without waiting and returns how many are ready.
func rawPollNow(fds []unix.PollFd) (int, error) {
	var zero unix.Timespec
	n, _, errno := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), uintptr(len(fds)),
		uintptr(unsafe.Pointer(&zero)), 0, 0, 0)
	return int(n), rawErr(errno)
}

// rawDirNames lists the names in directory path (without . and ..).
func rawDirNames(path string) ([]string, error) {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return nil, err
	}
	cwd := unix.AT_FDCWD // a variable: the constant is negative
	fd, _, errno := unix.RawSyscall6(unix.SYS_OPENAT, uintptr(cwd), uintptr(unsafe.Pointer(p)),
		uintptr(unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC), 0, 0, 0)
	if errno != 0 {
		return nil, &os.PathError{Op: "open", Path: path, Err: errno}
	}
	defer unix.RawSyscall(unix.SYS_CLOSE, fd, 0, 0)
	var buf [8192]byte
	var names []string
	for {
		n, _, errno := unix.RawSyscall(unix.SYS_GETDENTS64, fd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
		if errno != 0 {
			return nil, &os.PathError{Op: "readdirent", Path: path, Err: errno}
		}
		if n == 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

// rawLinks returns the link count of path.
func rawLinks(path string) (uint64, error) {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return 0, err
	}
	var st unix.Stat_t
	cwd := unix.AT_FDCWD
	_, _, errno := unix.RawSyscall6(unix.SYS_NEWFSTATAT, uintptr(cwd), uintptr(unsafe.Pointer(p)),
		uintptr(unsafe.Pointer(&st)), 0, 0, 0)
	if errno != 0 {
		return 0, &os.PathError{Op: "stat", Path: path, Err: errno}
	}
	return uint64(st.Nlink), nil
}
