package sampler

import (
	"fmt"
	"os"
	"time"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// memState is one process's resident memory as last read, and the stack
// the change since then is attributed to. This is austin's memory mode: an
// estimate, since the change happened somewhere between two rounds and goes
// to whatever ran at the end of it, but a large allocation takes long
// enough to be seen in the function making it.
type memState struct {
	statm   *os.File
	last    int64 // bytes resident at the previous round; -1 before the first
	pending int64 // change not yet attributed (no stack seen since)
	buf     [128]byte
	// The stack of this round: the GIL holder's, else the first sampled.
	stack  prof.StackID
	thread int
	gil    bool
	seen   bool
}

var pageSize = int64(os.Getpagesize())

// noteMemoryStack remembers the stack just recorded for th as the one
// this round's memory change goes to, preferring the thread with the GIL.
func (s *Sampler) noteMemoryStack(t *Target, hasGIL bool) {
	if !s.last.ok {
		return
	}
	m := s.memFor(t)
	if !m.seen || (hasGIL && !m.gil) {
		m.stack, m.thread, m.gil, m.seen = s.last.stack, s.last.thread, hasGIL, true
	}
}

// lastAdded is the (stack, thread) of the sample added last.
type lastAdded struct {
	stack  prof.StackID
	thread int
	ok     bool
}

// added counts one sample of stack on thread; a timeline sample notes
// whether the thread held the GIL (s.curGIL, set per thread).
func (s *Sampler) added(stack prof.StackID, thread int, at time.Duration) {
	s.p.Add(stack, thread, at, 1)
	if s.curGIL && s.p.KeepTimeline && len(s.p.Timeline) > 0 {
		s.p.Timeline[len(s.p.Timeline)-1].GIL = true
	}
	s.last = lastAdded{stack, thread, true}
}

// readRSS reads resident bytes from /proc/PID/statm (its second field, in
// pages), re-reading one open file so a round allocates nothing.
func (m *memState) readRSS() (int64, error) {
	n, err := m.statm.ReadAt(m.buf[:], 0)
	if n == 0 {
		return 0, err
	}
	b := m.buf[:n]
	i := 0
	for i < len(b) && b[i] != ' ' {
		i++
	}
	i++
	var pages int64
	digits := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		pages = pages*10 + int64(b[i]-'0')
		digits++
	}
	if digits == 0 {
		return 0, fmt.Errorf("statm: no resident size in %q", b)
	}
	return pages * pageSize, nil
}

// memFor returns t's memory state, opening its statm on first use.
func (s *Sampler) memFor(t *Target) *memState {
	m := s.mem[t]
	if m == nil {
		m = &memState{last: -1, stack: -1}
		if f, err := os.Open(fmt.Sprintf("/proc/%d/statm", t.Pid)); err == nil {
			m.statm = f
		}
		s.mem[t] = m
	}
	return m
}

// attributeMemory reads t's resident memory and adds the change since the
// last round to the stack noted this round; with no stack this round, the
// change waits for the next one.
func (s *Sampler) attributeMemory(t *Target) {
	m := s.memFor(t)
	defer func() { m.seen, m.gil, m.stack = false, false, -1 }()
	if m.statm == nil {
		return
	}
	rss, err := m.readRSS()
	if err != nil {
		// The process is gone or its statm unreadable: stop reading it.
		m.statm.Close()
		m.statm = nil
		return
	}
	if m.last >= 0 {
		m.pending += rss - m.last
	}
	m.last = rss
	if m.seen && m.pending != 0 {
		s.p.AddMemory(m.stack, m.thread, m.pending)
		m.pending = 0
	}
}

// closeMemory closes the statm files; Run calls it when sampling ends.
func (s *Sampler) closeMemory() {
	for t, m := range s.mem {
		if m.statm != nil {
			m.statm.Close()
		}
		delete(s.mem, t)
	}
}
