package procmem

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// procPath names a file under /proc/PID.
func procPath(pid int, name string) string {
	return "/proc/" + strconv.Itoa(pid) + "/" + name
}

// readProc reads a small /proc file whole into buf (a larger file is
// cut at len(buf)). It opens the file with a bare open(2): os.Open on
// a /proc file makes five more system calls, trying in vain to put it
// in the poller, which a dump of many threads pays for every file.
func readProc(path string, buf []byte) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	for err == unix.EINTR {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	n := 0
	for n < len(buf) {
		k, err := unix.Read(fd, buf[n:])
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		case k == 0:
			return buf[:n], nil
		}
		n += k
	}
	return buf[:n], nil
}

// procErr turns the error of a /proc/PID file operation into our vocabulary:
// a missing file means the pid is gone, EPERM/EACCES a PermissionError.
func procErr(pid int, op string, err error) error {
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ESRCH):
		return fmt.Errorf("pid %d: %s: %w", pid, op, ErrNoProcess)
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return &PermissionError{Pid: pid, Op: op, Err: unwrapErrno(err)}
	}
	return fmt.Errorf("pid %d: %s: %w", pid, op, err)
}

// unwrapErrno digs the errno out of an *os.PathError, so PermissionError
// holds the cause and not the /proc path again.
func unwrapErrno(err error) error {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// ReadMaps reads and parses /proc/PID/maps.
func ReadMaps(pid int) ([]Mapping, error) {
	f, err := os.Open(procPath(pid, "maps"))
	if err != nil {
		return nil, procErr(pid, "open maps", err)
	}
	defer f.Close()
	maps, err := ParseMaps(f)
	if err != nil {
		return nil, procErr(pid, "read maps", err)
	}
	return maps, nil
}

// Threads lists the thread ids of pid in ascending order.
func Threads(pid int) ([]int, error) {
	names, err := rawDirNames(procPath(pid, "task"))
	if err != nil {
		return nil, procErr(pid, "list threads", err)
	}
	tids := parseTids(names)
	slices.Sort(tids)
	return tids, nil
}

// ThreadCount returns how many threads pid has, in one system call: the
// link count of /proc/PID/task is its threads plus "." and ".."
// (proc_task_getattr, fs/proc/base.c).
func ThreadCount(pid int) (int, error) {
	n, err := rawLinks(procPath(pid, "task"))
	if err != nil {
		return 0, procErr(pid, "count threads", err)
	}
	if n < 3 {
		return 0, procErr(pid, "count threads", fmt.Errorf("/proc/%d/task has %d links", pid, n))
	}
	return int(n - 2), nil
}

// ThreadState returns the state letter of thread tid of pid. For repeated
// sampling use a StatReader, which keeps the file open.
func ThreadState(pid, tid int) (byte, error) {
	var buf [512]byte // the state letter sits within the first ~30 bytes
	b, err := readProc(procPath(pid, "task/"+strconv.Itoa(tid)+"/stat"), buf[:])
	if err != nil {
		return 0, threadErr(pid, tid, err)
	}
	_, _, state, err := parseStat(b)
	if err != nil {
		return 0, statErr(pid, tid, err)
	}
	return state, nil
}

// StartTime returns when process pid started, in clock ticks since boot:
// with the pid, it names one process, as the pid alone does not once the
// process has exited and the pid is reused.
func StartTime(pid int) (uint64, error) {
	b, err := os.ReadFile(procPath(pid, "stat"))
	if err != nil {
		return 0, procErr(pid, "stat", err)
	}
	start, err := parseStartTime(b)
	if err != nil {
		return 0, fmt.Errorf("pid %d: stat: %w", pid, err)
	}
	return start, nil
}

// ThreadComm returns the kernel's name of thread tid (at most 15 bytes;
// Python sets it for named threads only on 3.14+ or via prctl), made
// Printable: the program chose it.
func ThreadComm(pid, tid int) (string, error) {
	b, err := os.ReadFile(procPath(pid, "task/"+strconv.Itoa(tid)+"/comm"))
	if err != nil {
		return "", threadErr(pid, tid, err)
	}
	return Printable(strings.TrimSuffix(string(b), "\n")), nil
}

// threadErr reports a thread whose /proc entry vanished as exited; the
// process as a whole may still be alive.
func threadErr(pid, tid int, err error) error {
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("pid %d tid %d: %w", pid, tid, ErrExited)
	}
	return procErr(pid, "thread "+strconv.Itoa(tid), err)
}

// Cmdline returns the argument vector of pid (empty for kernel threads
// and zombies), each argument Printable: it is shown, never run.
func Cmdline(pid int) ([]string, error) {
	b, err := os.ReadFile(procPath(pid, "cmdline"))
	if err != nil {
		return nil, procErr(pid, "read cmdline", err)
	}
	args := ParseCmdline(b)
	for i, a := range args {
		args[i] = Printable(a)
	}
	return args, nil
}

// Cwd returns pid's working directory as the target sees it.
func Cwd(pid int) (string, error) {
	p, err := os.Readlink(procPath(pid, "cwd"))
	if err != nil {
		return "", procErr(pid, "read cwd link", err)
	}
	return p, nil
}

// Exe returns the path of pid's executable as the target sees it (inside
// its own mount namespace; pass it through HostPath to open it from here).
// A replaced binary keeps the kernel's " (deleted)" suffix.
func Exe(pid int) (string, error) {
	p, err := os.Readlink(procPath(pid, "exe"))
	if err != nil {
		return "", procErr(pid, "read exe link", err)
	}
	return p, nil
}

// MappedFile returns a name under which this process can open the file that
// mapping m of process pid maps. A process in a container names its files
// inside its own root, reached from here through /proc/PID/root; one under a
// plain chroot, in this mount namespace, names them as the host does (and
// under /proc/PID/root that name would be the root's prefix twice). So both
// are tried, each kept only when its device and inode are the mapping's,
// then /proc/PID/map_files/, which is the mapped file itself whatever its
// name (it needs CAP_SYS_ADMIN).
func MappedFile(pid int, m Mapping) (string, error) {
	names := []string{HostPath(pid, m.Path)}
	if path.IsAbs(m.Path) {
		names = append(names, m.Path)
	}
	names = append(names, fmt.Sprintf("/proc/%d/map_files/%x-%x", pid, m.Start, m.End))
	var firstErr error
	for _, name := range names {
		var st unix.Stat_t
		err := unix.Stat(name, &st)
		if err == nil && st.Ino == m.Inode && unix.Major(st.Dev) == m.DevMajor && unix.Minor(st.Dev) == m.DevMinor {
			return name, nil
		}
		if err != nil {
			err = &fs.PathError{Op: "stat", Path: name, Err: err}
		} else {
			err = fmt.Errorf("%s is another file (device %d:%d inode %d, mapped %d:%d inode %d)",
				name, unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino, m.DevMajor, m.DevMinor, m.Inode)
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if m.Inode == 0 {
		// A device or synthetic mapping has no inode to check; the name
		// as the process sees it is the best there is.
		return names[0], nil
	}
	return "", fmt.Errorf("pid %d: no name for mapped file %s is that file: %w", pid, m.Path, firstErr)
}

// StatReader reads thread states of one process repeatedly. Sampling asks
// for every thread's state many times a second, so it keeps each stat file
// open and preads into a fixed buffer: no allocation once a thread has
// been seen. It is not safe for concurrent use.
type StatReader struct {
	pid   int
	files map[int]*os.File
	buf   [512]byte // the state letter sits within the first ~30 bytes
}

// NewStatReader returns a StatReader for pid. It opens nothing yet.
func NewStatReader(pid int) *StatReader {
	return &StatReader{pid: pid, files: make(map[int]*os.File)}
}

// State returns the state letter of thread tid, opening its stat file on
// first use. A thread that exited gives an error wrapping ErrExited.
func (s *StatReader) State(tid int) (byte, error) {
	f := s.files[tid]
	if f == nil {
		var err error
		// A bare open(2), as in readProc: os.Open would try the poller.
		path := procPath(s.pid, "task/"+strconv.Itoa(tid)+"/stat")
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return 0, threadErr(s.pid, tid, &fs.PathError{Op: "open", Path: path, Err: err})
		}
		f = os.NewFile(uintptr(fd), path)
		s.files[tid] = f
	}
	n, err := rawPread(int(f.Fd()), s.buf[:], 0)
	if err != nil {
		// The open file of a reaped thread fails with ESRCH; forget it
		// so that a recycled tid is opened afresh.
		f.Close()
		delete(s.files, tid)
		return 0, threadErr(s.pid, tid, err)
	}
	_, _, state, err := parseStat(s.buf[:n])
	if err != nil {
		return 0, statErr(s.pid, tid, err)
	}
	return state, nil
}

// Retain closes the files of threads not in tids, typically the current
// result of Threads, so exited threads do not hold descriptors.
func (s *StatReader) Retain(tids []int) {
	for tid, f := range s.files {
		if !slices.Contains(tids, tid) {
			f.Close()
			delete(s.files, tid)
		}
	}
}

// Close closes all open stat files.
func (s *StatReader) Close() error {
	s.Retain(nil)
	return nil
}
