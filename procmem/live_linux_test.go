package procmem

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// child is a process started by a live test.
type child struct {
	pid   int
	lines []string // what it printed before becoming ready
	kill  func()   // kill and reap it; safe to call twice
}

// startChild runs argv, collects its stdout lines until one equals
// "ready", and arranges for it to be killed at the end of the test. The
// child then blocks (on sleep or stdin), so its memory holds still.
func startChild(t *testing.T, argv ...string) *child {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", argv[0], err)
	}
	var once sync.Once
	c := &child{pid: cmd.Process.Pid, kill: func() {
		once.Do(func() { cmd.Process.Kill(); cmd.Wait(); stdin.Close() })
	}}
	t.Cleanup(c.kill)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if sc.Text() == "ready" {
			return c
		}
		c.lines = append(c.lines, sc.Text())
	}
	t.Fatalf("%s exited before printing ready (output %q)", argv[0], c.lines)
	return nil
}

// pythonScript prints the interpreter's version as an integer, then waits.
const pythonScript = `import sys,time; sys.stdout.write("%d\nready\n" % sys.hexversion); sys.stdout.flush(); time.sleep(60)`

func startPython(t *testing.T, python string) (c *child, hexversion uint32) {
	t.Helper()
	c = startChild(t, python, "-c", pythonScript)
	v, err := strconv.ParseUint(c.lines[len(c.lines)-1], 10, 32)
	if err != nil {
		t.Fatalf("%s printed no version: %q", python, c.lines)
	}
	return c, uint32(v)
}

// resolve finds a module of the child's maps whose base name starts with
// prefix, opens it from the host and returns it with its bias.
func resolve(t *testing.T, pid int, maps []Mapping, prefix string) (Module, *Binary, uint64) {
	t.Helper()
	mod, ok := FindModule(Modules(maps), func(p string) bool { return strings.HasPrefix(filepath.Base(p), prefix) })
	if !ok {
		t.Fatalf("pid %d: no module %s* in maps", pid, prefix)
	}
	bin, err := OpenBinary(HostPath(pid, mod.Path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bin.Close() })
	bias, err := bin.Bias(maps, mod.Path)
	if err != nil {
		t.Fatal(err)
	}
	return mod, bin, bias
}

func TestLivePython312(t *testing.T) {
	pythons, _ := filepath.Glob("/root/.pyenv/versions/3.12*/bin/python")
	if len(pythons) == 0 {
		t.Skip("no CPython 3.12 under /root/.pyenv/versions; install one with pyenv to run this test")
	}
	c, hexversion := startPython(t, pythons[0])
	maps, err := ReadMaps(c.pid)
	if err != nil {
		t.Fatal(err)
	}
	lib, bin, bias := resolve(t, c.pid, maps, "libpython3.12.so")
	if bin.BuildID == "" {
		t.Error("libpython has no build id")
	}
	pyVersion, ok := bin.Symbol("Py_Version")
	if !ok {
		t.Fatal("no Py_Version in libpython")
	}
	rodata, _, ok := bin.Section(".rodata")
	if !ok {
		t.Fatal("no .rodata in libpython")
	}
	wantRodata, err := bin.SectionData(".rodata")
	if err != nil {
		t.Fatal(err)
	}

	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			p, err := OpenWith(c.pid, be.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if v, err := U32(p, pyVersion+bias); err != nil || v != hexversion {
				t.Errorf("Py_Version at %#x = %#x, %v; want %#x", pyVersion+bias, v, err, hexversion)
			}

			// Three spans in one call: the version, the ELF magic at the
			// library's start and the head of .rodata.
			ver, magic, head := make([]byte, 4), make([]byte, 4), make([]byte, 16)
			err = p.ReadBatch([]Span{{pyVersion + bias, ver}, {lib.Start, magic}, {rodata + bias, head}})
			if err != nil {
				t.Fatal(err)
			}
			if binary.LittleEndian.Uint32(ver) != hexversion || string(magic) != elf.ELFMAG || !bytes.Equal(head, wantRodata[:16]) {
				t.Errorf("batch read %x %q %x; want %#x, ELF magic, %x", ver, magic, head, hexversion, wantRodata[:16])
			}

			if _, err := p.ReadAt(make([]byte, 8), 0x1000); !errors.Is(err, ErrFault) {
				t.Errorf("read of unmapped address: %v, want ErrFault", err)
			}
		})
	}

	// The executable is PIE: the bytes at main's runtime address must be
	// those of the file.
	_, exe, exeBias := resolve(t, c.pid, maps, "python3.12")
	checkText(t, c.pid, exe, exeBias, "main")

	tids, err := Threads(c.pid)
	if err != nil || !slices.Contains(tids, c.pid) {
		t.Errorf("Threads = %v, %v", tids, err)
	}
	if n, err := ThreadCount(c.pid); err != nil || n != len(tids) {
		t.Errorf("ThreadCount = %d, %v, want %d", n, err, len(tids))
	}
	if args, err := Cmdline(c.pid); err != nil || len(args) != 3 || args[1] != "-c" {
		t.Errorf("Cmdline = %q, %v", args, err)
	}
	want, _ := filepath.EvalSymlinks(pythons[0])
	if got, err := Exe(c.pid); err != nil || got != want {
		t.Errorf("Exe = %q, %v, want %q", got, err, want)
	}

	// After the process is gone reads fail as exited, not as bad
	// addresses. /proc/PID/mem reads nothing then, so that backend must
	// notice the exit by itself.
	var procs []*Process
	for _, be := range backends {
		p, err := OpenWith(c.pid, be.opts)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		procs = append(procs, p)
	}
	c.kill()
	for i, p := range procs {
		_, err := p.ReadAt(make([]byte, 4), pyVersion+bias)
		if !errors.Is(err, ErrExited) && !errors.Is(err, ErrNoProcess) {
			t.Errorf("%s: read after exit: %v, want ErrExited or ErrNoProcess", backends[i].name, err)
		}
	}
}

// checkText compares the bytes of a function in the file with those in
// the process, which proves symbol plus bias is the runtime address.
func checkText(t *testing.T, pid int, bin *Binary, bias uint64, sym string) {
	t.Helper()
	addr, ok := bin.Symbol(sym)
	if !ok {
		t.Fatalf("%s: no symbol %s", bin.Path, sym)
	}
	text, _, _ := bin.Section(".text")
	data, err := bin.SectionData(".text")
	if err != nil {
		t.Fatal(err)
	}
	if addr < text || addr+16 > text+uint64(len(data)) {
		t.Fatalf("%s %#x not in .text", sym, addr)
	}
	want := data[addr-text : addr-text+16]
	p, err := Open(pid)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 16)
	if err := ReadFull(p, got, addr+bias); err != nil || !bytes.Equal(got, want) {
		t.Errorf("%s at %#x: %x, %v; want %x", sym, addr+bias, got, err, want)
	}
}

// TestLivePythonStatic reads Debian's stripped, statically linked,
// non-PIE python3.11: Py_Version is only in .dynsym and the bias is 0.
func TestLivePythonStatic(t *testing.T) {
	const python = "/usr/bin/python3.11"
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s not installed", python)
	}
	c, hexversion := startPython(t, python)
	maps, err := ReadMaps(c.pid)
	if err != nil {
		t.Fatal(err)
	}
	_, bin, bias := resolve(t, c.pid, maps, "python3.11")
	if bin.f.Type == elf.ET_EXEC && bias != 0 {
		t.Errorf("non-PIE executable has bias %#x", bias)
	}
	if _, _, ok := bin.Section(".PyRuntime"); !ok {
		t.Error("no .PyRuntime section")
	}
	addr, ok := bin.Symbol("Py_Version")
	if !ok {
		t.Fatal("no Py_Version in .dynsym")
	}
	p, err := Open(c.pid)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := U32(p, addr+bias); err != nil || v != hexversion {
		t.Errorf("Py_Version = %#x, %v; want %#x", v, err, hexversion)
	}
}

// probeC prints the address of a global and waits on stdin.
const probeC = `#include <stdio.h>
#include <unistd.h>
unsigned long probe = 0x1122334455667788UL;
int main(void) {
	char c;
	printf("%p\nready\n", (void *)&probe);
	fflush(stdout);
	return read(0, &c, 1) < 0;
}
`

// TestLiveC checks Bias on a PIE and a non-PIE executable built with gcc,
// against the address the program prints of its own global.
func TestLiveC(t *testing.T) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not found")
	}
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/probe.c", []byte(probeC), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"-pie", "-no-pie"} {
		t.Run(mode, func(t *testing.T) {
			exe := dir + "/probe" + mode
			if out, err := exec.Command(gcc, mode, "-fPIE", "-o", exe, dir+"/probe.c").CombinedOutput(); err != nil {
				t.Fatalf("gcc: %v\n%s", err, out)
			}
			c := startChild(t, exe)
			printed, err := strconv.ParseUint(strings.TrimPrefix(c.lines[0], "0x"), 16, 64)
			if err != nil {
				t.Fatalf("bad address %q", c.lines[0])
			}
			maps, err := ReadMaps(c.pid)
			if err != nil {
				t.Fatal(err)
			}
			_, bin, bias := resolve(t, c.pid, maps, "probe")
			if mode == "-no-pie" && bias != 0 {
				t.Errorf("non-PIE bias %#x", bias)
			}
			addr, ok := bin.Symbol("probe")
			if !ok || addr+bias != printed {
				t.Fatalf("probe at %#x+%#x, program says %#x", addr, bias, printed)
			}
			p, err := Open(c.pid)
			if err != nil {
				t.Fatal(err)
			}
			if v, err := U64(p, addr+bias); err != nil || v != 0x1122334455667788 {
				t.Errorf("probe = %#x, %v", v, err)
			}
		})
	}
}
