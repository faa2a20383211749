package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// workload is a testdata script in two forms: fixed work behind a gate
// (for slowdown: the script times its own work) and steady (runs until
// killed, for CPU cost, the rate sweep and memory).
type workload struct {
	name, title string
	script      string   // fixed-work script, "" if none
	args        []string // its arguments before UNITS
	steady      string
	steadyArgs  []string
	units0      int      // units of a first calibration run
	waiting     []string // functions on the stacks before the gate opens
}

var allWorkloads = []workload{
	{name: "stack30", title: "1 thread, 30-deep stack, CPU-bound (stack30_work.py / stack30.py)",
		script: "stack30_work.py", steady: "stack30.py", units0: 300000, waiting: []string{"gate"}},
	{name: "deep500", title: "1 thread, 500-deep recursion, CPU-bound (deep_busy.py 500)",
		script: "deep_busy.py", args: []string{"500"}, steady: "deep_busy.py", steadyArgs: []string{"500"}, units0: 300000,
		waiting: []string{"gate"}},
	{name: "threads50", title: "50 threads, half CPU-bound, half sleeping 1 ms at a time (threads_work.py 50 / threads_many.py 50)",
		script: "threads_work.py", args: []string{"50"}, steady: "threads_many.py", steadyArgs: []string{"50"}, units0: 20000,
		waiting: []string{"gate", "wait_event"}},
	{name: "idle", title: "1 thread parked in sleep (idle.py)", steady: "idle.py"},
}

// harness holds what every measurement needs.
type harness struct {
	root   string
	python string
	ours   *tool
	tmp    string
	log    func(format string, args ...any)
	seq    int
}

func (h *harness) outFile(ext string) string {
	h.seq++
	return filepath.Join(h.tmp, fmt.Sprintf("out-%d%s", h.seq, ext))
}

// phase is what one profiled run measured over its measured phase: from
// shortly after the gate opened (warmUp) until the work was done or the
// steady run's time was up, while the profiler was sampling all along.
type phase struct {
	samples  float64       // sampling rounds in the phase
	cpu      time.Duration // profiler CPU in the phase
	seconds  float64       // the phase's length
	achieved float64       // rounds per second
	errors   int64
	attached bool // the start of sampling was seen (ours) rather than waited for (peers)
	cpuLost  bool // the profiler's CPU time could not be measured over the phase
}

func (p phase) cpuPerSample() float64 { // µs
	if p.samples <= 0 {
		return 0
	}
	return float64(p.cpu.Nanoseconds()) / 1000 / p.samples
}

func (p phase) cpuShare() float64 { // % of one core
	if p.seconds <= 0 {
		return 0
	}
	return 100 * p.cpu.Seconds() / p.seconds
}

const (
	// peerSettle is how long a peer is given to attach before the gate
	// opens: peers do not show when they take their first sample.
	peerSettle = 500 * time.Millisecond
	// warmUp passes between opening the gate and the start of the
	// measured phase: the profiler's first samples of the new stack fill
	// its caches, which is not the steady cost.
	warmUp = 100 * time.Millisecond
)

// attach starts tl on pid and waits until it samples.
func (h *harness) attach(tl *tool, s session) (*profiler, bool, error) {
	p, err := startProfiler(tl.argv(s), nil)
	if err != nil {
		return nil, false, err
	}
	seen := false
	if tl.ours() {
		seen = sampling(p, s.pid, 10*time.Second)
	} else {
		select {
		case <-p.exited:
		case <-time.After(peerSettle):
		}
	}
	select {
	case <-p.exited:
		p.wait(0)
		return nil, false, fmt.Errorf("%s exited while attaching: %v %s", tl.name, p.err, tail(p.stderr.String(), 400))
	default:
	}
	return p, seen, nil
}

// mark is a point in a profiled run: the time and the profiler's CPU.
type mark struct {
	at  time.Time
	cpu time.Duration
}

func markNow(p *profiler) (mark, error) {
	cpu, err := cpuNow(p.pid())
	return mark{at: time.Now(), cpu: cpu}, err
}

// finish turns a run's marks and the profiler's own report into a phase.
// Our achieved rate is the one pyspyglass reports for its whole run; a
// peer's is its rounds after the gate over the time since (austin prints
// one line per thread and sample, without time stamps).
func (h *harness) finish(tl *tool, p *profiler, w workload, gated bool, goAt time.Time, m0, m1 mark, ph *phase) error {
	// A thread of the profiler that ended between the marks takes its
	// schedstat with it: then the difference means nothing.
	ph.cpuLost = m1.cpu < m0.cpu
	ph.cpu = max(0, m1.cpu-m0.cpu)
	ph.seconds = m1.at.Sub(m0.at).Seconds()
	if tl.ours() {
		r, err := parseSummary(p.stderr.String())
		if err != nil {
			return err
		}
		ph.achieved, ph.errors = r.achieved, r.errors
	} else {
		r, err := parseAustin(p.stderr.String())
		if err != nil {
			return err
		}
		ph.errors = r.errors
		waiting := w.waiting
		if !gated {
			waiting = nil
		}
		rounds, err := austinRounds(p.cmd.Args[len(p.cmd.Args)-1], waiting...)
		if err != nil {
			return err
		}
		span := p.usage.wall.Seconds()
		if gated {
			span = p.start.Add(p.usage.wall).Sub(goAt).Seconds() // gate to exit
		}
		if span > 0 {
			ph.achieved = rounds / span
		}
	}
	ph.samples = ph.achieved * ph.seconds
	return nil
}

// fixedRun runs w's fixed work once, profiled by tl (nil: unprofiled).
// It returns the work's seconds as the script timed them.
func (h *harness) fixedRun(w workload, units int, tl *tool, rate float64, mode config) (float64, phase, error) {
	args := append(append([]string{}, w.args...), strconv.Itoa(units))
	t, err := startTarget(h.python, h.root, w.script, args...)
	if err != nil {
		return 0, phase{}, err
	}
	defer t.kill()
	if tl == nil {
		work, err := t.run(30 * time.Minute)
		if err != nil {
			return 0, phase{}, fmt.Errorf("%s: %w", w.script, err)
		}
		return work, phase{}, t.wait(time.Minute)
	}
	var ph phase
	s := session{pid: t.pid(), rate: rate, blocking: mode.blocking, native: mode.native, out: h.outFile(".txt")}
	defer os.Remove(s.out)
	p, seen, err := h.attach(tl, s)
	if err != nil {
		return 0, ph, err
	}
	ph.attached = seen
	defer func() {
		p.cmd.Process.Kill()
		p.wait(time.Minute)
	}()
	goAt := time.Now()
	if err := t.open(); err != nil {
		return 0, ph, err
	}
	time.Sleep(warmUp)
	m0, err := markNow(p)
	if err != nil {
		return 0, ph, err
	}
	work, err := t.result(30 * time.Minute)
	if err != nil {
		return 0, ph, fmt.Errorf("%s: %w", w.script, err)
	}
	m1, err := markNow(p)
	if err != nil {
		return 0, ph, fmt.Errorf("%s exited before the work was done: %w: %s", tl.name, err, tail(p.stderr.String(), 400))
	}
	t.wait(time.Minute)
	if err := p.wait(time.Minute); err != nil && tl.ours() {
		return 0, ph, fmt.Errorf("%s: %w: %s", tl.name, err, tail(p.stderr.String(), 400))
	}
	if work <= warmUp.Seconds() {
		return 0, ph, fmt.Errorf("%s: work of %.3fs is shorter than the warm-up: raise --work", w.script, work)
	}
	return work, ph, h.finish(tl, p, w, true, goAt, m0, m1, &ph)
}

// calibrate finds the units that make w's unprofiled work last about
// seconds.
func (h *harness) calibrate(w workload, seconds float64) (int, error) {
	units := w.units0
	for range 3 {
		s, _, err := h.fixedRun(w, units, nil, 0, config{})
		if err != nil {
			return 0, err
		}
		next := int(float64(units) * seconds / max(s, 1e-3))
		if s > seconds/2 {
			return next, nil
		}
		units = next
	}
	return units, nil
}

// endless is the units of a fixed-work run that outlasts any measurement.
const endless = "1000000000000"

// steadyRun profiles w for d: its fixed-work script with endless work
// opened right after the profiler attached, or (idle) its steady script.
// The profiler is stopped with SIGINT.
func (h *harness) steadyRun(w workload, tl *tool, rate float64, d time.Duration) (phase, error) {
	gated := w.script != ""
	var t *target
	var err error
	if gated {
		t, err = startTarget(h.python, h.root, w.script, append(append([]string{}, w.args...), endless)...)
	} else {
		t, err = startTarget(h.python, h.root, w.steady, w.steadyArgs...)
	}
	if err != nil {
		return phase{}, err
	}
	defer t.kill()
	s := session{pid: t.pid(), rate: rate, out: h.outFile(".txt")}
	defer os.Remove(s.out)
	p, seen, err := h.attach(tl, s)
	if err != nil {
		return phase{}, err
	}
	defer func() {
		p.cmd.Process.Kill()
		p.wait(time.Minute)
	}()
	ph := phase{attached: seen}
	goAt := time.Now()
	if gated {
		if err := t.open(); err != nil {
			return ph, err
		}
	}
	time.Sleep(warmUp)
	m0, err := markNow(p)
	if err != nil {
		return ph, err
	}
	time.Sleep(d)
	m1, err := markNow(p)
	if err != nil {
		return ph, fmt.Errorf("%s exited early: %w: %s", tl.name, err, tail(p.stderr.String(), 400))
	}
	if err := p.stop(time.Minute); err != nil && tl.ours() {
		return ph, fmt.Errorf("%s: %w: %s", tl.name, err, tail(p.stderr.String(), 400))
	}
	return ph, h.finish(tl, p, w, gated, goAt, m0, m1, &ph)
}

// dumpRun times `pyspyglass dump` on pid, from process start to exit.
func (h *harness) dumpRun(pid int) (time.Duration, error) {
	cmd := exec.Command(h.ours.path, "dump", "--pid", strconv.Itoa(pid))
	start := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("dump --pid %d: %w: %s", pid, err, tail(string(out), 400))
	}
	return d, nil
}

// memoryRun profiles pid at rate for d, noting the profiler's resident
// set every second; it returns the samples and the peak (VmHWM).
func (h *harness) memoryRun(pid int, tl *tool, rate float64, d time.Duration) ([]int64, int64, error) {
	s := session{pid: pid, rate: rate, out: h.outFile(".txt")}
	defer os.Remove(s.out)
	if tl.ours() {
		s.duration = d
	}
	p, _, err := h.attach(tl, s)
	if err != nil {
		return nil, 0, err
	}
	var rss []int64
	var peak int64
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	end := time.After(d)
loop:
	for {
		select {
		case <-tick.C:
			if r, hwm := rssNow(p.pid()); r > 0 {
				rss = append(rss, r)
				peak = max(peak, hwm)
			}
		case <-p.exited:
			break loop
		case <-end:
			if !tl.ours() {
				p.stop(time.Minute)
				break loop
			}
		}
	}
	if err := p.wait(time.Minute); err != nil && tl.ours() {
		return rss, peak, fmt.Errorf("%s: %w: %s", tl.name, err, tail(p.stderr.String(), 400))
	}
	return rss, peak, nil
}
