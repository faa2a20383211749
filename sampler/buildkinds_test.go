package sampler

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pyspyglass/pyspyglass/internal/testutil"
)

// Build kinds a profiler meets beyond `python script.py`: a program that
// is not Python but embeds libpython, and a virtual environment whose
// python is a symlink to (or a copy of) the base interpreter. Each runs
// testdata/sleepers.py and must give the stacks TestSnapshotSleepers
// expects.

// sysconfigScript prints what building against an interpreter needs, one
// item a line; it runs on 2.7 too.
const sysconfigScript = `import sys, sysconfig
v = sysconfig.get_config_var
for x in (v("INCLUDEPY"), v("LIBDIR"), v("LDLIBRARY"), v("Py_ENABLE_SHARED"), sys.prefix, v("LIBS"), v("SYSLIBS")):
    sys.stdout.write("%s\n" % (x or ""))`

// buildHost compiles testdata/embed/host.c against in's libpython, with an
// rpath to it, into dir. The reason it cannot is returned as skip.
func buildHost(t *testing.T, in testutil.Interpreter, dir string) (host, prefix, skip string) {
	t.Helper()
	if in.Root != "" {
		return "", "", "the host is built with this system's gcc and libc, which cannot link a root filesystem's libpython"
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return "", "", "no gcc to build the embedding host"
	}
	out, err := in.Command("-c", sysconfigScript).Output()
	if err != nil {
		return "", "", fmt.Sprintf("sysconfig: %v", err)
	}
	lines := strings.Split(string(out), "\n")
	if len(lines) < 7 {
		return "", "", fmt.Sprintf("sysconfig printed %q", out)
	}
	include, libdir, ldlib, shared, prefix := lines[0], lines[1], lines[2], lines[3], lines[4]
	if shared != "1" || !strings.HasSuffix(ldlib, ".so") {
		return "", "", fmt.Sprintf("no shared libpython (Py_ENABLE_SHARED %q, LDLIBRARY %q)", shared, ldlib)
	}
	if _, err := os.Stat(filepath.Join(libdir, ldlib)); err != nil {
		return "", "", fmt.Sprintf("shared libpython missing: %v", err)
	}
	if _, err := os.Stat(filepath.Join(include, "Python.h")); err != nil {
		return "", "", fmt.Sprintf("no headers: %v", err)
	}
	// Named so that nothing about it says Python: the profiler must find
	// the interpreter through libpython alone.
	host = filepath.Join(dir, "apphost")
	args := []string{"-o", host, testutil.TestdataPath("embed/host.c"), "-I", include,
		"-L", libdir, "-l:" + ldlib, "-Wl,-rpath," + libdir}
	args = append(args, strings.Fields(lines[5]+" "+lines[6])...)
	if out, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return host, prefix, ""
}

// TestEmbeddedHost runs sleepers.py inside a C program that links libpython
// (every interpreter with a shared libpython and headers) and reads it.
func TestEmbeddedHost(t *testing.T) {
	testutil.ForEach(t, testutil.Interpreters(t), func(t *testing.T, in testutil.Interpreter) {
		host, prefix, skip := buildHost(t, in, t.TempDir())
		if skip != "" {
			t.Skipf("%s skipped: %s", in.Name, skip)
		}
		// PYTHONHOME pins the standard library to the one the host was
		// built against, whatever python the PATH holds; env execs the
		// host in place, so the pid is the host's.
		proc := testutil.SpawnCmd(t, "env", "PYTHONHOME="+prefix, host, testutil.TestdataPath("sleepers.py"))
		proc.WaitReady(t)
		tg := open(t, proc.Pid)
		if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", proc.Pid)); exe != host {
			t.Fatalf("pid %d runs %s, want the host %s", proc.Pid, exe, host)
		}
		checkSleepers(t, in, proc, tg)
	})
}

// TestVenv runs sleepers.py through the python of a virtual environment:
// a symlink to the base interpreter for every 3.x found, and also a copy
// of it for 3.12 and for any stripped static build (Debian's), whose copy
// the profiler must scan at an unfamiliar path. 2.7 has no venv module.
func TestVenv(t *testing.T) {
	type kind struct {
		name  string
		flags []string
	}
	testutil.ForEach(t, testutil.Interpreters(t), func(t *testing.T, in testutil.Interpreter) {
		if !in.AtLeast(3, 3) {
			t.Skipf("%s skipped: no venv module before 3.3", in.Name)
		}
		kinds := []kind{{"symlinks", []string{"--symlinks"}}}
		if in.Major == 3 && in.Minor == 12 || strings.HasPrefix(in.Name, "debian-") {
			kinds = append(kinds, kind{"copies", []string{"--copies"}})
		}
		for _, k := range kinds {
			t.Run(k.name, func(t *testing.T) {
				dir := filepath.Join(in.TempDir(t), "venv")
				args := append([]string{"-m", "venv", "--without-pip"}, k.flags...)
				if out, err := in.Command(append(args, dir)...).CombinedOutput(); err != nil {
					t.Skipf("%s skipped: python -m venv: %v\n%s", in.Name, err, out)
				}
				venv := in
				venv.Path = filepath.Join(dir, "bin", "python")
				proc := testutil.Spawn(t, venv, "sleepers.py")
				exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", proc.Pid))
				if inVenv := strings.HasPrefix(exe, in.ProcPath(dir)+"/"); inVenv != (k.name == "copies") {
					t.Fatalf("pid %d runs %s: a %s venv should run it from %s: %t", proc.Pid, exe, k.name, dir, inVenv)
				}
				checkSleepers(t, in, proc, open(t, proc.Pid))
			})
		}
	})
}
