package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

func TestReadFolded(t *testing.T) {
	f, err := ReadFolded(strings.NewReader("main (app.py:10);a (app.py:20) 3\nmain (app.py:11);a (app.py:22) 2\n\n<idle> 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f["main (app.py);a (app.py)"] != 5 || f["<idle>"] != 1 || len(f) != 2 {
		t.Errorf("folded %v: lines of one function should merge", f)
	}
	for _, bad := range []string{"main;a\n", "main;a x\n", "main;a -3\n"} {
		if _, err := ReadFolded(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("ReadFolded(%q): %v, want an error naming line 1", bad, err)
		}
	}
}

func TestDiffOfSynthetic(t *testing.T) {
	base, err := FoldProfile(synthetic())
	if err != nil {
		t.Fatal(err)
	}
	d := Diff{Base: base, New: Folded{"main (app.py);a (app.py);" + foldLabel(nameB+" ("+fileB+")"): 50, "main (app.py);计算_ü (app.py)": 50}}
	rows, err := d.Rows()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0].Change() != 25 {
		t.Fatalf("rows %+v, want a, b and c changing by 25 points", rows)
	}
	var buf bytes.Buffer
	if err := d.WriteCollapsed(&buf); err != nil {
		t.Fatal(err)
	}
	want := "main (app.py);a (app.py);b:<tag>&\"q\" (lib/ünï.py) 75 50\nmain (app.py);计算_ü (app.py) 25 50\n"
	if buf.String() != want {
		t.Errorf("collapsed diff:\n%s\nwant\n%s", buf.String(), want)
	}
	if _, err := (Diff{Base: base, New: Folded{}}).Rows(); err == nil {
		t.Error("a diff against an empty profile should fail")
	}
}

// ValidateGecko checks a processed profile of version 57 the way the
// Firefox Profiler's importer and its upgraders to later versions read it:
// the meta fields they require, a grey default category, every per-thread
// table with each column as long as the table says, every index in range,
// stacks in topological order and samples in time order. It returns the
// leaf-to-root function names of each thread's samples, keyed by "pid/tid".
func validateGecko(t *testing.T, data []byte) map[string][][]string {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("gecko: not JSON: %v", err)
	}
	obj := func(v any, what string) map[string]any {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("gecko: %s is %T, want an object", what, v)
		}
		return m
	}
	arr := func(v any, what string) []any {
		a, ok := v.([]any)
		if !ok {
			t.Fatalf("gecko: %s is %T, want an array", what, v)
		}
		return a
	}
	num := func(v any, what string) float64 {
		n, ok := v.(float64)
		if !ok {
			t.Fatalf("gecko: %s is %T, want a number", what, v)
		}
		return n
	}
	meta := obj(doc["meta"], "meta")
	if v := num(meta["preprocessedProfileVersion"], "meta.preprocessedProfileVersion"); v != 57 {
		t.Fatalf("gecko: declares version %v, validated for 57", v)
	}
	if num(meta["interval"], "meta.interval") <= 0 {
		t.Error("gecko: meta.interval must be positive")
	}
	num(meta["startTime"], "meta.startTime")
	num(meta["version"], "meta.version")
	num(meta["processType"], "meta.processType")
	if s := num(meta["stackwalk"], "meta.stackwalk"); s != 0 && s != 1 {
		t.Errorf("gecko: meta.stackwalk %v", s)
	}
	if _, ok := meta["product"].(string); !ok {
		t.Error("gecko: meta.product missing")
	}
	arr(meta["markerSchema"], "meta.markerSchema") // the upgraders iterate it
	cats := arr(meta["categories"], "meta.categories")
	var subcats []int
	grey := false
	for i, c := range cats {
		c := obj(c, "category")
		if c["color"] == "grey" {
			grey = true
		}
		if _, ok := c["name"].(string); !ok {
			t.Errorf("gecko: category %d has no name", i)
		}
		subs := arr(c["subcategories"], "category.subcategories")
		if len(subs) == 0 {
			t.Errorf("gecko: category %d has no default subcategory", i)
		}
		subcats = append(subcats, len(subs))
	}
	if !grey {
		t.Error("gecko: no grey category (the importer's default)")
	}
	arr(doc["libs"], "libs")
	strs := arr(obj(doc["shared"], "shared")["stringArray"], "shared.stringArray")
	str := func(v any, what string) string {
		i := int(num(v, what))
		if i < 0 || i >= len(strs) {
			t.Fatalf("gecko: %s: string %d out of range (%d)", what, i, len(strs))
		}
		return strs[i].(string)
	}
	// table checks that every column is an array of the table's length.
	table := func(th map[string]any, name string, cols ...string) (map[string][]any, int) {
		tab := obj(th[name], name)
		n := int(num(tab["length"], name+".length"))
		out := map[string][]any{}
		for _, c := range cols {
			a := arr(tab[c], name+"."+c)
			if len(a) != n {
				t.Fatalf("gecko: %s.%s has %d entries, length says %d", name, c, len(a), n)
			}
			out[c] = a
		}
		return out, n
	}
	index := func(v any, n int, what string, nullable bool) int {
		if v == nil {
			if !nullable {
				t.Fatalf("gecko: %s is null", what)
			}
			return -1
		}
		i := int(num(v, what))
		if i < 0 || i >= n {
			t.Fatalf("gecko: %s = %d out of range (%d)", what, i, n)
		}
		return i
	}
	samples := map[string][][]string{}
	for ti, th := range arr(doc["threads"], "threads") {
		th := obj(th, "thread")
		for _, k := range []string{"processType", "processStartupTime", "processShutdownTime", "registerTime", "unregisterTime", "pausedRanges", "name", "isMainThread", "pid", "tid"} {
			if _, ok := th[k]; !ok {
				t.Fatalf("gecko: thread %d has no %s", ti, k)
			}
		}
		pid, ok := th["pid"].(string)
		if !ok {
			t.Fatalf("gecko: thread %d pid is not a string", ti)
		}
		if _, ok := th["isMainThread"].(bool); !ok {
			t.Fatalf("gecko: thread %d isMainThread is not a boolean", ti)
		}
		_, nres := table(th, "resourceTable", "lib", "name", "host", "type")
		fn, nfn := table(th, "funcTable", "name", "isJS", "relevantForJS", "resource", "fileName", "lineNumber", "columnNumber")
		fr, nfr := table(th, "frameTable", "address", "inlineDepth", "category", "subcategory", "func", "nativeSymbol", "innerWindowID", "line", "column")
		st, nst := table(th, "stackTable", "frame", "prefix")
		sm, nsm := table(th, "samples", "stack", "time")
		table(th, "markers", "data", "name", "startTime", "endTime", "phase", "category")
		table(th, "nativeSymbols", "libIndex", "address", "name", "functionSize")
		if wt := obj(th["samples"], "samples")["weightType"]; wt != "samples" && wt != "tracing-ms" && wt != "bytes" {
			t.Errorf("gecko: samples.weightType %v", wt)
		}
		for _, removed := range []string{"implementation", "optimizations"} {
			if _, ok := obj(th["frameTable"], "frameTable")[removed]; ok {
				t.Errorf("gecko: frameTable.%s was removed before version 57", removed)
			}
		}
		names := make([]string, nfn)
		for i := range nfn {
			names[i] = str(fn["name"][i], "funcTable.name")
			if r := int(num(fn["resource"][i], "funcTable.resource")); r != -1 {
				index(fn["resource"][i], nres, "funcTable.resource", false)
			}
			if fn["fileName"][i] != nil {
				str(fn["fileName"][i], "funcTable.fileName")
			}
			if _, ok := fn["isJS"][i].(bool); !ok {
				t.Fatal("gecko: funcTable.isJS not boolean")
			}
		}
		for i := range nfr {
			c := index(fr["category"][i], len(cats), "frameTable.category", true)
			if c >= 0 {
				index(fr["subcategory"][i], subcats[c], "frameTable.subcategory", true)
			}
			index(fr["func"][i], nfn, "frameTable.func", false)
		}
		for i := range nst {
			index(st["frame"][i], nfr, "stackTable.frame", false)
			if p := index(st["prefix"][i], nst, "stackTable.prefix", true); p >= i {
				t.Fatalf("gecko: stack %d has prefix %d: not in topological order", i, p)
			}
		}
		prev := math.Inf(-1)
		key := pid + "/" + strconv.Itoa(int(num(th["tid"], "tid")))
		for i := range nsm {
			at := num(sm["time"][i], "samples.time")
			if at < prev {
				t.Fatalf("gecko: thread %s samples out of time order", key)
			}
			prev = at
			var stack []string
			for s := index(sm["stack"][i], nst, "samples.stack", true); s >= 0; s = index(st["prefix"][s], nst, "prefix", true) {
				stack = append(stack, names[int(num(fr["func"][int(num(st["frame"][s], ""))], ""))])
			}
			samples[key] = append(samples[key], stack)
		}
	}
	return samples
}

func TestGeckoValid(t *testing.T) {
	p := synthetic()
	samples := validateGecko(t, render(t, Gecko{}, p))
	if len(samples["4242/100"]) != 75 || len(samples["4242/101"]) != 25 {
		t.Fatalf("samples per thread: %d and %d, want 75 and 25", len(samples["4242/100"]), len(samples["4242/101"]))
	}
	// Round i: thread 0 has main->c on i%4 == 1, main->a->b otherwise.
	for i, s := range samples["4242/100"] {
		want := []string{nameB, "a", "main"}
		if i%3 == 1 {
			want = []string{nameC, "main"}
		}
		if !slices.Equal(s, want) {
			t.Fatalf("thread 0 sample %d: %v, want %v", i, s, want)
		}
	}
	// Thread 0 holds the GIL in its main->a->b samples (two of every three
	// rounds it is sampled in): a marker per run, ending at its next
	// sample without the GIL.
	var doc struct {
		Meta    struct{ MarkerSchema []struct{ Name string } }
		Threads []struct {
			Tid     int
			Markers struct {
				StartTime, EndTime []float64
				Category           []int
				Length             int
			}
		}
	}
	if err := json.Unmarshal(render(t, Gecko{}, p), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Meta.MarkerSchema) != 1 || doc.Meta.MarkerSchema[0].Name != "GIL" {
		t.Errorf("marker schema %+v, want the GIL's", doc.Meta.MarkerSchema)
	}
	for _, th := range doc.Threads {
		m := th.Markers
		switch th.Tid {
		case 100:
			// Its rounds go ab, c, ab, -, ab, c, ab, -, ...: a run from
			// 0 to the c at 10 ms, one from 20 to the c at 50, ...; the
			// last, at 980, ends one interval later.
			if m.Length != 26 || m.EndTime[25] != 990 || m.StartTime[0] != 0 || m.EndTime[0] != 10 || m.StartTime[1] != 20 || m.EndTime[1] != 50 || m.Category[0] != geckoGIL {
				t.Errorf("thread 0 GIL markers: %+v", m)
			}
		case 101:
			if m.Length != 0 {
				t.Errorf("thread 1 never held the GIL, has %d markers", m.Length)
			}
		}
	}
	// An empty profile is a valid empty document; one without a timeline
	// is an error.
	validateGecko(t, render(t, Gecko{}, prof.New(time.Time{})))
	p.KeepTimeline, p.Timeline = false, nil
	if err := (Gecko{}).Write(io.Discard, p, Options{}); !errors.Is(err, ErrNoTimeline) {
		t.Errorf("without a timeline: %v, want ErrNoTimeline", err)
	}
}

func TestMemoryViewAndRecording(t *testing.T) {
	p := synthetic()
	p.Memory = true
	ab, mc := prof.StackID(0), prof.StackID(1)
	p.AddMemory(ab, 0, 300<<20)
	p.AddMemory(ab, 0, -100<<20)
	p.AddMemory(mc, 0, 10<<20)
	p2, err := ReadRecording(bytes.NewReader(render(t, Recording{}, p)))
	if err != nil {
		t.Fatal(err)
	}
	if !p2.Memory || !slices.Equal(p2.MemoryCounts(), p.MemoryCounts()) {
		t.Fatalf("memory after the round trip: %v %+v, want %+v", p2.Memory, p2.MemoryCounts(), p.MemoryCounts())
	}
	v, o := ViewFor(p2, Collapsed{}, Options{}, true)
	if o.Unit != "bytes" {
		t.Errorf("unit %q", o.Unit)
	}
	var buf bytes.Buffer
	if err := (Collapsed{}).Write(&buf, v, o); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("main (app.py:10);a (app.py:20);b:<tag>&\"q\" (lib/ünï.py:30) %d\nmain (app.py:10);计算_ü (app.py:40) %d\n", 300<<20, 10<<20)
	if buf.String() != want {
		t.Errorf("memory collapsed:\n%s\nwant\n%s", buf.String(), want)
	}
	if v, _ := ViewFor(p2, Pstats{}, Options{}, true); v != p2 {
		t.Error("pstats should keep the CPU view")
	}
	pp, err := toPprof(p2)
	if err != nil {
		t.Fatal(err)
	}
	var grow, shrink int64
	for _, s := range pp.Sample {
		grow += s.Value[2]
		shrink += s.Value[3]
	}
	if len(pp.SampleType) != 4 || pp.SampleType[2].Type != "alloc_space" || grow != 310<<20 || shrink != 100<<20 {
		t.Errorf("pprof memory: types %v, grow %d, shrink %d", pp.SampleType, grow, shrink)
	}
}
