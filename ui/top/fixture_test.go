package top

import (
	"regexp"
	"sync"
	"time"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// fixture is a small profile whose rows are easy to work out by hand.
// Rate 100 Hz, 100 thread samples:
//
//	MainThread: main(app.py:10) > compute(app.py:20) > inner(lib.py:5)   x50
//	MainThread: main(app.py:10) > compute(app.py:21)                     x20
//	worker:     run(worker.py:7) > fib(fib.py:3) > fib(fib.py:4) > fib(fib.py:4)  x20
//	worker:     run(worker.py:7)                                         x10
//
// Every stack starts with a synthetic thread frame, which must not show
// up as a row. A third thread has no samples.
func fixture() *prof.Profile {
	p := prof.New(time.Unix(0, 0))
	p.Target = "pid 100 python app.py"
	p.Health = prof.Health{
		Rate: 100, Samples: 80, Errors: 2, Late: 1,
		Elapsed: 800 * time.Millisecond, IdleDrops: 60, GILSamples: 40,
	}
	main := p.Thread(prof.Thread{Pid: 100, TID: 100, Name: "MainThread"})
	worker := p.Thread(prof.Thread{Pid: 100, TID: 101, Name: "worker"})
	p.Thread(prof.Thread{Pid: 100, TID: 102, Name: "sleeper"})

	fr := func(name, file string, line int) prof.FrameID {
		return p.Frame(prof.Frame{Name: name, File: file, Line: line})
	}
	tMain := p.Frame(prof.Frame{Name: "MainThread", Kind: prof.KindThread})
	tWorker := p.Frame(prof.Frame{Name: "worker", Kind: prof.KindThread})

	add := func(thread int, n int64, frames ...prof.FrameID) {
		p.Add(p.Stack(frames), thread, 0, n)
	}
	add(main, 50, tMain, fr("main", "app.py", 10), fr("compute", "app.py", 20), fr("inner", "lib.py", 5))
	add(main, 20, tMain, fr("main", "app.py", 10), fr("compute", "app.py", 21))
	add(worker, 20, tWorker, fr("run", "worker.py", 7), fr("fib", "fib.py", 3), fr("fib", "fib.py", 4), fr("fib", "fib.py", 4))
	add(worker, 10, tWorker, fr("run", "worker.py", 7))
	return p
}

// fakeSource is a Source over a profile the test controls.
type fakeSource struct {
	mu      sync.Mutex
	p       *prof.Profile
	resets  int
	idle    []bool
	threads []string
	done    chan struct{}
	err     error
}

func newFakeSource(p *prof.Profile) *fakeSource {
	return &fakeSource{p: p, done: make(chan struct{})}
}

func (f *fakeSource) View(fn func(p *prof.Profile)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f.p)
}

func (f *fakeSource) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resets++
	f.p.Reset(time.Unix(0, 0))
}

func (f *fakeSource) SetIdle(include bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.idle = append(f.idle, include)
}

func (f *fakeSource) SetThreads(pattern string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := regexp.Compile(pattern); err != nil {
		return err
	}
	f.threads = append(f.threads, pattern)
	return nil
}

func (f *fakeSource) Done() <-chan struct{} { return f.done }

func (f *fakeSource) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// with runs fn on the profile under the lock, as a sampler adding samples.
func (f *fakeSource) with(fn func(p *prof.Profile)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f.p)
}

func (f *fakeSource) finish(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
	close(f.done)
}

func (f *fakeSource) state() (resets int, idle []bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.resets, append([]bool(nil), f.idle...)
}
