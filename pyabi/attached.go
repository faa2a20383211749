package pyabi

import (
	"errors"
	"fmt"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// threadAttached is _Py_THREAD_ATTACHED, the state of a thread that runs
// Python (Include/internal/pycore_pystate.h v3.13.0); a thread detaches
// around blocking calls, as it releases the GIL on the other builds.
const threadAttached = 1

// ErrAttachedUnknown says the build does not say where a thread state
// keeps whether it is attached.
var ErrAttachedUnknown = errors.New("thread attachment state not known for this build")

// CanReadAttached reports whether Attached works on this build: a
// free-threaded build, which has no GIL holder to tell the running thread.
func (in *Interpreter) CanReadAttached() bool { return in.attachedAt != Absent }

// Attached reads, in one batch, whether each of threads is attached to its
// interpreter, into dst (resized to len(threads)). An attached thread is
// running Python (or waits for the CPU to do so), as the GIL holder is.
func (w *Walker) Attached(in *Interpreter, threads []Thread, dst []bool) ([]bool, error) {
	dst, _, err := w.attached(in, threads, dst, false)
	return dst, err
}

// AttachedAndGIL is Attached and GILHolder in one read: a free-threaded
// 3.13 still has a GIL, which PYTHON_GIL=1 or an extension module not
// declared free-threading safe turns on.
func (w *Walker) AttachedAndGIL(in *Interpreter, threads []Thread, dst []bool) ([]bool, uint64, error) {
	return w.attached(in, threads, dst, in.CanReadGIL() == nil)
}

func (w *Walker) attached(in *Interpreter, threads []Thread, dst []bool, gil bool) ([]bool, uint64, error) {
	dst = dst[:0]
	if in.attachedAt == Absent {
		return dst, 0, fmt.Errorf("python %s: %w", in.Version, ErrAttachedUnknown)
	}
	var gspan procmem.Span
	if gil {
		addr, b, err := w.gilSpan(in, in.Head)
		if err != nil {
			return dst, 0, err
		}
		gspan = procmem.Span{Addr: addr, Buf: b}
	}
	w.abuf = sized(w.abuf, 4*len(threads))
	spans := w.spans[:0]
	for i := range threads {
		spans = append(spans, procmem.Span{Addr: threads[i].Addr + uint64(in.attachedAt), Buf: w.abuf[4*i : 4*i+4]})
	}
	if gil {
		spans = append(spans, gspan)
	}
	w.spans = spans
	if err := readSpans(in.r, spans); err != nil {
		return dst, 0, fmt.Errorf("thread states' attachment: %w", err)
	}
	for i := range threads {
		dst = append(dst, le32(w.abuf[4*i:]) == threadAttached)
	}
	var holder uint64
	if gil {
		holder = in.gilHolder(gspan.Buf)
	}
	return dst, holder, nil
}
