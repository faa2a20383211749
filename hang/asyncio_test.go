package hang

import (
	"strings"
	"testing"

	"github.com/pyspyglass/pyspyglass/pyabi"
)

// TestAsyncioText writes a task tree where one task is awaited by two
// others and two tasks await each other: the shared task in full once,
// the cycle named and drawn once round.
func TestAsyncioText(t *testing.T) {
	code := func(name string) *pyabi.Code { return &pyabi.Code{Name: name, File: "app.py"} }
	tasks := []pyabi.AsyncTask{
		{Addr: 0x10, Name: "a", State: "waiting", ThreadID: 1, Awaits: []uint64{0x30}, Stack: []pyabi.Frame{{Code: code("wait_a"), Line: 3}}},
		{Addr: 0x20, Name: "b", State: "waiting", ThreadID: 1, Awaits: []uint64{0x30}},
		{Addr: 0x30, Name: "shared", State: "running", ThreadID: 1, Stack: []pyabi.Frame{{Code: code("work"), Line: 9}, {Code: code("outer"), Line: 8}}},
		{Addr: 0x40, Name: "x", State: "waiting", ThreadID: 2, Awaits: []uint64{0x50}},
		{Addr: 0x50, Name: "y", State: "waiting", ThreadID: 2, Awaits: []uint64{0x40}},
	}
	threads := []Thread{{ThreadID: 1, NativeID: 101, Name: "MainThread"}, {ThreadID: 2, NativeID: 102, Name: "loop-1"}}
	a := buildAsyncio(tasks, threads)
	var b strings.Builder
	writeAsyncio(&b, a, threads)
	want := `
Asyncio tasks: 5
CYCLE: "x" -> "y" -> "x" (each awaits the next)

Thread 101 "MainThread":
├── a (waiting)
│   │   wait_a (app.py:3)
│   └── shared (running)
│           work (app.py:9)
│           outer (app.py:8)
└── b (waiting)
    └── shared (running, shown above)

Thread 102 "loop-1":
└── x (waiting)
    └── y (waiting)
        └── x (waiting, shown above)
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	if len(a.Tasks[2].AwaitedBy) != 2 {
		t.Errorf("shared awaited by %v, want a and b", a.Tasks[2].AwaitedBy)
	}
	// Filtered to loop-1's thread: its cycle only.
	b.Reset()
	writeAsyncio(&b, a.Only(func(tid int) bool { return tid == 102 }), threads)
	if want := want[:strings.Index(want, "\nThread 101")] + want[strings.Index(want, "\nThread 102"):]; strings.Replace(b.String(), "tasks: 2", "tasks: 5", 1) != want {
		t.Errorf("filtered: got\n%s\nwant\n%s", b.String(), want)
	}
	// Filtered to the main thread: no cycle left.
	if m := a.Only(func(tid int) bool { return tid == 101 }); len(m.Cycles) != 0 || len(m.Tasks) != 3 {
		t.Errorf("main thread only: %d tasks, cycles %v", len(m.Tasks), m.Cycles)
	}
}
