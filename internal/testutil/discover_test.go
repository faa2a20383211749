package testutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRealPythonNames(t *testing.T) {
	for name, want := range map[string]bool{
		"python3.11":        true,
		"python2.7":         true,
		"python3.13t":       true,
		"python3.15d":       true,
		"python3":           false,
		"python3.11-config": false,
		"python3.11-dbg":    false,
		"python3-argcomplete-check-easy-install-script": false,
	} {
		if got := realPython.MatchString(name); got != want {
			t.Errorf("realPython(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestDedupeResolvesSymlinks(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "python3.12")
	other := filepath.Join(dir, "python3.11")
	for _, p := range []string{real, other} {
		if err := os.WriteFile(p, nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(dir, "python")
	if err := os.Symlink("python3.12", link); err != nil {
		t.Fatal(err)
	}
	got := dedupe([]candidate{{source: "pyenv", path: link}, {source: "pyenv", path: real}, {source: "debian", path: other}})
	if len(got) != 2 || got[0].path != real || got[0].source != "pyenv" || got[1].path != other {
		t.Errorf("dedupe = %+v, want %s (pyenv) and %s", got, real, other)
	}
}

// TestDiscoverFromEnv checks that PYSPYGLASS_PYTHONS replaces discovery, and
// that a path that does not run is reported rather than fatal.
func TestDiscoverFromEnv(t *testing.T) {
	interps := Interpreters(t)
	if len(interps) == 0 {
		t.Skip("no Python interpreter found on this machine")
	}
	want := interps[0]
	t.Setenv(EnvPythons, want.Path+", /nonexistent/python3.9")
	d := discover()
	if len(d.interps) != 1 {
		t.Fatalf("discover with %s: %d interpreters, want 1:\n%s", EnvPythons, len(d.interps), d.summary)
	}
	got := d.interps[0]
	if got.Version != want.Version || got.Path != want.Path || got.Name != "env-"+want.Version {
		t.Errorf("discover with %s = %+v, want %s at %s named env-%s", EnvPythons, got, want.Version, want.Path, want.Version)
	}
	if len(d.problems) != 1 || !strings.Contains(d.problems[0], "/nonexistent/python3.9") {
		t.Errorf("problems = %q, want one naming /nonexistent/python3.9", d.problems)
	}
	if !strings.Contains(d.summary, "unusable: /nonexistent/python3.9") {
		t.Errorf("summary does not name the unusable path:\n%s", d.summary)
	}
}
