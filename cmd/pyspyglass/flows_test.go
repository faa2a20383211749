package main

import (
	"encoding/json"
	"html"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
	"github.com/pyspyglass/pyspyglass/internal/testutil"
	"github.com/pyspyglass/pyspyglass/ui/render"
)

// pstatsDump is what loadPstats reads back through an interpreter's own
// pstats module.
type pstatsDump struct {
	TotalTT float64 `json:"total_tt"`
	Funcs   map[string]struct {
		File string  `json:"file"`
		Line int     `json:"line"`
		CC   int64   `json:"cc"`
		NC   int64   `json:"nc"`
		TT   float64 `json:"tt"`
		CT   float64 `json:"ct"`
		// Callers maps a caller's name to its cumulative time of this
		// function.
		Callers map[string]float64 `json:"callers"`
	} `json:"funcs"`
	// Cumulative lists function names as `sort cumulative` prints them.
	Cumulative []string `json:"cumulative"`
}

// pstatsLoader runs in the interpreter under test (2.7 and 3.x): it loads
// the file with pstats.Stats, prints every function's numbers as JSON, and
// the order `sort cumulative` gives. Functions of the file named by its
// second argument are keyed by name, others by "file:name".
const pstatsLoader = `
import json, pstats, sys
s = pstats.Stats(sys.argv[1], stream=sys.stderr)
def key(f, n):
    return n if f.endswith(sys.argv[2]) else f + ":" + n
out = {"total_tt": s.total_tt, "funcs": {}, "cumulative": []}
for (f, l, n), (cc, nc, tt, ct, callers) in s.stats.items():
    c = {}
    for (cf, cl, cn), v in callers.items():
        c[key(cf, cn)] = v[3] if isinstance(v, tuple) else 0
    out["funcs"][key(f, n)] = {"file": f, "line": l, "cc": cc, "nc": nc, "tt": tt, "ct": ct, "callers": c}
s.sort_stats("cumulative")
out["cumulative"] = [key(k[0], k[2]) for k in s.fcn_list]
sys.stdout.write(json.dumps(out))
`

// pstatsReader is the newest interpreter that can import its pstats
// module.
func pstatsReader(t *testing.T) testutil.Interpreter {
	t.Helper()
	ins := testutil.Interpreters(t)
	for i := len(ins) - 1; i >= 0; i-- {
		if ins[i].Command("-c", "import pstats").Run() == nil {
			return ins[i]
		}
	}
	t.Fatal("no interpreter on this machine can import pstats")
	return testutil.Interpreter{}
}

func loadPstats(t *testing.T, in testutil.Interpreter, path, script string) pstatsDump {
	t.Helper()
	out, err := in.Command("-c", pstatsLoader, in.Visible(t, path), script).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("%s: pstats cannot load %s: %v\n%s", in.Name, path, err, msg)
	}
	var d pstatsDump
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatalf("%s: %v\n%s", in.Name, err, out)
	}
	return d
}

// recordRecording records script on in for a few seconds into a recording
// and reads it back.
func recordRecording(t *testing.T, in testutil.Interpreter, dir, script string, args ...string) string {
	t.Helper()
	rec := filepath.Join(dir, strings.TrimSuffix(script, ".py")+".pyspyglass")
	in.Prepare(t)
	argv := append([]string{"record", "--rate", "200", "-o", rec, "--"}, in.Argv(append([]string{testutil.TestdataPath(script)}, args...)...)...)
	if r := pyspyglass(t, argv...); r.code != 0 {
		t.Fatalf("record: exit %d\n%s", r.code, r.stderr)
	}
	return rec
}

// sampledShares computes, straight from a recording's stacks, each
// function's share of samples as the leaf (self) and anywhere on the stack
// (inclusive, once per sample), in percent: the truth pstats must match.
func sampledShares(t *testing.T, rec string) (self, incl map[string]float64) {
	t.Helper()
	f, err := os.Open(rec)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := render.ReadRecording(f)
	if err != nil {
		t.Fatal(err)
	}
	self, incl = map[string]float64{}, map[string]float64{}
	total := float64(p.Total())
	for _, c := range p.Counts() {
		st := p.Stacks[c.Stack]
		seen := map[string]bool{}
		for _, id := range st {
			name := p.Frames[id].Name
			if !seen[name] {
				seen[name] = true
				incl[name] += 100 * float64(c.N) / total
			}
		}
		self[p.Frames[st[len(st)-1]].Name] += 100 * float64(c.N) / total
	}
	return self, incl
}

// TestPstatsSplits records a workload with known self and inclusive splits
// (outer 20/60, inner 40/40, recurse 40/40 with recursion 4 deep), renders
// it as pstats and loads it with every interpreter's pstats module: shares
// within 5 points of the samples' own, recursion not double-counted,
// inclusive times adding up, callers right, and `sort cumulative` in the order of
// the inclusive totals. It also runs `python -m pstats` as people do.
func TestPstatsSplits(t *testing.T) {
	ins := testutil.Interpreters(t)
	if len(ins) == 0 {
		t.Skip("no Python interpreter found on this machine")
	}
	rec := ins[len(ins)-1]
	dir := t.TempDir()
	recording := recordRecording(t, rec, dir, "pstats_split.py", "3")
	out := filepath.Join(dir, "split.prof")
	if r := pyspyglass(t, "render", recording, "-o", out); r.code != 0 {
		t.Fatalf("render: exit %d\n%s", r.code, r.stderr)
	}
	self, incl := sampledShares(t, recording)
	// The script's functions; the split it is built for (see its
	// docstring) varies with load, so the checks below are on structure.
	names := []string{"outer", "inner", "recurse", "run"}
	testutil.ForEach(t, ins, func(t *testing.T, in testutil.Interpreter) {
		// A build whose standard library is incomplete cannot be a
		// reader: say so rather than blame the file.
		if msg, err := in.Command("-c", "import pstats").CombinedOutput(); err != nil {
			lines := strings.Split(strings.TrimSpace(string(msg)), "\n")
			t.Skipf("%s cannot import its own pstats module: %s", in.Name, lines[len(lines)-1])
		}
		d := loadPstats(t, in, out, "pstats_split.py")
		if d.TotalTT <= 0 {
			t.Fatalf("total_tt %v", d.TotalTT)
		}
		for _, name := range names {
			st, ok := d.Funcs[name]
			if !ok {
				t.Errorf("%s missing from pstats (have %v)", name, keys(d.Funcs))
				continue
			}
			tt, ct := 100*st.TT/d.TotalTT, 100*st.CT/d.TotalTT
			if math.Abs(tt-self[name]) > 5 || math.Abs(ct-incl[name]) > 5 {
				t.Errorf("%s: tottime %.1f%% cumtime %.1f%%, samples say %.1f%% / %.1f%% (±5)", name, tt, ct, self[name], incl[name])
			}
			if ct < 5 {
				t.Errorf("%s: cumtime %.1f%%, the script gives it at least 20%%", name, ct)
			}
			if st.NC < 1 || st.CC < 1 || st.CC > st.NC {
				t.Errorf("%s: calls %d/%d, want primitive ≤ total, both ≥ 1", name, st.CC, st.NC)
			}
			if !strings.HasSuffix(st.File, "pstats_split.py") {
				t.Errorf("%s: file %q", name, st.File)
			}
		}
		if l, want := d.Funcs["recurse"].Line, testutil.Mark(t, "pstats_split.py", "recurse-loop")-2; l != want {
			t.Errorf("recurse: first line %d, want %d", l, want)
		}
		// recurse calls nothing else, so counted once per sample its
		// inclusive time is its own time; outer's is its own plus inner's.
		if r := d.Funcs["recurse"]; math.Abs(r.CT-r.TT) > 1e-9 {
			t.Errorf("recurse: cumtime %v, tottime %v: recursion counted more than once", r.CT, r.TT)
		}
		if o, in := d.Funcs["outer"], d.Funcs["inner"]; math.Abs(o.CT-(o.TT+in.CT)) > 1e-9 {
			t.Errorf("outer: cumtime %v, want its tottime %v + inner's cumtime %v", o.CT, o.TT, in.CT)
		}
		if r := d.Funcs["recurse"]; r.NC <= r.CC {
			t.Errorf("recurse: %d calls, %d primitive: the recursive calls should count apart", r.NC, r.CC)
		}
		if c := d.Funcs["inner"].Callers; len(c) != 1 || c["outer"] <= 0 {
			t.Errorf("inner's callers %v, want outer only", c)
		}
		if c := d.Funcs["recurse"].Callers; c["run"] <= 0 || c["recurse"] <= 0 {
			t.Errorf("recurse's callers %v, want run and recurse", c)
		}
		for i := 1; i < len(d.Cumulative); i++ {
			a, b := d.Funcs[d.Cumulative[i-1]].CT, d.Funcs[d.Cumulative[i]].CT
			if a < b {
				t.Errorf("sort cumulative: %s (%v) before %s (%v)", d.Cumulative[i-1], a, d.Cumulative[i], b)
			}
		}
		cmd := in.Command("-m", "pstats", in.Visible(t, out))
		cmd.Stdin = strings.NewReader("sort cumulative\nstats 5\nquit\n")
		text, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(text), "pstats_split.py") || !strings.Contains(string(text), "(recurse)") {
			t.Errorf("python -m pstats: %v\n%s", err, text)
		}
	})
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestDiffMovedHotFunction records a workload whose hot function moved from
// alpha to beta and checks the table, the differential flamegraph and the
// collapsed difference say alpha shrank and beta grew, the same from the
// recordings as from their collapsed stacks; a run compared with itself
// shows no change.
func TestDiffMovedHotFunction(t *testing.T) {
	ins := testutil.Interpreters(t)
	if len(ins) == 0 {
		t.Skip("no Python interpreter found on this machine")
	}
	in := ins[len(ins)-1]
	in.Prepare(t)
	dir := t.TempDir()
	record := func(mode string) string {
		rec := filepath.Join(dir, mode+".pyspyglass")
		r := pyspyglass(t, append([]string{"record", "--rate", "200", "-o", rec, "--"}, in.Argv(testutil.TestdataPath("hot_moved.py"), mode, "2")...)...)
		if r.code != 0 {
			t.Fatalf("record %s: exit %d\n%s", mode, r.code, r.stderr)
		}
		return rec
	}
	base, new := record("a"), record("b")
	row := func(table, fn string) []float64 {
		for _, l := range strings.Split(table, "\n") {
			f := strings.Fields(l)
			if len(f) >= 7 && f[6] == fn {
				var v []float64
				for _, s := range f[:6] {
					x, err := strconv.ParseFloat(s, 64)
					if err != nil {
						t.Fatalf("table row %q: %v", l, err)
					}
					v = append(v, x)
				}
				return v
			}
		}
		t.Fatalf("no row for %s in\n%s", fn, table)
		return nil
	}
	svg := filepath.Join(dir, "diff.svg")
	r := pyspyglass(t, "diff", base, new, "-o", svg)
	if r.code != 0 {
		t.Fatalf("diff: exit %d\n%s", r.code, r.stderr)
	}
	a, b := row(r.stdout, "alpha"), row(r.stdout, "beta")
	// Δtotal base new Δself base new: alpha went from about 75% to 25%,
	// beta the other way (start-up under load takes some of either run).
	if a[0] > -20 || a[1] <= b[1] || a[2] >= b[2] {
		t.Errorf("alpha should shrink by tens of points, beta grow: alpha %v, beta %v\n%s", a, b, r.stdout)
	}
	if b[0] < 20 || math.Abs(a[0]-a[3]) > 0.01 || math.Abs(b[0]-b[3]) > 0.01 {
		t.Errorf("beta should grow by tens of points, all in its own lines: %v\n%s", b, r.stdout)
	}
	data, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	fill := func(doc []byte, fn string) (string, string) {
		m := regexp.MustCompile(`<title>` + fn + ` \([^<]*\)\n[^\n]*\n(base [^<]*)</title><rect [^>]*fill="([^"]+)"`).FindSubmatch(doc)
		if m == nil {
			t.Fatalf("no frame for %s in the differential flamegraph", fn)
		}
		return string(m[1]), string(m[2])
	}
	if note, c := fill(data, "alpha"); !strings.HasPrefix(c, "rgb(") || !strings.HasSuffix(c, ",255)") || !strings.Contains(note, "points") {
		t.Errorf("alpha: fill %s, tooltip %q: want blue and both runs' values", c, note)
	}
	if _, c := fill(data, "beta"); !strings.HasPrefix(c, "rgb(255,") || c == "rgb(255,250,250)" {
		t.Errorf("beta: fill %s, want red", c)
	}
	txt := filepath.Join(dir, "diff.txt")
	if r := pyspyglass(t, "diff", base, new, "-o", txt); r.code != 0 {
		t.Fatalf("diff collapsed: exit %d\n%s", r.code, r.stderr)
	}
	folded, _ := os.ReadFile(txt)
	sawAlpha := false
	for _, l := range strings.Split(strings.TrimSpace(string(folded)), "\n") {
		f := strings.Fields(l)
		if strings.Contains(l, ";alpha (") && strings.HasSuffix(f[len(f)-3], ")") {
			bv, _ := strconv.Atoi(f[len(f)-2])
			nv, _ := strconv.Atoi(f[len(f)-1])
			sawAlpha = true
			if bv <= nv {
				t.Errorf("collapsed diff: alpha %d -> %d, want it to shrink: %q", bv, nv, l)
			}
		}
	}
	if !sawAlpha {
		t.Errorf("collapsed diff has no alpha stack:\n%s", folded)
	}
	// The same comparison from collapsed stacks gives the same table.
	var txts []string
	for _, rec := range []string{base, new} {
		out := strings.TrimSuffix(rec, ".pyspyglass") + ".collapsed"
		if r := pyspyglass(t, "render", rec, "-o", out, "--format", "collapsed"); r.code != 0 {
			t.Fatalf("render collapsed: %s", r.stderr)
		}
		txts = append(txts, out)
	}
	if r2 := pyspyglass(t, "diff", txts[0], txts[1]); r2.stdout != r.stdout {
		t.Errorf("diff of collapsed stacks:\n%s\ndiffers from diff of recordings:\n%s", r2.stdout, r.stdout)
	}
	// A run against itself: nothing changed, all frames white.
	same := filepath.Join(dir, "same.svg")
	r = pyspyglass(t, "diff", base, base, "-o", same)
	if r.code != 0 || !strings.Contains(r.stdout, "no function's share changed") {
		t.Errorf("diff of a run with itself: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	data, _ = os.ReadFile(same)
	for _, m := range regexp.MustCompile(`<g data-x[^>]*><title>[^<]*</title><rect [^>]*fill="([^"]+)"`).FindAllSubmatch(data, -1) {
		if string(m[1]) != "rgb(250,250,250)" {
			t.Errorf("diff of a run with itself has a coloured frame: %s", m[1])
			break
		}
	}
	if r := pyspyglass(t, "diff", base); r.code == 0 || !strings.Contains(r.stderr, "two profiles") {
		t.Errorf("diff with one file: exit %d, %s", r.code, r.stderr)
	}
}

// geckoLeaves counts the samples of a Firefox Profiler profile by the
// function of their leaf frame, over all threads.
func geckoLeaves(t *testing.T, data []byte) map[string]int {
	t.Helper()
	var doc struct {
		Threads []struct {
			Pid        string
			Samples    struct{ Stack []*int }
			StackTable struct {
				Frame  []int
				Prefix []*int
			}
			FrameTable struct{ Func []int }
			FuncTable  struct{ Name []int }
		}
		Shared struct{ StringArray []string }
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("gecko: %v", err)
	}
	out := map[string]int{}
	for _, th := range doc.Threads {
		for _, s := range th.Samples.Stack {
			if s == nil {
				continue
			}
			fn := th.FrameTable.Func[th.StackTable.Frame[*s]]
			out[doc.Shared.StringArray[th.FuncTable.Name[fn]]]++
		}
	}
	return out
}

// lineTable parses the table of function fn from --format lines output:
// line number -> (samples, % of function, source text).
type lineEntry struct {
	samples int
	share   float64
	text    string
}

func lineTable(t *testing.T, out, fn string) map[int]lineEntry {
	t.Helper()
	at := strings.Index(out, "Function: "+fn+" at ")
	if at < 0 {
		t.Fatalf("no table for %s in\n%s", fn, out)
	}
	rest := out[at:]
	if end := strings.Index(rest[1:], "\nFunction: "); end >= 0 {
		rest = rest[:end+1]
	}
	rows := map[int]lineEntry{}
	body := strings.SplitN(rest, strings.Repeat("=", 72)+"\n", 2)
	if len(body) != 2 {
		t.Fatalf("table of %s has no header rule:\n%s", fn, rest)
	}
	for _, l := range strings.Split(strings.TrimRight(body[1], "\n"), "\n") {
		// "%6d %9d %7.1f %7.1f %9d  text", or blanks for a line without
		// samples: the columns end at byte 44.
		if len(l) < 44 {
			t.Fatalf("short row %q", l)
		}
		line, err := strconv.Atoi(strings.TrimSpace(l[:6]))
		if err != nil {
			t.Fatalf("row %q: %v", l, err)
		}
		e := lineEntry{text: l[44:]}
		if f := strings.Fields(l[:44]); len(f) == 5 {
			e.samples, _ = strconv.Atoi(f[1])
			e.share, _ = strconv.ParseFloat(f[2], 64)
		}
		rows[line] = e
	}
	return rows
}

// TestLinesSplit records a function whose three loop lines take 70/20/10
// of its time, in a file with non-ASCII text, deletes the file and renders
// the recording as line tables: shares within 10 points, line numbers and
// source text exact. The oldest and newest interpreters found run it.
func TestLinesSplit(t *testing.T) {
	ins := testutil.Interpreters(t)
	if len(ins) == 0 {
		t.Skip("no Python interpreter found on this machine")
	}
	pick := []testutil.Interpreter{ins[0]}
	if len(ins) > 1 {
		pick = append(pick, ins[len(ins)-1])
	}
	src, err := os.ReadFile(testutil.TestdataPath("lines_split.py"))
	if err != nil {
		t.Fatal(err)
	}
	srcLines := strings.Split(string(src), "\n")
	testutil.ForEach(t, pick, func(t *testing.T, in testutil.Interpreter) {
		// Eight seconds: on a loaded machine the target runs in slices and
		// samples within one slice see the same line, so fewer seconds
		// give too few independent looks at the split.
		// The script runs from a copy the test deletes; for an interpreter
		// in another root filesystem the copy is inside it, and the source
		// is read through the target's /proc/PID/root.
		dir := t.TempDir()
		script := filepath.Join(copyScripts(t, in, "lines_split.py"), "lines_split.py")
		rec := filepath.Join(dir, "lines.pyspyglass")
		r := pyspyglass(t, append([]string{"record", "--rate", "200", "-o", rec, "--"}, in.Argv(script, "8")...)...)
		if r.code != 0 {
			t.Fatalf("record: exit %d\n%s", r.code, r.stderr)
		}
		own := selfTimedLines(t, r.stdout)
		if err := os.Remove(in.HostPath(script)); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "lines.lines.txt")
		if r := pyspyglass(t, "render", rec, "-o", out, "--lines-top", "3"); r.code != 0 {
			t.Fatalf("render: exit %d\n%s", r.code, r.stderr)
		}
		text, _ := os.ReadFile(out)
		rows := lineTable(t, string(text), "work")
		mark := func(name string) int { return testutil.Mark(t, "lines_split.py", name) }
		// On a loaded machine the loops' shares in time drift from
		// 70/20/10; the profile must follow what the workload timed.
		for _, want := range []struct {
			mark  string
			share float64
		}{{"lines-70", own[0]}, {"lines-20", own[1]}, {"lines-10", own[2]}} {
			l := mark(want.mark)
			r, ok := rows[l]
			if !ok {
				t.Errorf("line %d (%s) missing:\n%s", l, want.mark, text)
				continue
			}
			if math.Abs(r.share-want.share) > 10 {
				t.Errorf("line %d: %.1f%% of work, want %.1f ± 10 (the workload's own timing)\n%s", l, r.share, want.share, text)
			}
			if r.text != strings.TrimRight(srcLines[l-1], " ") {
				t.Errorf("line %d text %q, want %q", l, r.text, srcLines[l-1])
			}
		}
		def := mark("lines-70") - 2
		// The def line may hold a sample or two: from 3.11 the RESUME at a
		// function's start belongs to it (slow debug builds show it).
		if r := rows[def]; !strings.HasPrefix(r.text, "def work(") || r.share > 2 {
			t.Errorf("line %d: %+v, want the def line with at most a stray sample", def, r)
		}
		last := mark("work-return")
		if r := rows[last]; !strings.HasPrefix(r.text, "    return x") {
			t.Errorf("line %d: %+v, want the body's last line", last, r)
		}
		if _, ok := rows[last+1]; ok {
			t.Errorf("the table runs past the function's body:\n%s", text)
		}
		if !strings.Contains(string(text), "Function: run at ") {
			t.Errorf("run() missing from the top 3 functions:\n%s", text)
		}
		page := filepath.Join(dir, "lines.html")
		if r := pyspyglass(t, "render", rec, "-o", page); r.code != 0 {
			t.Fatalf("render html: exit %d\n%s", r.code, r.stderr)
		}
		htmlText, _ := os.ReadFile(page)
		if !strings.Contains(string(htmlText), html.EscapeString(strings.TrimRight(srcLines[mark("lines-20")-1], " "))) {
			t.Errorf("the HTML page lacks the source of line %d", mark("lines-20"))
		}
	})
}

// selfTimedLines reads lines_split.py's "selftime l70=A l20=B l10=C" line
// and returns each loop's percentage of their sum.
func selfTimedLines(t *testing.T, stdout string) [3]float64 {
	t.Helper()
	m := regexp.MustCompile(`selftime l70=([0-9.]+) l20=([0-9.]+) l10=([0-9.]+)`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("the workload printed no selftime line:\n%s", stdout)
	}
	var own [3]float64
	var sum float64
	for i := range own {
		own[i], _ = strconv.ParseFloat(m[i+1], 64)
		sum += own[i]
	}
	if sum <= 0 {
		t.Fatalf("bad selftime line %q", m[0])
	}
	for i := range own {
		own[i] *= 100 / sum
	}
	return own
}

// TestMemoryGrowth records a script that grows a list to 200 MB in grow()
// while churn() allocates and frees small lists, with --memory: at least
// 80% of the resident growth lands on grow(), in the memory flamegraph's
// collapsed form and in pprof's alloc_space. The oldest and newest
// interpreters found run it, one after the other (200 MB each).
func TestMemoryGrowth(t *testing.T) {
	ins := testutil.Interpreters(t)
	if len(ins) == 0 {
		t.Skip("no Python interpreter found on this machine")
	}
	pick := []testutil.Interpreter{ins[0]}
	if len(ins) > 1 {
		pick = append(pick, ins[len(ins)-1])
	}
	for _, in := range pick {
		t.Run(in.Name, func(t *testing.T) {
			dir := t.TempDir()
			rec := filepath.Join(dir, "mem.pyspyglass")
			script := filepath.Join(copyScripts(t, in, "memory_growth.py"), "memory_growth.py")
			r := pyspyglass(t, append([]string{"record", "--memory", "--rate", "100", "-o", rec, "--"}, in.Argv(script)...)...)
			if r.code != 0 {
				t.Fatalf("record: exit %d\n%s", r.code, r.stderr)
			}
			folded := filepath.Join(dir, "mem.txt")
			if r := pyspyglass(t, "render", "--memory", rec, "-o", folded); r.code != 0 {
				t.Fatalf("render: exit %d\n%s", r.code, r.stderr)
			}
			counts := collapsedCounts(t, folded)
			var grow, total float64
			for stack, n := range counts {
				total += float64(n)
				frames := strings.Split(stack, ";")
				if strings.HasPrefix(frames[len(frames)-1], "grow (") {
					grow += float64(n)
				}
			}
			if total < 150<<20 {
				t.Fatalf("only %.0f MB of growth recorded, the list alone is 200 MB", total/(1<<20))
			}
			if grow/total < 0.8 {
				t.Errorf("grow() has %.0f%% of %.0f MB growth, want ≥ 80%%", 100*grow/total, total/(1<<20))
			}
			pb := filepath.Join(dir, "mem.pb.gz")
			if r := pyspyglass(t, "render", rec, "-o", pb); r.code != 0 {
				t.Fatalf("render pprof: exit %d\n%s", r.code, r.stderr)
			}
			data, _ := os.ReadFile(pb)
			p, err := profile.ParseData(data)
			if err != nil {
				t.Fatal(err)
			}
			idx := -1
			for i, st := range p.SampleType {
				if st.Type == "alloc_space" && st.Unit == "bytes" {
					idx = i
				}
			}
			if idx < 0 {
				t.Fatalf("pprof has no alloc_space sample type: %v", p.SampleType)
			}
			var pgrow, ptotal int64
			for _, s := range p.Sample {
				ptotal += s.Value[idx]
				if s.Location[0].Line[0].Function.Name == "grow" {
					pgrow += s.Value[idx]
				}
			}
			if float64(pgrow) < 0.8*float64(ptotal) || float64(ptotal) != total {
				t.Errorf("pprof alloc_space: grow %d of %d (collapsed total %.0f)", pgrow, ptotal, total)
			}
			if r := pyspyglass(t, "render", "--memory", testutil.TestdataPath("../ui/render/testdata/synthetic.raw.jsonl"), "-o", filepath.Join(dir, "x.svg")); r.code == 0 {
				t.Error("render --memory of a file that is not a memory recording should fail")
			}
		})
	}
}

// copyScripts copies testdata scripts, with the readiness module they
// import, to a directory the interpreter can read (inside its root
// filesystem, if it has one) and returns that directory as it names it.
func copyScripts(t *testing.T, in testutil.Interpreter, names ...string) string {
	t.Helper()
	dir := in.TempDir(t)
	for _, name := range append(names, "readiness.py") {
		data, err := os.ReadFile(testutil.TestdataPath(name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(in.HostPath(filepath.Join(dir, name)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestFlowsSubprocesses records a parent that forks two CPU-bound workers
// with --subprocesses and --memory into one recording, then renders it in
// each of the workflow formats: the Firefox profile has each worker as its
// own process track with GIL markers, pstats loads with a root function per process, the
// line table shows the workers' loop line, and the recording compared with
// itself shows no change.
func TestFlowsSubprocesses(t *testing.T) {
	in := newest(t)
	dir := t.TempDir()
	script := filepath.Join(copyScripts(t, in, "forker.py"), "forker.py")
	rec := filepath.Join(dir, "forks.pyspyglass")
	cmd := exec.Command(bin, append([]string{"record", "--subprocesses", "--memory", "-d", "4", "-o", rec, "--"}, in.Argv(script)...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	// The parent parks: when the duration ends it is interrupted, and its
	// exit status is passed on; only the recording matters here.
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("%v\n%s", err, stderr.String())
		}
	}
	render := func(name string, args ...string) []byte {
		t.Helper()
		out := filepath.Join(dir, name)
		if r := pyspyglass(t, append([]string{"render", rec, "-o", out}, args...)...); r.code != 0 {
			t.Fatalf("render %s: exit %d\n%s", name, r.code, r.stderr)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}

	var doc struct {
		Threads []struct {
			Pid         string
			ProcessName string
			Markers     struct{ Length int }
		}
	}
	gecko := render("forks.gecko.json")
	if err := json.Unmarshal(gecko, &doc); err != nil {
		t.Fatal(err)
	}
	workers := map[string]bool{}
	gil := 0
	for _, th := range doc.Threads {
		if strings.Contains(th.ProcessName, "process "+th.Pid+":") {
			workers[th.Pid] = true
		}
		gil += th.Markers.Length
	}
	if gil == 0 {
		t.Error("gecko: no GIL markers, though the workers spin holding it")
	}
	if leaves := geckoLeaves(t, gecko); len(workers) < 2 || leaves["child_work"] == 0 {
		t.Errorf("gecko: %d processes named by their root, child_work %d samples; want 2 workers", len(workers), leaves["child_work"])
	}

	render("forks.prof")
	d := loadPstats(t, pstatsReader(t), filepath.Join(dir, "forks.prof"), "forker.py")
	roots := 0
	for name, st := range d.Funcs {
		if strings.HasPrefix(name, "~:process ") && st.CT > 0 {
			roots++
		}
	}
	if roots < 2 || d.Funcs["child_work"].TT <= 0 {
		t.Errorf("pstats: %d process roots, child_work tottime %v; want 2 workers", roots, d.Funcs["child_work"].TT)
	}

	lines := string(render("forks.lines.txt"))
	loop := testutil.Mark(t, "forker.py", "child-loop")
	if r := lineTable(t, lines, "child_work")[loop]; r.samples == 0 || !strings.Contains(r.text, "# mark: child-loop") {
		t.Errorf("line table: child-loop line %d is %+v\n%s", loop, r, lines)
	}

	if r := pyspyglass(t, "diff", rec, rec); r.code != 0 || !strings.Contains(r.stdout, "no function's share changed") {
		t.Errorf("diff with itself: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if mem := render("forks.mem.txt", "--memory"); len(mem) == 0 {
		t.Error("the memory view of a --memory recording is empty")
	}
}
