package pyabi

import (
	"errors"
	"fmt"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// Bounds on what is read from a live target, whose memory may change under
// us: a torn read must end in an error, never a loop or a huge allocation.
const (
	MaxThreads = 4096
	MaxDepth   = 4096
)

// ErrNoFrames marks a thread with no Python frame (idle at the C level, or
// just created); it is not a read failure.
var ErrNoFrames = errors.New("no python frames")

// frameModel is how a version links its frames; picked once per interpreter.
type frameModel uint8

const (
	frameObjects    frameModel = iota // <=3.10: PyFrameObject.f_back chain from tstate->frame
	cframeFrames                      // 3.11, 3.12: tstate->cframe->current_frame
	interpreterFrms                   // 3.13+: tstate->current_frame
)

// Thread is one PyThreadState as last read.
type Thread struct {
	Addr     uint64 // PyThreadState*
	ThreadID uint64 // thread_id: the pthread_t, threading.get_ident()
	NativeID int    // native_thread_id: the OS tid; 0 where the version lacks it
	top      uint64 // frame pointer field (frame, cframe or current_frame) as read
}

// Frame is one Python frame of a stack, innermost first in Stack's result.
type Frame struct {
	Code *Code
	Line int
}

// Interpreter reads one interpreter of one process. It is not safe for
// concurrent use: it reuses buffers so that a steady-state sample
// allocates nothing.
type Interpreter struct {
	Version Version
	Guessed bool // the layout is the nearest known table, not an exact one
	Layout  Layout
	Head    uint64 // the main PyInterpreterState
	Runtime uint64 // _PyRuntime, 0 before 3.7
	// tstateCurrent is the address of the word holding the GIL holder's
	// thread state on 2.7/3.6 (_PyThreadState_Current) and 3.7-3.11
	// (_PyRuntime.gilstate.tstate_current); 0 where the GIL state is used.
	tstateCurrent uint64
	// gilInline is the offset of the interpreter's own inline
	// _gil_runtime_state (3.14+ _gil, from _Py_DebugOffsets) when no
	// ceval.gil pointer offset is known; Absent otherwise.
	gilInline int

	r        procmem.Reader
	model    frameModel
	codec    LineCodec
	lastiMul int    // bytes per f_lasti unit: 1 (<=3.9), 2 (3.10)
	codeMask uint64 // clears the tag bits of a 3.14+ _PyStackRef
	shimMin  int    // owner values >= this are C-stack/interpreter shims (3.12+); -1 none
	strs     *stringDecoder
	codes    *codeReader

	tspan, fspan int
	tbuf, fbuf   []byte
	pending      []pendingFrame
}

// pendingFrame is a frame seen on the walk whose code is not resolved yet.
type pendingFrame struct {
	code uint64 // the code object's address
	pos  int    // position in its bytecode, as LineCodec.Line takes it
}

// newInterpreter fixes the per-version strategies for layout l.
func newInterpreter(r procmem.Reader, v Version, l Layout) *Interpreter {
	in := &Interpreter{Version: v, Layout: l, r: r, codec: codecFor(v), lastiMul: 1, codeMask: ^uint64(0), shimMin: -1, gilInline: Absent}
	if in.codec == Linetable310 {
		in.lastiMul = 2 // 3.10's f_lasti counts code units, not bytes
	}
	switch {
	case l.Thread.CurrentFrame != Absent:
		in.model = interpreterFrms
	case l.Thread.CFrame != Absent:
		in.model = cframeFrames
	default:
		in.model = frameObjects
	}
	// Frame owners: 3 is FRAME_OWNED_BY_CSTACK on 3.12/3.13; 3.14 inserts
	// FRAME_OWNED_BY_INTERPRETER = 3 before CSTACK = 4, both shims
	// (Include/internal/pycore_frame.h v3.12.0, v3.14.0).
	if v.AtLeast(3, 12) {
		in.shimMin = 3
	}
	if v.AtLeast(3, 14) {
		// f_executable is a _PyStackRef whose low bits are tags
		// (Include/internal/pycore_stackref.h, v3.14.0).
		in.codeMask = ^uint64(3)
	}
	in.strs = newStringDecoder(l, v)
	in.codes = newCodeReader(l, in.codec, in.strs)
	t, f := l.Thread, l.Frame
	in.tspan = maxOffset(t.Next, t.Interp, t.Frame, t.CFrame, t.CurrentFrame, t.ThreadID, t.NativeThreadID) + 8
	in.fspan = maxOffset(f.Previous, f.Code, f.LastI, f.InstrPtr, f.Owner) + 8
	in.tbuf = make([]byte, in.tspan)
	in.fbuf = make([]byte, in.fspan)
	return in
}

// Reader is the memory the interpreter reads from.
func (in *Interpreter) Reader() procmem.Reader { return in.r }

// Threads lists the thread states of the interpreter, appending to dst.
func (in *Interpreter) Threads(dst []Thread) ([]Thread, error) {
	head, err := procmem.Ptr(in.r, in.Head+uint64(in.Layout.Interp.ThreadsHead))
	if err != nil {
		return dst, fmt.Errorf("interpreter %#x: thread list: %w", in.Head, err)
	}
	for addr, n := head, 0; addr != 0; n++ {
		if n >= MaxThreads {
			return dst, fmt.Errorf("interpreter %#x: more than %d threads or a cycle", in.Head, MaxThreads)
		}
		var t Thread
		if err := in.readThread(addr, &t); err != nil {
			return dst, err
		}
		dst = append(dst, t)
		addr, err = procmem.Ptr(in.r, addr+uint64(in.Layout.Thread.Next))
		if err != nil {
			return dst, fmt.Errorf("thread state %#x: next: %w", t.Addr, err)
		}
	}
	return dst, nil
}

func (in *Interpreter) readThread(addr uint64, t *Thread) error {
	if err := procmem.ReadFull(in.r, in.tbuf, addr); err != nil {
		return fmt.Errorf("thread state %#x: %w", addr, err)
	}
	l := in.Layout.Thread
	t.Addr = addr
	t.ThreadID = le64(in.tbuf[l.ThreadID:])
	if l.NativeThreadID != Absent {
		t.NativeID = int(le64(in.tbuf[l.NativeThreadID:]))
	}
	switch in.model {
	case frameObjects:
		t.top = le64(in.tbuf[l.Frame:])
	case cframeFrames:
		t.top = le64(in.tbuf[l.CFrame:])
	default:
		t.top = le64(in.tbuf[l.CurrentFrame:])
	}
	return nil
}

// Stack re-reads thread t and appends its Python frames, innermost first,
// to dst. A thread without frames returns ErrNoFrames.
func (in *Interpreter) Stack(t *Thread, dst []Frame) ([]Frame, error) {
	if err := in.readThread(t.Addr, t); err != nil {
		return dst, err
	}
	frame := t.top
	if in.model == cframeFrames && frame != 0 {
		var err error
		if frame, err = procmem.Ptr(in.r, frame+uint64(in.Layout.CFrame.CurrentFrame)); err != nil {
			return dst, fmt.Errorf("thread state %#x: cframe: %w", t.Addr, err)
		}
	}
	if frame == 0 {
		return dst, ErrNoFrames
	}
	// First follow the frame chain, noting each frame's code object and
	// position; then read every code object's header in one batch, which
	// both fills and validates the code cache.
	in.pending = in.pending[:0]
	f := in.Layout.Frame
	for n := 0; frame != 0; n++ {
		if n >= MaxDepth {
			return dst, fmt.Errorf("thread state %#x: stack deeper than %d frames or a cycle", t.Addr, MaxDepth)
		}
		if err := procmem.ReadFull(in.r, in.fbuf, frame); err != nil {
			return dst, fmt.Errorf("frame %#x: %w", frame, err)
		}
		frame = le64(in.fbuf[f.Previous:])
		if in.shimMin >= 0 && int(in.fbuf[f.Owner]) >= in.shimMin {
			continue
		}
		codeAddr := le64(in.fbuf[f.Code:]) & in.codeMask
		in.pending = append(in.pending, pendingFrame{code: codeAddr, pos: in.position(codeAddr)})
	}
	if len(in.pending) == 0 {
		return dst, ErrNoFrames
	}
	codes, err := in.codes.GetAll(in.r, in.pending)
	if err != nil {
		return dst, fmt.Errorf("thread state %#x: %w", t.Addr, err)
	}
	for i, p := range in.pending {
		dst = append(dst, Frame{Code: codes[i], Line: codes[i].Line(p.pos)})
	}
	return dst, nil
}

// position is where the frame is in its bytecode, in the unit its
// version's line codec expects; in.fbuf holds the frame.
func (in *Interpreter) position(codeAddr uint64) int {
	f := in.Layout.Frame
	if in.model == frameObjects {
		return int(int32(le32(in.fbuf[f.LastI:]))) * in.lastiMul
	}
	// 3.11+: the instruction pointer is an address inside co_code_adaptive;
	// the codec wants code units (2 bytes each).
	instr := le64(in.fbuf[f.InstrPtr:])
	start := codeAddr + uint64(in.Layout.Code.CodeAdaptive)
	if instr < start {
		return -1
	}
	return int((instr - start) / 2)
}

// GILHolder returns the thread state holding the GIL, or 0 when none does.
func (in *Interpreter) GILHolder() (uint64, error) {
	if in.tstateCurrent != 0 {
		return procmem.Ptr(in.r, in.tstateCurrent)
	}
	l := in.Layout
	if l.GIL.Locked == Absent || l.GIL.LastHolder == Absent || (l.Interp.GILPtr == Absent && in.gilInline == Absent) {
		return 0, errors.New("GIL state not known for this version")
	}
	gil := in.Head + uint64(in.gilInline)
	if l.Interp.GILPtr != Absent {
		var err error
		if gil, err = procmem.Ptr(in.r, in.Head+uint64(l.Interp.GILPtr)); err != nil {
			return 0, fmt.Errorf("interpreter %#x: gil: %w", in.Head, err)
		}
	}
	locked, err := procmem.I32(in.r, gil+uint64(l.GIL.Locked))
	if err != nil || locked == 0 {
		return 0, err
	}
	return procmem.Ptr(in.r, gil+uint64(l.GIL.LastHolder))
}
