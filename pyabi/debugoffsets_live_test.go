package pyabi

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/json"
	"github.com/pyspyglass/pyspyglass/internal/testutil"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// These tests check the hand-written images of debugoffsets_test.go against
// real builds: the live _PyRuntime of a running 3.13.0, _PyRuntimeState_INIT
// compiled from the installed 3.13.0 headers (default and free-threaded),
// and the .PyRuntime section of a real 3.14.6 binary.

// debugPy313 is the installation prefix of a CPython 3.13.0 default build
// found by testutil (its bin/ and include/), or the test is skipped.
func debugPy313(t *testing.T) string {
	t.Helper()
	for _, in := range testutil.Interpreters(t) {
		if in.Version == "3.13.0" && !in.FreeThreaded && !in.Debug && in.Root == "" {
			return filepath.Dir(filepath.Dir(in.Path))
		}
	}
	t.Skip("no CPython 3.13.0 (default build) found")
	return ""
}

// mustDecodeDebug decodes an image the test itself wrote.
func mustDecodeDebug(t *testing.T, img []byte) *DebugOffsets {
	t.Helper()
	d, err := DecodeDebugOffsets(img)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// checkDebugSame decodes b and requires every field to equal want's.
func checkDebugSame(t *testing.T, b []byte, want *DebugOffsets) *DebugOffsets {
	t.Helper()
	got, err := DecodeDebugOffsets(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.VersionHex != want.VersionHex || got.FreeThreaded != want.FreeThreaded {
		t.Errorf("version %#x free-threaded %t, want %#x %t", got.VersionHex, got.FreeThreaded, want.VersionHex, want.FreeThreaded)
	}
	if !maps.Equal(got.Raw, want.Raw) {
		for k, v := range want.Raw {
			if got.Raw[k] != v {
				t.Errorf("%s = %d, want %d", k, got.Raw[k], v)
			}
		}
	}
	return got
}

func TestDebugOffsetsLive313(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("reads /proc/PID/mem of an x86-64 CPython 3.13.0")
	}
	exe := filepath.Join(debugPy313(t), "bin", "python3.13")
	if _, err := os.Stat(exe); err != nil {
		t.Skipf("no CPython 3.13.0: %v", err)
	}
	cmd := exec.Command(exe, "-c", "import sys; print('ready', flush=True); sys.stdin.read()")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	// The interpreter is initialised once it prints: _PyRuntime is the
	// running one, not just the file's initial data.
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("readiness line %q: %v", line, err)
	}
	pid := cmd.Process.Pid

	mf, err := os.Open("/proc/" + strconv.Itoa(pid) + "/maps")
	if err != nil {
		t.Fatal(err)
	}
	mappings, err := procmem.ParseMaps(mf)
	mf.Close()
	if err != nil {
		t.Fatal(err)
	}
	var lib string
	var base uint64
	for _, m := range mappings {
		if strings.Contains(filepath.Base(m.Path), "libpython3.13") && m.Offset == 0 {
			lib, base = m.Path, m.Start
			break
		}
	}
	if lib == "" {
		t.Fatalf("pid %d maps no libpython3.13", pid)
	}
	ef, err := elf.Open(lib)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	syms, err := ef.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	var sym uint64
	for _, s := range syms {
		if s.Name == "_PyRuntime" {
			sym = s.Value
		}
	}
	if sym == 0 {
		t.Fatalf("%s exports no _PyRuntime", lib)
	}
	// A shared library's first PT_LOAD starts at virtual address 0, so the
	// mapping of file offset 0 is the load bias.
	var firstLoad uint64 = 1<<64 - 1
	for _, p := range ef.Progs {
		if p.Type == elf.PT_LOAD {
			firstLoad = min(firstLoad, p.Vaddr&^0xfff)
		}
	}
	addr := base - firstLoad + sym

	mem, err := os.Open("/proc/" + strconv.Itoa(pid) + "/mem")
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	buf := make([]byte, DebugOffsetsReadSize)
	if _, err := mem.ReadAt(buf, int64(addr)); err != nil {
		t.Fatalf("pid %d: read _PyRuntime at %#x: %v", pid, addr, err)
	}
	d := checkDebugSame(t, buf, mustDecodeDebug(t, debugImage313()))
	if d.Version.String() != "3.13.0" || d.FreeThreaded {
		t.Errorf("live version %s", d.Version)
	}
}

// TestDebugOffsetsProbe313 compiles _PyRuntimeState_INIT from the installed
// 3.13.0 headers into an object file and decodes its initial data: the
// default build, and with -DPy_GIL_DISABLED the free-threaded one, which
// is not installed here. (The free-threaded probe uses the default build's
// pyconfig.h otherwise; the object layouts it yields come from the headers
// alone.)
func TestDebugOffsetsProbe313(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the images are x86-64")
	}
	inc := filepath.Join(debugPy313(t), "include", "python3.13")
	if _, err := os.Stat(filepath.Join(inc, "internal", "pycore_runtime_init.h")); err != nil {
		t.Skipf("no CPython 3.13.0 internal headers: %v", err)
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("no gcc")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "probe.c")
	// Py_DEFAULT_RECURSION_LIMIT is defined by the interpreter's own build,
	// not by any installed header, and the initializer needs it.
	const probe = `#define Py_BUILD_CORE 1
#define Py_DEFAULT_RECURSION_LIMIT 1000
#include <Python.h>
#include "internal/pycore_runtime.h"
#include "internal/pycore_runtime_init.h"
_PyRuntimeState probe_runtime = _PyRuntimeState_INIT(probe_runtime, _Py_Debug_Cookie);
`
	if err := os.WriteFile(src, []byte(probe), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		flags []string
		want  []byte
	}{
		{"default", nil, debugImage313()},
		{"free-threaded", []string{"-DPy_GIL_DISABLED=1"}, debugImage313t()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			obj := filepath.Join(dir, tt.name+".o")
			args := append([]string{"-c", "-I", inc, src, "-o", obj}, tt.flags...)
			if out, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
				t.Fatalf("gcc %v: %v\n%s", args, err, out)
			}
			b := debugSymbolData(t, obj, "probe_runtime", DebugOffsetsReadSize)
			checkDebugSame(t, b, mustDecodeDebug(t, tt.want))
		})
	}
}

// debugSymbolData returns n bytes of the initial data of symbol name in an
// ELF object file.
func debugSymbolData(t *testing.T, path, name string, n int) []byte {
	t.Helper()
	ef, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	syms, err := ef.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name != name || s.Section >= elf.SectionIndex(len(ef.Sections)) {
			continue
		}
		data, err := ef.Sections[s.Section].Data()
		if err != nil {
			t.Fatal(err)
		}
		if s.Value+uint64(n) > uint64(len(data)) {
			t.Fatalf("%s: %s has %d bytes of data from %#x, want %d", path, name, len(data), s.Value, n)
		}
		return data[s.Value : s.Value+uint64(n)]
	}
	t.Fatalf("%s: no symbol %s", path, name)
	return nil
}

// debugEmbedded314 returns the 3.14.6 python executable that
// go-embed-python ships (gzipped in the module cache), or skips.
func debugEmbedded314(t *testing.T) *elf.File {
	t.Helper()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("the embedded build checked is linux-amd64")
	}
	out, err := exec.Command("go", "list", "-m", "-json", "github.com/kluctl/go-embed-python").Output()
	if err != nil {
		t.Skipf("go list go-embed-python: %v", err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Skipf("go-embed-python not in the module cache (%v)", err)
	}
	f, err := os.Open(filepath.Join(mod.Dir, "python", "internal", "data", "linux-amd64", "bin", "python3.14.gz"))
	if err != nil {
		t.Skipf("no embedded python3.14: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.NewFile(bytes.NewReader(exe))
	if err != nil {
		t.Fatal(err)
	}
	return ef
}

// TestDebugOffsets314Binary reads _Py_DebugOffsets from the .PyRuntime
// section of the real 3.14.6 executable: the struct is static initialised
// data, so the file holds what a live process starts with.
func TestDebugOffsets314Binary(t *testing.T) {
	ef := debugEmbedded314(t)
	sec := ef.Section(".PyRuntime")
	if sec == nil {
		t.Fatal("python3.14 has no .PyRuntime section")
	}
	data, err := sec.Data()
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < DebugOffsetsReadSize {
		t.Fatalf(".PyRuntime is %d bytes", len(data))
	}
	d := checkDebugSame(t, data[:DebugOffsetsReadSize], mustDecodeDebug(t, debugImage314()))
	if d.Version.String() != "3.14.6" || d.FreeThreaded || d.Guessed {
		t.Errorf("version %s, guessed %t", d.Version, d.Guessed)
	}
}
