package pyabi

import (
	"testing"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// FuzzWalk feeds the thread and frame walk with arbitrary memory laid out
// under every version's layout: it must return (an error or frames), never
// panic or loop without end.
func FuzzWalk(f *testing.F) {
	f.Add(make([]byte, 64), uint16(0))
	f.Add([]byte("xdebugpy\x00\x00\x0e\x03\x00\x00\x00\x00"), uint16(8))
	f.Fuzz(func(t *testing.T, data []byte, head uint16) {
		const base = 0x10000
		// Repeat the data so pointers into the image are likely to hit it.
		img := make([]byte, 0, 8192)
		for len(img) < 8192 && len(data) > 0 {
			img = append(img, data...)
		}
		mem := procmem.Bytes{Base: base, Data: img}
		for _, v := range SupportedVersions() {
			l, _, err := LookupLayout(v)
			if err != nil {
				t.Fatal(err)
			}
			in := newInterpreter(mem, v, l)
			in.Head = base + uint64(head)
			in.tstateCurrent = base
			threads, _ := in.Threads(nil)
			for i := range threads {
				in.Stack(&threads[i], nil)
			}
			in.GILHolder()
			in.ThreadNames()
		}
	})
}
