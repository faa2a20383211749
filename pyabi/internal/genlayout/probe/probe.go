// Package probe measures CPython struct layouts from an installed
// interpreter's own headers: it writes a small C program that prints
// offsetof and sizeof for every pyabi.Layout field, compiles it with gcc
// against the interpreter's include directory (with Py_BUILD_CORE, for the
// internal headers) and reads the numbers back. The genlayout command turns
// the results into pyabi's layout_py*.go tables, and pyabi's check test
// re-runs the probe to prove the committed tables still match the headers.
//
// It does not read a running process or any binary: the headers and
// pyconfig.h of the build are the facts, so a probe is only as good as the
// match between headers and the interpreter they were installed with.
package probe

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Interpreter is one CPython installation with its headers.
type Interpreter struct {
	Path         string // the python executable, as found
	Version      string // platform.python_version(): "3.11.7"
	Major, Minor int
	Patch        int
	FreeThreaded bool     // built with Py_GIL_DISABLED (3.13t+)
	IncludeDirs  []string // sysconfig include and platinclude, deduplicated
	// LibPython is the shared libpython the interpreter was built with, if
	// the file exists ("" for a static build); its DWARF, when present, is
	// a second witness for the layout.
	LibPython string
}

// MinorVersion returns the interpreter's major.minor.
func (in Interpreter) MinorVersion() Minor { return MinorOf(in.Major, in.Minor) }

// Skipped names an interpreter that was found but cannot be probed.
type Skipped struct {
	Path   string
	Reason string
}

// Candidates returns the python executables this machine is known to carry:
// every pyenv version and the distribution's /usr/bin/pythonX.Y. Symlinks
// to the same file are reported once.
func Candidates() []string {
	var paths []string
	pyenv, _ := filepath.Glob("/root/.pyenv/versions/*/bin/python")
	paths = append(paths, pyenv...)
	if home, err := os.UserHomeDir(); err == nil && home != "/root" {
		more, _ := filepath.Glob(filepath.Join(home, ".pyenv/versions/*/bin/python"))
		paths = append(paths, more...)
	}
	system, _ := filepath.Glob("/usr/bin/python[23].*")
	for _, p := range system {
		// Only the interpreters themselves, not python3.11-config and friends.
		if regexp.MustCompile(`/python[23]\.[0-9]+$`).MatchString(p) {
			paths = append(paths, p)
		}
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range paths {
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			continue
		}
		if seen[real] {
			continue
		}
		seen[real] = true
		out = append(out, p)
	}
	return out
}

// querySrc runs under every Python from 2.7 on: one fact per line.
const querySrc = `import platform, sysconfig
p = sysconfig.get_paths()
print(platform.python_version())
print(p.get("include") or "")
print(p.get("platinclude") or "")
print(sysconfig.get_config_var("Py_GIL_DISABLED") or 0)
print((sysconfig.get_config_var("LIBDIR") or "") + "/" + (sysconfig.get_config_var("INSTSONAME") or ""))
`

// Inspect asks the interpreter at path for its version and include
// directories, and checks that the headers the probe needs are there.
func Inspect(ctx context.Context, path string) (Interpreter, error) {
	out, err := exec.CommandContext(ctx, path, "-c", querySrc).Output()
	if err != nil {
		return Interpreter{}, fmt.Errorf("query %s: %w", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != 5 {
		return Interpreter{}, fmt.Errorf("query %s: want 5 lines, got %q", path, out)
	}
	in := Interpreter{Path: path, Version: lines[0], FreeThreaded: lines[3] == "1"}
	nums := regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)`).FindStringSubmatch(lines[0])
	if nums == nil {
		return Interpreter{}, fmt.Errorf("query %s: version %q", path, lines[0])
	}
	in.Major, _ = strconv.Atoi(nums[1])
	in.Minor, _ = strconv.Atoi(nums[2])
	in.Patch, _ = strconv.Atoi(nums[3])
	if lib := lines[4]; strings.Contains(filepath.Base(lib), ".so") && exists(lib) {
		in.LibPython = lib
	}
	for _, d := range lines[1:3] {
		if d != "" && (len(in.IncludeDirs) == 0 || in.IncludeDirs[0] != d) {
			in.IncludeDirs = append(in.IncludeDirs, d)
		}
	}
	if len(in.IncludeDirs) == 0 {
		return in, fmt.Errorf("%s (%s): sysconfig names no include directory", path, in.Version)
	}
	for _, h := range append([]string{"Python.h"}, includes(in.MinorVersion())...) {
		if !haveHeader(in.IncludeDirs, h) {
			return in, fmt.Errorf("%s (%s): no %s under %s (install the -dev headers with internal/)",
				path, in.Version, h, strings.Join(in.IncludeDirs, ", "))
		}
	}
	return in, nil
}

func haveHeader(dirs []string, name string) bool {
	for _, d := range dirs {
		if exists(filepath.Join(d, name)) {
			return true
		}
	}
	return false
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Discover inspects every candidate and splits them into those that can be
// probed and those that cannot, with the reason.
func Discover(ctx context.Context) ([]Interpreter, []Skipped) {
	var found []Interpreter
	var skipped []Skipped
	for _, p := range Candidates() {
		in, err := Inspect(ctx, p)
		switch {
		case err != nil:
			skipped = append(skipped, Skipped{p, err.Error()})
		case in.FreeThreaded:
			// pyabi has no free-threaded tables: the object header differs.
			skipped = append(skipped, Skipped{p, in.Version + " is a free-threaded build"})
		default:
			found = append(found, in)
		}
	}
	sort.Slice(found, func(i, j int) bool {
		a, b := found[i], found[j]
		if a.MinorVersion() != b.MinorVersion() {
			return a.MinorVersion() < b.MinorVersion()
		}
		if a.Patch != b.Patch {
			return a.Patch < b.Patch
		}
		return a.Path < b.Path
	})
	return found, skipped
}

// Result is what the probe measured on one interpreter.
type Result struct {
	Interpreter Interpreter
	// Values maps a field path to its offset or size; a field the version
	// lacks has no entry.
	Values map[string]int
	// Exprs maps a field path to the C expression that measured it.
	Exprs map[string]string
}

// Source returns the C program that measures the layout of version m.
func Source(m Minor) string {
	var b strings.Builder
	b.WriteString("/* Generated by pyabi/internal/genlayout/probe. */\n")
	b.WriteString("#define Py_BUILD_CORE 1\n#include <Python.h>\n")
	for _, h := range includes(m) {
		fmt.Fprintf(&b, "#include <%s>\n", h)
	}
	b.WriteString("#include <stddef.h>\n#include <stdio.h>\n\n")
	b.WriteString(dictKeysDecl(m))
	b.WriteString("\nint main(void) {\n")
	for _, f := range Fields {
		if e := f.Expr(m); e != "" {
			fmt.Fprintf(&b, "    printf(\"%s %%zu\\n\", (size_t)(%s));\n", f.Path, e)
		}
	}
	b.WriteString("    return 0;\n}\n")
	return b.String()
}

// ErrNoCompiler is returned by Measure when gcc is not on PATH.
var ErrNoCompiler = errors.New("gcc not found")

// Measure compiles and runs the probe for in inside dir (which must exist
// and be private to this call) and returns the measured layout.
func Measure(ctx context.Context, in Interpreter, dir string) (Result, error) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return Result{}, ErrNoCompiler
	}
	m := in.MinorVersion()
	src := filepath.Join(dir, "probe.c")
	bin := filepath.Join(dir, "probe")
	if err := os.WriteFile(src, []byte(Source(m)), 0o644); err != nil {
		return Result{}, fmt.Errorf("probe %s: %w", in.Path, err)
	}
	args := []string{"-std=gnu11", "-w", "-o", bin, src}
	for _, d := range in.IncludeDirs {
		args = append(args, "-I", d)
		// Internal headers include each other by bare name in some releases.
		if internal := filepath.Join(d, "internal"); exists(internal) {
			args = append(args, "-I", internal)
		}
	}
	var stderr bytes.Buffer
	cc := exec.CommandContext(ctx, gcc, args...)
	cc.Stderr = &stderr
	if err := cc.Run(); err != nil {
		return Result{}, fmt.Errorf("probe %s (%s): compile: %w\n%s", in.Path, in.Version, err, firstLines(stderr.String(), 30))
	}
	out, err := exec.CommandContext(ctx, bin).Output()
	if err != nil {
		return Result{}, fmt.Errorf("probe %s (%s): run: %w", in.Path, in.Version, err)
	}
	r := Result{Interpreter: in, Values: map[string]int{}, Exprs: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		path, num, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			return Result{}, fmt.Errorf("probe %s: bad output line %q", in.Path, sc.Text())
		}
		n, err := strconv.Atoi(num)
		if err != nil {
			return Result{}, fmt.Errorf("probe %s: field %s: %w", in.Path, path, err)
		}
		r.Values[path] = n
	}
	for _, f := range Fields {
		e := f.Expr(m)
		if e == "" {
			continue
		}
		if _, ok := r.Values[f.Path]; !ok {
			return Result{}, fmt.Errorf("probe %s: no value printed for %s", in.Path, f.Path)
		}
		r.Exprs[f.Path] = e
	}
	return r, nil
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, "\n")
}

// MeasureAll probes every interpreter, at most jobs at a time, each in its
// own subdirectory of dir. Results come back in the order of ins; errs[i]
// is non-nil when ins[i] failed.
func MeasureAll(ctx context.Context, ins []Interpreter, dir string, jobs int) ([]Result, []error) {
	if jobs < 1 {
		jobs = 1
	}
	results := make([]Result, len(ins))
	errs := make([]error, len(ins))
	sem := make(chan struct{}, jobs)
	done := make(chan struct{})
	for i := range ins {
		go func() {
			defer func() { done <- struct{}{} }()
			sem <- struct{}{}
			defer func() { <-sem }()
			sub := filepath.Join(dir, fmt.Sprintf("probe%d", i))
			if err := os.MkdirAll(sub, 0o755); err != nil {
				errs[i] = fmt.Errorf("probe %s: %w", ins[i].Path, err)
				return
			}
			results[i], errs[i] = Measure(ctx, ins[i], sub)
		}()
	}
	for range ins {
		<-done
	}
	return results, errs
}
