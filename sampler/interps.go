package sampler

import (
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
// returns the main interpreter's holder; a GIL that cannot be read counts
// as no holder (free-threaded builds have none), a failed collector read
// is the error.
func (t *Target) readHolders(w *pyabi.Walker, gc bool) (main uint64, collecting bool, err error) {
	t.holders = t.holders[:0]
	for i := range t.threads {
		ip := t.threads[i].Interp
		if ip == 0 || t.knownHolder(ip) {
			continue
		}
		var h uint64
		if ip == t.Interp.Head && gc {
			var gerr error
			if h, collecting, gerr = w.GILHolderAndGC(t.Interp); gerr != nil && !errors.Is(gerr, pyabi.ErrNoGCState) {
				err = gerr
			}
			main = h
		} else {
			h, _ = w.GILHolderOf(t.Interp, ip)
			if ip == t.Interp.Head {
				main = h
			}
		}
		t.holders = append(t.holders, gilHolder{ip, h})
	}
	return main, collecting, err
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
