package pyabi

import (
	"cmp"
	"slices"
)

// Speculative reads. A sampled stack changes little from one sample to the
// next: the same frames at the same addresses (3.11+ keeps them side by
// side in the thread's data stack chunks, _PyStackChunk in
// Include/internal/pycore_frame.h v3.11.0; older PyFrameObjects stay put
// while their call lasts) and the same code objects. So each walk reads,
// in the one process_vm_readv that fetches the thread state, the memory
// where the previous walk found frames and the headers of the code objects
// it met. A copy is used only where the live pointers lead into it, so a
// stale guess costs a read, never a wrong frame, and the copy is as fresh
// as a frame-by-frame read would be (fresher: one system call sees it all).
//
// This reads the used part of the data stack chunks without the chunk
// fields of PyThreadState (datastack_chunk, datastack_top), so the steady
// state is one read per thread instead of the two a chunk read would need
// (thread state, then chunk), and the same code batches the scattered
// frame objects of 2.7-3.10 and the generator frames of 3.11+ as one iovec
// each.

const (
	// pageSize is the smallest unit the kernel maps. Memory between two
	// readable addresses on the same or adjacent pages is readable, so
	// ranges are merged only across such gaps and never stretch onto a
	// page no frame was seen on: a guess must not make the batch fault.
	pageSize = 4096
	// pushSlack extends the range that holds the innermost frame (up to
	// the end of its page): on 3.11+ a call made since the last sample
	// pushes its frame just above, where the copy then already is.
	pushSlack = 1024
	// maxPrefetch bounds the memory guessed per thread, and
	// maxPrefetchCodes the code headers: a deep stack beyond them is read
	// frame by frame, as without guesses.
	maxPrefetch      = 256 << 10
	maxPrefetchCodes = 1024
	// rebuildEvery walks without a miss, the guesses are fitted to the
	// current stack again, so ranges of a stack that shrank stop being read.
	rebuildEvery = 256
	// maxUserAddr is above any user-space address (x86_64 and arm64 use
	// at most 57 bits); frame pointers beyond it are garbage.
	maxUserAddr = 1 << 57
)

// memRange is a copy of target memory [addr, addr+n) at buf[off:off+n].
type memRange struct {
	addr   uint64
	off, n int
}

// extent is one object the next walk is expected to read: [addr, end).
type extent struct{ addr, end uint64 }

// walkCache is what one thread's last walk leaves for the next: the
// memory around its frames and code object headers, and the buffer the
// guessed read fills. Each range costs an iovec, which costs about as much
// as copying a page, so nearby objects share a range.
type walkCache struct {
	gen    uint64     // Interpreter.threadsGen when the thread was last listed
	cframe uint64     // tstate->cframe as last read (3.11, 3.12), 0 if unknown
	ranges []memRange // sorted by addr, disjoint
	buf    []byte
	fresh  bool // ranges and cframe were read with this walk's thread state
	// entries are the code cache entries of the last walk's frames.
	entries []*cachedCode
	walks   int // walks since the last fit
	last    int // range of the last hit: frames come in runs
}

// lookup returns the copy of [addr, addr+n) if this walk's guessed read
// covers it, else nil.
func (c *walkCache) lookup(addr uint64, n int) []byte {
	if c == nil || !c.fresh || len(c.ranges) == 0 {
		return nil
	}
	if b := c.in(c.last, addr, n); b != nil {
		return b
	}
	// The last range starting at or below addr.
	lo, hi := 0, len(c.ranges)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if c.ranges[m].addr <= addr {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return nil
	}
	c.last = lo - 1
	return c.in(lo-1, addr, n)
}

func (c *walkCache) in(i int, addr uint64, n int) []byte {
	if i >= len(c.ranges) {
		return nil
	}
	r := c.ranges[i]
	if addr < r.addr || addr-r.addr > uint64(r.n) || r.n-int(addr-r.addr) < n {
		return nil
	}
	off := r.off + int(addr-r.addr)
	return c.buf[off : off+n]
}

// forget drops every guess, keeping the buffers.
func (c *walkCache) forget() {
	c.cframe, c.ranges, c.fresh, c.entries = 0, c.ranges[:0], false, c.entries[:0]
}

// fit sets the guesses for the next walk from this one: frames at frames
// (innermost first, frameSpan bytes each) and code object headers at codes
// (codeSpan bytes each). scratch is a buffer for sorting; the grown one is
// returned.
func (c *walkCache) fit(frames []uint64, frameSpan int, codes []uint64, codeSpan int, scratch []extent) []extent {
	c.walks, c.last = 0, 0
	c.ranges = c.ranges[:0]
	ext := scratch[:0]
	for i, a := range frames {
		if a > maxUserAddr {
			continue // not user memory: no guess, and no overflow below
		}
		e := a + uint64(frameSpan)
		if i == 0 {
			e = max(e, min(e+pushSlack, pageEnd(e-1)))
		}
		ext = append(ext, extent{a, e})
	}
	for _, a := range codes[:min(len(codes), maxPrefetchCodes)] {
		if a <= maxUserAddr {
			ext = append(ext, extent{a, a + uint64(codeSpan)})
		}
	}
	slices.SortFunc(ext, func(x, y extent) int { return cmp.Compare(x.addr, y.addr) })
	total := 0
	add := func(start, end uint64) bool {
		n := int(end - start)
		if total+n > maxPrefetch {
			return false
		}
		c.ranges = append(c.ranges, memRange{addr: start, off: total, n: n})
		total += n
		return true
	}
	var start, end uint64
	for _, x := range ext {
		if end != 0 && x.addr/pageSize > (end-1)/pageSize+1 {
			// A page lies between: start a new range.
			if !add(start, end) {
				end = 0
				break
			}
			end = 0
		}
		if end == 0 {
			start = x.addr
		}
		end = max(end, x.end)
	}
	if end != 0 {
		add(start, end)
	}
	if cap(c.buf) < total {
		c.buf = make([]byte, total)
	}
	c.buf = c.buf[:total]
	return ext
}

// pageEnd is the first address past the page holding addr.
func pageEnd(addr uint64) uint64 { return addr/pageSize*pageSize + pageSize }
