package sampler

import (
	"errors"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/attach"
	"github.com/pyspyglass/pyspyglass/internal/testutil"
	"github.com/pyspyglass/pyspyglass/native"
	"github.com/pyspyglass/pyspyglass/pyabi"
	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// The benchmarks walk live targets from testdata: a 30-frame CPU-bound
// stack (stack30.py), a 500-deep recursion parked in sleep (deep.py 500)
// and 50 threads, half spinning (threads_many.py). They run only with
// -bench; `go test` alone compiles them and nothing more. Each one reports
// ns/walk (one thread's stack) or ns/sample (one sampling round over the
// process) and allocs/op, which must be 0 once caches are warm:
//
//	go test -run '^$' -bench . -benchmem ./sampler
//	go test -run '^$' -bench 'Stack/stack30/pyenv-3.12' -benchmem ./sampler

type benchWorkload struct {
	name   string
	script string
	args   []string
	frames int // at least this many frames on the thread walked
	// opcodes names the innermost frame's instruction too (--opcodes):
	// from the cached bytecode, so the walk should cost the same.
	opcodes bool
}

var benchWorkloads = []benchWorkload{
	{"stack30", "stack30.py", nil, 31, false},
	{"stack30-opcodes", "stack30.py", nil, 31, true},
	{"deep50", "deep_busy.py", []string{"50"}, 52, false},
	{"deep500", "deep_busy.py", []string{"500"}, 502, false},
}

// cpuTime is the CPU time this process has used. Benchmarks report it per
// walk besides the wall time: on a loaded machine the wall time also
// counts the time others ran, the CPU time only ours.
// benchRounds warms s's caches (code objects, frames, stacks, names) with
// 100 rounds, then times one round per b.Loop, reporting the process's CPU
// and the errors per round.
func benchRounds(b *testing.B, s *Sampler) {
	s.start = time.Now()
	mean := 10 * time.Millisecond
	for range 100 {
		s.sampleAll(time.Now(), time.Now(), mean, false)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		now := time.Now()
		s.sampleAll(now, now, mean, false)
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/sample")
	h := s.p.Health
	b.ReportMetric(float64(h.Errors)/float64(h.Samples), "errors/sample")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchInterpreters are the interpreters the benchmarks run on: every one
// found (filter with -bench, e.g. 'Stack/stack30/pyenv-3.12').
func benchInterpreters(b *testing.B) []testutil.Interpreter {
	all := testutil.Interpreters(b)
	if len(all) == 0 {
		b.Skip("no Python interpreter found on this machine")
	}
	return all
}

// openBench starts script and opens it; the thread with the most frames is
// the one a walk benchmark reads.
func openBench(b *testing.B, in testutil.Interpreter, w benchWorkload) (*Target, *pyabi.Thread) {
	b.Helper()
	proc := testutil.Spawn(b, in, w.script, w.args...)
	tg, err := Open(proc.Pid, nil)
	if err != nil {
		b.Fatalf("open pid %d: %v", proc.Pid, err)
	}
	b.Cleanup(func() { tg.Close() })
	if w.opcodes {
		if err := tg.Interp.EnableOpcodes(); err != nil {
			b.Skipf("opcodes: %v", err)
		}
	}
	// The readiness line comes just before the thread reaches its marked
	// line; wait (bounded) until the walk sees the whole stack.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := tg.Refresh(); err != nil {
			b.Fatal(err)
		}
		var best *pyabi.Thread
		most := 0
		for i := range tg.threads {
			frames, err := tg.Interp.Stack(&tg.threads[i], nil)
			if err == nil && len(frames) > most {
				best, most = &tg.threads[i], len(frames)
			}
		}
		if most >= w.frames {
			return tg, best
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: deepest stack has %d frames, want %d", w.script, most, w.frames)
		}
	}
}

// BenchmarkStack measures one thread's walk: re-reading its thread state,
// its frames and the headers of their code objects.
func BenchmarkStack(b *testing.B) {
	for _, w := range benchWorkloads {
		b.Run(w.name, func(b *testing.B) {
			for _, in := range benchInterpreters(b) {
				b.Run(in.Name, func(b *testing.B) {
					tg, th := openBench(b, in, w)
					frames := make([]pyabi.Frame, 0, 1024)
					var walker pyabi.Walker
					var failed int
					b.ReportAllocs()
					b.ResetTimer()
					cpu := cpuTime()
					for b.Loop() {
						var err error
						// A torn read of a running target is a failed
						// sample, as in the sampler; count, do not stop.
						if frames, err = walker.Stack(tg.Interp, th, frames[:0]); err != nil {
							failed++
						}
					}
					b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/walk")
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/walk")
					b.ReportMetric(float64(len(frames)), "frames")
					b.ReportMetric(float64(failed)/float64(b.N), "failed/walk")
				})
			}
		})
	}
}

// BenchmarkSample measures one whole sampling round of the sampler over a
// target: GIL holder, idle checks, every thread's walk and the aggregation
// into the profile.
func BenchmarkSample(b *testing.B) {
	workloads := append(benchWorkloads[:len(benchWorkloads):len(benchWorkloads)],
		benchWorkload{"threads50", "threads_many.py", []string{"50"}, 2, false})
	for _, w := range workloads {
		b.Run(w.name, func(b *testing.B) {
			for _, in := range benchInterpreters(b) {
				b.Run(in.Name, func(b *testing.B) {
					tg, _ := openBench(b, in, w)
					p := prof.New(time.Now())
					s := New([]*Target{tg}, p, Options{Rate: 100})
					benchRounds(b, s)
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/sample")
					if p.Total() == 0 {
						b.Error(errors.New("no thread sample recorded"))
					}
				})
			}
		})
	}
}

// BenchmarkNativeSample measures one --native sampling round: stop every
// thread (ptrace), read each one's registers, copy its stack in one read,
// unwind it, merge it with its Python frames, aggregate, resume. It
// reports this process's CPU per round and per thread sample; the kernel's
// work for the stops is partly charged to the target, not counted here.
//
//	go test -run '^$' -bench 'NativeSample/stack30/pyenv-3.12' -benchmem ./sampler
func BenchmarkNativeSample(b *testing.B) {
	for _, w := range []benchWorkload{benchWorkloads[0], benchWorkloads[3]} {
		b.Run(w.name, func(b *testing.B) {
			for _, in := range benchInterpreters(b) {
				b.Run(in.Name, func(b *testing.B) {
					if runtime.GOARCH != "amd64" {
						b.Skip("--native is x86_64 only")
					}
					tg, _ := openBench(b, in, w)
					pauser, err := attach.NewPauser(tg.Pid)
					if err != nil {
						b.Skipf("ptrace: %v", err)
					}
					defer pauser.Close()
					// As the CLI does it: the round runs on the ptrace thread.
					var regs []attach.ThreadRegs
					var nregs []native.ThreadRegs
					p := prof.New(time.Now())
					s := New([]*Target{tg}, p, Options{Rate: 100, Native: true,
						Stopped: func(_ int, fn func([]native.ThreadRegs) error) (err error) {
							regs, err = pauser.WhilePaused(regs[:0], func(rs []attach.ThreadRegs) error {
								nregs = nregs[:0]
								for _, r := range rs {
									nregs = append(nregs, native.ThreadRegs{TID: r.TID, Regs: native.Regs{PC: r.PC, SP: r.SP, FP: r.FP}})
								}
								return fn(nregs)
							})
							return err
						}})
					s.start = time.Now()
					mean := 10 * time.Millisecond
					for range 100 { // warm: unwind rules, names, stacks
						s.sampleAll(time.Now(), time.Now(), mean, false)
					}
					before := p.Total()
					b.ReportAllocs()
					b.ResetTimer()
					cpu := cpuTime()
					for b.Loop() {
						now := time.Now()
						s.sampleAll(now, now, mean, false)
					}
					b.StopTimer()
					used := float64((cpuTime() - cpu).Nanoseconds())
					threadSamples := float64(p.Total() - before)
					b.ReportMetric(used/float64(b.N), "cpu-ns/sample")
					if threadSamples > 0 {
						b.ReportMetric(used/threadSamples, "cpu-ns/thread-sample")
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/sample")
					h := p.Health
					b.ReportMetric(float64(h.Errors)/float64(h.Samples), "errors/sample")
					if threadSamples == 0 {
						b.Error(errors.New("no thread sample recorded"))
					}
				})
			}
		})
	}
}

// BenchmarkAsyncSample measures one --async sampling round over
// asyncio_tree.py: the main thread's walk, its running task found and its
// chain of three tasks read. Like BenchmarkSample it must not allocate
// once the caches are warm.
//
//	go test -run '^$' -bench 'AsyncSample/pyenv-3.12' -benchmem ./sampler
func BenchmarkAsyncSample(b *testing.B) {
	for _, in := range benchInterpreters(b) {
		b.Run(in.Name, func(b *testing.B) {
			if !in.AtLeast(3, 11) || in.FreeThreaded {
				b.Skipf("%s: asyncio tasks are read on 3.11+, not free-threaded", in.Name)
			}
			tg, _ := openBench(b, in, benchWorkload{script: "asyncio_tree.py", frames: 3})
			if err := tg.EnableAsync(); err != nil {
				b.Fatal(err)
			}
			p := prof.New(time.Now())
			s := New([]*Target{tg}, p, Options{Rate: 100, Async: true, Idle: true})
			benchRounds(b, s)
			tasks := int64(0)
			for _, c := range p.Counts() {
				for _, f := range p.Stacks[c.Stack] {
					if p.Frames[f].Name == TaskFrameName("spinner") {
						tasks += c.N
					}
				}
			}
			if tasks == 0 {
				b.Error("no sample shows the spinner task")
			}
		})
	}
}
