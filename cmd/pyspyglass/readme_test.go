package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pyspyglass/pyspyglass/internal/testutil"
)

// TestReadmeListsEveryFlag: the README's record options table has exactly
// the flags of `record --help`, and every flag of the other commands'
// help is named in the README.
func TestReadmeListsEveryFlag(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testutil.ModuleRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	flagRE := regexp.MustCompile(`--[a-z][a-z-]+`)
	helpFlags := func(cmd string) []string {
		r := pyspyglass(t, cmd, "--help")
		var out []string
		for _, l := range strings.Split(r.stderr+r.stdout, "\n") {
			if f := strings.Fields(l); len(f) > 0 && strings.HasPrefix(strings.TrimSpace(l), "-") {
				for _, w := range f[:min(2, len(f))] {
					if m := flagRE.FindString(w); m != "" && m != "--help" {
						out = append(out, m)
					}
				}
			}
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	// tableFlags are the flags in the first column of a text's tables.
	tableFlags := func(text string) []string {
		var out []string
		for _, l := range strings.Split(text, "\n") {
			if strings.HasPrefix(l, "| `") {
				first := strings.SplitN(l[1:], "|", 2)[0]
				out = append(out, flagRE.FindAllString(first, -1)...)
			}
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	// The record section's options table lists only record's flags, and
	// every flag of record is in a table (the upload flags have their own,
	// under Continuous profiling).
	section := readme[strings.Index(readme, "### `record`"):]
	if i := strings.Index(section[1:], "\n### "); i > 0 {
		section = section[:i+1]
	}
	help := helpFlags("record")
	for _, f := range tableFlags(section) {
		if !slices.Contains(help, f) {
			t.Errorf("README's record table has %s, record --help does not", f)
		}
	}
	all := tableFlags(readme)
	for _, f := range help {
		if !slices.Contains(all, f) {
			t.Errorf("record --help has %s, no README table lists it", f)
		}
	}
	for _, cmd := range []string{"top", "dump", "render"} {
		for _, f := range helpFlags(cmd) {
			if !regexp.MustCompile(regexp.QuoteMeta(f) + `([^a-z-]|$)`).MatchString(readme) {
				t.Errorf("%s --help has %s, the README does not name it", cmd, f)
			}
		}
	}
}

// TestMakefileFindsGo: make's targets work when go is not on PATH (where
// .ci/setup leaves it), and make test prints which interpreters are skipped.
func TestMakefileFindsGo(t *testing.T) {
	mk, err := exec.LookPath("make")
	if err != nil {
		t.Skip("make not installed")
	}
	if _, err := os.Stat("/usr/local/go/bin/go"); err != nil {
		t.Skip("no Go at /usr/local/go/bin")
	}
	cmd := exec.Command(mk, "-n", "-C", testutil.ModuleRoot(), "test")
	cmd.Env = append(os.Environ(), "PATH=/usr/bin:/bin")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n test: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "/usr/local/go/bin/go test") || !strings.Contains(string(out), "internal/testutil/pythons") {
		t.Errorf("make test does not use Go from /usr/local/go/bin or does not list the interpreters:\n%s", out)
	}
}
