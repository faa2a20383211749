package render

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// TestLinesInstructionMix checks that a line's instruction leaves
// (--opcodes) show under it in the lines report, as shares of the line's
// own samples, most frequent first, in text and HTML.
func TestLinesInstructionMix(t *testing.T) {
	p := prof.New(time.Unix(0, 0))
	p.Health.Rate = 100
	p.SetSource("app.py", "def f():\n    x = a * b\n")
	th := p.Thread(prof.Thread{Pid: 1, TID: 1, Name: "MainThread"})
	fn := p.Frame(prof.Frame{Name: "f", File: "app.py", Line: 2, FirstLine: 1, Kind: prof.KindPython})
	mul := p.Frame(prof.Frame{Name: "[BINARY_OP_MULTIPLY_FLOAT (BINARY_OP)]", File: "app.py", Line: 2, Kind: prof.KindInstruction})
	st := p.Frame(prof.Frame{Name: "[STORE_FAST]", File: "app.py", Line: 2, Kind: prof.KindInstruction})
	p.Add(p.Stack([]prof.FrameID{fn, mul}), th, 0, 3)
	p.Add(p.Stack([]prof.FrameID{fn, st}), th, 0, 1)

	var b bytes.Buffer
	if err := (Lines{}).Write(&b, p, Options{}); err != nil {
		t.Fatal(err)
	}
	want := "instructions:  BINARY_OP_MULTIPLY_FLOAT (BINARY_OP) 75%, STORE_FAST 25%"
	if !strings.Contains(b.String(), want) {
		t.Errorf("lines report lacks %q:\n%s", want, b.String())
	}
	b.Reset()
	if err := (LinesHTML{}).Write(&b, p, Options{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "instructions: BINARY_OP_MULTIPLY_FLOAT (BINARY_OP) 75%, STORE_FAST 25%") {
		t.Errorf("HTML report lacks the instruction mix:\n%s", b.String())
	}
}
