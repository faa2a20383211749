package sampler

import (
	"cmp"
	"errors"

	"github.com/pyspyglass/pyspyglass/pyabi"
)

// gilHolder is the GIL holder of one interpreter of a target, as read at
// the start of a round.
type gilHolder struct {
	interp, holder uint64
}

// readHolders reads the GIL holder of every interpreter that has threads
// (one read for a process without sub-interpreters) and, when gc is set,
// whether the main interpreter's collector runs, in the same read. It
// returns the main interpreter's holder. A failed read counts as no holder
// and the first one is returned, for the caller to count; a build whose
// layout has no GIL state (free-threaded builds have none) or no collector
// state is not an error here (--gil refuses the former up front). Unless
// idle threads are included, it also reads which threads are attached
// where the build says so (see readAttached).
func (t *Target) readHolders(w *pyabi.Walker, gc, includeIdle bool) (main uint64, collecting bool, err error) {
	t.holders = t.holders[:0]
	if h, ok, aerr := t.readAttached(w, includeIdle, gc); ok {
		t.holders = append(t.holders, gilHolder{t.Interp.Head, h})
		main = h
	} else {
		err = aerr
	}
	for i := range t.threads {
		ip := t.threads[i].Interp
		if ip == 0 || t.knownHolder(ip) {
			continue
		}
		var h uint64
		if ip == t.Interp.Head && gc {
			var gerr error
			h, collecting, gerr = w.GILHolderAndGC(t.Interp)
			err = cmp.Or(err, readFailure(gerr))
			main = h
		} else {
			var gerr error
			h, gerr = w.GILHolderOf(t.Interp, ip)
			err = cmp.Or(err, readFailure(gerr))
			if ip == t.Interp.Head {
				main = h
			}
		}
		t.holders = append(t.holders, gilHolder{ip, h})
	}
	return main, collecting, err
}

// readFailure is err unless it says the build lacks the facts to read the
// GIL or the collector state, which is no failed read.
func readFailure(err error) error {
	if errors.Is(err, pyabi.ErrGILUnknown) || errors.Is(err, pyabi.ErrNoGCState) {
		return nil
	}
	return err
}

func (t *Target) knownHolder(interp uint64) bool {
	for _, h := range t.holders {
		if h.interp == interp {
			return true
		}
	}
	return false
}

// holdsGIL reports whether th held its interpreter's GIL at readHolders.
func (t *Target) holdsGIL(th *pyabi.Thread) bool {
	for _, h := range t.holders {
		if h.interp == th.Interp {
			return h.holder != 0 && h.holder == th.Addr
		}
	}
	return false
}

// readAttached reads, where the build says it (free-threaded 3.13), which
// threads are attached to their interpreter: on a build without a GIL
// those are the threads running Python, which need no look at their OS
// state to be taken as running, as the GIL holder needs none elsewhere.
// Unless gc is wanted too, the main interpreter's GIL holder comes in the
// same read (the round then costs what it does on a GIL build) and is
// returned with ok set. A failed read leaves every thread to its OS state.
func (t *Target) readAttached(w *pyabi.Walker, includeIdle, gc bool) (holder uint64, ok bool, err error) {
	t.attached = t.attached[:0]
	if includeIdle || !t.Interp.CanReadAttached() {
		return 0, false, nil
	}
	if gc {
		t.attached, err = w.Attached(t.Interp, t.threads, t.attached)
		return 0, false, readFailure(err)
	}
	t.attached, holder, err = w.AttachedAndGIL(t.Interp, t.threads, t.attached)
	return holder, err == nil, readFailure(err)
}

// runsPython reports whether thread i of the list read this round was
// attached at readAttached (false where that is not known).
func (t *Target) runsPython(i int) bool { return i < len(t.attached) && t.attached[i] }
