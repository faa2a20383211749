package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func TestFindMark(t *testing.T) {
	src := "a = 1\nspin()  # mark: spin\nwhile True: x = 1  # mark: spin-loop\n# mark: dup\n# mark: dup\n# mark: end"
	tests := []struct {
		name    string
		mark    string
		want    int
		wantErr string
	}{
		{name: "plain", mark: "spin", want: 2},
		{name: "prefix of another mark is not a match", mark: "spin-loop", want: 3},
		{name: "at end of file without newline", mark: "end", want: 6},
		{name: "missing", mark: "nope", wantErr: "not found"},
		{name: "duplicated", mark: "dup", wantErr: "both line 4 and line 5"},
		{name: "partial name", mark: "spi", wantErr: "not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FindMark([]byte(src), tc.mark)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("FindMark(%q) = %d, %v; want error containing %q", tc.mark, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("FindMark(%q) = %d, %v; want %d", tc.mark, got, err, tc.want)
			}
		})
	}
}

// TestMarksUnique checks every mark in every script resolves to exactly one
// line, so Mark cannot fail at a distance because of a copy-paste.
func TestMarksUnique(t *testing.T) {
	markRe := regexp.MustCompile(`# mark: (\S+)`)
	scripts := allScripts(t)
	for _, s := range scripts {
		src, err := os.ReadFile(TestdataPath(s))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range markRe.FindAllSubmatch(src, -1) {
			if _, err := FindMark(src, string(m[1])); err != nil {
				t.Errorf("%s: %v", s, err)
			}
		}
	}
	if got := Mark(t, "sleepers.py", "spin-loop"); got <= 1 {
		t.Errorf("Mark(sleepers.py, spin-loop) = %d", got)
	}
}

func TestModuleRoot(t *testing.T) {
	root := ModuleRoot()
	if root == "" {
		t.Fatal("ModuleRoot() = \"\"")
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(TestdataPath("sleepers.py")); err != nil {
		t.Fatal(err)
	}
}

func TestSummary(t *testing.T) {
	interps := []Interpreter{
		{Name: "pyenv-2.7.18", Path: "/p/2.7", Version: "2.7.18", Major: 2, Minor: 7},
		{Name: "debian-3.11.2", Path: "/usr/bin/python3.11", Version: "3.11.2", Major: 3, Minor: 11},
		{Name: "pyenv-3.11.7", Path: "/p/3.11", Version: "3.11.7", Major: 3, Minor: 11},
		{Name: "pyenv-3.13.0t", Path: "/p/3.13t", Version: "3.13.0", Major: 3, Minor: 13, FreeThreaded: true},
		{Name: "pyenv-3.5.10", Path: "/p/3.5", Version: "3.5.10", Major: 3, Minor: 5},
	}
	got := Summary(interps, []string{"/bad/python3.9: probe: exit status 1"})
	for _, want := range []string{
		"5 found",
		"2.7   pyenv-2.7.18 (/p/2.7)",
		"3.11  debian-3.11.2 (/usr/bin/python3.11), pyenv-3.11.7 (/p/3.11)",
		"3.13t pyenv-3.13.0t (/p/3.13t)",
		"3.5   pyenv-3.5.10 (/p/3.5), not an expected version",
		"skipped 3.6, 3.7, 3.8, 3.9, 3.10, 3.12, 3.13, 3.14, 3.15, 3.14t: no interpreter on this machine",
		"unusable: /bad/python3.9: probe: exit status 1",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
}

func TestQualName(t *testing.T) {
	if got := (Interpreter{Major: 3, Minor: 10}).QualName("Holder", "method"); got != "method" {
		t.Errorf("3.10: %q, want method", got)
	}
	if got := (Interpreter{Major: 3, Minor: 11}).QualName("Holder", "method"); got != "Holder.method" {
		t.Errorf("3.11: %q, want Holder.method", got)
	}
}

func TestSelect(t *testing.T) {
	interps := []Interpreter{
		{Name: "a", Major: 2, Minor: 7}, {Name: "b", Major: 3, Minor: 10},
		{Name: "c", Major: 3, Minor: 11}, {Name: "d", Major: 3, Minor: 14},
	}
	var names []string
	for _, in := range Select(t, interps, "3.11") {
		names = append(names, in.Name)
	}
	if got := strings.Join(names, ","); got != "c,d" {
		t.Errorf("Select(3.11) = %s, want c,d", got)
	}
}

func TestInterpreters(t *testing.T) {
	interps := Interpreters(t)
	if len(interps) == 0 {
		t.Skip("no Python interpreter found on this machine")
	}
	seen := map[string]bool{}
	for _, in := range interps {
		key := in.where()
		if seen[key] {
			t.Errorf("%s listed twice", key)
		}
		seen[key] = true
		suffix := "-" + in.Version
		if in.FreeThreaded {
			suffix += "t"
		}
		if in.Debug {
			suffix += "d"
		}
		if !strings.HasSuffix(in.Name, suffix) {
			t.Errorf("name %q does not end in version %q", in.Name, in.Version)
		}
		if !strings.HasPrefix(in.Version, strconv.Itoa(in.Major)+"."+strconv.Itoa(in.Minor)+".") {
			t.Errorf("%s: version %q disagrees with %d.%d", in.Name, in.Version, in.Major, in.Minor)
		}
	}
}

func TestSpawn(t *testing.T) {
	interps := Interpreters(t)
	if len(interps) == 0 {
		t.Skip("no Python interpreter found on this machine")
	}
	in := interps[len(interps)-1]
	tg := Spawn(t, in, "sleepers.py")
	if got := len(tg.Fields()); got != 3 {
		t.Errorf("ready %q: %d fields, want 3", tg.Ready, got)
	}
	for _, k := range []string{"main", "busy-worker", "idle-worker"} {
		if tid, err := strconv.Atoi(tg.Field(k)); err != nil || tid <= 0 {
			t.Errorf("%s: ready %q: field %s = %q, want a thread id", in.Name, tg.Ready, k, tg.Field(k))
		} else if _, err := os.Stat("/proc/" + strconv.Itoa(tg.Pid) + "/task/" + strconv.Itoa(tid)); err != nil {
			t.Errorf("%s: thread %s: %v", in.Name, k, err)
		}
	}
	select {
	case <-tg.Exited():
		t.Fatalf("%s: exited while parked\n%s", in.Name, tg.output())
	default:
	}
	if err := tg.Kill(); err != nil {
		t.Fatal(err)
	}
	if st := tg.Wait(t); st.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("after Kill: %v, want killed", st)
	}
}

func TestSpawnCmd(t *testing.T) {
	tg := SpawnCmd(t, "sleep", "60")
	if tg.Pid <= 0 {
		t.Fatalf("pid %d", tg.Pid)
	}
	if err := tg.Kill(); err != nil {
		t.Fatal(err)
	}
	if code := tg.ExitCode(t); code != -1 {
		t.Errorf("exit code %d, want -1 (killed)", code)
	}
}

// fakeTB records failures instead of failing, so tests can check what Spawn
// reports when a child misbehaves. Fatal ends the calling goroutine, as the
// real one does.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex
	fatal    string
	cleanups []func()
}

func (f *fakeTB) Helper()                           {}
func (f *fakeTB) Logf(format string, args ...any)   {}
func (f *fakeTB) Errorf(format string, args ...any) { f.Fatalf(format, args...) }
func (f *fakeTB) Cleanup(fn func())                 { f.mu.Lock(); f.cleanups = append(f.cleanups, fn); f.mu.Unlock() }
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func runFake(fn func(tb *fakeTB)) *fakeTB {
	f := &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	return f
}

func TestWaitReadyReportsEarlyExit(t *testing.T) {
	interps := Interpreters(t)
	if len(interps) == 0 {
		t.Skip("no Python interpreter found on this machine")
	}
	f := runFake(func(tb *fakeTB) {
		tg := SpawnCmd(tb, interps[0].Path, "-c", "import sys; sys.stdout.write('hello\\n'); sys.stderr.write('boom\\n'); sys.exit(4)")
		tg.WaitReady(tb)
	})
	for _, want := range []string{"before printing ready", "exit status 4", "hello", "boom"} {
		if !strings.Contains(f.fatal, want) {
			t.Errorf("failure message lacks %q:\n%s", want, f.fatal)
		}
	}
}

func TestExitCode(t *testing.T) {
	ForEach(t, Interpreters(t), func(t *testing.T, in Interpreter) {
		in.Prepare(t)
		tg := SpawnCmd(t, in.Argv(TestdataPath("exitcode.py"), "7", "1000")...)
		if code := tg.ExitCode(t); code != 7 {
			t.Errorf("exit code %d, want 7\n%s", code, tg.output())
		}
	})
}

// scriptCase is how TestScriptsReady runs one script.
type scriptCase struct {
	script string
	args   []string
	py3    bool                           // Python 3 only
	check  func(t *testing.T, tg *Target) // extra checks after ready
}

var scriptCases = []scriptCase{
	{script: "sleepers.py", check: wantFields("main", "busy-worker", "idle-worker")},
	{script: "deep.py", check: wantFields("depth", "main")},
	{script: "deep.py", args: []string{"1200"}, check: wantFields("depth", "main")},
	{script: "unicode_names.py", py3: true, check: wantFields("main")},
	{script: "cpu_split.py", check: wantFields("main")},
	{script: "forker.py", check: wantFields("child1", "child2")},
	{script: "threads_many.py", args: []string{"20"}, check: wantFields("threads", "main")},
	{script: "idle.py"},
	{script: "stack30.py", check: wantFields("main")},
}

func wantFields(keys ...string) func(t *testing.T, tg *Target) {
	return func(t *testing.T, tg *Target) {
		for _, k := range keys {
			if v, err := strconv.Atoi(tg.Field(k)); err != nil || v <= 0 {
				t.Errorf("ready %q: field %s = %q, want a positive number", tg.Ready, k, tg.Field(k))
			}
		}
	}
}

// TestScriptsReady starts every script on every interpreter, waits for its
// readiness line, and kills it, so a script that breaks on one version fails
// here rather than as a confusing timeout in another package.
func TestScriptsReady(t *testing.T) {
	ForEach(t, Interpreters(t), func(t *testing.T, in Interpreter) {
		for _, sc := range scriptCases {
			name := strings.TrimSuffix(sc.script, ".py")
			if len(sc.args) > 0 {
				name += "-" + strings.Join(sc.args, "-")
			}
			t.Run(name, func(t *testing.T) {
				if sc.py3 && in.Major < 3 {
					t.Skipf("%s is Python 3 only", sc.script)
				}
				tg := Spawn(t, in, sc.script, sc.args...)
				if sc.check != nil {
					sc.check(t, tg)
				}
			})
		}
	})
}

func TestCPUSplitExits(t *testing.T) {
	interps := Interpreters(t)
	if len(interps) == 0 {
		t.Skip("no Python interpreter found on this machine")
	}
	tg := Spawn(t, interps[0], "cpu_split.py", "0.2")
	if code := tg.ExitCode(t); code != 0 {
		t.Errorf("exit code %d, want 0\n%s", code, tg.output())
	}
}

func allScripts(t *testing.T) []string {
	var out []string
	err := filepath.WalkDir(TestdataPath(""), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".py") {
			rel, _ := filepath.Rel(TestdataPath(""), path)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
