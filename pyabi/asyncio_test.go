package pyabi

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/pyspyglass/pyspyglass/pyabi/internal/genlayout/probe"
)

// TestDecodeAsyncioDebug decodes _AsyncioDebug as 3.14.0 lays it out and
// refuses bytes that cannot be it.
func TestDecodeAsyncioDebug(t *testing.T) {
	enc := func(words ...uint64) []byte {
		b := make([]byte, 8*len(words))
		for i, w := range words {
			binary.LittleEndian.PutUint64(b[8*i:], w)
		}
		return b
	}
	// task: size, name, awaited_by, is_task, awaited_by_is_set, coro, node;
	// interpreter: size, tasks head; thread: size, loop, task, tasks head.
	good := enc(208, 144, 96, 136, 137, 152, 192, 12000, 7000, 9000, 8200, 8208, 8216)
	var lay asyncLayout
	if err := lay.decodeDebug(good); err != nil {
		t.Fatal(err)
	}
	if lay.taskSize != 208 || lay.taskName != 144 || lay.awaitedBy != 96 || lay.isTask != 136 || lay.awaitedByIsSet != 137 ||
		lay.taskCoro != 152 || lay.taskNode != 192 || lay.interpTasksHead != 7000 || lay.tsRunningTask != 8208 || lay.tsTasksHead != 8216 {
		t.Errorf("decoded %+v", lay)
	}
	for name, b := range map[string][]byte{
		"zeros":             make([]byte, asyncioDebugSize),
		"offset past task":  enc(208, 300, 96, 136, 137, 152, 192, 12000, 7000, 9000, 8200, 8208, 8216),
		"thread past size":  enc(208, 144, 96, 136, 137, 152, 192, 12000, 7000, 9000, 8200, 8208, 9216),
		"implausible sizes": enc(1<<40, 144, 96, 136, 137, 152, 192, 12000, 7000, 9000, 8200, 8208, 8216),
	} {
		var l asyncLayout
		if err := l.decodeDebug(b); err == nil {
			t.Errorf("%s: decoded %+v, want an error", name, l)
		}
	}
}

// TestFrameStates checks the states of a coroutine frame per minor.
func TestFrameStates(t *testing.T) {
	for _, c := range []struct {
		minor                      int
		created, suspended, exec   int8
		awaiting, notAwaiting, end int8
	}{
		{11, -2, -1, 0, -1, -2, 1},
		{12, -2, -1, 0, -1, -2, 4},
		{13, -3, -2, 0, -1, -2, 1},
		{14, -3, -1, 0, -1, -2, 4},
		{15, 0, 1, 4, 2, 1, 5},
	} {
		s := frameStatesFor(c.minor)
		if s.created != c.created || !s.suspended(c.suspended) || s.executing != c.exec || !s.awaiting(c.awaiting) ||
			s.suspended(c.end) || s.suspended(c.created) || s.suspended(c.exec) {
			t.Errorf("3.%d: %+v", c.minor, s)
		}
		if c.minor >= 13 && s.awaiting(c.notAwaiting) {
			t.Errorf("3.%d: state %d is a plain yield, not an await", c.minor, c.notAwaiting)
		}
	}
}

// TestEnableAsyncRefuses names the supported span before 3.11.
func TestEnableAsyncRefuses(t *testing.T) {
	l, _, err := LookupLayout(Version{Major: 3, Minor: 10, Patch: 13})
	if err != nil {
		t.Fatal(err)
	}
	in := newProcess(nil, newBuild(Version{Major: 3, Minor: 10, Patch: 13}, l))
	err = in.EnableAsync(0)
	if err == nil || !strings.Contains(err.Error(), "3.11 or newer") {
		t.Errorf("3.10: %v", err)
	}
}

// TestAsyncioTablesMatchDWARF re-measures the _asyncio task layout of
// every 3.11-3.13 here with debug info and checks asyncio_tables.go says
// the same (else: go generate ./pyabi).
func TestAsyncioTablesMatchDWARF(t *testing.T) {
	ins, _ := probe.Discover(context.Background())
	checked := 0
	for _, in := range ins {
		if in.Major != 3 || in.Minor < 11 || in.Minor > 13 {
			continue
		}
		vals, err := probe.MeasureAsyncio(context.Background(), in)
		if err != nil {
			t.Logf("skipped %s (%s): %v", in.Path, in.Version, err)
			continue
		}
		tab := asyncioTableFor(in.Minor)
		if tab == nil {
			t.Errorf("%s: no table for 3.%d", in.Version, in.Minor)
			continue
		}
		got := map[string]int{"TaskSize": tab.TaskSize, "TaskLoop": tab.TaskLoop, "TaskState": tab.TaskState, "TaskFutWaiter": tab.TaskFutWaiter,
			"TaskCoro": tab.TaskCoro, "TaskName": tab.TaskName, "TaskCallback0": tab.TaskCallback0, "GenIFrame": tab.GenIFrame, "GenFrameState": tab.GenFrameState}
		for _, f := range probe.AsyncioFields {
			if got[f.Name] != vals[f.Name] {
				t.Errorf("%s: %s is %d in the table, %d in the DWARF", in.Version, f.Expr, got[f.Name], vals[f.Name])
			}
		}
		checked++
	}
	if checked == 0 {
		t.Skip("no CPython 3.11-3.13 with debug info here")
	}
}
