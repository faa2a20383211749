// Command bench measures what pyspyglass costs the process it watches and
// what it costs itself, side by side with other profilers, and writes
// BENCHMARKS.md with an SVG plot. It runs real processes from testdata/
// and takes minutes; `go test ./...` only compiles it.
//
//	go run ./bench                       # everything, defaults (about 15 minutes)
//	go run ./bench --peer austin=/usr/bin/austin --python /root/.pyenv/versions/3.9.18/bin/python
//	go run ./bench --sections sweep,dump --out /tmp/b.md --svg /tmp/b.svg
//
// Every figure is repeated (--runs, at least 5 for the slowdown) and shown
// as median (min–max). Each profiled run follows an unprofiled run of the
// same work, and the slowdown is their ratio, so a change of machine load
// hits both alike.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
)

type options struct {
	pythons      []string
	bin          string
	peers        []string
	runs         int
	rates        []float64
	work         float64
	workloads    []string
	sections     []string
	blocking     bool
	native       bool
	sweepRates   []float64
	sweepSeconds float64
	sweepRuns    int
	idleSeconds  float64
	dumpRuns     int
	memMinutes   float64
	out, svg     string
	notes        string
	maxLoad      float64
	loadWait     time.Duration
	uploadCost   string
	uploadMin    float64
	sideAustin   string
	sideTachyon  string
	sideRates    []float64
}

var allSections = []string{"gobench", "slowdown", "idle", "sweep", "dump", "memory", "peers"}

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		killAll()
		fmt.Fprintln(os.Stderr, "bench: interrupted; no report written")
		os.Exit(130)
	}()
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	var o options
	fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
	fs.StringArrayVar(&o.pythons, "python", []string{defaultPython()}, "Python interpreter that runs the workloads; repeatable, each measured in turn (the budgets are checked on the first)")
	fs.StringVar(&o.bin, "bin", "", "pyspyglass binary to measure (default: build ./cmd/pyspyglass into a temporary directory)")
	fs.StringArrayVar(&o.peers, "peer", nil, "another profiler measured the same way, NAME=PATH (known: austin); repeatable")
	fs.IntVar(&o.runs, "runs", 5, "runs of each configuration (slowdown: rounds, each profiled run paired with an unprofiled one)")
	fs.Float64SliceVar(&o.rates, "rates", []float64{100, 1000, 10000}, "sampling rates (Hz) of the slowdown and idle measurements")
	fs.Float64Var(&o.work, "work", 1, "seconds of work of an unprofiled fixed-work run (the units are calibrated to it)")
	fs.StringSliceVar(&o.workloads, "workloads", []string{"stack30", "deep500", "threads50", "idle"}, "workloads to measure")
	fs.StringSliceVar(&o.sections, "sections", allSections, "measurements to take: "+strings.Join(allSections, ","))
	fs.BoolVar(&o.blocking, "blocking", true, "also measure pyspyglass --blocking in the slowdown runs")
	fs.BoolVar(&o.native, "native", true, "also measure pyspyglass --native at 100 Hz in the slowdown runs")
	fs.Float64SliceVar(&o.sweepRates, "sweep-rates", []float64{1000, 2000, 5000, 10000, 20000, 50000, 100000}, "rates tried for the highest sustained rate")
	fs.Float64Var(&o.sweepSeconds, "sweep-seconds", 2, "seconds of each sweep run")
	fs.IntVar(&o.sweepRuns, "sweep-runs", 3, "runs of each sweep rate")
	fs.Float64Var(&o.idleSeconds, "idle-seconds", 3, "seconds of each run on the idle target")
	fs.IntVar(&o.dumpRuns, "dump-runs", 10, "runs of each dump measurement")
	fs.Float64Var(&o.memMinutes, "memory-minutes", 0.5, "minutes of the memory run at 1 kHz")
	fs.StringVar(&o.out, "out", "BENCHMARKS.md", "report to write (relative to the repository root)")
	fs.StringVar(&o.svg, "svg", "bench/benchmarks.svg", "plot to write (relative to the repository root)")
	fs.StringVar(&o.notes, "notes", "bench/NOTES.md", "markdown appended to the report, if the file exists (analysis that outlives a run)")
	fs.Float64Var(&o.maxLoad, "max-load", 0, "before each measurement, wait until the 1-minute load average is below this (0: do not wait)")
	fs.DurationVar(&o.loadWait, "load-wait", 10*time.Minute, "longest wait for --max-load")
	fs.StringVar(&o.uploadCost, "upload-cost", "", "instead of the report: measure upload mode against plain recording, sending to this test collector binary")
	fs.Float64Var(&o.uploadMin, "upload-minutes", 10, "minutes of each --upload-cost recording")
	fs.StringVar(&o.sideAustin, "side-austin", "", "peers section: austin 3.x binary run side by side with pyspyglass (and its -w against dump)")
	fs.StringVar(&o.sideTachyon, "side-tachyon", "", "peers section: root filesystem holding /usr/bin/python3.15, whose profiling.sampling (Tachyon) runs side by side with pyspyglass")
	fs.Float64SliceVar(&o.sideRates, "side-rates", []float64{100, 1000}, "peers section: sampling rates (Hz)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.runs < 1 || o.sweepRuns < 1 || o.dumpRuns < 1 {
		return errors.New("--runs, --sweep-runs and --dump-runs must be at least 1")
	}
	for _, s := range o.sections {
		if !slices.Contains(allSections, s) {
			return fmt.Errorf("--sections: unknown %q (known: %s)", s, strings.Join(allSections, ","))
		}
	}
	var ws []workload
	for _, name := range o.workloads {
		i := slices.IndexFunc(allWorkloads, func(w workload) bool { return w.name == name })
		if i < 0 {
			return fmt.Errorf("--workloads: unknown %q", name)
		}
		ws = append(ws, allWorkloads[i])
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "pyspyglass-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	h := &harness{root: root, tmp: tmp, log: func(f string, a ...any) {
		fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+f+"\n", a...)
	}}
	if o.bin == "" {
		o.bin = filepath.Join(tmp, "pyspyglass")
		h.log("building pyspyglass")
		build := exec.Command("go", "build", "-o", o.bin, "./cmd/pyspyglass")
		build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
		build.Env = append(os.Environ(), "CGO_ENABLED=0") // as make build: see the Makefile
		if err := build.Run(); err != nil {
			return fmt.Errorf("build pyspyglass: %w", err)
		}
	}
	if o.uploadCost != "" {
		return uploadCost(root, o.bin, tmp, o.uploadCost, o.pythons[0], o.uploadMin)
	}
	h.ours = &tool{name: "pyspyglass", kind: "pyspyglass", path: o.bin}
	tools := []*tool{h.ours}
	for _, p := range o.peers {
		tl, err := parsePeer(p)
		if err != nil {
			return err
		}
		tools = append(tools, tl)
	}
	res := &results{opts: o, started: time.Now(), machine: describeMachine(root), tools: tools}
	res.loadStart = loadAvg()
	b := &bench{h: h, o: o, res: res, tools: tools}
	for i, py := range o.pythons {
		h.python = py
		b.cur = &pyRun{python: py, version: pythonVersion(py), svg: o.svg, unsupported: map[*tool]string{}}
		if i > 0 {
			b.cur.svg = strings.TrimSuffix(o.svg, ".svg") + "-py" + b.cur.version + ".svg"
		}
		res.runs = append(res.runs, b.cur)
		b.measure(ws)
	}
	res.finished = time.Now()
	res.loadEnd = loadAvg()
	outPath := filepath.Join(root, o.out)
	if filepath.IsAbs(o.out) {
		outPath = o.out
	}
	for _, run := range res.runs {
		svgPath := filepath.Join(root, run.svg)
		if filepath.IsAbs(run.svg) {
			svgPath = run.svg
		}
		if err := os.WriteFile(svgPath, plot(run), 0o644); err != nil {
			return err
		}
		if rel, err := filepath.Rel(filepath.Dir(outPath), svgPath); err == nil {
			run.svg = rel
		} else {
			run.svg = svgPath
		}
		h.log("wrote %s", svgPath)
	}
	notes, _ := os.ReadFile(filepath.Join(root, o.notes))
	if err := os.WriteFile(outPath, []byte(writeReport(res, string(notes))), 0o644); err != nil {
		return err
	}
	h.log("wrote %s", outPath)
	return nil
}

// measure takes every section with the current interpreter.
func (b *bench) measure(ws []workload) {
	for _, s := range b.o.sections {
		b.waitLoad(s)
		sec := sectionLoad{name: s, start: loadAvg(), at: time.Now()}
		b.h.log("Python %s: %s", b.cur.version, s)
		switch s {
		case "slowdown":
			for _, w := range ws {
				if w.script != "" {
					b.slowdown(w)
				}
			}
		case "idle":
			if slices.ContainsFunc(ws, func(w workload) bool { return w.name == "idle" }) {
				b.idle()
			}
		case "sweep":
			for _, w := range ws {
				if w.name == "stack30" || w.name == "deep500" {
					b.sweep(w)
				}
			}
		case "gobench":
			b.gobench()
		case "dump":
			b.dump()
		case "memory":
			b.memory()
		case "peers":
			if i := slices.Index(b.res.runs, b.cur); i == 0 {
				b.peers(ws) // once: Tachyon has its own interpreter
			}
		}
		sec.end, sec.took = loadAvg(), time.Since(sec.at)
		b.cur.sections = append(b.cur.sections, sec)
	}
}

// defaultPython is 3.12 from pyenv when installed (the version the budget
// is set for), else python3 on PATH.
func defaultPython() string {
	if m, _ := filepath.Glob("/root/.pyenv/versions/3.12*/bin/python"); len(m) > 0 {
		return m[0]
	}
	if p, err := exec.LookPath("python3"); err == nil {
		return p
	}
	return "python3"
}

// waitLoad waits, bounded, for a quiet machine before a section.
func (b *bench) waitLoad(section string) {
	if b.o.maxLoad <= 0 {
		return
	}
	deadline := time.Now().Add(b.o.loadWait)
	for l := loadAvg(); l[0] >= b.o.maxLoad; l = loadAvg() {
		if time.Now().After(deadline) {
			b.h.log("%s: load %.2f still above %.2f after %v; measuring anyway", section, l[0], b.o.maxLoad, b.o.loadWait)
			return
		}
		b.h.log("%s: waiting for the load (%.2f) to fall below %.2f", section, l[0], b.o.maxLoad)
		time.Sleep(15 * time.Second)
	}
}
