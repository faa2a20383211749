package sampler

import "github.com/pyspyglass/pyspyglass/pyabi"

// gilHolder is the GIL holder of one interpreter of a target, as read at
// the start of a round.
type gilHolder struct {
	interp, holder uint64
}

// readHolders reads the GIL holder of every interpreter that has threads
// (one read for a process without sub-interpreters) and returns the main
// interpreter's. A failed read counts as no holder.
func (t *Target) readHolders(w *pyabi.Walker) uint64 {
	t.holders = t.holders[:0]
	var main uint64
	for i := range t.threads {
		ip := t.threads[i].Interp
		if ip == 0 || t.knownHolder(ip) {
			continue
		}
		h, _ := w.GILHolderOf(t.Interp, ip)
		t.holders = append(t.holders, gilHolder{ip, h})
		if ip == t.Interp.Head {
			main = h
		}
	}
	return main
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
