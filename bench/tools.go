package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// tool is a profiler under test: pyspyglass, or a peer given with --peer.
// Each kind knows its command line and how it reports its sample count.
type tool struct {
	name string // as shown in the report
	kind string // "pyspyglass" or "austin"
	path string
}

func (tl *tool) ours() bool { return tl.kind == "pyspyglass" }

// parsePeer reads --peer NAME=PATH; the kind is the name (austin is the
// one peer known, as py-spy cannot be installed here).
func parsePeer(s string) (*tool, error) {
	name, path, ok := strings.Cut(s, "=")
	if !ok || name == "" || path == "" {
		return nil, fmt.Errorf("--peer %q: want NAME=PATH, e.g. austin=/usr/bin/austin", s)
	}
	kind := strings.ToLower(name)
	if kind != "austin" {
		return nil, fmt.Errorf("--peer %q: unknown profiler %q (known: austin)", s, name)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("--peer %q: %w", s, err)
	}
	return &tool{name: name, kind: kind, path: path}, nil
}

// session says how one profiler run is set up.
type session struct {
	pid      int
	rate     float64
	blocking bool
	native   bool
	duration time.Duration // 0: until the target exits (or stop for peers)
	out      string        // output file
}

// argv is the profiler's command line for s.
func (tl *tool) argv(s session) []string {
	if tl.ours() {
		a := []string{tl.path, "record", "--pid", strconv.Itoa(s.pid), "--rate", strconv.FormatFloat(s.rate, 'f', -1, 64),
			"--format", "collapsed", "-o", s.out}
		if s.blocking {
			a = append(a, "--blocking")
		}
		if s.native {
			a = append(a, "--native")
		}
		if s.duration > 0 {
			a = append(a, "--duration", strconv.FormatFloat(s.duration.Seconds(), 'f', -1, 64))
		}
		return a
	}
	// austin: -i is the interval in microseconds; it has no duration flag
	// (it stops on SIGINT or when the target exits).
	interval := max(1, int(1e6/s.rate+0.5))
	return []string{tl.path, "-i", strconv.Itoa(interval), "-p", strconv.Itoa(s.pid), "-o", s.out}
}

// report is what a finished profiler run says about itself.
type report struct {
	samples  int64   // sampling rounds
	achieved float64 // rounds per second, as the profiler reports it (0 if it does not)
	errors   int64
}

// summaryRE matches the last line pyspyglass record writes on stderr
// (cmd/pyspyglass/record.go, summary).
var summaryRE = regexp.MustCompile(`(\d+) samples in ([0-9.]+)s \(([0-9.]+) Hz of ([0-9.]+) requested\), (\d+) thread samples, (\d+) errors, (\d+) late`)

// parseSummary reads pyspyglass's summary line.
func parseSummary(stderr string) (report, error) {
	m := summaryRE.FindStringSubmatch(stderr)
	if m == nil {
		return report{}, fmt.Errorf("no summary line in pyspyglass's stderr: %q", tail(stderr, 400))
	}
	var r report
	r.samples, _ = strconv.ParseInt(m[1], 10, 64)
	r.achieved, _ = strconv.ParseFloat(m[3], 64)
	r.errors, _ = strconv.ParseInt(m[6], 10, 64)
	return r, nil
}

// austinErrRE matches austin's closing statistics on stderr, e.g.
// "Error rate : 0/505 (0.00 %) invalid samples" (austin 1.0).
var austinErrRE = regexp.MustCompile(`Error rate\s*:\s*(\d+)/(\d+)`)

// parseAustin reads austin's sample and error counts.
func parseAustin(stderr string) (report, error) {
	m := austinErrRE.FindStringSubmatch(stderr)
	if m == nil {
		return report{}, fmt.Errorf("no sample count in austin's stderr: %q", tail(stderr, 400))
	}
	var r report
	r.errors, _ = strconv.ParseInt(m[1], 10, 64)
	r.samples, _ = strconv.ParseInt(m[2], 10, 64)
	return r, nil
}

// austinRounds counts austin's sampling rounds in its output out: its
// sample lines ("Thread ID;frames... metric", one per thread and round)
// divided by the threads seen, leaving out lines whose stack holds one of
// the waiting functions (taken before the gate opened).
func austinRounds(out string, waiting ...string) (float64, error) {
	f, err := os.Open(out)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	lines := 0
	threads := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		threads[strings.SplitN(l, ";", 2)[0]] = true
		kept := true
		for _, fn := range waiting {
			if strings.Contains(l, fn+" (") {
				kept = false
				break
			}
		}
		if kept {
			lines++
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if len(threads) == 0 {
		return 0, errors.New("austin wrote no samples")
	}
	return float64(lines) / float64(len(threads)), nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// moduleRoot finds the directory of go.mod from the working directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/pyspyglass/pyspyglass") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the pyspyglass module: run from the repository")
		}
		dir = parent
	}
}
