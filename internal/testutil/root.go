// Package testutil finds the Python interpreters on this machine, starts the
// scripts under testdata/ on them and tells tests which source lines to expect.
//
// It is used only by tests. It owns process start-up, readiness and clean-up
// for live tests; it does not attach to or read the targets (that is what the
// packages under test do).
package testutil

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// modulePath is the module whose root ModuleRoot looks for; checking it keeps
// a go.mod of some enclosing or unrelated module from being taken by mistake.
const modulePath = "github.com/pyspyglass/pyspyglass"

var moduleRoot = sync.OnceValue(findModuleRoot)

// ModuleRoot returns the directory holding the project's go.mod, found by
// walking up from the working directory (go test runs in the package
// directory) and, failing that, from this source file. It returns "" when
// neither leads to it.
func ModuleRoot() string { return moduleRoot() }

func findModuleRoot() string {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			if isModuleRoot(dir) {
				return dir
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return ""
}

func isModuleRoot(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`) == modulePath
		}
	}
	return false
}

// TestdataPath returns the absolute path of name (slash-separated) under the
// module's testdata directory.
func TestdataPath(name string) string {
	return filepath.Join(ModuleRoot(), "testdata", filepath.FromSlash(name))
}

// Mark returns the 1-based number of the line of testdata/<script> carrying
// the comment "# mark: <name>". The test fails if the mark is missing or
// appears more than once, so a test asserting a line cannot silently drift
// when a script is edited.
func Mark(t testing.TB, script, name string) int {
	t.Helper()
	src, err := os.ReadFile(TestdataPath(script))
	if err != nil {
		t.Fatalf("mark %q: %v", name, err)
	}
	line, err := FindMark(src, name)
	if err != nil {
		t.Fatalf("testdata/%s: %v", script, err)
	}
	return line
}

// FindMark returns the 1-based line of src carrying "# mark: <name>", where
// name is followed by whitespace or the end of the line, so "spin" does not
// match "# mark: spin-loop".
func FindMark(src []byte, name string) (int, error) {
	tag := "# mark: " + name
	found := 0
	for i, line := range strings.Split(string(src), "\n") {
		rest := line
		for {
			at := strings.Index(rest, tag)
			if at < 0 {
				break
			}
			rest = rest[at+len(tag):]
			if rest == "" || strings.ContainsAny(rest[:1], " \t\r") {
				if found != 0 {
					return 0, fmt.Errorf("mark %q on both line %d and line %d", name, found, i+1)
				}
				found = i + 1
				break
			}
		}
	}
	if found == 0 {
		return 0, fmt.Errorf("mark %q not found", name)
	}
	return found, nil
}
