package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// withRootProc copies testdata into root, mounts /proc there (Tachyon
// finds the target through it) and runs fn with the scripts' path as the
// chrooted interpreter sees it; it unmounts and removes the copy after.
func withRootProc(root string, fn func(testdata string)) error {
	dir, err := os.MkdirTemp(filepath.Join(root, "tmp"), "pyspyglass-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if out, err := exec.Command("cp", "-r", "testdata/.", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("copy testdata: %v: %s", err, out)
	}
	procDir := filepath.Join(root, "proc")
	if err := syscall.Mount("proc", procDir, "proc", 0, ""); err != nil {
		return fmt.Errorf("mount /proc in %s: %w", root, err)
	}
	defer syscall.Unmount(procDir, syscall.MNT_DETACH)
	fn(strings.TrimPrefix(dir, root))
	return nil
}
