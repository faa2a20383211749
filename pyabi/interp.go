package pyabi

import (
	"errors"
	"fmt"
	"slices"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// Bounds on what is read from a live target, whose memory may change under
// us: a torn read must end in an error, never a loop or a huge allocation.
const (
	MaxThreads = 4096
	MaxDepth   = 4096
)

// A stack deeper than MaxDepth is kept truncated: its innermost frames,
// then the marker frame TruncatedCode, then its outermost keepOuter
// frames (where the program started). The chain is followed up to
// maxWalk frames; beyond that the outermost frames are left out too.
const (
	keepOuter = 16
	maxWalk   = 4 * MaxDepth
)

// TruncatedCode is the code of the marker frame standing for the frames
// left out of a stack deeper than MaxDepth.
var TruncatedCode = &Code{Name: "<truncated: stack deeper than 4096 frames>"}

// ErrCycle marks a frame or thread chain that loops back on itself: a
// torn read or corrupted memory, found within a few times its length.
var ErrCycle = errors.New("chain loops back on itself")

// cycleCheck finds a loop in a chain of addresses with O(1) memory, in
// at most three times the loop's length plus the steps before it (Brent's
// algorithm), instead of walking a bound's worth of frames round the loop.
type cycleCheck struct {
	saved       uint64
	power, step int
}

// seen reports whether addr closes a loop in the chain so far.
func (c *cycleCheck) seen(addr uint64) bool {
	if addr == c.saved {
		return true
	}
	if c.step == c.power {
		c.saved, c.power, c.step = addr, max(2*c.power, 1), 0
	}
	c.step++
	return false
}

// ErrNoFrames marks a thread with no Python frame (idle at the C level, or
// just created); it is not a read failure.
var ErrNoFrames = errors.New("no python frames")

// Thread is one PyThreadState as last read.
type Thread struct {
	Interp   uint64 // the PyInterpreterState it belongs to
	InterpID int64  // that interpreter's id: 0 for the main one; -1 where unknown
	Addr     uint64 // PyThreadState*
	ThreadID uint64 // thread_id: the pthread_t, threading.get_ident()
	NativeID int    // native_thread_id: the OS tid; 0 where the version lacks it
	top      uint64 // frame pointer field (frame, cframe or current_frame) as read
}

// Frame is one Python frame of a stack, innermost first in Stack's result.
type Frame struct {
	Code *Code
	Line int
	// Instr is the instruction the innermost frame is at, when opcodes
	// are read (EnableOpcodes) and it could be named.
	Instr    Instruction
	HasInstr bool
	// Task: the frame stands for an asyncio task (Code.Name is the
	// task's name), put on a stack by AppendTaskChain.
	Task bool
	// Entry: this frame is the outermost of those one C call of the
	// evaluation loop runs, which is what merging with a native stack
	// needs. Before 3.11 each frame has its own C call; 3.11 marks the
	// first frame of a call (is_entry); 3.12+ pushes a shim frame under it.
	Entry bool
}

// Interpreter reads one interpreter of one process: the addresses of its
// state in that process, its code-object cache and the walk caches of its
// threads, over the Build they share with every process of the binary. It
// is not safe for concurrent use: it reuses buffers so that a steady-state
// sample allocates nothing.
type Interpreter struct {
	*Build
	Head    uint64 // the main PyInterpreterState
	Runtime uint64 // _PyRuntime, 0 before 3.7
	// headSlot is the word holding the head of the list of interpreters
	// (_PyRuntime.interpreters.head, interp_head, or where a scan found
	// it); 0 when unknown, and then only Head is read.
	headSlot uint64
	interps  []interpState // the interpreters as last listed, newest first
	// tstateCurrent is the address of the word holding the GIL holder's
	// thread state on 2.7/3.6 (_PyThreadState_Current) and 3.7-3.11
	// (_PyRuntime.gilstate.tstate_current); 0 where the GIL state is used.
	tstateCurrent uint64

	r     procmem.Reader
	async *asyncState // nil until EnableAsync
	strs  *stringDecoder
	codes *codeReader

	tspan, fspan int                 // bytes of a thread state and a frame read
	gilAddrs     map[uint64]uint64   // interp -> interp->ceval.gil once read non-NULL (fixed at init)
	namesFound   map[strKey]foundKey // where ThreadNames found its dict keys last time

	// Per thread state: what its last walk found (see prefetch.go), and
	// the thread states of the last listing, read again in one batch.
	walks       map[uint64]*walkCache
	threadsGen  uint64
	lastThreads []uint64
	curThreads  []uint64
	tslab       []byte
	headWords   []byte // each listed interpreter's thread list head
	tspans      []procmem.Span
}

// pendingFrame is a frame seen on the walk whose code is not resolved yet.
type pendingFrame struct {
	code  uint64 // the code object's address
	pos   int    // position in its bytecode, as LineCodec.Line takes it
	entry bool   // see Frame.Entry
	frame uint64 // the frame's own address, for LastFrames
}

// Walker holds the scratch buffers of one walk. One goroutine owns it (the
// sampler's) and uses it for every process it reads, so the buffers of a
// walk exist once, not once per process; the caches that outlive a walk
// stay with the Interpreter.
type Walker struct {
	tbuf       []byte
	pending    []pendingFrame
	frameAddrs []uint64 // this walk's frames, innermost first
	sortBuf    []extent
	spans      []procmem.Span
	word       [8]byte  // single pointer reads, kept here so they do not allocate
	cfbuf      [8]byte  // cframe->current_frame, guessed or read
	gilbuf     [32]byte // locked and last_holder of the GIL, in one read
	gcbuf      [4]byte  // the collector's state, read along (StackAndGIL)
	ibuf       []byte   // an interpreter state's next and id
	abuf       []byte   // each thread's attachment state (see Attached)
	truncated  bool     // the last stack read was deeper than MaxDepth
	// win holds target memory from winAddr: the page below the last
	// frame this walk read alone (see readMiss).
	win     []byte
	winAddr uint64
	// rider is read in the same batch as the next thread state (see
	// StackAndGIL); empty when nothing rides.
	rider []procmem.Span
}

// Truncated reports whether the last stack read was too deep to keep
// whole: it holds the marker frame TruncatedCode.
func (w *Walker) Truncated() bool { return w.truncated }

// size makes the thread state buffer fit in's layout.
func (w *Walker) size(in *Interpreter) {
	w.tbuf = sized(w.tbuf, in.tspan)
}

// sized is b with length n, reallocated only when too small.
func sized(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// Threads, Stack and GILHolder of an Interpreter read with a Walker made
// for the one call: for one-off reads (dump, discovery); a sampler keeps
// its Walker.

// Threads lists the thread states of the interpreter, appending to dst.
func (in *Interpreter) Threads(dst []Thread) ([]Thread, error) { return new(Walker).Threads(in, dst) }

// Stack appends the Python frames of thread t to dst; see Walker.Stack.
func (in *Interpreter) Stack(t *Thread, dst []Frame) ([]Frame, error) {
	return new(Walker).Stack(in, t, dst)
}

// LastFrames appends to dst the addresses of the frames the walker's last
// Stack call returned, in the same order: what dump inspects further.
func (w *Walker) LastFrames(dst []uint64) []uint64 {
	for _, p := range w.pending {
		dst = append(dst, p.frame)
	}
	return dst
}

// GILHolder returns the thread state holding the GIL; see Walker.GILHolder.
func (in *Interpreter) GILHolder() (uint64, error) { return new(Walker).GILHolder(in) }

// newInterpreter is a process of a build of version v with layout l.
func newInterpreter(r procmem.Reader, v Version, l Layout) *Interpreter {
	return newProcess(r, newBuild(v, l))
}

// newProcess is a process of build b read through r.
func newProcess(r procmem.Reader, b *Build) *Interpreter {
	in := &Interpreter{Build: b, r: r}
	l := b.Layout
	in.strs = newStringDecoder(l, b.Version)
	in.codes = newCodeReader(l, in.codec, in.strs)
	t, f := l.Thread, l.Frame
	in.tspan = maxOffset(t.Next, t.Interp, t.Frame, t.CFrame, t.CurrentFrame, t.ThreadID, t.NativeThreadID) + 8
	in.fspan = maxOffset(f.Previous, f.Code, f.LastI, f.InstrPtr, f.Owner, f.Gen) + 8
	in.walks = map[uint64]*walkCache{}
	return in
}

// Reader is the memory the interpreter reads from.
func (in *Interpreter) Reader() procmem.Reader { return in.r }

// Threads lists the thread states of the interpreter, appending to dst.
// The head pointer and the thread states of the last listing are read in
// one batch; a thread state not among them is read on its own.
func (w *Walker) Threads(in *Interpreter, dst []Thread) ([]Thread, error) {
	w.size(in)
	in.threadsGen++
	if err := w.listInterpreters(in); err != nil {
		return dst, err
	}
	// The thread list heads of every interpreter and the thread states of
	// the last listing, in one batch.
	heads := sized(in.headWords, 8*len(in.interps))
	in.headWords = heads
	spans := in.tspans[:0]
	for i, st := range in.interps {
		spans = append(spans, procmem.Span{Addr: st.addr + uint64(in.Layout.Interp.ThreadsHead), Buf: heads[8*i : 8*i+8]})
	}
	if need := len(in.lastThreads) * in.tspan; cap(in.tslab) < need {
		in.tslab = make([]byte, need)
	}
	for i, a := range in.lastThreads {
		spans = append(spans, procmem.Span{Addr: a, Buf: in.tslab[i*in.tspan : (i+1)*in.tspan]})
	}
	in.tspans = spans
	guessed := readSpans(in.r, spans) == nil
	if !guessed {
		for i := range in.interps {
			if err := procmem.ReadFull(in.r, heads[8*i:8*i+8], spans[i].Addr); err != nil {
				return dst, fmt.Errorf("interpreter %#x: thread list: %w", in.interps[i].addr, err)
			}
		}
	}
	cur := in.curThreads[:0]
	next := 0 // where the last listing is searched first: lists rarely change
	n := 0
	for i, st := range in.interps {
		var loop cycleCheck
		for addr := le64(heads[8*i:]); addr != 0; n++ {
			if loop.seen(addr) {
				return dst, fmt.Errorf("interpreter %#x: thread state %#x: %w", st.addr, addr, ErrCycle)
			}
			if n >= MaxThreads {
				return dst, fmt.Errorf("interpreter %#x: more than %d threads or a cycle", st.addr, MaxThreads)
			}
			var buf []byte
			if guessed {
				if k := indexFrom(in.lastThreads, addr, next); k >= 0 {
					buf, next = in.tslab[k*in.tspan:(k+1)*in.tspan], k+1
				}
			}
			if buf == nil {
				if err := procmem.ReadFull(in.r, w.tbuf, addr); err != nil {
					return dst, fmt.Errorf("thread state %#x: %w", addr, err)
				}
				buf = w.tbuf
			}
			t := Thread{Interp: st.addr, InterpID: st.id}
			in.parseThread(addr, buf, &t)
			dst = append(dst, t)
			cur = append(cur, addr)
			if w := in.walks[addr]; w != nil {
				w.gen = in.threadsGen
			}
			addr = le64(buf[in.Layout.Thread.Next:])
		}
	}
	in.lastThreads, in.curThreads = cur, in.lastThreads
	// Forget the walks of threads that have gone: their memory is freed.
	for addr, w := range in.walks {
		if w.gen != in.threadsGen {
			delete(in.walks, addr)
		}
	}
	return dst, nil
}

// indexFrom finds a in s, looking from position from on, then before it.
func indexFrom(s []uint64, a uint64, from int) int {
	for i := from; i < len(s); i++ {
		if s[i] == a {
			return i
		}
	}
	for i := 0; i < min(from, len(s)); i++ {
		if s[i] == a {
			return i
		}
	}
	return -1
}

// parseThread fills t from the thread state at addr, read into buf.
func (in *Interpreter) parseThread(addr uint64, buf []byte, t *Thread) {
	l := in.Layout.Thread
	t.Addr = addr
	t.ThreadID = le64(buf[l.ThreadID:])
	if l.NativeThreadID != Absent {
		t.NativeID = int(le64(buf[l.NativeThreadID:]))
	}
	t.top = le64(buf[in.topOff:])
}

// walkCache returns the guesses kept for the thread state at addr.
func (in *Interpreter) walkCache(addr uint64) *walkCache {
	c := in.walks[addr]
	if c == nil {
		c = &walkCache{gen: in.threadsGen}
		in.walks[addr] = c
	}
	return c
}

// readGuessed re-reads thread t and, in the same batch, what its last walk
// suggests this one will need. c.fresh says whether the guesses were read.
func (in *Interpreter) readGuessed(w *Walker, t *Thread, c *walkCache) error {
	spans := append(w.spans[:0], procmem.Span{Addr: t.Addr, Buf: w.tbuf})
	spans = append(spans, w.rider...)
	base := len(spans) // what is read even without guesses
	if a, ok := in.cframeGuess(c); ok {
		spans = append(spans, procmem.Span{Addr: a, Buf: w.cfbuf[:]})
	}
	for _, r := range c.ranges {
		spans = append(spans, procmem.Span{Addr: r.addr, Buf: c.buf[r.off : r.off+r.n]})
	}
	w.spans = spans
	c.fresh = false
	if len(spans) > base {
		if err := readSpans(in.r, spans); err == nil {
			c.fresh = true
		} else {
			// A guessed range was unmapped since (a data stack chunk
			// freed as the stack shrank): read the thread state alone and
			// guess afresh after this walk.
			c.forget()
		}
	}
	if !c.fresh {
		if err := readSpans(in.r, spans[:base]); err != nil {
			return fmt.Errorf("thread state %#x: %w", t.Addr, err)
		}
	}
	in.parseThread(t.Addr, w.tbuf, t)
	return nil
}

// Stack re-reads thread t and appends its Python frames, innermost first,
// to dst. A thread without frames returns ErrNoFrames.
//
// In the steady state a walk is one batched read (see prefetch.go): the
// thread state, the frames where the last walk found them and the headers
// of its code objects, which both fill and validate the code cache.
// Frames or code objects not guessed are read after, frame by frame and in
// one batch respectively, and the guesses are fitted to this walk.
func (w *Walker) Stack(in *Interpreter, t *Thread, dst []Frame) ([]Frame, error) {
	w.size(in)
	// A torn read is retried at once: the thread is usually past the
	// switch by then, and dropping such samples would under-count code
	// that switches frames often (generators).
	start := len(dst)
	var err error
	for range tornRetries {
		if dst, err = in.stackOnce(w, t, dst[:start]); !errors.Is(err, ErrTorn) {
			break
		}
	}
	return dst, err
}

// StackAndGIL is Stack with the GIL holder of t's interpreter (as
// GILHolderOf) and, with gc, whether the main interpreter's collector runs
// (as GILHolderAndGC) read in the same batch as the thread state: a round
// over a single thread that holds the GIL is then one system call, not
// two. holder and collecting are valid when err is nil or ErrNoFrames.
func (w *Walker) StackAndGIL(in *Interpreter, t *Thread, dst []Frame, gc bool) (frames []Frame, holder uint64, collecting bool, err error) {
	addr, b, err := w.gilSpan(in, t.Interp)
	if err != nil {
		return dst, 0, false, err
	}
	w.rider = append(w.rider[:0], procmem.Span{Addr: addr, Buf: b})
	if a := in.gcCollecting(); gc && a != 0 {
		w.rider = append(w.rider, procmem.Span{Addr: a, Buf: w.gcbuf[:]})
	} else {
		gc = false
	}
	frames, err = w.Stack(in, t, dst)
	w.rider = w.rider[:0]
	if err != nil && !errors.Is(err, ErrNoFrames) {
		return frames, 0, false, err
	}
	return frames, in.gilHolder(b), gc && le32(w.gcbuf[:]) != 0, err
}

// tornRetries is how often Stack reads a stack that keeps tearing. Each
// try is one batched read, so a few more get past a thread that pushes and
// pops frames faster than one read (a recursion sweeping up and down tears
// about one read in five on 3.7).
const tornRetries = 8

func (in *Interpreter) stackOnce(w *Walker, t *Thread, dst []Frame) ([]Frame, error) {
	c := in.walkCache(t.Addr)
	if err := in.readGuessed(w, t, c); err != nil {
		return dst, err
	}
	frame, err := in.firstFrame(w, c, t)
	if err != nil {
		return dst, err
	}
	if frame == 0 {
		return dst, ErrNoFrames
	}
	// First follow the frame chain, noting each frame's code object and
	// position; then resolve the code objects.
	w.pending, w.frameAddrs = w.pending[:0], w.frameAddrs[:0]
	w.win = w.win[:0]
	misses := 0
	f := in.Layout.Frame
	bottomOwner := -1
	var loop cycleCheck
	w.truncated = false
	for n := 0; frame != 0; n++ {
		if loop.seen(frame) {
			// Frames freed and reused while the chain was read can link
			// into a loop: torn, so read again.
			return dst, fmt.Errorf("thread state %#x: frame %#x: %w: %w", t.Addr, frame, ErrCycle, ErrTorn)
		}
		if n >= maxWalk {
			w.truncated = true // the outermost frames are not known
			break
		}
		fb := c.lookup(frame, in.fspan)
		if fb == nil {
			misses++
			fb = w.inWindow(frame, in.fspan)
		}
		if fb == nil {
			if fb, err = w.readMiss(in, frame); err != nil {
				if n > 0 {
					// Reached through a link read a moment ago: the
					// frame was popped and its memory given back.
					return dst, fmt.Errorf("frame %#x: %w: %w", frame, ErrTorn, err)
				}
				return dst, fmt.Errorf("frame %#x: %w", frame, err)
			}
		}
		if in.freedFrame(fb) {
			return dst, fmt.Errorf("frame %#x: %w", frame, ErrTorn)
		}
		w.frameAddrs = append(w.frameAddrs, frame)
		frame = le64(fb[f.Previous:])
		bottomOwner = in.frameOwner(fb)
		if in.shimMin >= 0 && bottomOwner >= in.shimMin {
			if k := len(w.pending); k > 0 {
				w.pending[k-1].entry = true
			}
			continue
		}
		codeAddr := le64(fb[f.Code:]) & in.codeMask
		if codeAddr == 0 && in.codeMask != ^uint64(0) && len(w.pending) == 0 {
			// 3.14+: a frame pushed for a call whose executable is not
			// stored yet (a NULL _PyStackRef): the call is in progress
			// and the caller's frame is where the thread is.
			continue
		}
		entry := in.entryFrame(fb)
		w.pending = append(w.pending, pendingFrame{code: codeAddr, pos: in.position(fb, codeAddr), entry: entry, frame: w.frameAddrs[len(w.frameAddrs)-1]})
	}
	if len(w.pending) == 0 {
		return dst, ErrNoFrames
	}
	if !w.truncated && in.tornBottom(bottomOwner) {
		return dst, fmt.Errorf("thread state %#x: %w", t.Addr, ErrTorn)
	}
	// Too deep: keep the innermost frames and, when the walk reached
	// them, the outermost; the marker goes between them after resolving.
	cut := -1
	if len(w.pending) > MaxDepth || w.truncated {
		cut = min(len(w.pending), MaxDepth-keepOuter)
		outer := w.pending[cut:]
		if w.truncated {
			outer = nil
		}
		w.pending = append(w.pending[:cut], outer[max(len(outer)-keepOuter, 0):]...)
		w.truncated = true
	}
	start := len(dst)
	var codeMisses int
	if dst, codeMisses, err = in.codes.resolve(in.r, w.pending, c, dst); err != nil {
		if errors.Is(err, procmem.ErrFault) {
			// A code object pointer from a frame reused since it was
			// read: the stack moved on, read it again.
			err = fmt.Errorf("%w: %w", ErrTorn, err)
		}
		return dst, fmt.Errorf("thread state %#x: %w", t.Addr, err)
	}
	if c.walks++; misses > 0 || codeMisses > 0 || c.walks >= rebuildEvery {
		w.sortBuf = c.fit(w.frameAddrs, in.fspan, in.codes.addrs, in.codes.span, w.sortBuf)
	}
	if cut >= 0 {
		dst = slices.Insert(dst, start+cut, Frame{Code: TruncatedCode})
	}
	return dst, nil
}

// readMiss reads a frame the guesses did not cover together with the
// start of its page: on 3.11+ the callers' frames lie just below it in
// the same data stack chunk, so a walk without guesses (a dump, a new
// thread) makes a read per page of frames instead of one per frame. The
// page start is mapped when the frame is, so this fails only where
// reading the frame alone would.
func (w *Walker) readMiss(in *Interpreter, frame uint64) ([]byte, error) {
	start := frame &^ (pageSize - 1)
	w.win = sized(w.win, int(frame-start)+in.fspan)
	if err := procmem.ReadFull(in.r, w.win, start); err != nil {
		w.win = w.win[:0]
		return nil, err
	}
	w.winAddr = start
	return w.win[frame-start:], nil
}

// inWindow returns the copy of [addr, addr+n) that the last readMiss of
// this walk made, or nil.
func (w *Walker) inWindow(addr uint64, n int) []byte {
	off := addr - w.winAddr
	if addr < w.winAddr || off > uint64(len(w.win)) || uint64(len(w.win))-off < uint64(n) {
		return nil
	}
	return w.win[off : off+uint64(n)]
}

// ErrTorn marks a stack that changed while it was read: the chain ended
// somewhere a thread's stack cannot end. It is a failed sample, not a stack
// to show.
var ErrTorn = errors.New("torn read: the stack changed while it was read")

// GILHolder returns the thread state holding the main interpreter's GIL,
// or 0 when none does; see GILHolderOf.
func (w *Walker) GILHolder(in *Interpreter) (uint64, error) { return w.GILHolderOf(in, in.Head) }

// ErrGILUnknown says the build's layout does not tell where the GIL state
// is (a free-threaded build has none).
var ErrGILUnknown = errors.New("GIL state not known for this version")

// CanReadGIL says whether GILHolderOf can work on this process: an error
// wrapping ErrGILUnknown when the layout lacks the GIL's fields.
func (in *Interpreter) CanReadGIL() error {
	l := in.Layout
	if in.tstateCurrent != 0 || l.GIL.Locked != Absent && l.GIL.LastHolder != Absent && (l.Interp.GILPtr != Absent || in.gilInline != Absent) {
		return nil
	}
	return fmt.Errorf("python %s: %w", in.Version, ErrGILUnknown)
}

// GILHolderOf returns the thread state holding the GIL of interpreter
// interp (Thread.Interp), or 0 when none does. Before 3.12 all
// interpreters share one GIL; from 3.12 each may have its own. It reads
// one word (2.7-3.11: the current thread state) or the GIL's locked and
// last_holder fields in one read.
func (w *Walker) GILHolderOf(in *Interpreter, interp uint64) (uint64, error) {
	addr, b, err := w.gilSpan(in, interp)
	if err != nil {
		return 0, err
	}
	if err := procmem.ReadFull(in.r, b, addr); err != nil {
		return 0, fmt.Errorf("gil at %#x: %w", addr, err)
	}
	return in.gilHolder(b), nil
}

// GILHolderAndGC is GILHolder and Collecting in one batched read: a
// sampling round learns both with one system call.
func (w *Walker) GILHolderAndGC(in *Interpreter) (holder uint64, collecting bool, err error) {
	gc := in.gcCollecting()
	if gc == 0 {
		holder, err = w.GILHolder(in)
		return holder, false, err
	}
	addr, b, err := w.gilSpan(in, in.Head)
	if err != nil {
		return 0, false, err
	}
	w.spans = append(w.spans[:0], procmem.Span{Addr: addr, Buf: b}, procmem.Span{Addr: gc, Buf: w.word[:4]})
	if err := readSpans(in.r, w.spans); err != nil {
		return 0, false, fmt.Errorf("gil at %#x and gc state at %#x: %w", addr, gc, err)
	}
	return in.gilHolder(b), le32(w.word[:4]) != 0, nil
}

// gilSpan is where the GIL state of interpreter interp is read: the
// current thread state word (2.7-3.11), or the GIL's locked and
// last_holder fields; b is the walker's buffer for it.
func (w *Walker) gilSpan(in *Interpreter, interp uint64) (addr uint64, b []byte, err error) {
	if in.tstateCurrent != 0 {
		return in.tstateCurrent, w.gilbuf[:8], nil
	}
	if err := in.CanReadGIL(); err != nil {
		return 0, nil, err
	}
	l := in.Layout
	gil := interp + uint64(in.gilInline)
	if l.Interp.GILPtr != Absent {
		// interp->ceval.gil is set once when the interpreter is made
		// (_PyEval_InitGIL, Python/ceval_gil.c v3.12.0) and then fixed.
		if gil = in.gilAddrs[interp]; gil == 0 {
			if err := procmem.ReadFull(in.r, w.word[:], interp+uint64(l.Interp.GILPtr)); err != nil {
				return 0, nil, fmt.Errorf("interpreter %#x: gil: %w", interp, err)
			}
			if gil = le64(w.word[:]); gil == 0 {
				return 0, nil, fmt.Errorf("interpreter %#x: gil: not created yet", interp)
			}
			if in.gilAddrs == nil {
				in.gilAddrs = map[uint64]uint64{}
			}
			in.gilAddrs[interp] = gil
		}
	}
	lo := min(l.GIL.Locked, l.GIL.LastHolder)
	hi := max(l.GIL.Locked+4, l.GIL.LastHolder+8)
	if hi-lo > len(w.gilbuf) {
		return 0, nil, fmt.Errorf("gil at %#x: fields %d bytes apart", gil, hi-lo)
	}
	return gil + uint64(lo), w.gilbuf[:hi-lo], nil
}

// gilHolder decodes what gilSpan's read found.
func (in *Interpreter) gilHolder(b []byte) uint64 {
	if in.tstateCurrent != 0 {
		return le64(b)
	}
	l := in.Layout
	lo := min(l.GIL.Locked, l.GIL.LastHolder)
	if int32(le32(b[l.GIL.Locked-lo:])) == 0 {
		return 0
	}
	return le64(b[l.GIL.LastHolder-lo:])
}
