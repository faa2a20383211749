package main

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/pyspyglass/pyspyglass/internal/testutil"
)

// buildExtension compiles testdata/native/nativedemo.c against in's own
// headers into a fresh directory, or skips naming what is missing.
func buildExtension(t *testing.T, in testutil.Interpreter) string {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skip("--native is x86_64 only")
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not found: cannot build the test extension")
	}
	if in.Root != "" {
		t.Skipf("%s: the extension is built with this system's gcc and libc, not the root filesystem's", in.Name)
	}
	out, err := in.Command("-c", "import sysconfig; print(sysconfig.get_paths()['include'])").Output()
	if err != nil {
		t.Skipf("%s: no sysconfig include path: %v", in.Path, err)
	}
	inc := strings.TrimSpace(string(out))
	if _, err := os.Stat(filepath.Join(inc, "Python.h")); err != nil {
		t.Skipf("%s: no Python.h in %s (install the interpreter's headers, e.g. python3.11-dev)", in.Path, inc)
	}
	dir := t.TempDir()
	args := []string{"-shared", "-fPIC", "-O1", "-g", "-fno-optimize-sibling-calls", "-fno-inline", "-pthread",
		"-I", inc, "-o", filepath.Join(dir, "nativedemo.so"), testutil.TestdataPath("native/nativedemo.c")}
	if b, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %v: %v\n%s", args, err, b)
	}
	return dir
}

// frameNames splits a collapsed stack into frame names without their
// "(file:line)" suffixes.
func frameNames(stack string) []string {
	var out []string
	for _, f := range strings.Split(stack, ";") {
		if i := strings.Index(f, " ("); i >= 0 {
			f = f[:i]
		}
		out = append(out, f)
	}
	return out
}

// TestRecordNativeInterleaving records Python -> C -> Python -> C with
// --native on every interpreter that has headers and checks the main
// thread's stack frame by frame (Python lines included), the pure C
// thread's own stack, and, without --native, that the C thread is shown
// as <native> rather than dropped.
func TestRecordNativeInterleaving(t *testing.T) {
	testutil.ForEach(t, testutil.Interpreters(t), func(t *testing.T, in testutil.Interpreter) {
		ext := buildExtension(t, in)
		proc := testutil.Spawn(t, in, "native/interleave.py", ext)
		const s = "native/interleave.py"
		file := testutil.TestdataPath(s)
		at := func(m string) string { return fmt.Sprintf("(%s:%d)", file, testutil.Mark(t, s, m)) }
		out := filepath.Join(t.TempDir(), "native.txt")
		r := pyspyglass(t, "record", "--native", "-p", fmt.Sprint(proc.Pid), "-d", "2", "-f", "collapsed", "--full-filenames", "-o", out)
		if r.code != 0 {
			t.Fatalf("record --native: exit %d\n%s", r.code, r.stderr)
		}
		counts := collapsedCounts(t, out)
		total := 0
		for _, n := range counts {
			total += n
		}
		wantMain := []string{"<module>", "outer", "nd_call", "inner", "nd_spin", "nd_spin_leaf"}
		wantLines := []string{"<module> " + at("module-call-outer"), "outer " + at("outer-call-c"), "inner " + at("inner-call-spin")}
		mainN, cN := 0, 0
		for stack, n := range counts {
			names := frameNames(stack)
			switch {
			case slices.Equal(names, wantMain):
				for _, l := range wantLines {
					if !strings.Contains(stack, l) {
						t.Errorf("main stack %q lacks %q", stack, l)
					}
				}
				mainN += n
			case slices.Equal(names, []string{"nd_c_worker", "nd_c_busy"}):
				cN += n
			}
		}
		if mainN < total/3 || cN < total/3 {
			t.Errorf("main thread %d and C thread %d of %d samples have the expected stacks, want a third each:\n%s", mainN, cN, total, dumpCounts(counts))
		}

		// dump --native: the same stack innermost first, and the C thread.
		r = pyspyglass(t, "dump", "--native", "-p", fmt.Sprint(proc.Pid))
		if r.code != 0 {
			t.Fatalf("dump --native: exit %d\n%s", r.code, r.stderr)
		}
		text := r.stdout
		wantDump := []string{"Thread " + proc.Field("main"), "    nd_spin_leaf (", "    nd_spin (", "    inner " + at("inner-call-spin"),
			"    nd_call (", "    outer " + at("outer-call-c"), "    <module> " + at("module-call-outer"),
			"Thread " + proc.Field("cthread"), "    nd_c_busy (", "    nd_c_worker ("}
		for _, w := range wantDump {
			i := strings.Index(text, w)
			if i < 0 {
				t.Fatalf("dump --native lacks %q in order:\n%s", w, r.stdout)
			}
			text = text[i+len(w):]
		}

		out = filepath.Join(t.TempDir(), "plain.txt")
		r = pyspyglass(t, "record", "-p", fmt.Sprint(proc.Pid), "-d", "1", "-f", "collapsed", "-o", out)
		if r.code != 0 {
			t.Fatalf("record: exit %d\n%s", r.code, r.stderr)
		}
		counts = collapsedCounts(t, out)
		if n, all := counts["<native>"], samplesWhere(counts); n < all/3 {
			t.Errorf("without --native the C thread has %d of %d samples as <native>, want a third:\n%s", n, all, dumpCounts(counts))
		}
	})
}

// TestRecordNativeBuiltinLeaf: a loop over compile() shows C functions as
// the leaves under the Python frame that calls it, named where the
// interpreter has a symbol table.
func TestRecordNativeBuiltinLeaf(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("--native is x86_64 only")
	}
	testutil.ForEach(t, testutil.Interpreters(t), func(t *testing.T, in testutil.Interpreter) {
		proc := testutil.Spawn(t, in, "native/builtin_leaf.py")
		out := filepath.Join(t.TempDir(), "leaf.txt")
		r := pyspyglass(t, "record", "--native", "-p", fmt.Sprint(proc.Pid), "-d", "2", "-f", "collapsed", "-o", out)
		if r.code != 0 {
			t.Fatalf("record --native: exit %d\n%s", r.code, r.stderr)
		}
		counts := collapsedCounts(t, out)
		work := fmt.Sprintf("builtin_leaf.py:%d)", testutil.Mark(t, "native/builtin_leaf.py", "compile-loop"))
		total, under, named := 0, 0, 0
		for stack, n := range counts {
			total += n
			frames := strings.Split(stack, ";")
			i := slices.IndexFunc(frames, func(f string) bool { return strings.HasPrefix(f, "work (") && strings.HasSuffix(f, work) })
			if i < 0 || i == len(frames)-1 {
				continue
			}
			under += n // work() is not the leaf: C frames are below it
			if below := frameNames(strings.Join(frames[i+1:], ";")); below[0] == "builtin_compile" {
				named += n
			}
		}
		if under < total*8/10 {
			t.Errorf("%d of %d samples have C frames under %s, want 80%%:\n%s", under, total, work, dumpCounts(counts))
		}
		if hasSymtab(in) && named < under*8/10 {
			t.Errorf("%d of %d samples under work() name builtin_compile:\n%s", named, under, dumpCounts(counts))
		}
	})
}

// hasSymtab reports whether the binary holding in's evaluation loop keeps
// its full symbol table (pyenv builds do; Debian's python3.11 is stripped).
func hasSymtab(in testutil.Interpreter) bool {
	libs, _ := filepath.Glob(filepath.Join(filepath.Dir(in.Path), "..", "lib", "libpython*.so*"))
	for _, p := range append(libs, in.Path) {
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		has := f.Section(".symtab") != nil
		f.Close()
		if has {
			return true
		}
	}
	return false
}

func dumpCounts(counts map[string]int) string {
	var b strings.Builder
	for s, n := range counts {
		fmt.Fprintf(&b, "  %d %s\n", n, s)
	}
	return b.String()
}

// TestRecordNativeMypyc records Debian's mypy, compiled to C by mypyc,
// type-checking a copy of a standard library module. Without --native one
// Python frame (console_entry) holds most samples; with it the time goes
// to the compiled functions' own names (CPyDef_...), and no single leaf
// holds the majority. Skipped where Debian's mypy is not installed.
func TestRecordNativeMypyc(t *testing.T) {
	const py = "/usr/bin/python3.11"
	so, _ := filepath.Glob("/usr/lib/python3/dist-packages/*__mypyc*.so")
	if _, err := os.Stat("/usr/lib/python3/dist-packages/mypy/build.py"); err != nil || len(so) == 0 {
		t.Skip("Debian's mypyc-compiled mypy is not installed (apt-get install mypy)")
	}
	if _, err := os.Stat(py); err != nil || runtime.GOARCH != "amd64" {
		t.Skip("needs Debian's python3.11 on x86_64")
	}
	dir := t.TempDir()
	src, err := os.ReadFile("/usr/lib/python3.11/argparse.py")
	if err != nil {
		t.Skip("no /usr/lib/python3.11/argparse.py to type-check")
	}
	if err := os.WriteFile(filepath.Join(dir, "target.py"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "mypy.txt")
	r := pyspyglass(t, "record", "--native", "-f", "collapsed", "-o", out, "--", py, "-m", "mypy",
		"--no-incremental", "--cache-dir=/dev/null", "--ignore-missing-imports", filepath.Join(dir, "target.py"))
	if r.code != 0 && r.code != 1 { // mypy exits 1 when it finds errors
		t.Fatalf("record --native mypy: exit %d\n%s", r.code, r.stderr)
	}
	counts := collapsedCounts(t, out)
	leaves := map[string]int{}
	total, compiled := 0, 0
	for stack, n := range counts {
		total += n
		names := frameNames(stack)
		leaves[names[len(names)-1]] += n
		if slices.ContainsFunc(names, func(f string) bool { return strings.HasPrefix(f, "CPyDef_") }) {
			compiled += n
		}
	}
	if total < 50 {
		t.Fatalf("only %d samples of mypy", total)
	}
	if compiled < total/2 {
		t.Errorf("%d of %d samples name a compiled function (CPyDef_...), want most:\n%s", compiled, total, dumpCounts(counts))
	}
	for leaf, n := range leaves {
		if n > total/2 {
			t.Errorf("leaf %q holds %d of %d samples, want no majority", leaf, n, total)
		}
	}
}

// TestNativeRefusals: flag combinations --native cannot honour are refused
// with one line naming the cause, before anything is attached.
func TestNativeRefusals(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"record", "--native-all", "-p", "1"}, "--native-all needs --native"},
		{[]string{"record", "--native", "--nonblocking", "-p", "1"}, "cannot be combined with --nonblocking"},
		{[]string{"dump", "--native", "--nonblocking", "-p", "1"}, "cannot be combined with --nonblocking"},
		{[]string{"top", "--native-all", "-p", "1"}, "--native-all needs --native"},
	} {
		r := pyspyglass(t, tc.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 2 {
			t.Errorf("%v: exit %d, stderr %q; want a failure saying %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}
