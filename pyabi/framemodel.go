package pyabi

import (
	"fmt"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// The three ways CPython links the frames of a thread, and everything the
// walk does differently for each; the rest of the walk is model-free.

// frameModel is how a version links its frames; picked once per build.
type frameModel uint8

const (
	frameObjects    frameModel = iota // <=3.10: PyFrameObject.f_back chain from tstate->frame
	cframeFrames                      // 3.11, 3.12: tstate->cframe->current_frame
	interpreterFrms                   // 3.13+: tstate->current_frame
)

// frameModelFor picks the model from the fields the layout has, and the
// thread state field the walk starts from.
func frameModelFor(l Layout) (m frameModel, top int) {
	switch {
	case l.Thread.CurrentFrame != Absent:
		return interpreterFrms, l.Thread.CurrentFrame
	case l.Thread.CFrame != Absent:
		return cframeFrames, l.Thread.CFrame
	}
	return frameObjects, l.Thread.Frame
}

// cframeGuess is where 3.11/3.12 keep the current frame pointer if the
// thread's cframe has not moved since the last walk: read along with the
// thread state, it saves firstFrame a read.
func (in *Interpreter) cframeGuess(c *walkCache) (uint64, bool) {
	if in.model != cframeFrames || c.cframe == 0 {
		return 0, false
	}
	return c.cframe + uint64(in.Layout.CFrame.CurrentFrame), true
}

// firstFrame is the innermost frame of thread t, as just read: its top
// field, or on 3.11/3.12 the cframe's current_frame behind it.
func (in *Interpreter) firstFrame(w *Walker, c *walkCache, t *Thread) (uint64, error) {
	frame := t.top
	if in.model != cframeFrames || frame == 0 {
		return frame, nil
	}
	// The cframe lives on the C stack of the innermost evaluation loop,
	// so it moves only when the C stack does; readGuessed read it along
	// with the thread state when it had not moved.
	if frame != c.cframe || !c.fresh {
		if err := procmem.ReadFull(in.r, w.cfbuf[:], frame+uint64(in.Layout.CFrame.CurrentFrame)); err != nil {
			return 0, fmt.Errorf("thread state %#x: cframe: %w", t.Addr, err)
		}
		c.cframe = frame
	}
	return le64(w.cfbuf[:]), nil
}

// freedFrame reports a <=3.10 frame object already freed: ob_refcnt 0 (it
// precedes ob_type), kept as its code's zombie or on the free list with
// f_back relinked there. The stack moved on.
func (in *Interpreter) freedFrame(fb []byte) bool {
	return in.model == frameObjects && le64(fb[in.Layout.Object.Type-8:]) == 0
}

// frameOwner is the owner of frame fb: _PyInterpreterFrame.owner (3.11+),
// or for a frame object whether a generator owns it (1) or not (0); -1
// where the version says neither (2.7).
func (in *Interpreter) frameOwner(fb []byte) int {
	f := in.Layout.Frame
	switch {
	case f.Owner != Absent:
		return int(fb[f.Owner])
	case f.Gen != Absent:
		return min(int(le64(fb[f.Gen:])), 1)
	}
	return -1
}

// entryFrame reports a frame the evaluation loop was entered with from C:
// every frame object, 3.11's is_entry frames (3.12+ mark the entry with a
// shim frame instead, see shimMin).
func (in *Interpreter) entryFrame(fb []byte) bool {
	return in.model == frameObjects || (in.isEntry != Absent && fb[in.isEntry] != 0)
}

// tornBottom reports whether the owner of the outermost frame walked shows
// a chain cut short. Since 3.12 every entry into the evaluation loop from C
// pushes a shim frame, so a whole stack ends in one; in 3.11 it ends in a
// frame owned by the thread (Include/internal/pycore_frame.h, v3.11.0,
// v3.12.0). A chain ending elsewhere, typically in a generator's frame, was
// read through a frame pointer that had already moved on: the generator has
// since been suspended and its previous link cleared. PyFrameObject chains
// (3.6-3.10) say the same through f_gen; 2.7 has no such mark.
func (in *Interpreter) tornBottom(owner int) bool {
	switch {
	case owner < 0:
		return false
	case in.shimMin >= 0:
		return owner < in.shimMin
	}
	return owner != 0 // FRAME_OWNED_BY_THREAD
}

// position is where the frame fb is in its bytecode, in the unit its
// version's line codec expects.
func (in *Interpreter) position(fb []byte, codeAddr uint64) int {
	f := in.Layout.Frame
	if in.model == frameObjects {
		return int(int32(le32(fb[f.LastI:]))) * in.lastiMul
	}
	// 3.11+: the instruction pointer is an address inside co_code_adaptive;
	// the codec wants code units (2 bytes each).
	instr := le64(fb[f.InstrPtr:])
	start := codeAddr + uint64(in.Layout.Code.CodeAdaptive)
	if instr < start {
		return -1
	}
	return int((instr - start) / 2)
}
