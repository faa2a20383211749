package sampler

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/internal/testutil"
	"github.com/pyspyglass/pyspyglass/pyabi"
)

// want is one expected frame, innermost first; line comes from a mark.
type want struct {
	name, file, mark string
}

// payload parses "key=value key=value" readiness payloads.
func payload(t *testing.T, s string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, f := range strings.Fields(s) {
		var v int
		k, val, ok := strings.Cut(f, "=")
		if _, err := fmt.Sscan(val, &v); !ok || err != nil {
			t.Fatalf("bad readiness field %q in %q", f, s)
		}
		out[k] = v
	}
	return out
}

// frameProblems compares a stack, innermost first, with wants.
func frameProblems(t *testing.T, got []pyabi.Frame, wants []want) []string {
	t.Helper()
	if len(got) < len(wants) {
		return []string{fmt.Sprintf("%d frames, want at least %d: %s", len(got), len(wants), format(got))}
	}
	var out []string
	for i, w := range wants {
		f := got[i]
		line := testutil.Mark(t, w.file, w.mark)
		if f.Code.Name != w.name || filepath.Base(f.Code.File) != filepath.Base(w.file) || f.Line != line {
			out = append(out, fmt.Sprintf("frame %d: got %s (%s:%d), want %s (%s:%d)\nstack: %s", i, f.Code.Name, f.Code.File, f.Line,
				w.name, w.file, line, format(got)))
		}
	}
	return out
}

// settled takes snapshots until check finds nothing wrong or the deadline
// passes, then reports what the last one got wrong. The readiness line is
// printed just before the threads park, so the first snapshot may still see
// them on their way; the deadline only bounds a failure.
func settled(t *testing.T, tg *Target, check func([]ThreadStack) []string) []ThreadStack {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		threads, err := tg.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		problems := check(threads)
		if len(problems) == 0 {
			return threads
		}
		if time.Now().After(deadline) {
			for _, p := range problems {
				t.Error(p)
			}
			return threads
		}
		runtime.Gosched()
	}
}

func format(fs []pyabi.Frame) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "\n  %s (%s:%d)", f.Code.Name, f.Code.File, f.Line)
	}
	return b.String()
}

func open(t *testing.T, pid int) *Target {
	t.Helper()
	tg, err := Open(pid, nil)
	if err != nil {
		t.Fatalf("open pid %d: %v", pid, err)
	}
	t.Cleanup(func() { tg.Close() })
	return tg
}

// TestSnapshotSleepers reads three threads in known states on every
// interpreter found and checks names, files, lines, order, GIL and idle.
func TestSnapshotSleepers(t *testing.T) {
	testutil.ForEach(t, testutil.Interpreters(t), func(t *testing.T, in testutil.Interpreter) {
		proc := testutil.Spawn(t, in, "sleepers.py")
		threads := checkSleepers(t, in, proc, open(t, proc.Pid))
		byName := map[string]ThreadStack{}
		for _, th := range threads {
			byName[th.Name] = th
		}
		// Below our frames each worker runs threading's bootstrap.
		if w := byName["busy-worker"]; len(w.Frames) > 2 && !strings.HasSuffix(w.Frames[2].Code.Name, "run") {
			t.Errorf("busy-worker frame 2 is %s, want threading's run", w.Frames[2].Code.Name)
		}
	})
}

// checkSleepers snapshots a process running sleepers.py until every thread
// shows its known stack, and fails with what is wrong if that never comes.
func checkSleepers(t *testing.T, in testutil.Interpreter, proc *testutil.Target, tg *Target) []ThreadStack {
	t.Helper()
	if got := tg.Interp.Version.String(); got != in.VersionName() {
		t.Errorf("version %s, want %s", got, in.VersionName())
	}
	tids := payload(t, proc.Ready)
	const s = "sleepers.py"
	cases := []struct {
		name, key string
		idle      bool
		frames    []want
	}{
		{"MainThread", "main", true, []want{{"inner", s, "inner-sleep"}, {"outer", s, "outer-call-inner"},
			{"main", s, "main-call-outer"}, {"<module>", s, "module-call-main"}}},
		{"busy-worker", "busy-worker", false, []want{{"spin", s, "spin-loop"}, {"worker", s, "worker-call-spin"}}},
		{"idle-worker", "idle-worker", true, []want{{in.QualName("Holder", "method"), s, "holder-sleep"},
			{"idle_wait", s, "idle-call-method"}}},
	}
	return settled(t, tg, func(threads []ThreadStack) (bad []string) {
		if len(threads) != len(cases) {
			return []string{fmt.Sprintf("%d threads, want %d: %v", len(threads), len(cases), names(threads))}
		}
		byName := map[string]ThreadStack{}
		for _, th := range threads {
			byName[th.Name] = th
		}
		for _, c := range cases {
			th, ok := byName[c.name]
			switch {
			case !ok:
				bad = append(bad, fmt.Sprintf("no thread named %q among %v", c.name, names(threads)))
				continue
			case th.NativeID != tids[c.key]:
				bad = append(bad, fmt.Sprintf("%s: native id %d, want %d", c.name, th.NativeID, tids[c.key]))
			case th.Idle != c.idle:
				bad = append(bad, fmt.Sprintf("%s: idle %v (os state %c), want %v", c.name, th.Idle, th.OSState, c.idle))
			case th.HasGIL && c.idle:
				bad = append(bad, fmt.Sprintf("%s: parked in sleep but reported holding the GIL", c.name))
			case th.Err != nil:
				bad = append(bad, fmt.Sprintf("%s: %v", c.name, th.Err))
			}
			bad = append(bad, frameProblems(t, th.Frames, c.frames)...)
		}
		return bad
	})
}

func names(ts []ThreadStack) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

// TestSnapshotDeep reads a 250-deep recursion whole and in order.
func TestSnapshotDeep(t *testing.T) {
	testutil.ForEach(t, testutil.Interpreters(t), func(t *testing.T, in testutil.Interpreter) {
		const depth = 250
		proc := testutil.Spawn(t, in, "deep.py", fmt.Sprint(depth))
		const s = "deep.py"
		wants := []want{{"recurse", s, "deep-sleep"}}
		for range depth - 1 {
			wants = append(wants, want{"recurse", s, "deep-recurse"})
		}
		wants = append(wants, want{"main", s, "main-call-recurse"}, want{"<module>", s, "module-call-main"})
		settled(t, open(t, proc.Pid), func(threads []ThreadStack) []string {
			if len(threads) != 1 {
				return []string{fmt.Sprintf("%d threads, want 1", len(threads))}
			}
			if got := len(threads[0].Frames); got != depth+2 {
				return []string{fmt.Sprintf("%d frames, want %d: %s", got, depth+2, format(threads[0].Frames[:min(3, got)]))}
			}
			return frameProblems(t, threads[0].Frames, wants)
		})
	})
}

// TestSnapshotUnicode reads non-ASCII function, class and file names.
func TestSnapshotUnicode(t *testing.T) {
	testutil.ForEach(t, testutil.Select(t, testutil.Interpreters(t), "3.6"), func(t *testing.T, in testutil.Interpreter) {
		proc := testutil.Spawn(t, in, "unicode_names.py")
		const s, m = "unicode_names.py", "ünïcödé/naïve_mödule.py"
		wants := []want{{"dormir_ñ", m, "módulo-sleep"}, {in.QualName("Ünïcode", "método"), s, "método-call-dormir"},
			{"función_ñ", s, "función-call-método"}, {"<module>", s, "module-call-función"}}
		settled(t, open(t, proc.Pid), func(threads []ThreadStack) []string {
			return frameProblems(t, threads[0].Frames, wants)
		})
	})
}

// TestTornStacks reads a thread that switches between a generator and its
// caller all the time: a stack cut short (not reaching <module>) must be
// detected and retried, never returned.
func TestTornStacks(t *testing.T) {
	testutil.ForEach(t, testutil.Select(t, testutil.Interpreters(t), "3.6"), func(t *testing.T, in testutil.Interpreter) {
		proc := testutil.Spawn(t, in, "generators.py")
		tg := open(t, proc.Pid)
		if err := tg.Refresh(); err != nil {
			t.Fatal(err)
		}
		const reads = 400
		var cut, failed, inGen int
		var frames []pyabi.Frame
		for range reads {
			time.Sleep(500 * time.Microsecond) // a 2 kHz sampler, not synchronisation
			th := tg.threads[0]
			var err error
			frames, err = tg.Interp.Stack(&th, frames[:0])
			if err != nil {
				failed++
				continue
			}
			if frames[len(frames)-1].Code.Name != "<module>" {
				cut++
			}
			if strings.Contains(frames[0].Code.Name, "genexpr") {
				inGen++
			}
		}
		t.Logf("%d reads: %d cut short, %d failed, %d in the generator", reads, cut, failed, inGen)
		if inGen < reads/10 {
			t.Fatalf("only %d of %d reads in the generator: the workload is not running", inGen, reads)
		}
		// 3.11+ marks every torn stack; before, a generator frame that has
		// already finished looks like a thread's bottom, so a few slip by.
		allowed := 0
		if !in.AtLeast(3, 11) {
			allowed = reads / 20
		}
		if cut > allowed {
			t.Errorf("%d of %d stacks cut short, at most %d allowed", cut, reads, allowed)
		}
		if failed > reads/10 {
			t.Errorf("%d of %d reads failed", failed, reads)
		}
	})
}
