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
	var table []string
	for _, l := range strings.Split(readme, "\n") {
		if strings.HasPrefix(l, "| `") {
			first := strings.SplitN(l[1:], "|", 2)[0]
			table = append(table, flagRE.FindAllString(first, -1)...)
		}
	}
	slices.Sort(table)
	table = slices.Compact(table)
	if got := helpFlags("record"); !slices.Equal(got, table) {
		t.Errorf("README's record table lists %v\nrecord --help lists %v", table, got)
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
