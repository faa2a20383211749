package hang

import (
	"strings"
	"testing"
)

func thread(id int, name string, w *Wait) Thread {
	return Thread{ThreadID: uint64(id), NativeID: id, Name: name, Wait: w, Idle: true, Frames: []Frame{{Name: "f", File: "/app/app.py", Line: id}},
		OSWait: &OSWait{Kind: "futex", Text: "futex wait"}}
}

func lockWait(name string, line int, holders ...Thread) *Wait {
	w := &Wait{Type: "Lock", Op: "acquire", Object: "0x10", Name: name, Scope: "global", File: "/app/app.py", Line: line}
	for _, h := range holders {
		w.Holders = append(w.Holders, Holder{NativeID: h.NativeID, ThreadID: h.ThreadID, Name: h.Name, Inferred: true})
	}
	return w
}

func TestFindDeadlock(t *testing.T) {
	a, b, c := thread(1, "a", nil), thread(2, "b", nil), thread(3, "c", nil)
	t.Run("cycle of two", func(t *testing.T) {
		a.Wait, b.Wait = lockWait("lock_b", 13, b), lockWait("lock_a", 19, a)
		d := &Dump{Threads: []Thread{c, a, b}}
		got := findDeadlock(d)
		if len(got) != 2 || got[0].Thread != "a" || got[0].Holder != "b" || got[0].Object != "lock_b" || got[0].Line != 13 ||
			got[1].Thread != "b" || got[1].Holder != "a" {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("chain without cycle", func(t *testing.T) {
		a.Wait, b.Wait = lockWait("lock_b", 13, b), lockWait("lock_c", 19, c)
		if got := findDeadlock(&Dump{Threads: []Thread{a, b, c}}); len(got) != 0 {
			t.Errorf("got %+v, want no deadlock", got)
		}
	})
	t.Run("waiting on itself is not a cycle between threads", func(t *testing.T) {
		a.Wait = lockWait("lock_a", 13, a)
		if got := findDeadlock(&Dump{Threads: []Thread{a}}); len(got) != 0 {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("cycle of three behind a waiter", func(t *testing.T) {
		w := thread(4, "w", lockWait("x", 1, a))
		a.Wait, b.Wait, c.Wait = lockWait("lb", 2, b), lockWait("lc", 3, c), lockWait("la", 4, a)
		got := findDeadlock(&Dump{Threads: []Thread{w, a, b, c}})
		if len(got) != 3 || got[0].Thread != "a" || got[2].Holder != "a" {
			t.Errorf("got %+v", got)
		}
	})
}

func TestWriteText(t *testing.T) {
	a, b := thread(1, "worker-1", nil), thread(2, "worker-2", nil)
	a.Wait, b.Wait = lockWait("lock_b", 13, b), lockWait("lock_a", 19, a)
	b.Frames[0].Locals = []Var{{Name: "n", Repr: "10", Arg: true}, {Name: "items", Repr: "[1, 2]"}}
	gilWaiter := thread(4, "spinner", nil)
	gilWaiter.WaitsGIL = true
	recv := thread(3, "receiver", nil)
	recv.OSWait = &OSWait{Kind: "io", Text: "recvfrom on fd 5: tcp 127.0.0.1:40000 -> 127.0.0.1:51234 (CLOSE_WAIT)"}
	d := &Dump{Pid: 7, Cmdline: []string{"python", "app.py"}, Version: "3.12.1", Threads: []Thread{a, b, recv, gilWaiter}}
	d.Deadlock = findDeadlock(d)
	var out strings.Builder
	if err := WriteText(&out, []*Dump{d}); err != nil {
		t.Fatal(err)
	}
	want := `Process 7: python app.py
Python v3.12.1
DEADLOCK: "worker-1" waits for lock_b (held by "worker-2") at app.py:13;
          "worker-2" waits for lock_a (held by "worker-1") at app.py:19

Thread 1 (idle, futex wait): "worker-1"
    waits to acquire lock_b (Lock 0x10), held by "worker-2" (inferred)
    f (/app/app.py:1)

Thread 2 (idle, futex wait): "worker-2"
    waits to acquire lock_a (Lock 0x10), held by "worker-1" (inferred)
    f (/app/app.py:2)
        Arguments:
            n = 10
        Locals:
            items = [1, 2]

Thread 3 (idle): "receiver"
    in recvfrom on fd 5: tcp 127.0.0.1:40000 -> 127.0.0.1:51234 (CLOSE_WAIT)
    f (/app/app.py:3)

Thread 4 (waiting for the GIL): "spinner"
    f (/app/app.py:4)
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if len(line) > width {
			t.Errorf("line longer than %d columns: %q", width, line)
		}
	}
}
