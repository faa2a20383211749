package pyabi

import (
	"fmt"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// MaxInterpreters bounds the interpreter list a walk follows: a torn or
// cyclic list must end in an error, not a loop.
const MaxInterpreters = 256

// interpState is one PyInterpreterState of the process.
type interpState struct {
	addr uint64
	id   int64 // -1 where the version has no id (2.7, 3.6)
}

// listInterpreters reads the runtime's list of interpreters, newest first
// (Python/pystate.c prepends), into in.interps and makes Head the main
// one: id 0, else the oldest. Sub-interpreters (Py_NewInterpreter,
// _interpreters, concurrent.interpreters) are on the same list. Without a
// known list head only Head is listed.
func (w *Walker) listInterpreters(in *Interpreter) error {
	in.interps = in.interps[:0]
	if in.headSlot == 0 {
		in.interps = append(in.interps, interpState{addr: in.Head, id: in.mainID()})
		return nil
	}
	l := in.Layout.Interp
	if err := procmem.ReadFull(in.r, w.word[:], in.headSlot); err != nil {
		return fmt.Errorf("interpreter list at %#x: %w", in.headSlot, err)
	}
	span := maxOffset(l.Next, l.ID) + 8
	w.ibuf = sized(w.ibuf, span)
	for addr := le64(w.word[:]); addr != 0; {
		if len(in.interps) >= MaxInterpreters {
			return fmt.Errorf("interpreter list at %#x: more than %d interpreters or a cycle", in.headSlot, MaxInterpreters)
		}
		if err := procmem.ReadFull(in.r, w.ibuf, addr); err != nil {
			return fmt.Errorf("interpreter %#x: %w", addr, err)
		}
		st := interpState{addr: addr, id: -1}
		if l.ID != Absent {
			st.id = int64(le64(w.ibuf[l.ID:]))
		}
		in.interps = append(in.interps, st)
		addr = le64(w.ibuf[l.Next:])
	}
	if len(in.interps) == 0 {
		return fmt.Errorf("interpreter list at %#x is empty (finalizing)", in.headSlot)
	}
	main := in.interps[len(in.interps)-1]
	for _, st := range in.interps {
		if st.id == 0 {
			main = st
		}
	}
	in.Head = main.addr
	// Forget the GILs of interpreters that have gone: their memory is
	// freed and may hold a new interpreter.
	for a := range in.gilAddrs {
		if !in.hasInterp(a) {
			delete(in.gilAddrs, a)
		}
	}
	return nil
}

func (in *Interpreter) hasInterp(addr uint64) bool {
	for _, st := range in.interps {
		if st.addr == addr {
			return true
		}
	}
	return false
}

// mainID is the main interpreter's id: 0 where the version numbers them.
func (in *Interpreter) mainID() int64 {
	if in.Layout.Interp.ID == Absent {
		return -1
	}
	return 0
}

// Interpreters counts the interpreters of the last thread listing.
func (in *Interpreter) Interpreters() int { return max(len(in.interps), 1) }
