package pyabi

import (
	"errors"
	"fmt"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// gilSpan covers struct _gil_runtime_state: interval, last_holder,
// locked, switch_number, then the condition variables and mutexes a
// thread waiting for the GIL sleeps in (Include/internal/pycore_gil.h
// v3.8.0 to v3.14.0: 4 words, 2 pthread_cond_t of 48 and 2
// pthread_mutex_t of 40 bytes on x86_64 glibc).
const gilSpan = 4*8 + 2*48 + 2*40

// GILRange returns the addresses of the GIL's own state, where the futex
// of a thread waiting to take the GIL lies (3.7+; 2.7 and 3.6 keep it in
// static variables this does not find).
func (in *Interpreter) GILRange() (lo, hi uint64, err error) {
	l := in.Layout
	var gil uint64
	switch {
	case in.Runtime != 0 && l.Runtime.GIL != Absent:
		gil = in.Runtime + uint64(l.Runtime.GIL)
	case l.Interp.GILPtr != Absent:
		if gil, err = procmem.Ptr(in.r, in.Head+uint64(l.Interp.GILPtr)); err != nil {
			return 0, 0, fmt.Errorf("interpreter %#x: gil: %w", in.Head, err)
		}
	case in.gilInline != Absent:
		gil = in.Head + uint64(in.gilInline)
	default:
		return 0, 0, errors.New("the GIL's address is not known for this version")
	}
	if gil == 0 {
		return 0, 0, errors.New("the GIL is not created yet")
	}
	return gil, gil + gilSpan, nil
}
