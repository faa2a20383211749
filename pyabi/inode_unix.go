//go:build unix

package pyabi

import (
	"os"
	"syscall"
)

// fileInode is the file's inode number, part of what names it in the
// disk cache; 0 where the system does not say.
func fileInode(st os.FileInfo) uint64 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(s.Ino)
	}
	return 0
}
