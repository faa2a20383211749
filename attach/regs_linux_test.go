package attach

import (
	"errors"
	"runtime"
	"testing"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// TestRegisters reads the registers of a paused three-thread target: one
// set per thread, each pointing into executable code and a writable stack
// of the target, and the target runs on after Resume.
func TestRegisters(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("registers are read on x86_64 only")
	}
	c, _ := launchReady(t, findPython(t), "-c", busyScript)
	p := newPauser(t, c.Pid)
	maps, err := procmem.ReadMaps(c.Pid)
	if err != nil {
		t.Fatal(err)
	}
	in := func(addr uint64, ok func(procmem.Mapping) bool) bool {
		for _, m := range maps {
			if m.Contains(addr) {
				return ok(m)
			}
		}
		return false
	}
	var regs []ThreadRegs
	for round := range 5 {
		if err := p.Pause(); err != nil {
			t.Fatal(err)
		}
		regs, err = p.Registers(regs[:0])
		if rerr := p.Resume(); rerr != nil {
			t.Fatal(rerr)
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(regs) != 3 {
			t.Fatalf("round %d: %d register sets, want 3: %+v", round, len(regs), regs)
		}
		for _, r := range regs {
			if !in(r.PC, procmem.Mapping.Exec) || !in(r.SP, procmem.Mapping.Writable) {
				t.Errorf("round %d: tid %d: pc %#x sp %#x not in code and stack", round, r.TID, r.PC, r.SP)
			}
		}
	}
	for tid, s := range threadStates(t, c.Pid) {
		if s == 't' || s == 'T' {
			t.Errorf("tid %d left stopped (%c)", tid, s)
		}
	}
}

// TestWhilePaused: fn runs with every thread stopped and their registers,
// and the threads run again afterwards, also when fn fails or panics.
func TestWhilePaused(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("registers are read on x86_64 only")
	}
	c, _ := launchReady(t, findPython(t), "-c", busyScript)
	p := newPauser(t, c.Pid)
	for _, fail := range []string{"", "error", "panic"} {
		var inside map[int]byte
		_, err := p.WhilePaused(nil, func(regs []ThreadRegs) error {
			if len(regs) != 3 {
				t.Errorf("%d register sets, want 3", len(regs))
			}
			inside = threadStates(t, c.Pid)
			switch fail {
			case "error":
				return errors.New("fn failed")
			case "panic":
				panic("fn panicked")
			}
			return nil
		})
		if (err != nil) != (fail != "") {
			t.Errorf("%q: err %v", fail, err)
		}
		for tid, s := range inside {
			if s != 't' {
				t.Errorf("%q: tid %d in state %c while paused, want t", fail, tid, s)
			}
		}
		for tid, s := range threadStates(t, c.Pid) {
			if s == 't' || s == 'T' {
				t.Errorf("%q: tid %d left stopped (%c)", fail, tid, s)
			}
		}
	}
}
