package render

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func writeHello(path string) error {
	return WriteFileFunc(path, func(w io.Writer) error {
		_, err := io.WriteString(w, "hello\n")
		return err
	})
}

// TestWriteThroughDevice: a character device (a /dev/null made here, so a
// bug cannot replace the system's) is written through, never replaced.
func TestWriteThroughDevice(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("making a device node needs root")
	}
	dev := filepath.Join(t.TempDir(), "null")
	if err := unix.Mknod(dev, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Skipf("mknod: %v (no device nodes on this file system)", err)
	}
	if err := CheckWritable(dev); err != nil {
		t.Fatalf("CheckWritable(device): %v", err)
	}
	if err := writeHello(dev); err != nil {
		t.Fatalf("write to device: %v", err)
	}
	st, err := os.Stat(dev)
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("after writing, %s is %v (%v), want the character device still", dev, st.Mode(), err)
	}
}

// TestWriteThroughFIFO: a FIFO is written through to its reader; with no
// reader the write fails at once instead of waiting forever.
func TestWriteThroughFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeHello(fifo); err == nil || !strings.Contains(err.Error(), "no reader") {
		t.Fatalf("write to a FIFO without reader = %v, want an error saying so", err)
	}
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := writeHello(fifo); err != nil {
		t.Fatalf("write to a FIFO with a reader: %v", err)
	}
	got, _ := io.ReadAll(r)
	if string(got) != "hello\n" {
		t.Fatalf("reader got %q", got)
	}
	if st, _ := os.Lstat(fifo); st.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the FIFO was replaced by %v", st.Mode())
	}
}

// TestWriteProcSelfFd: /proc/self/fd/N of a pipe is written through.
func TestWriteProcSelfFd(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	path := "/proc/self/fd/" + strconv.Itoa(int(w.Fd()))
	if err := writeHello(path); err != nil {
		t.Fatalf("write to %s: %v", path, err)
	}
	w.Close()
	if got, _ := io.ReadAll(r); string(got) != "hello\n" {
		t.Fatalf("pipe got %q", got)
	}
}

// TestWriteThroughSymlink: a link is followed, the file it names
// replaced, the link kept; a dangling link creates the file it names.
func TestWriteThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	real, link := filepath.Join(dir, "real.txt"), filepath.Join(dir, "link.txt")
	os.WriteFile(real, []byte("old\n"), 0o600)
	os.Symlink("real.txt", link)
	if err := writeHello(link); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", st.Mode(), err)
	}
	if got, _ := os.ReadFile(real); string(got) != "hello\n" {
		t.Fatalf("the file the link names holds %q", got)
	}
	if st, _ := os.Stat(real); st.Mode().Perm() != 0o600 {
		t.Errorf("replacing %s changed its mode to %v, want 0600 kept", real, st.Mode().Perm())
	}
	dangling := filepath.Join(dir, "dangling.txt")
	os.Symlink("new.txt", dangling)
	if err := writeHello(dangling); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "new.txt")); string(got) != "hello\n" {
		t.Fatalf("the dangling link's file holds %q", got)
	}
}

// TestWriteOwner: a new file goes to FileOwner (the sudo user); a replaced
// file keeps its owner.
func TestWriteOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving files away needs root")
	}
	saved := FileOwner
	t.Cleanup(func() { FileOwner = saved })
	FileOwner = Owner{UID: 4242, GID: 4343}
	dir := t.TempDir()
	fresh := filepath.Join(dir, "fresh.txt")
	if err := writeHello(fresh); err != nil {
		t.Fatal(err)
	}
	if uid, gid := owner(t, fresh); uid != 4242 || gid != 4343 {
		t.Errorf("new file owned by %d:%d, want 4242:4343", uid, gid)
	}
	kept := filepath.Join(dir, "kept.txt")
	os.WriteFile(kept, nil, 0o640)
	os.Chown(kept, 5151, 5252)
	if err := writeHello(kept); err != nil {
		t.Fatal(err)
	}
	if uid, gid := owner(t, kept); uid != 5151 || gid != 5252 {
		t.Errorf("replaced file owned by %d:%d, want its owner 5151:5252 kept", uid, gid)
	}
}

func owner(t *testing.T, path string) (uid, gid int) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	return int(sys.Uid), int(sys.Gid)
}
