//go:build !unix

package pyabi

import "os"

// fileInode is not known here; the path, size and time still name a file.
func fileInode(os.FileInfo) uint64 { return 0 }
