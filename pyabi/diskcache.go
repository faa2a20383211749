package pyabi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// The per-build disk cache: what a Binary takes from its ELF file (a few
// symbols, section ranges, load segments) and where a scan found the
// interpreter, kept under the user's cache directory so that a second
// one-shot dump of the same build parses no ELF file at all. An entry is
// named by the build id; a small index entry maps a file (path, size,
// modification time, inode) to its build id, so the file need not be
// opened to learn it. Entries are written atomically; one that cannot be
// read, is of another format version or does not match is ignored.

// diskCacheVersion changes whenever diskEntry or what it means changes.
const diskCacheVersion = 1

type diskEntry struct {
	Version     int
	BuildID     string
	Syms        map[string]uint64
	Sections    map[string][2]uint64
	Segments    []procmem.Segment
	HeadSlot    uint64 `json:",omitempty"`
	RuntimeSlot uint64 `json:",omitempty"`
}

type diskIndex struct {
	Version int
	File    string
	Size    int64
	MTime   int64
	Inode   uint64
	BuildID string
}

// DiskCacheDir is where the cache lives; "" turns it off (tests, or no
// home directory).
var DiskCacheDir = defaultDiskCacheDir()

func defaultDiskCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "pyspyglass", fmt.Sprintf("builds-v%d", diskCacheVersion))
}

func indexName(k fileKey, ino uint64) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%d\x00%d", k.path, k.size, k.mtime, ino))
	return filepath.Join(DiskCacheDir, "files", hex.EncodeToString(h[:16])+".json")
}

func entryName(buildID string) string {
	return filepath.Join(DiskCacheDir, buildID+".json")
}

// validBuildID keeps a file name made of a build id inside the cache.
func validBuildID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// loadDisk returns the cached binary of file k, or nil.
func loadDisk(k fileKey, ino uint64) *Binary {
	if DiskCacheDir == "" || ino == 0 {
		return nil
	}
	var ix diskIndex
	if !readJSON(indexName(k, ino), &ix) || ix.Version != diskCacheVersion || ix.File != k.path || ix.Size != k.size ||
		ix.MTime != k.mtime || ix.Inode != ino || !validBuildID(ix.BuildID) {
		return nil
	}
	var e diskEntry
	if !readJSON(entryName(ix.BuildID), &e) || e.Version != diskCacheVersion || e.BuildID != ix.BuildID || len(e.Segments) == 0 {
		return nil
	}
	b := &Binary{Path: k.path, BuildID: e.BuildID, syms: map[string]uint64{}, sections: map[string]section{}, segments: e.Segments,
		headSlot: e.HeadSlot, runtimeSlot: e.RuntimeSlot}
	for _, name := range locateSymbols {
		if a, ok := e.Syms[name]; ok && a != 0 {
			b.syms[name] = a
		}
	}
	for _, name := range locateSections {
		if s, ok := e.Sections[name]; ok {
			b.sections[name] = section{s[0], s[1]}
		}
	}
	b.ino, b.key = ino, k
	return b
}

// saveDisk writes b's facts and the index entry of its file; failures
// only cost the next run a parse.
func (b *Binary) saveDisk() {
	if DiskCacheDir == "" || b.key.path == "" || !validBuildID(b.BuildID) {
		return
	}
	b.mu.Lock()
	e := diskEntry{Version: diskCacheVersion, BuildID: b.BuildID, Syms: b.syms, Sections: map[string][2]uint64{}, Segments: b.segments,
		HeadSlot: b.headSlot, RuntimeSlot: b.runtimeSlot}
	b.mu.Unlock()
	for name, s := range b.sections {
		e.Sections[name] = [2]uint64{s.addr, s.size}
	}
	if writeJSON(entryName(b.BuildID), e) != nil {
		return
	}
	writeJSON(indexName(b.key, b.ino), diskIndex{Version: diskCacheVersion, File: b.key.path, Size: b.key.size, MTime: b.key.mtime,
		Inode: b.ino, BuildID: b.BuildID})
}

func readJSON(path string, v any) bool {
	data, err := os.ReadFile(path)
	if err != nil || len(data) > 1<<20 {
		return false
	}
	return json.Unmarshal(data, v) == nil
}

// writeJSON writes v to path through a temporary file and a rename, so a
// reader sees the old entry or the new one, never half of one.
func writeJSON(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
