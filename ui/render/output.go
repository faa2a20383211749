package render

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// FileOwner, when UID is not -1, owns the files WriteFileFunc creates.
// The CLI sets it under sudo to the user who ran sudo: a profile of that
// user's program should not end up owned by root.
var FileOwner = Owner{UID: -1, GID: -1}

// Owner is a file's user and group.
type Owner struct{ UID, GID int }

// outputTarget decides how path is written. Only a regular file (or a
// name not yet taken) is replaced atomically; a device, a FIFO or a
// terminal (also as /dev/stdout or /proc/self/fd/N) is written through,
// as a shell redirection would. A symbolic link is followed to the file
// it names, so the link stays.
func outputTarget(path string) (target string, through bool, err error) {
	st, err := os.Stat(path)
	switch {
	case err == nil && st.IsDir():
		return "", false, fmt.Errorf("output %s is a directory", path)
	case err == nil && !st.Mode().IsRegular():
		return path, true, nil
	}
	target, err = followLinks(path)
	return target, false, err
}

// followLinks follows symbolic links from path to the name they end at,
// which need not exist yet (a dangling link names the file to create).
func followLinks(path string) (string, error) {
	for range 40 { // the kernel's own limit on links followed
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			return path, nil
		}
		dest, err := os.Readlink(path)
		if err != nil {
			return "", fmt.Errorf("output %s: %w", path, err)
		}
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(filepath.Dir(path), dest)
		}
		path = dest
	}
	return "", fmt.Errorf("output %s: too many levels of symbolic links", path)
}

// writeThrough writes to a file that is not a regular file. A FIFO is
// opened without waiting for a reader, which might never come: with none
// the open fails (ENXIO) and says so.
func writeThrough(path string, write func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ENXIO) {
		return fmt.Errorf("output %s: a FIFO with no reader: start the reader first", path)
	}
	if err != nil {
		return fmt.Errorf("output %s: %w", path, err)
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	if err := write(bw); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}

// adopt gives tmp, about to replace path, path's mode and owner when path
// exists (replacing a file keeps who may read it), else mode 0644 (an
// output is meant to be shared; CreateTemp makes 0600) and FileOwner.
func adopt(tmp *os.File, path string) error {
	mode, owner := os.FileMode(0o644), FileOwner
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			owner = Owner{UID: int(sys.Uid), GID: int(sys.Gid)}
		}
	}
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp.Name(), err)
	}
	// Only root can give a file away; anyone else's files stay theirs.
	if owner.UID >= 0 && os.Geteuid() == 0 {
		if err := tmp.Chown(owner.UID, owner.GID); err != nil {
			return fmt.Errorf("chown %s: %w", tmp.Name(), err)
		}
	}
	return nil
}
