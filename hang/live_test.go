package hang

import (
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/internal/testutil"
	"github.com/pyspyglass/pyspyglass/procmem"
	"github.com/pyspyglass/pyspyglass/sampler"
)

// expect is what one thread of testdata/hang.py must show.
type expect struct {
	os      procmem.WaitKind
	op      string // "" when no Python-level wait is expected
	typ     string
	name    string // the name the waiting frame uses
	scope   string
	holders []string
	// inferred: the holders come from `with` frames, not the object.
	inferred bool
}

// expectations are hang.py's threads; py2 names 2.7's classes.
func expectations(py2, deadlock bool) map[string]expect {
	cls := func(py3, py27 string) string {
		if py2 {
			return py27
		}
		return py3
	}
	e := map[string]expect{
		"rlock-holder": {os: procmem.WaitFutex, op: "wait", typ: cls("threading.Event", "threading._Event"), name: "never", scope: "global"},
		"rlock-waiter": {os: procmem.WaitFutex, op: "acquire", typ: cls("RLock", "threading._RLock"), name: "rlock", scope: "global",
			holders: []string{"rlock-holder"}},
		"cond-waiter":  {os: procmem.WaitFutex, op: "wait", typ: cls("threading.Condition", "threading._Condition"), name: "cond", scope: "global"},
		"queue-getter": {os: procmem.WaitFutex, op: "get", typ: cls("queue.Queue", "Queue.Queue"), name: "jobs", scope: "global"},
		"receiver":     {os: procmem.WaitIO},
		"child-waiter": {os: procmem.WaitChild},
		"sleeper":      {os: procmem.WaitSleep},
		"MainThread": {os: procmem.WaitFutex, op: "join", typ: "threading.Thread", name: "joined", scope: "local",
			holders: []string{"rlock-holder"}},
	}
	if deadlock {
		e["worker-1"] = expect{os: procmem.WaitFutex, op: "acquire", typ: "Lock", name: "lock_b", scope: "global",
			holders: []string{"worker-2"}, inferred: true}
		e["worker-2"] = expect{os: procmem.WaitFutex, op: "acquire", typ: "Lock", name: "lock_a", scope: "global",
			holders: []string{"worker-1"}, inferred: true}
		main := e["MainThread"]
		main.holders = []string{"worker-1"}
		e["MainThread"] = main
	}
	return e
}

func TestDumpLive(t *testing.T) {
	testutil.ForEach(t, testutil.Interpreters(t), func(t *testing.T, in testutil.Interpreter) {
		queue := "queue"
		if in.Major == 2 {
			queue = "Queue"
		}
		testutil.RequireModules(t, in, "socket", "subprocess", queue)
		for _, deadlock := range []bool{false, true} {
			name := "no deadlock"
			var args []string
			if deadlock {
				name, args = "deadlock", []string{"deadlock"}
			}
			t.Run(name, func(t *testing.T) {
				tg := testutil.Spawn(t, in, "hang.py", args...)
				var clientPort, childPid int
				if _, err := fmt.Sscan(tg.Ready, &clientPort, &childPid); err != nil {
					t.Fatalf("readiness payload %q: %v", tg.Ready, err)
				}
				target, err := sampler.Open(tg.Pid, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer target.Close()
				pyLevel := true
				if _, err := target.Interp.NewInspector(); err != nil {
					pyLevel = false
					t.Logf("%s: Python-level waits and holders skipped: %v", in.Name, err)
				}
				want := expectations(in.Major == 2, deadlock)
				d := settle(t, target, func(d *Dump) []string {
					return problems(t, d, want, pyLevel, deadlock, clientPort, childPid)
				})
				if t.Failed() {
					var b strings.Builder
					WriteText(&b, []*Dump{d})
					t.Log("last dump:\n" + b.String())
				}
			})
		}
	})
}

// settle takes dumps until check finds nothing wrong or a deadline
// passes: the readiness line comes just before the threads block, so the
// first dump may catch some on their way. The deadline only bounds a
// failure.
func settle(t *testing.T, target *sampler.Target, check func(*Dump) []string) *Dump {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		d, err := Take(target, Options{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		probs := check(d)
		if len(probs) == 0 {
			return d
		}
		if time.Now().After(deadline) {
			for _, p := range probs {
				t.Error(p)
			}
			return d
		}
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond) // a poll interval, not a synchronisation
	}
}

func problems(t *testing.T, d *Dump, want map[string]expect, pyLevel, deadlock bool, clientPort, childPid int) []string {
	var out []string
	seen := map[string]bool{}
	for _, th := range d.Threads {
		e, ok := want[th.Name]
		if !ok {
			continue
		}
		seen[th.Name] = true
		if th.OSWait == nil || th.OSWait.Kind != string(e.os) {
			out = append(out, fmt.Sprintf("%s: OS wait %+v, want kind %s", th.Name, th.OSWait, e.os))
			continue
		}
		switch th.Name {
		case "receiver":
			if ow := th.OSWait; !strings.HasPrefix(ow.Syscall, "recv") || !strings.HasPrefix(ow.Target, "tcp 127.0.0.1:") ||
				!strings.HasSuffix(ow.Target, fmt.Sprintf(" -> 127.0.0.1:%d", clientPort)) {
				out = append(out, fmt.Sprintf("receiver: %s on %q, want a recv on tcp to port %d", ow.Syscall, ow.Target, clientPort))
			}
		case "child-waiter":
			if th.OSWait.Child != childPid {
				out = append(out, fmt.Sprintf("child-waiter: waits for %d, want child %d", th.OSWait.Child, childPid))
			}
		}
		if len(th.Frames) == 0 {
			out = append(out, th.Name+": no frames")
			continue
		}
		if !pyLevel || e.op == "" {
			if th.Wait != nil && e.op == "" {
				out = append(out, fmt.Sprintf("%s: Python wait %+v, want none", th.Name, *th.Wait))
			}
			continue
		}
		w := th.Wait
		if w == nil {
			out = append(out, th.Name+": no Python-level wait found")
			continue
		}
		line := testutil.Mark(t, "hang.py", th.Name)
		var holders []string
		inferred := false
		for _, h := range w.Holders {
			holders = append(holders, h.Name)
			inferred = inferred || h.Inferred
		}
		if w.Op != e.op || w.Type != e.typ || w.Name != e.name || w.Scope != e.scope ||
			filepath.Base(w.File) != "hang.py" || w.Line != line ||
			!slices.Equal(holders, e.holders) || inferred != e.inferred {
			out = append(out, fmt.Sprintf("%s: wait %s %s %s (%s) at %s:%d held by %v inferred %v;\n  want %s %s %s (%s) at hang.py:%d held by %v inferred %v",
				th.Name, w.Op, w.Type, w.Name, w.Scope, filepath.Base(w.File), w.Line, holders, inferred,
				e.op, e.typ, e.name, e.scope, line, e.holders, e.inferred))
		}
	}
	for name := range want {
		if !seen[name] {
			out = append(out, "no thread named "+name)
		}
	}
	if !pyLevel {
		return out
	}
	wantCycle := 0
	if deadlock {
		wantCycle = 2
	}
	if len(d.Deadlock) != wantCycle {
		out = append(out, fmt.Sprintf("deadlock verdict %+v, want a cycle of %d", d.Deadlock, wantCycle))
	}
	for _, e := range d.Deadlock {
		if want := map[string]string{"worker-1": "lock_b", "worker-2": "lock_a"}[e.Thread]; e.Object != want ||
			e.Line != testutil.Mark(t, "hang.py", e.Thread) {
			out = append(out, fmt.Sprintf("deadlock edge %+v, want %s waiting for %s", e, e.Thread, want))
		}
	}
	return out
}
