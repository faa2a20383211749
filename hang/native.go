package hang

import (
	"sort"

	"github.com/pyspyglass/pyspyglass/procmem"
	"github.com/pyspyglass/pyspyglass/sampler"
	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// mergeNative puts each thread's merged stack (--native) in place of its
// Python frames, keeping their locals, and adds the threads that have no
// Python, with what the OS says of them. A merged stack whose Python
// frames differ from the ones read for the analysis is left Python-only:
// the analysis's frames are the ones the waits and locals refer to.
func mergeNative(d *Dump, natives []sampler.NativeThread, states map[int]byte, waits map[int]procmem.Wait) *Dump {
	if natives == nil {
		return d
	}
	for _, nt := range natives {
		i := -1
		for j := range d.Threads {
			if nt.Python && d.Threads[j].NativeID == nt.TID {
				i = j
			}
		}
		if i < 0 {
			if nt.Python {
				continue // filtered out or not read
			}
			th := Thread{NativeID: nt.TID, Name: nt.Name, Interp: -1, Frames: nativeFrames(nt.Frames, nil)}
			if st, ok := states[nt.TID]; ok {
				th.OSState, th.Idle = string(st), st != 'R'
			}
			if w, ok := waits[nt.TID]; ok {
				th.OSWait = osWait(w)
			}
			d.Threads = append(d.Threads, th)
			continue
		}
		if merged := nativeFrames(nt.Frames, d.Threads[i].Frames); merged != nil {
			d.Threads[i].Frames = merged
		} else {
			d.Notes = append(d.Notes, "thread "+d.Threads[i].Name+": native frames left out, its Python stack changed between two reads")
		}
	}
	// Threads without Python after the others, by id.
	sort.SliceStable(d.Threads, func(a, b int) bool {
		return d.Threads[a].Interp >= 0 && d.Threads[b].Interp < 0
	})
	return d
}

// nativeFrames converts a merged stack, taking each Python frame from py
// in order (with its locals); nil when the Python frames do not match.
func nativeFrames(frames []prof.Frame, py []Frame) []Frame {
	out := make([]Frame, 0, len(frames))
	k := 0
	for _, f := range frames {
		if f.Kind == prof.KindPython {
			if k >= len(py) || py[k].Name != f.Name || py[k].Line != f.Line {
				return nil
			}
			out = append(out, py[k])
			k++
			continue
		}
		fr := Frame{Name: f.Name, File: f.File, Line: f.Line, Kind: "other"} // "<native frames lost>"
		if f.Kind == prof.KindNative {
			fr.Kind, fr.Module = "native", f.Module
		}
		out = append(out, fr)
	}
	if k != len(py) {
		return nil
	}
	return out
}
