package procmem

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pyspyglass/pyspyglass/internal/testutil"
)

// TestMappedFile finds the executable every interpreter maps, on the host,
// in a container (maps name paths inside it) and under a plain chroot (maps
// name host paths, which /proc/PID/root would prefix twice), and refuses a
// name whose inode is not the mapping's.
func TestMappedFile(t *testing.T) {
	testutil.ForEach(t, testutil.Interpreters(t), func(t *testing.T, in testutil.Interpreter) {
		proc := testutil.Spawn(t, in, "sleepers.py")
		maps, err := ReadMaps(proc.Pid)
		if err != nil {
			t.Fatal(err)
		}
		exe, err := Exe(proc.Pid)
		if err != nil {
			t.Fatal(err)
		}
		mod, ok := FindModule(Modules(maps), func(p string) bool { return p == exe })
		if !ok {
			t.Fatalf("pid %d: executable %s not in maps", proc.Pid, exe)
		}
		if in.Root != "" && mod.Path != in.ProcPath(in.Path) {
			t.Errorf("%s: maps name the executable %s, want %s", in.Isolation, mod.Path, in.ProcPath(in.Path))
		}
		name, err := MappedFile(proc.Pid, mod.First)
		if err != nil {
			t.Fatal(err)
		}
		got, err1 := os.Stat(name)
		want, err2 := os.Stat(filepath.Join(in.Root, in.Path))
		if err1 != nil || err2 != nil || !os.SameFile(got, want) {
			t.Errorf("MappedFile = %s, not the interpreter %s in %q (%v, %v)", name, in.Path, in.Root, err1, err2)
		}
		wrong := mod.First
		wrong.Inode++
		if name, err := MappedFile(proc.Pid, wrong); err == nil {
			t.Errorf("a mapping with another inode resolved to %s (%v)", name, err)
		}
	})
}
