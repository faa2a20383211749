package main

import (
	"encoding/xml"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The harness itself runs only as `go run ./bench`; these tests cover its
// pure parts: reading what profilers print, the statistics and the plot.

func TestParseSummary(t *testing.T) {
	stderr := "some log\npyspyglass: wrote /tmp/x.txt: 20113 samples in 2.0s (10059 Hz of 10000 requested), 20113 thread samples, 3 errors, 15257 late\n"
	r, err := parseSummary(stderr)
	if err != nil {
		t.Fatal(err)
	}
	if r.samples != 20113 || r.achieved != 10059 || r.errors != 3 {
		t.Errorf("got %+v", r)
	}
	if _, err := parseSummary("pyspyglass: error: no such process"); err == nil {
		t.Error("no error for a stderr without summary")
	}
}

func TestParseAustin(t *testing.T) {
	stderr := "\U0001F551 Sampling time (min/avg/max) : 7/21/65 us\n\U0001F422 Long sampling rate : 0/505 (0.00 %) samples took longer\n\U0001F480 Error rate : 2/505 (0.40 %) invalid samples\n"
	r, err := parseAustin(stderr)
	if err != nil {
		t.Fatal(err)
	}
	if r.samples != 505 || r.errors != 2 {
		t.Errorf("got %+v", r)
	}
}

func TestAustinRounds(t *testing.T) {
	out := filepath.Join(t.TempDir(), "austin.txt")
	lines := []string{
		"Thread 1;<module> (a.py);L1;gate (b.py);L2 100",
		"Thread 2;run (a.py);L3;wait_event (r.py);L4 100",
		"Thread 1;<module> (a.py);L1;spin (b.py);L9 100",
		"Thread 2;run (a.py);L3;spin (b.py);L9 100",
		"Thread 1;<module> (a.py);L1;spin (b.py);L9 100",
		"Thread 2;run (a.py);L3;spin (b.py);L9 100",
	}
	if err := os.WriteFile(out, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		waiting []string
		want    float64
	}{{nil, 3}, {[]string{"gate", "wait_event"}, 2}} {
		got, err := austinRounds(out, c.waiting...)
		if err != nil || got != c.want {
			t.Errorf("waiting %v: got %v, %v; want %v", c.waiting, got, err, c.want)
		}
	}
}

func TestSpread(t *testing.T) {
	s := spread{3, 1, 2, 10}
	if s.median() != 2.5 || s.min() != 1 || s.max() != 10 {
		t.Errorf("median %v min %v max %v", s.median(), s.min(), s.max())
	}
	if got := (spread{}).format("%.1f"); got != "–" {
		t.Errorf("empty spread shows %q", got)
	}
	if !math.IsNaN(spread{}.median()) {
		t.Error("median of nothing is a number")
	}
}

func TestQuartersAndGrowth(t *testing.T) {
	rss := []int64{10, 10, 11, 11, 12, 12, 12, 11}
	if q := quarters(rss); q != [4]int64{10, 11, 12, 11} {
		t.Errorf("quarters %v", q)
	}
	if g := growthPct(rss); g != 10 {
		t.Errorf("growth %v%%", g)
	}
}

func TestPlotIsWellFormedSVG(t *testing.T) {
	ours := &tool{name: "pyspyglass", kind: "pyspyglass"}
	r := &pyRun{slowdowns: []*slowdownResult{{w: allWorkloads[0], cells: []*cell{
		{cfg: config{tool: ours, rate: 100}, slowdown: spread{1.01, 1.0, 1.02}, cpuSample: spread{20, 18, 25}},
		{cfg: config{tool: ours, rate: 1000}, slowdown: spread{1.05, 1.03, 1.1}, cpuSample: spread{8, 7, 9}},
		{cfg: config{tool: ours, rate: 1000, blocking: true}, slowdown: spread{1.5}, cpuSample: spread{90}},
	}}}}
	svg := plot(r)
	d := xml.NewDecoder(strings.NewReader(string(svg)))
	for {
		if _, err := d.Token(); err != nil {
			if err.Error() == "EOF" {
				break
			}
			t.Fatalf("not well-formed: %v\n%s", err, svg)
		}
	}
	for _, want := range []string{"<polyline", "stack30, pyspyglass non-blocking", "1 kHz"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("plot lacks %q", want)
		}
	}
}

func TestRateName(t *testing.T) {
	for in, want := range map[float64]string{100: "100 Hz", 1000: "1 kHz", 10000: "10 kHz", 2500: "2.5 kHz"} {
		if got := rateName(in); got != want {
			t.Errorf("rateName(%v) = %q, want %q", in, got, want)
		}
	}
}
