package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pyspyglass/pyspyglass/internal/testutil"
)

// TestFlagMessages: bad flag values name the flag in one line, and the
// help shows no pflag type names.
func TestFlagMessages(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"dump", "--pid", "abc"}, `"-p, --pid" flag: "abc" is not a process id`},
		{[]string{"dump", "--pid", "0"}, `"-p, --pid" flag: "0" is not a process id`},
		{[]string{"record", "--pid", "-5", "-o", "x.txt"}, `is not a process id`},
	} {
		r := pyspyglass(t, c.args...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, want an error with %q:\n%s", c.args, r.code, c.want, r.stderr)
		}
		if strings.Contains(r.stderr, "strconv") || strings.Contains(r.stderr, "Usage:") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Errorf("%v: want one line without strconv or the whole help:\n%s", c.args, r.stderr)
		}
	}
	typeName := regexp.MustCompile(`--[a-z-]+ (ints|int|string|stringArray|float64|float|uint|stringSlice|strings|duration|uint64|int64)\b`)
	for _, cmd := range []string{"record", "top", "dump", "render", "diff"} {
		r := pyspyglass(t, cmd, "--help")
		if m := typeName.FindString(r.stderr + r.stdout); m != "" {
			t.Errorf("%s --help shows a pflag type name: %q", cmd, m)
		}
	}
}

// TestDumpSeveralPids: repeated --pid dumps each process.
func TestDumpSeveralPids(t *testing.T) {
	in := newest(t)
	a := testutil.Spawn(t, in, "cpu_split.py")
	b := testutil.Spawn(t, in, "cpu_split.py")
	r := pyspyglass(t, "dump", "--pid", strconv.Itoa(a.Pid), "--pid", strconv.Itoa(b.Pid))
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	for _, pid := range []int{a.Pid, b.Pid} {
		if !strings.Contains(r.stdout, "Process "+strconv.Itoa(pid)+":") {
			t.Errorf("no dump of pid %d:\n%s", pid, r.stdout)
		}
	}
	r = pyspyglass(t, "dump", "--json", "-p", strconv.Itoa(a.Pid)+","+strconv.Itoa(b.Pid))
	var docs []struct{ Pid int }
	if err := json.Unmarshal([]byte(r.stdout), &docs); err != nil || len(docs) != 2 || docs[0].Pid != a.Pid || docs[1].Pid != b.Pid {
		t.Errorf("dump --json of two pids: %v %+v\n%s", err, docs, r.stdout)
	}
}

// TestOutputNames: -o - writes to stdout (collapsed by default, or the
// --format given; py-spy's raw is collapsed), an unknown ending gets a
// flamegraph as --help says, and a format that contradicts the name is
// warned about.
func TestOutputNames(t *testing.T) {
	in := newest(t)
	in.Prepare(t)
	script := testutil.TestdataPath("exitcode.py")
	dir := t.TempDir()
	for _, c := range []struct {
		args    []string
		check   func(stdout string) bool
		warning string
	}{
		{[]string{"-o", "-"}, func(s string) bool { return strings.Contains(s, "short_work (") && !strings.Contains(s, "<svg") }, ""},
		{[]string{"-o", "-", "-f", "raw"}, func(s string) bool { return strings.Contains(s, ";short_work (") }, ""},
		{[]string{"-o", "-", "-f", "speedscope"}, func(s string) bool { return json.Valid([]byte(s)) && strings.Contains(s, "speedscope") }, ""},
		{[]string{"-o", filepath.Join(dir, "profile.out")}, nil, "writing a flamegraph"},
		{[]string{"-o", filepath.Join(dir, "x.svg"), "-f", "speedscope"}, nil, "warning: writing speedscope format to"},
	} {
		args := append(append(append([]string{"record"}, c.args...), "--"), in.Argv(script, "0", "300000")...)
		r := pyspyglass(t, args...)
		if r.code != 0 {
			t.Errorf("%v: exit %d\n%s", c.args, r.code, r.stderr)
			continue
		}
		if c.check != nil && !c.check(r.stdout) {
			t.Errorf("%v: stdout is not the profile:\n%.400s", c.args, r.stdout)
		}
		if c.warning != "" && !strings.Contains(r.stderr, c.warning) {
			t.Errorf("%v: stderr lacks %q:\n%s", c.args, c.warning, r.stderr)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "profile.out"))
	if err != nil || !strings.Contains(string(b), "<svg") {
		t.Errorf("profile.out is not a flamegraph: %v %.100s", err, b)
	}
}

// TestLowRateSummary: below 1 Hz the summary states the requested rate as
// given and the elapsed time as it was.
func TestLowRateSummary(t *testing.T) {
	in := newest(t)
	out := filepath.Join(t.TempDir(), "slow.txt")
	in.Prepare(t)
	r := pyspyglass(t, append([]string{"record", "--rate", "0.5", "-d", "2", "-o", out, "--"}, in.Argv(testutil.TestdataPath("cpu_split.py"), "600")...)...)
	m := regexp.MustCompile(`in ([0-9.]+)s \(([0-9.]+) Hz of ([0-9.]+) requested\)`).FindStringSubmatch(r.stderr)
	if r.code != 0 || m == nil {
		t.Fatalf("exit %d, no summary:\n%s", r.code, r.stderr)
	}
	elapsed, _ := strconv.ParseFloat(m[1], 64)
	achieved, _ := strconv.ParseFloat(m[2], 64)
	if m[3] != "0.5" || elapsed < 1.9 || achieved > 5 {
		t.Errorf("summary says %s Hz requested, %vs elapsed, %v Hz achieved; want 0.5, about 2s, a few Hz at most:\n%s", m[3], elapsed, achieved, r.stderr)
	}
}

// TestCallgrindFullFilenames: callgrind files name the sources by their
// full paths, so callgrind_annotate and KCachegrind find them.
func TestCallgrindFullFilenames(t *testing.T) {
	in := newest(t)
	out := filepath.Join(t.TempDir(), "callgrind.out.1")
	in.Prepare(t)
	r := pyspyglass(t, append([]string{"record", "-o", out, "--"}, in.Argv(testutil.TestdataPath("exitcode.py"), "0", "300000")...)...)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range regexp.MustCompile(`(?m)^c?fl=\(\d+\) (.*)$`).FindAllStringSubmatch(string(b), -1) {
		if strings.HasSuffix(m[1], "exitcode.py") {
			found = true
			if _, err := os.Stat(m[1]); !filepath.IsAbs(m[1]) || err != nil {
				t.Errorf("fl= %q is not a full path to the source: %v", m[1], err)
			}
		}
	}
	if !found {
		t.Errorf("no fl= for exitcode.py:\n%s", b)
	}
}

// TestThreadsMainThreadOneRoot: with --threads the main thread is one
// root frame, "MainThread", before threading is imported and after.
func TestThreadsMainThreadOneRoot(t *testing.T) {
	in := newest(t)
	in.Prepare(t)
	out := filepath.Join(t.TempDir(), "threads.txt")
	r := pyspyglass(t, append([]string{"record", "--threads", "-o", out, "--"}, in.Argv(testutil.TestdataPath("late_threading.py"), "2000000")...)...)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	roots := map[string]int{}
	for stack, n := range collapsedCounts(t, out) {
		if strings.Contains(stack, "work (") {
			roots[strings.SplitN(stack, ";", 2)[0]] += n
		}
	}
	before := testutil.Mark(t, "late_threading.py", "before-import")
	after := testutil.Mark(t, "late_threading.py", "after-import")
	if len(roots) != 1 {
		t.Fatalf("the main thread has %d roots, want 1: %v", len(roots), roots)
	}
	for root := range roots {
		if !strings.Contains(root, `"MainThread"`) {
			t.Errorf("main thread root %q, want MainThread", root)
		}
	}
	counts := collapsedCounts(t, out)
	if samplesWhere(counts, ":"+strconv.Itoa(before)+");work (") == 0 || samplesWhere(counts, ":"+strconv.Itoa(after)+");work (") == 0 {
		t.Errorf("want samples of work both before and after the import:\n%v", counts)
	}
}
