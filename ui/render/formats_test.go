package render

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/pprof/profile"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

var (
	labelMain = "main (app.py:10)"
	labelA    = "a (app.py:20)"
	labelB    = nameB + " (" + fileB + ":30)"
	labelC    = nameC + " (app.py:40)"
)

// svgNode is just enough of an SVG document for encoding/xml.
type svgNode struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Nodes   []svgNode  `xml:",any"`
}

func (n svgNode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n svgNode) walk(fn func(svgNode)) {
	fn(n)
	for _, c := range n.Nodes {
		c.walk(fn)
	}
}

func TestFlamegraph(t *testing.T) {
	out := render(t, Flamegraph{}, synthetic())
	var doc svgNode
	if err := xml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("not well-formed XML: %v", err)
	}
	widths := map[string]int{}
	var subtitle, script string
	doc.walk(func(n svgNode) {
		switch n.XMLName.Local {
		case "g":
			if n.attr("data-w") == "" {
				return
			}
			var title, text string
			for _, c := range n.Nodes {
				switch c.XMLName.Local {
				case "title":
					title = c.Text
				case "text":
					text = c.Text
				}
			}
			label, rest, _ := strings.Cut(title, "\n")
			w, _ := strconv.Atoi(n.attr("data-w"))
			widths[label] += w
			if !strings.HasPrefix(rest, n.attr("data-w")+" samples, ") {
				t.Errorf("%s: tooltip %q does not give the samples", label, rest)
			}
			if text != "" && !strings.HasPrefix(label, strings.TrimSuffix(text, "..")) {
				t.Errorf("frame text %q is not a prefix of %q", text, label)
			}
		case "text":
			if n.attr("class") == "subtitle" {
				subtitle += n.Text + " "
			}
		case "script":
			script = n.Text
		}
	})
	want := map[string]int{"all": 100, labelMain: 100, labelA: 75, labelB: 75, labelC: 25}
	for l, w := range want {
		if widths[l] != w {
			t.Errorf("frame %q has %d samples, want %d (all frames: %v)", l, widths[l], w, widths)
		}
	}
	for _, s := range []string{`<x> & "y"`, "100 thread samples in 100 rounds", "100.0 Hz achieved", "3 errors"} {
		if !strings.Contains(subtitle, s) {
			t.Errorf("subtitle %q lacks %q", subtitle, s)
		}
	}
	if !strings.Contains(script, "var fg = {total: 100,") || !strings.Contains(script, "function zoom") {
		t.Errorf("script missing or without its geometry")
	}
}

func TestFlamegraphLayout(t *testing.T) {
	// The root is at the bottom and children are sorted by label: a before
	// the CJK name.
	s := string(render(t, Flamegraph{}, synthetic()))
	ia, ic := strings.Index(s, "<title>"+labelA), strings.Index(s, "<title>"+esc(labelC))
	if ia < 0 || ic < 0 || ia > ic {
		t.Errorf("children not in label order: a at %d, c at %d", ia, ic)
	}
	if !strings.Contains(s, `data-x="75" data-w="25" data-d="2"`) {
		t.Errorf("c is not placed after a at depth 2")
	}
	if fitLabel("abcdefghij", 6+5.5*fgCharWidth) != "abc.." || fitLabel("abc", 6+3.5*fgCharWidth) != "abc" || fitLabel("abcdef", 10) != "" {
		t.Errorf("fitLabel truncates wrongly")
	}
	if err := (Flamegraph{}).Write(&bytes.Buffer{}, synthetic(), Options{FlameWidth: 50}); err == nil {
		t.Errorf("50 pixel width accepted")
	}
}

// ssFile is the part of speedscope's file format the tests read back.
type ssFile struct {
	Schema string `json:"$schema"`
	Shared struct {
		Frames []struct {
			Name string `json:"name"`
			File string `json:"file"`
			Line int    `json:"line"`
		} `json:"frames"`
	} `json:"shared"`
	Profiles []struct {
		Type       string    `json:"type"`
		Name       string    `json:"name"`
		Unit       string    `json:"unit"`
		StartValue float64   `json:"startValue"`
		EndValue   float64   `json:"endValue"`
		Samples    [][]int32 `json:"samples"`
		Weights    []float64 `json:"weights"`
	} `json:"profiles"`
	Name               string `json:"name"`
	ActiveProfileIndex int    `json:"activeProfileIndex"`
	Exporter           string `json:"exporter"`
}

func TestSpeedscope(t *testing.T) {
	for _, keep := range []bool{true, false} {
		p := synthetic()
		if !keep {
			p.Timeline = nil
		}
		var f ssFile
		if err := json.Unmarshal(render(t, Speedscope{}, p), &f); err != nil {
			t.Fatal(err)
		}
		if f.Schema != speedscopeSchema || len(f.Profiles) != 2 {
			t.Fatalf("schema %q, %d profiles", f.Schema, len(f.Profiles))
		}
		if f.Shared.Frames[2].Name != nameB || f.Shared.Frames[2].File != fileB || f.Shared.Frames[3].Name != nameC {
			t.Errorf("frames did not survive: %+v", f.Shared.Frames)
		}
		byLeaf := map[string]float64{}
		prev := math.Inf(1)
		for _, sp := range f.Profiles {
			var sum float64
			for i, s := range sp.Samples {
				if s[0] != 0 {
					t.Errorf("sample %v is not root first", s)
				}
				byLeaf[f.Shared.Frames[s[len(s)-1]].Name] += sp.Weights[i]
				sum += sp.Weights[i]
			}
			if sp.Type != "sampled" || sp.Unit != "seconds" || math.Abs(sp.EndValue-sum) > 1e-9 || len(sp.Samples) != len(sp.Weights) {
				t.Errorf("profile %q: type %q, unit %q, end %v, sum %v", sp.Name, sp.Type, sp.Unit, sp.EndValue, sum)
			}
			if sum > prev {
				t.Errorf("profile %q (%vs) comes after a less busy one (%vs)", sp.Name, sum, prev)
			}
			prev = sum
		}
		// 100 Hz: a sample is 10 ms.
		if math.Abs(byLeaf[nameB]-0.75) > 1e-9 || math.Abs(byLeaf[nameC]-0.25) > 1e-9 {
			t.Errorf("keep %v: leaf weights %v, want 0.75s/0.25s", keep, byLeaf)
		}
		names := []string{f.Profiles[0].Name, f.Profiles[1].Name}
		if !slices.Contains(names, `Thread 101 "worker-☃"`) || !slices.Contains(names, `Thread 100 "MainThread"`) {
			t.Errorf("thread profile names %q", names)
		}
		if keep {
			// Time order: each profile's samples follow the timeline.
			var want [][]int32
			for _, e := range p.Timeline {
				if p.Threads[e.Thread].TID != 100 {
					continue
				}
				st := make([]int32, len(p.Stacks[e.Stack]))
				for i, fr := range p.Stacks[e.Stack] {
					st[i] = int32(fr)
				}
				if len(want) == 0 || !slices.Equal(want[len(want)-1], st) {
					want = append(want, st)
				}
			}
			for _, sp := range f.Profiles {
				if sp.Name == `Thread 100 "MainThread"` && !slices.EqualFunc(sp.Samples, want, slices.Equal) {
					t.Errorf("MainThread's samples are not in time order:\n%v\nwant %v", sp.Samples, want)
				}
			}
		}
	}
}

func parsePprof(t *testing.T, b []byte) *profile.Profile {
	t.Helper()
	pp, err := profile.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("pprof does not parse: %v", err)
	}
	if err := pp.CheckValid(); err != nil {
		t.Fatalf("pprof invalid: %v", err)
	}
	return pp
}

func TestPprof(t *testing.T) {
	out := render(t, Pprof{}, synthetic())
	pp := parsePprof(t, out)
	if pp.Period != 10_000_000 || pp.SampleType[1].Type != "cpu" || pp.SampleType[1].Unit != "nanoseconds" {
		t.Errorf("period %d, types %v", pp.Period, pp.SampleType)
	}
	// The interpreter is the main mapping, whose functions need no
	// symbolising; functions carry their first line.
	if len(pp.Mapping) != 1 || pp.Mapping[0].File != "/usr/bin/python3.12" || pp.Mapping[0].BuildID != "0123abcd" ||
		!pp.Mapping[0].HasFunctions {
		t.Errorf("main mapping %+v", pp.Mapping)
	}
	for _, l := range pp.Location {
		if l.Mapping != pp.Mapping[0] {
			t.Errorf("location %d is not in the main mapping", l.ID)
		}
		if fn := l.Line[0].Function; fn.Name == "main" && fn.StartLine != 9 {
			t.Errorf("main's start_line %d, want 9", fn.StartLine)
		}
	}
	leaf := map[string]int64{}
	threads := map[string]int64{}
	for _, s := range pp.Sample {
		fn := s.Location[0].Line[0].Function
		leaf[fn.Name] += s.Value[0]
		threads[s.Label["thread"][0]+"/"+strconv.FormatInt(s.NumLabel["thread_id"][0], 10)] += s.Value[0]
		if s.Value[1] != s.Value[0]*pp.Period {
			t.Errorf("cpu value %d for %d samples", s.Value[1], s.Value[0])
		}
		if root := s.Location[len(s.Location)-1].Line[0]; root.Function.Name != "main" || root.Line != 10 {
			t.Errorf("root of a sample is %s:%d", root.Function.Name, root.Line)
		}
	}
	if leaf[nameB] != 75 || leaf[nameC] != 25 {
		t.Errorf("leaf counts %v, want 75/25", leaf)
	}
	if threads["MainThread/100"] != 75 || threads["worker-☃/101"] != 25 {
		t.Errorf("thread counts %v", threads)
	}
	if pp.TimeNanos != synthetic().Start.UnixNano() || pp.DurationNanos != 1e9 {
		t.Errorf("time %d duration %d", pp.TimeNanos, pp.DurationNanos)
	}

	if testing.Short() {
		t.Skip("go tool pprof may have to build itself first")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not in PATH; skipping go tool pprof")
	}
	path := filepath.Join(t.TempDir(), "p.pb.gz")
	os.WriteFile(path, out, 0o644)
	cmd := exec.Command(goTool, "tool", "pprof", "-top", "-sample_index=samples", path)
	top, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof -top: %v\n%s", err, top)
	}
	// -top lists flat counts by function.
	for _, want := range []string{"75 75.00%", "25 25.00%", nameB, nameC} {
		if !strings.Contains(string(top), want) {
			t.Errorf("go tool pprof -top lacks %q:\n%s", want, top)
		}
	}
}

func TestCollapsed(t *testing.T) {
	out := string(render(t, Collapsed{}, synthetic()))
	counts := map[string]int64{}
	for line := range strings.Lines(out) {
		// The count is after the last space; frames contain spaces.
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("bad line %q", line)
		}
		stack := line[:i]
		v, err := strconv.ParseInt(strings.TrimSuffix(line[i+1:], "\n"), 10, 64)
		if err != nil {
			t.Fatalf("bad line %q", line)
		}
		counts[stack] += v
	}
	safeB := strings.ReplaceAll(labelB, ";", ":")
	want := map[string]int64{
		labelMain + ";" + labelA + ";" + safeB: 75,
		labelMain + ";" + labelC:               25,
	}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", counts, want)
	}
}

// cgCost is what the test's callgrind reader found.
type cgCost struct {
	self      map[string]int64 // function -> self samples
	inclusive map[string]int64 // "caller -> callee" -> samples
	calls     map[string]int64 // "caller -> callee" -> calls=
	summary   int64
}

// parseCallgrind is a small reader of the subset Callgrind writes: name
// compression, fl/fn, cfl/cfn/calls and line cost pairs.
func parseCallgrind(t *testing.T, data string) cgCost {
	t.Helper()
	names := map[string]map[string]string{"ob": {}, "fl": {}, "fn": {}}
	// resolve handles "(id) name" and "(id)".
	resolve := func(space, v string) string {
		if !strings.HasPrefix(v, "(") {
			return v
		}
		id, name, _ := strings.Cut(v, ") ")
		id = strings.TrimSuffix(id, ")")
		if name != "" {
			names[space][id] = name
		} else if name = names[space][id]; name == "" {
			t.Fatalf("callgrind: %s id %s used before it was defined", space, id)
		}
		return name
	}
	c := cgCost{self: map[string]int64{}, inclusive: map[string]int64{}, calls: map[string]int64{}}
	var fn, callee string
	inCall := false
	sc := bufio.NewScanner(strings.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		key, val, isKV := strings.Cut(line, "=")
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "summary: "):
			c.summary, _ = strconv.ParseInt(strings.TrimPrefix(line, "summary: "), 10, 64)
		case strings.Contains(line, ": "):
		case isKV && (key == "ob" || key == "cob"):
			resolve("ob", val)
		case isKV && (key == "fl" || key == "cfl"):
			resolve("fl", val)
		case isKV && key == "fn":
			fn = resolve("fn", val)
		case isKV && key == "cfn":
			callee = resolve("fn", val)
		case isKV && key == "calls":
			inCall = true
			n, _ := strconv.ParseInt(strings.Fields(val)[0], 10, 64)
			c.calls[fn+" -> "+callee] += n
		default:
			f := strings.Fields(line)
			if len(f) != 2 {
				t.Fatalf("callgrind: bad cost line %q", line)
			}
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatalf("callgrind: bad cost line %q", line)
			}
			if inCall {
				c.inclusive[fn+" -> "+callee] += n
				inCall = false
			} else {
				c.self[fn] += n
			}
		}
	}
	return c
}

func TestCallgrind(t *testing.T) {
	out := string(render(t, Callgrind{}, synthetic()))
	c := parseCallgrind(t, out)
	var self int64
	for _, n := range c.self {
		self += n
	}
	if self != 100 || c.summary != 100 {
		t.Errorf("self total %d, summary %d, want 100", self, c.summary)
	}
	if c.self[nameB] != 75 || c.self[nameC] != 25 || c.self["main"] != 0 {
		t.Errorf("self costs %v", c.self)
	}
	want := map[string]int64{"main -> a": 75, "a -> " + nameB: 75, "main -> " + nameC: 25}
	if fmt.Sprint(c.inclusive) != fmt.Sprint(want) {
		t.Errorf("inclusive costs %v, want %v", c.inclusive, want)
	}
	// Inclusive cost of main is its self cost plus its calls.
	if got := c.self["main"] + c.inclusive["main -> a"] + c.inclusive["main -> "+nameC]; got != 100 {
		t.Errorf("main inclusive %d, want 100", got)
	}
	if !strings.Contains(out, "fn=(1)") && !strings.Contains(out, "cfn=(1)\n") {
		t.Errorf("no name compression reuse seen")
	}
	// Calls are estimated from the timeline, not copied from samples:
	// thread 0 runs ab, mc, ab, ab, mc, ab, ... and enters main->a again
	// after each mc (1 + 25 times), thread 1 stays in ab (1).
	wantCalls := map[string]int64{"main -> a": 27, "a -> " + nameB: 27, "main -> " + nameC: 25}
	if fmt.Sprint(c.calls) != fmt.Sprint(wantCalls) {
		t.Errorf("calls %v, want %v", c.calls, wantCalls)
	}
	p := synthetic()
	p.Timeline = nil
	if c := parseCallgrind(t, string(render(t, Callgrind{}, p))); c.calls["main -> a"] != 0 {
		t.Errorf("calls without a timeline %v, want 0", c.calls)
	}
}

// TestCallgrindRecursion: a recursive function's inclusive cost is not
// counted once per level, so it never exceeds its caller's.
func TestCallgrindRecursion(t *testing.T) {
	p := prof.New(synthetic().Start)
	main := p.Frame(prof.Frame{Name: "main", File: "a.py", Line: 1})
	fib := p.Frame(prof.Frame{Name: "fib", File: "a.py", Line: 5})
	other := p.Frame(prof.Frame{Name: "other", File: "a.py", Line: 9})
	th := p.Thread(prof.Thread{TID: 1})
	p.Add(p.Stack([]prof.FrameID{main, fib, fib, fib}), th, 0, 10)
	p.Add(p.Stack([]prof.FrameID{main, other}), th, 0, 90)
	c := parseCallgrind(t, string(render(t, Callgrind{}, p)))
	want := map[string]int64{"main -> fib": 10, "main -> other": 90}
	if fmt.Sprint(c.inclusive) != fmt.Sprint(want) {
		t.Errorf("inclusive costs %v, want %v (no fib -> fib record)", c.inclusive, want)
	}
}

func TestCallgrindSameNameInTwoFiles(t *testing.T) {
	p := prof.New(synthetic().Start)
	m1 := p.Frame(prof.Frame{Name: "<module>", File: "a.py", Line: 1})
	m2 := p.Frame(prof.Frame{Name: "<module>", File: "b.py", Line: 1})
	p.Add(p.Stack([]prof.FrameID{m1, m2}), p.Thread(prof.Thread{TID: 1}), 0, 4)
	c := parseCallgrind(t, string(render(t, Callgrind{}, p)))
	if c.inclusive["<module> [a.py] -> <module> [b.py]"] != 4 {
		t.Errorf("same-named functions not told apart: %v", c.inclusive)
	}
}

type traceEvent struct {
	Ph   string  `json:"ph"`
	Name string  `json:"name"`
	Pid  int     `json:"pid"`
	Tid  int     `json:"tid"`
	Ts   float64 `json:"ts"`
	Args struct {
		Name string `json:"name"`
		File string `json:"file"`
		Line int    `json:"line"`
	} `json:"args"`
}

func TestChromeTrace(t *testing.T) {
	var doc struct {
		TraceEvents []traceEvent `json:"traceEvents"`
		OtherData   map[string]string
	}
	if err := json.Unmarshal(render(t, ChromeTrace{}, synthetic()), &doc); err != nil {
		t.Fatal(err)
	}
	stacks := map[int][]traceEvent{}
	dur := map[string]float64{} // tid/name -> µs
	count := map[string]int{}   // tid/name -> slices
	names := map[int]string{}
	for _, e := range doc.TraceEvents {
		key := strconv.Itoa(e.Tid) + "/" + e.Name
		switch e.Ph {
		case "M":
			if e.Name == "thread_name" {
				names[e.Tid] = e.Args.Name
			}
		case "B":
			stacks[e.Tid] = append(stacks[e.Tid], e)
		case "E":
			s := stacks[e.Tid]
			if len(s) == 0 || s[len(s)-1].Name != e.Name || e.Ts < s[len(s)-1].Ts {
				t.Fatalf("unbalanced E %+v", e)
			}
			dur[key] += e.Ts - s[len(s)-1].Ts
			count[key]++
			stacks[e.Tid] = s[:len(s)-1]
		}
	}
	for tid, s := range stacks {
		if len(s) != 0 {
			t.Errorf("tid %d: %d slices never end", tid, len(s))
		}
	}
	if names[100] != "MainThread" || names[101] != "worker-☃" {
		t.Errorf("thread names %v", names)
	}
	// Thread 0 samples at 0,10,20, 40,50,60, ... 980 ms, c in every second
	// round of four, thread 1 in every fourth: each sample lasts to the
	// next round, and a thread left out of a round (idle) has a gap there.
	want := map[string]float64{
		"100/main":     750_000, // 0-30, 40-70, ...
		"100/" + nameC: 250_000,
		"101/main":     250_000, // 30-40, 70-80, ..., 990-1000
		"101/" + nameB: 250_000,
	}
	for k, v := range want {
		if dur[k] != v {
			t.Errorf("%s lasts %v µs, want %v", k, dur[k], v)
		}
	}
	if count["101/a"] != 25 || count["100/main"] != 25 || count["100/"+nameC] != 25 {
		t.Errorf("slice counts %v", count)
	}
	if !strings.Contains(doc.OtherData["health"], "3 errors") {
		t.Errorf("health missing: %v", doc.OtherData)
	}

	p := synthetic()
	p.KeepTimeline, p.Timeline = false, nil
	if err := (ChromeTrace{}).Write(&bytes.Buffer{}, p, Options{}); !errors.Is(err, ErrNoTimeline) {
		t.Errorf("without a timeline: %v", err)
	}
}

// TestChromeTraceRoots: process tracks are named by their command line,
// and the synthetic process and thread root frames get no slices.
func TestChromeTraceRoots(t *testing.T) {
	p := prof.New(synthetic().Start)
	p.KeepTimeline = true
	p.Health.Rate = 100
	proc := p.Frame(prof.Frame{Name: "process 7: python app.py", Kind: prof.KindProcess})
	thr := p.Frame(prof.Frame{Name: `thread 8 "MainThread"`, Kind: prof.KindThread})
	f := p.Frame(prof.Frame{Name: "f", File: "app.py", Line: 1})
	th := p.Thread(prof.Thread{Pid: 7, TID: 8, Name: "MainThread"})
	p.Add(p.Stack([]prof.FrameID{proc, thr, f}), th, 0, 1)
	var doc struct{ TraceEvents []traceEvent }
	if err := json.Unmarshal(render(t, ChromeTrace{}, p), &doc); err != nil {
		t.Fatal(err)
	}
	var slices []string
	for _, e := range doc.TraceEvents {
		switch {
		case e.Ph == "M" && e.Name == "process_name" && e.Args.Name != "pid 7: python app.py":
			t.Errorf("process track named %q", e.Args.Name)
		case e.Ph == "B":
			slices = append(slices, e.Name)
		}
	}
	if strings.Join(slices, ",") != "f" {
		t.Errorf("slices %v, want only f", slices)
	}
}

func TestChromeTraceGap(t *testing.T) {
	p := prof.New(synthetic().Start)
	p.KeepTimeline = true
	p.Health.Rate = 100
	s := p.Stack([]prof.FrameID{p.Frame(prof.Frame{Name: "f"})})
	th := p.Thread(prof.Thread{TID: 7})
	p.Add(s, th, 0, 1)
	p.Add(s, th, 10_000_000, 1)       // 10 ms later: same slice
	p.Add(s, th, 10*1_000_000_000, 1) // 10 s later: a new slice
	var doc struct{ TraceEvents []traceEvent }
	if err := json.Unmarshal(render(t, ChromeTrace{}, p), &doc); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range doc.TraceEvents {
		if e.Ph != "M" {
			got = append(got, fmt.Sprintf("%s@%g", e.Ph, e.Ts))
		}
	}
	if strings.Join(got, " ") != "B@0 E@20000 B@1e+07 E@1.001e+07" {
		t.Errorf("events %v", got)
	}
}

// TestFlamegraphIcicleAndSubtitle: --icicle puts the root on top; a long
// subtitle is wrapped into lines that fit the width, not centred past
// both edges.
func TestFlamegraphIcicleAndSubtitle(t *testing.T) {
	p := synthetic()
	p.Target = "pid 4242: /usr/bin/python3.12 " + strings.Repeat("--a-long-argument ", 20)
	yOf := func(svg, label string) int {
		m := regexp.MustCompile(`<title>` + regexp.QuoteMeta(label) + `[^<]*</title><rect x="[0-9.]+" y="([0-9]+)"`).FindStringSubmatch(svg)
		if m == nil {
			t.Fatalf("no frame %q", label)
		}
		y, _ := strconv.Atoi(m[1])
		return y
	}
	var b bytes.Buffer
	if err := (Flamegraph{}).Write(&b, p, Options{Icicle: true}); err != nil {
		t.Fatal(err)
	}
	icicle := b.String()
	flame := string(render(t, Flamegraph{}, p))
	if yOf(icicle, "all") >= yOf(icicle, "main (") || yOf(flame, "all") <= yOf(flame, "main (") {
		t.Errorf("icicle root y %d, main y %d; flame root y %d, main y %d",
			yOf(icicle, "all"), yOf(icicle, "main ("), yOf(flame, "all"), yOf(flame, "main ("))
	}
	lines := regexp.MustCompile(`<text[^>]*class="subtitle"[^>]*>([^<]*)</text>`).FindAllStringSubmatch(flame, -1)
	if len(lines) < 2 {
		t.Fatalf("a %d-character subtitle is on %d line(s)", len(p.Target), len(lines))
	}
	plot := float64(1200 - 2*fgXPad)
	maxChars := int(plot / (0.66 * fgFontSize))
	for _, l := range lines {
		if n := utf8.RuneCountInString(html.UnescapeString(l[1])); n > maxChars {
			t.Errorf("subtitle line of %d characters, more than %d fit", n, maxChars)
		}
	}
	if !strings.Contains(flame, "errors") {
		t.Errorf("the health line is lost from the subtitle")
	}
}
