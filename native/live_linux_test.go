package native

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pyspyglass/pyspyglass/internal/testutil"
	"github.com/pyspyglass/pyspyglass/procmem"
)

// buildDemo compiles testdata/native/unwind_demo.cc, skipping by name
// without a C++ compiler.
func buildDemo(t *testing.T, flags ...string) string {
	t.Helper()
	cxx, err := exec.LookPath("g++")
	if err != nil {
		t.Skip("g++ not found: skipping the live unwind of a compiled program")
	}
	out := filepath.Join(t.TempDir(), "unwind_demo")
	args := append([]string{"-o", out, testutil.TestdataPath("native/unwind_demo.cc")}, flags...)
	if b, err := exec.Command(cxx, args...).CombinedOutput(); err != nil {
		t.Fatalf("g++ %v: %v\n%s", args, err, b)
	}
	return out
}

func hexField(t *testing.T, tg *testutil.Target, key string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(tg.Field(key), 16, 64)
	if err != nil {
		t.Fatalf("readiness line %q: field %s: %v", tg.Ready, key, err)
	}
	return v
}

// TestLiveUnwind unwinds a real program from the registers it recorded,
// over a stack copy read from outside, with CFI only (no frame pointers),
// and checks the function names in order and the DWARF line of the leaf.
func TestLiveUnwind(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"O2 CFI only with DWARF", []string{"-O2", "-g", "-fomit-frame-pointer"}},
		{"O2 stripped", []string{"-O2", "-fomit-frame-pointer", "-s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := buildDemo(t, tc.flags...)
			tg := testutil.SpawnCmd(t, bin)
			tg.WaitReady(t)
			regs := Regs{PC: hexField(t, tg, "rip"), SP: hexField(t, tg, "rsp"), FP: hexField(t, tg, "rbp")}

			maps, err := procmem.ReadMaps(tg.Pid)
			if err != nil {
				t.Fatal(err)
			}
			space := NewSpace(tg.Pid, maps, NewCache())
			for _, err := range space.Errors {
				t.Logf("space: %v", err)
			}
			proc, err := procmem.Open(tg.Pid)
			if err != nil {
				t.Fatal(err)
			}
			defer proc.Close()
			st := Stack{Addr: regs.SP, Data: make([]byte, space.StackWindow(regs.SP, 64<<10))}
			if _, err := proc.ReadAt(st.Data, st.Addr); err != nil {
				t.Fatal(err)
			}
			pcs, end := space.Unwind(regs, st, nil, 64)
			var names []string
			for i, pc := range pcs {
				f := space.Symbolize(pc, i == 0)
				names = append(names, f.Name())
				if i == 0 && tc.flags[1] == "-g" {
					want := testutil.Mark(t, "native/unwind_demo.cc", "capture")
					if filepath.Base(f.File) != "unwind_demo.cc" || f.Line != want {
						t.Errorf("leaf at %s:%d, want unwind_demo.cc:%d", f.File, f.Line, want)
					}
				}
			}
			t.Logf("%v (%v)", names, end)
			// The stripped build has no .symtab: leaf_c and main are not
			// exported either, so they are named by module offset.
			want := []string{"leaf_c", "demo::middle(int)", "demo::outer()", "main"}
			if tc.flags[len(tc.flags)-1] == "-s" {
				want = nil
			}
			if want != nil {
				if len(names) < len(want) {
					t.Fatalf("got %v, want it to start with %v", names, want)
				}
				for i, w := range want {
					if names[i] != w {
						t.Fatalf("frame %d = %q, want %q (stack %v)", i, names[i], w, names)
					}
				}
			} else if len(names) < 5 || !strings.HasPrefix(names[0], "unwind_demo+0x") {
				t.Fatalf("stripped: got %v, want module+offset frames down to libc", names)
			}
			if end != EndOutermost {
				t.Errorf("walk ended %v after %v, want the outermost frame", end, names)
			}
		})
	}
}
