package testutil

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Interpreter is one Python build found on this machine.
type Interpreter struct {
	Name         string // source and version, e.g. "pyenv-3.12.1", "debian-3.11.2", "sid-chroot-3.15.2d"; "t" suffix when free-threaded, "d" for a debug build
	Path         string // the executable, symlinks resolved; inside Root when Root is set, so run it with Argv or Command
	Version      string // "3.12.1"
	Major, Minor int
	FreeThreaded bool // built with --disable-gil (3.13t, 3.14t)
	Debug        bool // a debug build (Py_DEBUG, e.g. Debian's python3.15d)

	// Root is the host directory of the root filesystem the interpreter
	// lives in, "" for one of this system's own; Isolation says how it runs.
	Root      string
	Isolation Isolation
}

// MinorName is the version's "major.minor", with "t" for a free-threaded build.
func (in Interpreter) MinorName() string {
	s := fmt.Sprintf("%d.%d", in.Major, in.Minor)
	if in.FreeThreaded {
		s += "t"
	}
	return s
}

// VersionName is the version as pyspyglass names it: "3.13.15", and
// "3.13.15t" for a free-threaded build.
func (in Interpreter) VersionName() string {
	if in.FreeThreaded {
		return in.Version + "t"
	}
	return in.Version
}

// AtLeast reports whether the interpreter is version major.minor or newer.
func (in Interpreter) AtLeast(major, minor int) bool {
	return in.Major > major || in.Major == major && in.Minor >= minor
}

// QualName is the name CPython gives a method's code object: class-qualified
// from 3.11 (co_qualname), the bare method name before.
func (in Interpreter) QualName(class, method string) string {
	if in.AtLeast(3, 11) {
		return class + "." + method
	}
	return method
}

// EnvPythons names the variable that replaces discovery with a comma-separated
// list of interpreter paths.
const EnvPythons = "PYSPYGLASS_PYTHONS"

// expectedMinors are the versions the project supports, in the order the
// summary lists them; a missing one is named so a skipped version is visible.
var expectedMinors = []string{"2.7", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.15", "3.13t", "3.14t"}

// candidate is an executable found by discovery, before it is run.
type candidate struct {
	source string // name prefix: pyenv, debian, system, local, embedded, env, source, sid
	path   string // resolved; inside root when root is set
	root   string // the root filesystem holding path, "" for the host's
}

type discovery struct {
	interps  []Interpreter
	problems []string // candidates that failed to run or report a version
	summary  string
}

var (
	discovered  = sync.OnceValue(discover)
	summaryOnce sync.Once
)

// Interpreters returns every Python interpreter found on the machine, sorted
// by version then name. Discovery and the version probes run once per test
// binary; the first call logs a summary naming which expected versions were
// found and which are skipped. Setting PYSPYGLASS_PYTHONS (comma-separated
// paths) replaces discovery.
func Interpreters(t testing.TB) []Interpreter {
	t.Helper()
	d := discovered()
	summaryOnce.Do(func() { t.Log(d.summary) })
	return append([]Interpreter(nil), d.interps...)
}

// DiscoverySummary is the summary Interpreters logs, for printing outside
// a test (make test shows it, as go test hides logs of passing tests).
func DiscoverySummary() string { return discovered().summary }

// Select returns the interpreters at version min ("3.11") or newer, logging
// the names of those left out.
func Select(t testing.TB, interps []Interpreter, min string) []Interpreter {
	t.Helper()
	major, minor, ok := parseMinor(min)
	if !ok {
		t.Fatalf("select interpreters: bad version %q, want MAJOR.MINOR", min)
	}
	var kept []Interpreter
	var left []string
	for _, in := range interps {
		if in.AtLeast(major, minor) {
			kept = append(kept, in)
		} else {
			left = append(left, in.Name)
		}
	}
	if len(left) > 0 {
		t.Logf("interpreters below %s left out: %s", min, strings.Join(left, ", "))
	}
	return kept
}

// ForEach runs fn as a parallel subtest named after each interpreter, and
// skips the test when there are none.
func ForEach(t *testing.T, interps []Interpreter, fn func(t *testing.T, in Interpreter)) {
	t.Helper()
	if len(interps) == 0 {
		t.Skip("no Python interpreter found on this machine")
	}
	for _, in := range interps {
		t.Run(in.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, in)
		})
	}
}

func discover() discovery {
	var cands []candidate
	var problems []string
	if env := os.Getenv(EnvPythons); env != "" {
		for _, p := range strings.Split(env, ",") {
			if p = strings.TrimSpace(p); p != "" {
				cands = append(cands, candidate{source: "env", path: p})
			}
		}
	} else {
		cands = append(cands, pyenvCandidates()...)
		cands = append(cands, systemCandidates()...)
		cands = append(cands, sourceCandidates()...)
		if path, err := embeddedPython(); err != nil {
			problems = append(problems, fmt.Sprintf("embedded CPython: %v", err))
		} else {
			cands = append(cands, candidate{source: "embedded", path: path})
		}
	}
	cands = dedupe(cands)
	var notes []string
	if os.Getenv(EnvPythons) == "" {
		rooted, note := rootCandidates()
		cands = append(cands, rooted...)
		notes = append(notes, note...)
	}
	interps, probeProblems := probeAll(cands)
	problems = append(problems, probeProblems...)
	summary := Summary(interps, problems)
	for _, n := range notes {
		summary += "\n  " + n
	}
	return discovery{interps: interps, problems: problems, summary: summary}
}

func pyenvCandidates() []candidate {
	var roots []string
	if r := os.Getenv("PYENV_ROOT"); r != "" {
		roots = append(roots, r)
	}
	roots = append(roots, "/root/.pyenv")
	if home, err := os.UserHomeDir(); err == nil {
		roots = append(roots, filepath.Join(home, ".pyenv"))
	}
	var out []candidate
	for _, root := range roots {
		matches, _ := filepath.Glob(filepath.Join(root, "versions", "*", "bin", "python"))
		sort.Strings(matches)
		for _, m := range matches {
			out = append(out, candidate{source: "pyenv", path: m})
		}
	}
	return out
}

// realPython matches a versioned interpreter name, not python3-config,
// python3.11-dbg-config or the unversioned python3 link.
var realPython = regexp.MustCompile(`^python[23]\.[0-9]+[td]?$`)

func systemCandidates() []candidate {
	source := "system"
	if _, err := os.Stat("/etc/debian_version"); err == nil {
		source = "debian"
	}
	var out []candidate
	for _, dir := range []struct{ glob, source string }{
		{"/usr/bin/python2*", source},
		{"/usr/bin/python3*", source},
		{"/usr/local/bin/python3*", "local"},
	} {
		matches, _ := filepath.Glob(dir.glob)
		sort.Strings(matches)
		for _, m := range matches {
			if realPython.MatchString(filepath.Base(m)) {
				out = append(out, candidate{source: dir.source, path: m})
			}
		}
	}
	return out
}

// dedupe resolves symlinks and keeps the first candidate per real file, so
// pyenv's bin/python and bin/python3.12 count once while Debian's 3.11.2 and
// pyenv's 3.11.7, different files, both stay.
func dedupe(cands []candidate) []candidate {
	seen := map[string]bool{}
	var files []os.FileInfo // hard links too: a source build's python3.13 and python3.13t
	var out []candidate
	for _, c := range cands {
		real, err := filepath.EvalSymlinks(c.path)
		if err != nil {
			real = c.path // probe reports the error
		}
		if abs, err := filepath.Abs(real); err == nil {
			real = abs
		}
		if seen[real] {
			continue
		}
		seen[real] = true
		if fi, err := os.Stat(real); err == nil {
			if slices.ContainsFunc(files, func(f os.FileInfo) bool { return os.SameFile(f, fi) }) {
				continue
			}
			files = append(files, fi)
		}
		out = append(out, candidate{source: c.source, path: real, root: c.root})
	}
	return out
}

// probeScript prints "major.minor.micro gil_disabled debug"; it runs on 2.7 too.
const probeScript = `import sys, sysconfig
sys.stdout.write("%d.%d.%d %s %d\n" % (sys.version_info[:3] + (sysconfig.get_config_var("Py_GIL_DISABLED") or 0, hasattr(sys, "gettotalrefcount"))))`

func probeAll(cands []candidate) ([]Interpreter, []string) {
	type result struct {
		in  Interpreter
		err error
	}
	results := make([]result, len(cands))
	var wg sync.WaitGroup
	for i, c := range cands {
		wg.Go(func() {
			in, err := probe(c)
			results[i] = result{in, err}
		})
	}
	wg.Wait()
	var interps []Interpreter
	var problems []string
	for i, r := range results {
		if r.err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", cands[i].where(), r.err))
			continue
		}
		interps = append(interps, isolations(r.in)...)
	}
	sort.SliceStable(interps, func(i, j int) bool {
		a, b := interps[i], interps[j]
		if a.Major != b.Major {
			return a.Major < b.Major
		}
		if a.Minor != b.Minor {
			return a.Minor < b.Minor
		}
		if a.FreeThreaded != b.FreeThreaded {
			return !a.FreeThreaded
		}
		return a.Name < b.Name
	})
	return interps, problems
}

func probe(c candidate) (Interpreter, error) {
	// Generous: the first run of a fresh build may compile its stdlib caches.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A root's interpreters are probed under chroot, the lighter isolation.
	argv := Interpreter{Path: c.path, Root: c.root, Isolation: Chroot}.Argv("-c", probeScript)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = childEnv()
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
			return Interpreter{}, fmt.Errorf("probe: %w: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return Interpreter{}, fmt.Errorf("probe: %w", err)
	}
	fields := strings.Fields(string(out))
	if len(fields) != 3 {
		return Interpreter{}, fmt.Errorf("probe: unexpected output %q", out)
	}
	parts := strings.Split(fields[0], ".")
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if len(parts) != 3 || err1 != nil || err2 != nil {
		return Interpreter{}, fmt.Errorf("probe: unexpected version %q", fields[0])
	}
	in := Interpreter{
		Path:         c.path,
		Version:      fields[0],
		Major:        major,
		Minor:        minor,
		FreeThreaded: fields[1] == "1",
		Debug:        fields[2] == "1",
		Root:         c.root,
	}
	in.Name = c.source + "-" + in.Version
	if in.FreeThreaded {
		in.Name += "t"
	}
	if in.Debug {
		in.Name += "d"
	}
	return in, nil
}

func parseMinor(s string) (major, minor int, ok bool) {
	a, b, found := strings.Cut(s, ".")
	if !found {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(a)
	minor, err2 := strconv.Atoi(b)
	return major, minor, err1 == nil && err2 == nil
}

// Summary renders which expected versions have interpreters, which are
// skipped for want of one, which extra versions were found, and which
// candidates failed to run.
func Summary(interps []Interpreter, problems []string) string {
	byMinor := map[string][]string{}
	for _, in := range interps {
		byMinor[in.MinorName()] = append(byMinor[in.MinorName()], fmt.Sprintf("%s (%s)", in.Name, in.where()))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "python interpreters: %d found (set %s to choose them)\n", len(interps), EnvPythons)
	var missing []string
	expected := map[string]bool{}
	for _, m := range expectedMinors {
		expected[m] = true
		if names := byMinor[m]; len(names) > 0 {
			fmt.Fprintf(&b, "  %-5s %s\n", m, strings.Join(names, ", "))
		} else {
			missing = append(missing, m)
		}
	}
	for _, in := range interps {
		if m := in.MinorName(); !expected[m] {
			fmt.Fprintf(&b, "  %-5s %s (%s), not an expected version\n", m, in.Name, in.where())
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(&b, "  skipped %s: no interpreter on this machine\n", strings.Join(missing, ", "))
	}
	for _, p := range problems {
		fmt.Fprintf(&b, "  unusable: %s\n", p)
	}
	return strings.TrimRight(b.String(), "\n")
}

// Discover is Interpreters for programs that are not tests (the table
// generators): every interpreter found, and the summary of what was skipped.
func Discover() ([]Interpreter, string) {
	d := discovered()
	return append([]Interpreter(nil), d.interps...), d.summary
}

// RequireModules skips the test, naming the module and the interpreter,
// when in cannot import every one of mods: a build made without some
// extension modules (no _socket, no _posixsubprocess) cannot run a script
// that needs them, which is no failure of the code under test.
func RequireModules(t testing.TB, in Interpreter, mods ...string) {
	t.Helper()
	for _, m := range mods {
		if out, err := in.Command("-c", "import "+m).CombinedOutput(); err != nil {
			t.Skipf("%s cannot import %s: %s", in.Name, m, lastLine(string(out)))
		}
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
