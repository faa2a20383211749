package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pyspyglass/pyspyglass/pyabi"
)

// The peers section: pyspyglass side by side with austin 3.x (--side-austin)
// and CPython 3.15's own sampler, Tachyon (--side-tachyon, a Debian root
// holding python3.15). Each target is started once and the profilers take
// turns on it, in an order rotated each round, so a change of the shared
// machine's load hits all alike. Cost is the profiler's CPU per sampling
// round (one pass over all threads) in a window that leaves out its
// start-up; a round is what each tool reports it achieved.

// sideTool is one profiler of the peers section.
type sideTool struct {
	name string
	// argv runs it on pid at rate for secs seconds, writing to out.
	argv func(pid int, rate float64, secs int, out string) []string
	// achieved reads the rounds per second it reports.
	achieved func(stderr, stdout, out string) (float64, error)
	out      func(tmp string) string // where it writes (a host path)
}

// sideRow is one workload at one rate on one interpreter: each tool's
// CPU µs per round over the runs.
type sideRow struct {
	group    string // which interpreter and peer
	w        workload
	rate     float64
	cost     map[string]spread
	achieved map[string]spread
	failed   map[string]string
	order    []string
	load     [2][3]float64
}

// sideDump is one-shot dump wall time, ours against austin -w.
type sideDump struct {
	w        workload
	ours     spread // ms, every run after the first
	oursCold spread // ms, the first dump of a build (no cache yet)
	austin   spread
	failed   string
}

const sideSeconds = 4 // measured window of each run

var (
	tachyonRateRE = regexp.MustCompile(`Sample rate:\s*([0-9.]+)`)
	austinDurRE   = regexp.MustCompile(`(?m)^# duration:\s*(\d+)`)
	ansiRE        = regexp.MustCompile("\x1b\\[[0-9;]*m")
)

func (b *bench) oursSide() *sideTool {
	return &sideTool{
		name: "pyspyglass",
		argv: func(pid int, rate float64, secs int, out string) []string {
			return []string{b.h.ours.path, "record", "--pid", strconv.Itoa(pid), "--rate", strconv.FormatFloat(rate, 'f', -1, 64),
				"--duration", strconv.Itoa(secs), "--format", "collapsed", "-o", out}
		},
		achieved: func(stderr, _, _ string) (float64, error) {
			r, err := parseSummary(stderr)
			return r.achieved, err
		},
		out: func(tmp string) string { return filepath.Join(tmp, "side-ours.txt") },
	}
}

func austinSide(path string) *sideTool {
	return &sideTool{
		name: "austin",
		argv: func(pid int, rate float64, secs int, out string) []string {
			return []string{path, "-i", strconv.Itoa(max(1, int(1e6/rate+0.5))), "-x", strconv.Itoa(secs), "-p", strconv.Itoa(pid), "-o", out}
		},
		achieved: func(_, _, out string) (float64, error) { return austin3Rate(out) },
		out:      func(tmp string) string { return filepath.Join(tmp, "side-austin.txt") },
	}
}

// austin3Rate is austin 3's rounds per second: its sample lines (one per
// thread and round, "P<pid>;T<iid>:<tid>;frames metric") divided by the
// threads seen, over the duration in its footer.
func austin3Rate(out string) (float64, error) {
	f, err := os.Open(out)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var lines, dur float64
	threads := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		l := sc.Text()
		if m := austinDurRE.FindStringSubmatch(l); m != nil {
			dur, _ = strconv.ParseFloat(m[1], 64)
			continue
		}
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.SplitN(l, ";", 3)
		if len(f) < 2 {
			continue
		}
		threads[f[0]+";"+f[1]] = true
		lines++
	}
	if len(threads) == 0 || dur == 0 {
		return 0, fmt.Errorf("austin wrote no samples or no duration to %s", out)
	}
	return lines / float64(len(threads)) / (dur / 1e6), nil
}

// tachyonSide runs python3.15 -m profiling.sampling chrooted into root,
// where /proc must be mounted (withRootProc).
func tachyonSide(root string) *sideTool {
	return &sideTool{
		name: "Tachyon",
		argv: func(pid int, rate float64, secs int, out string) []string {
			return []string{"chroot", root, "/usr/bin/python3.15", "-m", "profiling.sampling", "attach", "-r", strconv.FormatFloat(rate, 'f', -1, 64),
				"-d", strconv.Itoa(secs), "-a", "--collapsed", "-o", strings.TrimPrefix(out, root), strconv.Itoa(pid)}
		},
		achieved: func(stderr, stdout, _ string) (float64, error) {
			m := tachyonRateRE.FindStringSubmatch(stdout + stderr)
			if m == nil {
				return 0, fmt.Errorf("no sample rate in Tachyon's output: %q", tail(stdout+stderr, 300))
			}
			return strconv.ParseFloat(m[1], 64)
		},
		out: func(string) string { return filepath.Join(root, "tmp", "pyspyglass-side-tachyon.txt") },
	}
}

// sideRun measures one profiler on the live target pid.
func (b *bench) sideRun(tl *sideTool, pid int, rate float64) (cost, achieved float64, err error) {
	out := tl.out(b.h.tmp)
	defer os.Remove(out)
	var stdout strings.Builder
	p, err := startProfiler(tl.argv(pid, rate, sideSeconds+2, out), &stdout)
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		p.cmd.Process.Kill()
		p.wait(time.Minute)
	}()
	time.Sleep(time.Second) // start-up (Tachyon's interpreter) and warm caches
	c0, err := cpuNow(p.pid())
	t0 := time.Now()
	if err != nil {
		return 0, 0, fmt.Errorf("%s exited early: %s", tl.name, tail(p.stderr.String(), 300))
	}
	time.Sleep(sideSeconds * time.Second)
	c1, err := cpuNow(p.pid())
	t1 := time.Now()
	if err != nil {
		return 0, 0, fmt.Errorf("%s exited early: %s", tl.name, tail(p.stderr.String(), 300))
	}
	if err := p.wait(time.Minute); err != nil && tl.name == "pyspyglass" {
		return 0, 0, fmt.Errorf("%s: %w: %s", tl.name, err, tail(p.stderr.String(), 300))
	}
	ach, err := tl.achieved(ansiRE.ReplaceAllString(p.stderr.String(), ""), stdout.String(), out)
	if err != nil {
		return 0, 0, err
	}
	rounds := ach * t1.Sub(t0).Seconds()
	if rounds <= 0 {
		return 0, 0, fmt.Errorf("%s took no samples", tl.name)
	}
	return float64((c1 - c0).Microseconds()) / rounds, ach, nil
}

// peers runs the side-by-side rows of one group: tools on targets that
// start argv(script, args).
func (b *bench) sideGroup(group string, tools []*sideTool, ws []workload, start func(w workload) (*target, error)) {
	for _, w := range ws {
		t, err := start(w)
		if err != nil {
			b.problem("side by side %s %s: %v", group, w.name, err)
			continue
		}
		for _, rate := range b.o.sideRates {
			row := &sideRow{group: group, w: w, rate: rate, cost: map[string]spread{}, achieved: map[string]spread{}, failed: map[string]string{}}
			row.load[0] = loadAvg()
			for _, tl := range tools {
				row.order = append(row.order, tl.name)
			}
			for run := range b.o.runs {
				for i := range tools {
					tl := tools[(i+run)%len(tools)]
					if row.failed[tl.name] != "" {
						continue
					}
					cost, ach, err := b.sideRun(tl, t.pid(), rate)
					if err != nil {
						row.failed[tl.name] = err.Error()
						b.problem("side by side %s %s %.0f Hz %s: %v", group, w.name, rate, tl.name, err)
						continue
					}
					row.cost[tl.name] = append(row.cost[tl.name], cost)
					row.achieved[tl.name] = append(row.achieved[tl.name], ach)
				}
			}
			row.load[1] = loadAvg()
			b.cur.side = append(b.cur.side, row)
			var parts []string
			for _, n := range row.order {
				parts = append(parts, n+" "+row.cost[n].format("%.1f"))
			}
			b.h.log("side by side %s %s %.0f Hz: %s µs/round", group, w.name, rate, strings.Join(parts, ", "))
		}
		t.kill()
	}
}

// startWorkload starts w's endless target with python (argv prefix) and,
// for a gated script, opens its gate.
func startWorkload(prefix []string, testdata, repo string, w workload) (*target, error) {
	var t *target
	var err error
	if w.script != "" {
		t, err = startTargetArgv(prefix, repo, filepath.Join(testdata, w.script), append(slices.Clone(w.args), endless)...)
		if err == nil {
			err = t.open()
		}
	} else {
		t, err = startTargetArgv(prefix, repo, filepath.Join(testdata, w.steady), w.steadyArgs...)
	}
	if err != nil && t != nil {
		t.kill()
	}
	return t, err
}

// peers measures the side-by-side table and the dumps against austin -w.
func (b *bench) peers(ws []workload) {
	if b.o.sideAustin != "" {
		tools := []*sideTool{b.oursSide(), austinSide(b.o.sideAustin)}
		b.sideGroup("austin", tools, ws, func(w workload) (*target, error) {
			return startWorkload([]string{b.h.python}, filepath.Join(b.h.root, "testdata"), b.h.root, w)
		})
		b.sideDumps(ws)
	}
	if b.o.sideTachyon != "" {
		err := withRootProc(b.o.sideTachyon, func(testdata string) {
			tools := []*sideTool{b.oursSide(), tachyonSide(b.o.sideTachyon)}
			b.sideGroup("Tachyon", tools, ws, func(w workload) (*target, error) {
				return startWorkload([]string{"chroot", b.o.sideTachyon, "/usr/bin/python3.15"}, testdata, b.h.root, w)
			})
		})
		if err != nil {
			b.problem("side by side with Tachyon: %v", err)
		}
	}
}

// sideDumps times dump against austin -w on the steady targets: the first
// dump of a build apart (no cache of its facts yet), the runs after it.
func (b *bench) sideDumps(ws []workload) {
	for _, w := range ws {
		if w.name == "idle" {
			continue
		}
		d := &sideDump{w: w}
		b.cur.sideDumps = append(b.cur.sideDumps, d)
		t, err := startWorkload([]string{b.h.python}, filepath.Join(b.h.root, "testdata"), b.h.root, w)
		if err != nil {
			d.failed = err.Error()
			continue
		}
		if pyabi.DiskCacheDir != "" {
			os.RemoveAll(pyabi.DiskCacheDir) // the first dump is cold
		}
		for run := range b.o.dumpRuns + 1 {
			ours, err := b.h.dumpRun(t.pid())
			if err != nil {
				d.failed = err.Error()
				break
			}
			if run == 0 {
				d.oursCold = append(d.oursCold, ms(ours))
				continue
			}
			d.ours = append(d.ours, ms(ours))
			start := time.Now()
			out, err := exec.Command(b.o.sideAustin, "-w", strconv.Itoa(t.pid())).CombinedOutput()
			if err != nil {
				d.failed = fmt.Sprintf("austin -w: %v: %s", err, tail(string(out), 200))
				break
			}
			d.austin = append(d.austin, ms(time.Since(start)))
		}
		t.kill()
		b.h.log("dump %s: pyspyglass first %s, later %s ms; austin -w %s ms", w.name, d.oursCold.format("%.1f"), d.ours.format("%.1f"), d.austin.format("%.1f"))
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// writeSide writes the side-by-side tables of run.
func writeSide(p func(string, ...any), run *pyRun) {
	if len(run.side) == 0 && len(run.sideDumps) == 0 {
		return
	}
	p("### Side by side with austin and Tachyon\n\n")
	p("Each target runs once while the profilers take turns on it (order rotated each round, %d s measured per turn after 1 s of start-up). "+
		"Cost: the profiler's CPU (all its threads' schedstat) per sampling round, a round being one pass over all threads at the rate "+
		"the tool reports it achieved. Ratio: pyspyglass's median over the peer's (below 1: pyspyglass costs less). "+
		"Tachyon runs Debian's python3.15 chrooted into the sid root; its targets run that same interpreter, and pyspyglass is measured on them too.\n\n", sideSeconds)
	p("| peer | workload | rate | pyspyglass µs/round | peer µs/round | ratio | achieved Hz (ours / peer) | load (1 min) before → after |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range run.side {
		peer := r.order[len(r.order)-1]
		ratio := r.cost["pyspyglass"].median() / r.cost[peer].median()
		rs := "–"
		if !math.IsNaN(ratio) {
			rs = fmt.Sprintf("**%.2f**", ratio)
		}
		pc := r.cost[peer].format("%.1f")
		if why := r.failed[peer]; why != "" && len(r.cost[peer]) == 0 {
			pc = "failed: " + oneLine(why)
		}
		p("| %s | %s | %s | %s | %s | %s | %s / %s | %.2f → %.2f |\n", peer, r.w.name, rateName(r.rate), r.cost["pyspyglass"].format("%.1f"), pc, rs,
			r.achieved["pyspyglass"].format("%.0f"), r.achieved[peer].format("%.0f"), r.load[0][0], r.load[1][0])
	}
	p("\n")
	if len(run.sideDumps) > 0 {
		p("One-shot dump, wall time from process start to exit (ms): pyspyglass's first dump of a build (its per-build cache empty), its later dumps, and `austin -w`, alternating.\n\n")
		p("| target | pyspyglass first | pyspyglass later | austin -w | later / austin |\n|---|---|---|---|---|\n")
		for _, d := range run.sideDumps {
			if d.failed != "" {
				p("| %s | failed: %s | | | |\n", d.w.name, oneLine(d.failed))
				continue
			}
			p("| %s | %s | %s | %s | **%.2f** |\n", d.w.name, d.oursCold.format("%.1f"), d.ours.format("%.1f"), d.austin.format("%.1f"), d.ours.median()/d.austin.median())
		}
		p("\n")
	}
}
