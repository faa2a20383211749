package pyabi

import (
	"cmp"
	"slices"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// headReader is a Reader that serves reads falling inside copies made in
// one batch (fill) and reads the rest from the target. Code that follows
// pointers object by object, one small read each, gets the objects of a
// whole table (every thread's Thread object, say) for one system call.
// Like objReader it lives for one look at the target: the copies are of
// that moment.
type headReader struct {
	r     procmem.Reader
	spans []procmem.Span // sorted by Addr, disjoint
	slab  []byte
}

// ReadAt copies from a span that holds all of [addr, addr+len(p)), else
// reads the target.
func (h *headReader) ReadAt(p []byte, addr uint64) (int, error) {
	i, _ := slices.BinarySearchFunc(h.spans, addr, func(s procmem.Span, a uint64) int {
		switch {
		case s.Addr+uint64(len(s.Buf)) <= a:
			return -1
		case s.Addr > a:
			return 1
		}
		return 0
	})
	if i < len(h.spans) {
		s := h.spans[i]
		if off := addr - s.Addr; addr >= s.Addr && off <= uint64(len(s.Buf)) && uint64(len(s.Buf))-off >= uint64(len(p)) {
			return copy(p, s.Buf[off:]), nil
		}
	}
	return h.r.ReadAt(p, addr)
}

// ReadBatch reads the target, as readSpans does.
func (h *headReader) ReadBatch(spans []procmem.Span) error { return readSpans(h.r, spans) }

// fill replaces the copies with [addr, addr+n) of each of exts, merged
// where they overlap, in one batch. Each extent must be readable when
// its object is: callers stay on the object's page beyond its header
// (headExtent). If the batch fails nothing is kept and every read goes
// to the target.
func (h *headReader) fill(exts []extent) {
	h.spans = h.spans[:0]
	slices.SortFunc(exts, func(a, b extent) int { return cmp.Compare(a.addr, b.addr) })
	var merged []extent
	for _, e := range exts {
		if e.addr == 0 || e.end <= e.addr {
			continue
		}
		if k := len(merged) - 1; k >= 0 && e.addr <= merged[k].end {
			merged[k].end = max(merged[k].end, e.end)
			continue
		}
		merged = append(merged, e)
	}
	if len(merged) < 2 {
		return // a single read is no cheaper in a batch
	}
	need := 0
	for _, e := range merged {
		need += int(e.end - e.addr)
	}
	if cap(h.slab) < need {
		h.slab = make([]byte, need)
	}
	off := 0
	for _, e := range merged {
		n := int(e.end - e.addr)
		h.spans = append(h.spans, procmem.Span{Addr: e.addr, Buf: h.slab[off : off+n : off+n]})
		off += n
	}
	if readSpans(h.r, h.spans) != nil {
		h.spans = h.spans[:0]
	}
}

// headExtent is the part of the object at addr worth copying ahead:
// from before bytes below it (a pre-header) to want bytes past it, cut
// at the edges of the object's page but never below need bytes, which
// the object itself spans. Memory on the page of a readable object is
// readable, so the extent faults only where reading the object would.
func headExtent(addr uint64, before, want, need int) extent {
	if addr == 0 || addr >= maxUserAddr {
		return extent{}
	}
	page := addr &^ (pageSize - 1)
	lo := addr - min(uint64(before), addr-page)
	hi := min(addr+uint64(want), page+pageSize)
	return extent{addr: lo, end: max(hi, addr+uint64(need))}
}
