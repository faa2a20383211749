package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// config is one profiled setting of the slowdown and idle measurements.
type config struct {
	tool     *tool
	rate     float64
	blocking bool
	native   bool // pyspyglass --native (at 100 Hz, its budget's rate)
}

func (c config) mode() string {
	switch {
	case c.native:
		return "native"
	case c.blocking:
		return "blocking"
	case c.tool.ours():
		return "non-blocking"
	}
	return "default"
}

// cell is the measurements of one config on one workload.
type cell struct {
	cfg         config
	slowdown    spread // profiled work time / unprofiled work time of the same round
	cpuSample   spread // µs of profiler CPU per sampling round
	cpuShare    spread // profiler CPU, % of one core
	achievedPct spread // rounds per second, % of the requested rate
	errors      int64  // failed samples the profiler reported
	unseen      int    // runs where the start of sampling was not seen
	failed      string // why this config was given up, if it was
}

// record adds one run's phase to c.
func (c *cell) record(ph phase) {
	if !ph.cpuLost {
		c.cpuSample = append(c.cpuSample, ph.cpuPerSample())
		c.cpuShare = append(c.cpuShare, ph.cpuShare())
	}
	c.achievedPct = append(c.achievedPct, 100*ph.achieved/c.cfg.rate)
	c.errors += ph.errors
	if c.cfg.tool.ours() && !ph.attached {
		c.unseen++
	}
}

type slowdownResult struct {
	w          workload
	units      int
	unprofiled spread // seconds
	cells      []*cell
}

type sweepRow struct {
	tool        *tool
	rate        float64
	achieved    spread // Hz
	achievedPct spread
	cpuSample   spread
	failed      string
}

type sweepResult struct {
	w    workload
	rows []*sweepRow
}

type dumpResult struct {
	title string
	ms    spread
	err   string
}

type memoryResult struct {
	tool    *tool
	minutes float64
	rss     []int64 // bytes, one a second
	peak    int64
	err     string
}

type sectionLoad struct {
	name       string
	at         time.Time
	took       time.Duration
	start, end [3]float64
}

// results is everything a run measured, for the report.
type results struct {
	opts               options
	machine            machine
	tools              []*tool
	started, finished  time.Time
	loadStart, loadEnd [3]float64
	runs               []*pyRun
	problems           []string
}

// pyRun is what was measured with one interpreter running the workloads.
type pyRun struct {
	python, version string
	// unsupported holds why a peer was given up on for this interpreter:
	// the first run it cannot make (austin 1.0 times out searching 3.11+
	// interpreters) drops it from every later measurement, so no figure
	// of a profiler reading the wrong layout is reported.
	unsupported map[*tool]string
	svg         string // the plot's path, relative to the report once written
	sections    []sectionLoad
	slowdowns   []*slowdownResult
	idle        []*cell
	sweeps      []*sweepResult
	dumps       []*dumpResult
	memory      []*memoryResult
	side        []*sideRow
	sideDumps   []*sideDump
	gobench     []string // result lines of the Go benchmarks
	gobenchErr  string
}

type bench struct {
	h     *harness
	o     options
	res   *results
	cur   *pyRun
	tools []*tool
}

// skip reports whether tl is not measured on the current interpreter.
func (b *bench) skip(tl *tool) bool { return b.cur.unsupported[tl] != "" }

// giveUp drops a peer whose run failed for the rest of this interpreter.
func (b *bench) giveUp(tl *tool, err error) {
	if !tl.ours() && b.cur.unsupported[tl] == "" {
		b.cur.unsupported[tl] = err.Error()
	}
}

func (b *bench) problem(format string, args ...any) {
	msg := "Python " + b.cur.version + ": " + fmt.Sprintf(format, args...)
	b.h.log("problem: %s", msg)
	b.res.problems = append(b.res.problems, msg)
}

// slowdown interleaves unprofiled and profiled runs of w's fixed work.
func (b *bench) slowdown(w workload) {
	b.h.log("slowdown %s: calibrating", w.name)
	units, err := b.h.calibrate(w, b.o.work)
	if err != nil {
		b.problem("slowdown %s: calibration: %v", w.name, err)
		return
	}
	r := &slowdownResult{w: w, units: units}
	for _, tl := range b.tools {
		for _, rate := range b.o.rates {
			r.cells = append(r.cells, &cell{cfg: config{tool: tl, rate: rate}})
			if tl.ours() && b.o.blocking {
				r.cells = append(r.cells, &cell{cfg: config{tool: tl, rate: rate, blocking: true}})
			}
			if tl.ours() && b.o.native && rate == nativeRate {
				r.cells = append(r.cells, &cell{cfg: config{tool: tl, rate: rate, native: true}})
			}
		}
	}
	b.cur.slowdowns = append(b.cur.slowdowns, r)
	for round := range b.o.runs {
		b.h.log("slowdown %s round %d/%d", w.name, round+1, b.o.runs)
		// Rotate the order each round, so no config always runs first.
		for j := range r.cells {
			c := r.cells[(j+round)%len(r.cells)]
			if c.failed != "" || b.skip(c.cfg.tool) {
				continue
			}
			// Each profiled run is paired with an unprofiled run just
			// before it: the load of a shared machine drifts within a
			// round, far less within a pair.
			base, _, err := b.h.fixedRun(w, units, nil, 0, config{})
			if err != nil {
				b.problem("slowdown %s: unprofiled run: %v", w.name, err)
				continue
			}
			r.unprofiled = append(r.unprofiled, base)
			work, ph, err := b.h.fixedRun(w, units, c.cfg.tool, c.cfg.rate, c.cfg)
			if err != nil {
				b.giveUp(c.cfg.tool, err)
				c.failed = err.Error()
				b.problem("slowdown %s: %s %s %.0f Hz: %v (not tried again)", w.name, c.cfg.tool.name, c.cfg.mode(), c.cfg.rate, err)
				continue
			}
			c.slowdown = append(c.slowdown, work/base)
			c.record(ph)
			b.h.log("  %-10s %-12s %6.0f Hz: %.3fs / %.3fs = x%.3f, %.0f Hz achieved, %.1f µs/sample", c.cfg.tool.name, c.cfg.mode(), c.cfg.rate,
				work, base, work/base, ph.achieved, ph.cpuPerSample())
		}
	}
}

// idle measures the profiler's own cost on a target doing nothing.
func (b *bench) idle() {
	w := allWorkloads[3]
	for _, tl := range b.tools {
		for _, rate := range b.o.rates {
			if b.skip(tl) {
				break
			}
			c := &cell{cfg: config{tool: tl, rate: rate}}
			b.cur.idle = append(b.cur.idle, c)
			for range b.o.runs {
				ph, err := b.h.steadyRun(w, tl, rate, seconds(b.o.idleSeconds))
				if err != nil {
					b.giveUp(tl, err)
					c.failed = err.Error()
					b.problem("idle: %s %.0f Hz: %v", tl.name, rate, err)
					break
				}
				c.record(ph)
			}
			b.h.log("idle %s %.0f Hz: %s µs/sample, %s %% CPU", tl.name, rate, c.cpuSample.format("%.1f"), c.cpuShare.format("%.2f"))
		}
	}
}

// sweep finds the highest rate sustained on a CPU-bound workload.
func (b *bench) sweep(w workload) {
	r := &sweepResult{w: w}
	b.cur.sweeps = append(b.cur.sweeps, r)
	for _, tl := range b.tools {
		for _, rate := range b.o.sweepRates {
			if b.skip(tl) {
				break
			}
			row := &sweepRow{tool: tl, rate: rate}
			r.rows = append(r.rows, row)
			for range b.o.sweepRuns {
				ph, err := b.h.steadyRun(w, tl, rate, seconds(b.o.sweepSeconds))
				if err != nil {
					b.giveUp(tl, err)
					row.failed = err.Error()
					b.problem("sweep %s: %s %.0f Hz: %v", w.name, tl.name, rate, err)
					break
				}
				row.achieved = append(row.achieved, ph.achieved)
				row.achievedPct = append(row.achievedPct, 100*ph.achieved/rate)
				if !ph.cpuLost {
					row.cpuSample = append(row.cpuSample, ph.cpuPerSample())
				}
			}
			b.h.log("sweep %s %s %.0f Hz: %s Hz achieved, %s µs/sample", w.name, tl.name, rate, row.achieved.format("%.0f"), row.cpuSample.format("%.1f"))
			if row.failed != "" {
				break
			}
		}
	}
}

// highest is the highest rate of tl in r whose median achieved rate is at
// least 95% of the request, or 0.
func (r *sweepResult) highest(tl *tool) float64 {
	best := 0.0
	for _, row := range r.rows {
		if row.tool == tl && len(row.achievedPct) > 0 && row.achievedPct.median() >= 95 {
			best = max(best, row.rate)
		}
	}
	return best
}

// dump times pyspyglass dump on 10 idle threads, on a 500-deep stack and
// on a hung process of 50 threads (waits, holders, a deadlock),
// interleaved.
func (b *bench) dump() {
	type dumpTarget struct {
		r      *dumpResult
		script string
		args   []string
		t      *target
	}
	targets := []*dumpTarget{
		{r: &dumpResult{title: "10 idle threads (idle_threads.py 10)"}, script: "idle_threads.py", args: []string{"10"}},
		{r: &dumpResult{title: "500-deep stack (deep.py 500)"}, script: "deep.py", args: []string{"500"}},
		{r: &dumpResult{title: "50 hung threads, a deadlock (hang.py deadlock threads=40)"}, script: "hang.py", args: []string{"deadlock", "threads=40"}},
	}
	for _, d := range targets {
		b.cur.dumps = append(b.cur.dumps, d.r)
		t, err := startTarget(b.h.python, b.h.root, d.script, d.args...)
		if err != nil {
			d.r.err = err.Error()
			continue
		}
		defer t.kill()
		d.t = t
	}
	for range b.o.dumpRuns {
		for _, d := range targets {
			if d.t == nil || d.r.err != "" {
				continue
			}
			took, err := b.h.dumpRun(d.t.pid())
			if err != nil {
				d.r.err = err.Error()
				continue
			}
			d.r.ms = append(d.r.ms, float64(took.Microseconds())/1000)
		}
	}
	for _, d := range targets {
		b.h.log("dump %s: %s ms", d.r.title, d.r.ms.format("%.2f"))
	}
}

// gobench runs the walk and sampling-round benchmarks of sampler/ on the
// current interpreter: the profiler's cost without the process around it
// (timers, wake-ups, the Go runtime).
func (b *bench) gobench() {
	pattern := "Stack|Sample/./-" + strings.ReplaceAll(b.cur.version, ".", `\.`) + "$"
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", pattern, "-benchmem", "-count", "1", "./sampler")
	cmd.Dir = b.h.root
	cmd.Env = append(os.Environ(), "PYSPYGLASS_PYTHONS="+b.cur.python)
	out, err := cmd.CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "Benchmark") {
			b.cur.gobench = append(b.cur.gobench, strings.Join(strings.Fields(l), " "))
		}
	}
	if err != nil || len(b.cur.gobench) == 0 {
		b.cur.gobenchErr = fmt.Sprintf("%v: %s", err, tail(string(out), 400))
		b.problem("gobench: %s", b.cur.gobenchErr)
	}
	b.h.log("gobench: %d results", len(b.cur.gobench))
}

// memory records threads_many.py 50 at 1 kHz and watches the resident set.
func (b *bench) memory() {
	w := allWorkloads[2]
	t, err := startTarget(b.h.python, b.h.root, w.steady, w.steadyArgs...)
	if err != nil {
		b.problem("memory: %v", err)
		return
	}
	defer t.kill()
	for _, tl := range b.tools {
		if b.skip(tl) {
			continue
		}
		m := &memoryResult{tool: tl, minutes: b.o.memMinutes}
		b.cur.memory = append(b.cur.memory, m)
		b.h.log("memory: %s at 1 kHz for %.1f min", tl.name, b.o.memMinutes)
		rss, peak, err := b.h.memoryRun(t.pid(), tl, 1000, seconds(60*b.o.memMinutes))
		m.rss, m.peak = rss, peak
		if err != nil {
			b.giveUp(tl, err)
			m.err = err.Error()
		}
	}
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// rateName shows 100, 1 kHz, 10 kHz.
func rateName(r float64) string {
	if r >= 1000 {
		return strings.TrimSuffix(fmt.Sprintf("%g", r/1000), ".0") + " kHz"
	}
	return fmt.Sprintf("%g Hz", r)
}
