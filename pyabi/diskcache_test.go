package pyabi

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/pyspyglass/pyspyglass/internal/testutil"
)

// TestDiskCache opens each interpreter's executable through a fresh
// Binaries twice, as two runs of the command would: the second must take
// everything from the disk cache (no parse) and equal the first. A corrupt
// entry, or one of another format version, is ignored: the file is parsed
// again and the entry rewritten.
func TestDiskCache(t *testing.T) {
	interps := testutil.Interpreters(t)
	if len(interps) == 0 {
		t.Skip("no Python interpreter found")
	}
	old := DiskCacheDir
	defer func() { DiskCacheDir = old }()
	for _, in := range interps {
		t.Run(in.Name, func(t *testing.T) {
			path := filepath.Join(in.Root, in.Path)
			DiskCacheDir = t.TempDir()
			first := NewBinaries()
			b1, err := first.Open(in.Path, path)
			if err != nil {
				t.Fatal(err)
			}
			if b1.BuildID == "" {
				t.Skipf("%s has no build id: nothing is cached", path)
			}
			second := NewBinaries()
			b2, err := second.Open(in.Path, path)
			if err != nil {
				t.Fatal(err)
			}
			if second.Parsed() != 0 {
				t.Errorf("the second open parsed %d files, want 0 (all from %s)", second.Parsed(), DiskCacheDir)
			}
			if b2.BuildID != b1.BuildID || !reflect.DeepEqual(b2.syms, b1.syms) || !reflect.DeepEqual(b2.sections, b1.sections) ||
				!reflect.DeepEqual(b2.segments, b1.segments) {
				t.Errorf("cached binary differs:\n got %+v\nwant %+v", b2, b1)
			}
			for _, bad := range []string{"{not json", `{"Version":999,"BuildID":"` + b1.BuildID + `"}`} {
				if err := os.WriteFile(entryName(b1.BuildID), []byte(bad), 0o644); err != nil {
					t.Fatal(err)
				}
				again := NewBinaries()
				b3, err := again.Open(in.Path, path)
				if err != nil {
					t.Fatal(err)
				}
				if again.Parsed() != 1 || !reflect.DeepEqual(b3.syms, b1.syms) {
					t.Errorf("with entry %q: parsed %d files (want 1), symbols %v (want %v)", bad, again.Parsed(), b3.syms, b1.syms)
				}
			}
			if b4, err := NewBinaries().Open(in.Path, path); err != nil || !reflect.DeepEqual(b4.syms, b1.syms) {
				t.Errorf("after rewriting the entry: %v, %v", b4, err)
			}
		})
	}
}
