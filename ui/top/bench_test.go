package top

import (
	"fmt"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// bigProfile is a busy service: 20 threads, 5,000 distinct stacks 40 deep
// over 2,000 functions.
func bigProfile() *prof.Profile {
	p := prof.New(time.Time{})
	p.Health.Rate = 100
	var frames []prof.FrameID
	for i := range 2000 {
		frames = append(frames, p.Frame(prof.Frame{Name: fmt.Sprintf("fn%d", i), File: fmt.Sprintf("mod%d.py", i%50), Line: i}))
	}
	stack := make([]prof.FrameID, 40)
	for s := range 5000 {
		for d := range stack {
			stack[d] = frames[(s*7+d*13)%len(frames)]
		}
		p.Add(p.Stack(stack), p.Thread(prof.Thread{TID: s % 20}), 0, int64(s%17+1))
	}
	return p
}

// BenchmarkCapture is the part of a refresh during which the sampler waits.
func BenchmarkCapture(b *testing.B) {
	p := bigProfile()
	m := NewModel(false, 0)
	m.Update(p)
	for b.Loop() {
		m.capture(p)
	}
}

func BenchmarkRefresh(b *testing.B) {
	p := bigProfile()
	m := NewModel(false, 0)
	for b.Loop() {
		m.Update(p)
		m.Rows()
	}
}
