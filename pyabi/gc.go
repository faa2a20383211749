package pyabi

import (
	"errors"
	"fmt"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// ErrNoGCState says the version or build does not tell where the cyclic
// collector's state is (2.7 and 3.6 keep it in a static variable of
// Modules/gcmodule.c; free-threaded builds stop the world instead).
var ErrNoGCState = errors.New("the garbage collector's state is not readable for this version")

// gcCollecting is the address of the collector's "collecting" flag: in
// _PyRuntime on 3.7 and 3.8, in the interpreter state from 3.9
// (Include/internal/pycore_gc.h, struct _gc_runtime_state); 0 when unknown.
func (in *Interpreter) gcCollecting() uint64 {
	l := in.Layout
	switch {
	case in.Version.FreeThreaded:
		return 0
	case l.Interp.GCCollecting != Absent && in.Head != 0:
		return in.Head + uint64(l.Interp.GCCollecting)
	case l.Runtime.GCCollecting != Absent && in.Runtime != 0:
		return in.Runtime + uint64(l.Runtime.GCCollecting)
	}
	return 0
}

// CanReadGC reports whether Collecting can answer for this interpreter.
func (in *Interpreter) CanReadGC() bool { return in.gcCollecting() != 0 }

// Collecting reports whether the cyclic garbage collector is running. It
// runs on the thread holding the GIL, so a sampler shows it on that
// thread's stack. One 4-byte read.
func (w *Walker) Collecting(in *Interpreter) (bool, error) {
	addr := in.gcCollecting()
	if addr == 0 {
		return false, ErrNoGCState
	}
	b := w.word[:4]
	if err := procmem.ReadFull(in.r, b, addr); err != nil {
		return false, fmt.Errorf("gc state at %#x: %w", addr, err)
	}
	return le32(b) != 0, nil
}
