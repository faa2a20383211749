package render

import (
	"bytes"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// TestCollapsedMergesAndSorts: stacks whose lines read the same once ';'
// became ':' are merged, and lines come in byte order, as when the lines
// were built whole and sorted.
func TestCollapsedMergesAndSorts(t *testing.T) {
	p := prof.New(time.Unix(0, 0))
	root := p.Frame(prof.Frame{Name: "main", File: "m.py", Line: 1})
	semi := p.Frame(prof.Frame{Name: "a;b"})
	colon := p.Frame(prof.Frame{Name: "a:b"})
	z := p.Frame(prof.Frame{Name: "z"})
	ab := p.Frame(prof.Frame{Name: "ab"})
	th := p.Thread(prof.Thread{Pid: 1, TID: 1, Name: "t"})
	p.Add(p.Stack([]prof.FrameID{root, z}), th, 0, 1)
	p.Add(p.Stack([]prof.FrameID{root, semi}), th, 0, 2)
	p.Add(p.Stack([]prof.FrameID{root, colon}), th, 0, 3)
	p.Add(p.Stack([]prof.FrameID{root, ab, z}), th, 0, 4)
	p.Add(p.Stack([]prof.FrameID{root}), th, 0, 5)
	var b bytes.Buffer
	if err := (Collapsed{}).Write(&b, p, Options{}); err != nil {
		t.Fatal(err)
	}
	want := "main (m.py:1) 5\n" +
		"main (m.py:1);a:b 5\n" +
		"main (m.py:1);ab;z 4\n" +
		"main (m.py:1);z 1\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// BenchmarkCollapsedWrite writes 50,000 distinct 30-frame stacks: the
// bytes it allocates are what writing costs on top of the profile.
func BenchmarkCollapsedWrite(b *testing.B) {
	p := prof.New(time.Unix(0, 0))
	th := p.Thread(prof.Thread{Pid: 1, TID: 1, Name: "t"})
	ids := make([]prof.FrameID, 30)
	for i := range 50_000 {
		for d := range ids {
			ids[d] = p.Frame(prof.Frame{Name: "function_" + string(rune('a'+d%26)), File: "package/module.py", Line: d})
		}
		ids[28] = p.Frame(prof.Frame{Name: "leaf", File: "leaf.py", Line: i % 1000})
		ids[29] = p.Frame(prof.Frame{Name: "leaf", File: "leaf.py", Line: 1000 + i/1000})
		p.Add(p.Stack(ids), th, 0, 1)
	}
	var out countingWriter
	b.ReportAllocs()
	for b.Loop() {
		out = 0
		if err := (Collapsed{}).Write(&out, p, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(out), "output-bytes")
}

type countingWriter int

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}
