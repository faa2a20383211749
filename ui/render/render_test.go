package render

import (
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// Names used by the synthetic profile; b and c carry the characters every
// format must escape or survive.
const (
	nameB = `b;<tag>&"q"`
	nameC = "计算_ü"
	fileB = "lib/ünï.py"
)

// synthetic builds main->a->b with 75 samples and main->c with 25, over two
// threads, with a timeline: round i at i*10ms samples one thread, thread 0
// three rounds out of four (a c sample in the second), thread 1 the fourth
// (always main->a->b).
func synthetic() *prof.Profile {
	p := prof.New(time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC))
	p.KeepTimeline = true
	p.Target = `pid 4242: python3.12 app.py <x> & "y"`
	p.Binary = prof.Binary{Path: "/usr/bin/python3.12", BuildID: "0123abcd"}
	main := p.Frame(prof.Frame{Name: "main", File: "app.py", Line: 10, FirstLine: 9})
	a := p.Frame(prof.Frame{Name: "a", File: "app.py", Line: 20, FirstLine: 19})
	b := p.Frame(prof.Frame{Name: nameB, File: fileB, Line: 30})
	c := p.Frame(prof.Frame{Name: nameC, File: "app.py", Line: 40})
	ab := p.Stack([]prof.FrameID{main, a, b})
	mc := p.Stack([]prof.FrameID{main, c})
	t0 := p.Thread(prof.Thread{Pid: 4242, TID: 100, Name: "MainThread"})
	t1 := p.Thread(prof.Thread{Pid: 4242, TID: 101, Name: "worker-☃"})
	for i := range 100 {
		thread, stack := t0, ab
		switch i % 4 {
		case 1:
			stack = mc
		case 3:
			thread = t1
		}
		p.Add(stack, thread, time.Duration(i)*10*time.Millisecond, 1)
		// Thread 0 holds the GIL in its main->a->b samples.
		p.Timeline[len(p.Timeline)-1].GIL = thread == t0 && stack == ab
	}
	p.Health = prof.Health{
		Rate: 100, Samples: 100, Errors: 3, Late: 2, TotalLag: 5 * time.Millisecond,
		Elapsed: time.Second, GILSamples: 80,
	}
	// app.py's text, non-ASCII and markup included; lib/ünï.py has none.
	var src strings.Builder
	for i := 1; i <= 45; i++ {
		switch i {
		case 9:
			src.WriteString("def main():\n")
		case 10:
			src.WriteString("    a()  # <b>&\n")
		case 19:
			src.WriteString("def a():\n")
		case 20:
			src.WriteString("    return b()\n")
		default:
			fmt.Fprintf(&src, "# line %d: ünï 计算\n", i)
		}
	}
	p.SetSource("app.py", src.String())
	return p
}

func render(t *testing.T, f Format, p *prof.Profile) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := f.Write(&buf, p, Options{}); err != nil {
		t.Fatalf("%s: %v", f.Name(), err)
	}
	return buf.Bytes()
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it); got:\n%s", path, got)
	}
}

func TestGolden(t *testing.T) {
	p := synthetic()
	for _, f := range Formats() {
		t.Run(f.Name(), func(t *testing.T) {
			out := render(t, f, p)
			name := "synthetic" + f.Ext()
			// gzip bytes may change with the Go release; the content is
			// what we own.
			switch f.Name() {
			case "pprof":
				pp := parsePprof(t, out)
				name, out = "synthetic.pprof.txt", []byte(pp.String())
			case "recording":
				name, out = "synthetic.recording.jsonl", gunzip(t, out)
			}
			golden(t, name, out)
		})
	}
}

func TestDeterministic(t *testing.T) {
	for _, f := range Formats() {
		a, b := render(t, f, synthetic()), render(t, f, synthetic())
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two renderings of the same profile differ", f.Name())
		}
	}
}

func TestRawRoundTrip(t *testing.T) {
	for _, keep := range []bool{true, false} {
		p := synthetic()
		if !keep {
			p.KeepTimeline, p.Timeline = false, nil
		}
		p2, err := ReadRecording(bytes.NewReader(render(t, Recording{}, p)))
		if err != nil {
			t.Fatal(err)
		}
		if !p2.Start.Equal(p.Start) || p2.Target != p.Target || p2.Health != p.Health || p2.KeepTimeline != p.KeepTimeline {
			t.Errorf("header fields differ: %+v %q %+v vs %+v %q %+v", p2.Start, p2.Target, p2.Health, p.Start, p.Target, p.Health)
		}
		if !slices.Equal(p2.Frames, p.Frames) || !slices.Equal(p2.Threads, p.Threads) ||
			!slices.EqualFunc(p2.Stacks, p.Stacks, slices.Equal) || !slices.Equal(p2.Counts(), p.Counts()) ||
			!slices.Equal(p2.Timeline, p.Timeline) || !maps.Equal(p2.Sources, p.Sources) {
			t.Errorf("tables differ after the round trip")
		}
		for _, f := range Formats() {
			if WantsTimeline(f) && f.Name() != "recording" && f.Name() != "pstats" && !keep {
				continue
			}
			if !bytes.Equal(render(t, f, p), render(t, f, p2)) {
				t.Errorf("keep timeline %v: %s from the re-read profile differs", keep, f.Name())
			}
		}
		// The re-read profile still interns: adding a known frame gives
		// its old id.
		if id := p2.Frame(p.Frames[2]); id != 2 {
			t.Errorf("re-read profile interns frame 2 as %d", id)
		}
	}
}

func TestRawRejects(t *testing.T) {
	good := gunzip(t, render(t, Recording{}, synthetic()))
	lines := strings.SplitAfter(string(good), "\n")
	zip := func(s string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(s))
		zw.Close()
		return b.Bytes()
	}
	cases := []struct {
		name, data string
		notRaw     bool
	}{
		{"empty", "", true},
		{"not json", "hello\n", true},
		{"other format", `{"format":"x","version":1}` + "\n", true},
		{"future version", strings.Replace(lines[0], `"version":1`, `"version":99`, 1), false},
		{"truncated", strings.Join(lines[:len(lines)-3], ""), false},
		{"extra record", string(good) + `["e",1,0,0]` + "\n", false},
		{"trailing junk", string(good) + "}", false},
		{"bad frame id", strings.Replace(string(good), `["s",0,1,2]`, `["s",0,1,9]`, 1), false},
		{"duplicate frame", strings.Replace(string(good), `["f","a","app.py",20,0,19,"",""]`, `["f","main","app.py",10,0,9,"",""]`, 1), false},
		{"bad thread", strings.Replace(string(good), `["c",0,1,`, `["c",0,7,`, 1), false},
		{"negative count", strings.Replace(string(good), `["c",0,1,25]`, `["c",0,1,-25]`, 1), false},
		{"wrong tag", strings.Replace(string(good), `["t",`, `["x",`, 1), false},
		{"missing field", strings.Replace(string(good), `["e",0,0,0,1]`, `["e",0,0]`, 1), false},
		{"bad GIL field", strings.Replace(string(good), `["e",0,0,0,1]`, `["e",0,0,0,2]`, 1), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.data == string(good) {
				t.Fatal("case did not change the recording")
			}
			_, err := ReadRecording(bytes.NewReader(zip(c.data)))
			if err == nil {
				t.Fatal("ReadRaw accepted it")
			}
			if errors.Is(err, ErrNotRecording) != c.notRaw {
				t.Errorf("errors.Is(ErrNotRaw) = %v, want %v: %v", !c.notRaw, c.notRaw, err)
			}
		})
	}
	if _, err := ReadRecording(strings.NewReader("plain text")); !errors.Is(err, ErrNotRecording) {
		t.Errorf("ungzipped input: %v", err)
	}
	if _, err := ReadRecording(bytes.NewReader(render(t, Recording{}, synthetic())[:200])); err == nil {
		t.Error("truncated gzip accepted")
	}
}

func FuzzReadRaw(f *testing.F) {
	var b bytes.Buffer
	Recording{}.Write(&b, synthetic(), Options{})
	f.Add(b.Bytes())
	f.Add(b.Bytes()[:len(b.Bytes())/2])
	f.Add([]byte("\x1f\x8b\x08\x00garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if p, err := ReadRecording(bytes.NewReader(data)); err == nil {
			renderAll(t, p)
		}
	})
}

// FuzzDecodeRaw fuzzes the JSON lines below the gzip layer, where random
// bytes would rarely reach.
func FuzzDecodeRaw(f *testing.F) {
	var b bytes.Buffer
	Recording{}.Write(&b, synthetic(), Options{})
	zr, _ := gzip.NewReader(&b)
	plain, _ := io.ReadAll(zr)
	f.Add(plain)
	f.Add([]byte(`{"format":"pyspyglass-raw","version":1,"frames":1,"stacks":1,"threads":1,"counts":1,"timeline":1}` + "\n" +
		`["f","x","y",1,0]` + "\n" + `["s",0]` + "\n" + `["t",1,2,"n"]` + "\n" + `["c",0,0,5]` + "\n" + `["e",7,0,0]` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if p, err := decodeRecording(bytes.NewReader(data)); err == nil {
			renderAll(t, p)
		}
	})
}

// renderAll writes p in every format: whatever ReadRaw accepts must not
// make a writer panic.
func renderAll(t *testing.T, p *prof.Profile) {
	for _, f := range Formats() {
		f.Write(io.Discard, p, Options{})
	}
}

func TestEmptyProfile(t *testing.T) {
	p := prof.New(time.Time{})
	for _, f := range Formats() {
		if err := f.Write(io.Discard, p, Options{}); err != nil {
			t.Errorf("%s: %v", f.Name(), err)
		}
	}
	pp := parsePprof(t, render(t, Pprof{}, p))
	if len(pp.Sample) != 0 {
		t.Errorf("pprof of an empty profile has %d samples", len(pp.Sample))
	}
	if _, err := ReadRecording(bytes.NewReader(render(t, Recording{}, p))); err != nil {
		t.Errorf("raw round trip of an empty profile: %v", err)
	}
}

func TestBadIDsAreErrors(t *testing.T) {
	p := synthetic()
	p.Add(prof.StackID(99), 0, 0, 1)
	for _, f := range Formats() {
		if err := f.Write(io.Discard, p, Options{}); err == nil {
			t.Errorf("%s accepted a count with stack id 99", f.Name())
		}
	}
}

func TestByName(t *testing.T) {
	for _, f := range Formats() {
		got, err := ByName(f.Name())
		if err != nil || got.Name() != f.Name() {
			t.Errorf("ByName(%q) = %v, %v", f.Name(), got, err)
		}
	}
	_, err := ByName("svg")
	if err == nil || !strings.Contains(err.Error(), "flamegraph, speedscope, pprof, collapsed, callgrind, chrometrace, recording") {
		t.Errorf("ByName(svg) error does not list the formats: %v", err)
	}
}

func TestFromPath(t *testing.T) {
	cases := map[string]string{
		"out.svg":               "flamegraph",
		"/tmp/x/OUT.SVG":        "flamegraph",
		"p.speedscope.json":     "speedscope",
		"p.json":                "speedscope",
		"p.speedscope":          "speedscope",
		"p.pb.gz":               "pprof",
		"p.pprof":               "pprof",
		"p.pb":                  "pprof",
		"p.txt":                 "collapsed",
		"p.folded":              "collapsed",
		"p.collapsed":           "collapsed",
		"callgrind.out.1234":    "callgrind",
		"dir/callgrind.out":     "callgrind",
		"p.callgrind":           "callgrind",
		"p.trace.json":          "chrometrace",
		"p.perfetto.json":       "chrometrace",
		"p.chrometrace":         "chrometrace",
		"p.pyspyglass":          "recording",
		"p.raw.gz":              "recording",
		"p.raw":                 "collapsed",
		"x.svg.trace.json":      "chrometrace",
		"my.callgrind.out.text": "",
		"p.gz":                  "",
		"p":                     "",
	}
	for path, want := range cases {
		f, err := FromPath(path)
		switch {
		case want == "" && err == nil:
			t.Errorf("FromPath(%q) = %s, want an error", path, f.Name())
		case want != "" && err != nil:
			t.Errorf("FromPath(%q): %v", path, err)
		case want != "" && f.Name() != want:
			t.Errorf("FromPath(%q) = %s, want %s", path, f.Name(), want)
		}
	}
	// py-spy's "raw" is collapsed stacks; our recording has its own name.
	for name, want := range map[string]string{"raw": "collapsed", "recording": "recording", "folded": "collapsed"} {
		if f, err := ByName(name); err != nil || f.Name() != want {
			t.Errorf("ByName(%q) = %v, %v; want %s", name, f, err, want)
		}
	}
	// Every format's own extension leads back to it.
	for _, f := range Formats() {
		if got, err := FromPath("x" + f.Ext()); err != nil || got.Name() != f.Name() {
			t.Errorf("FromPath(x%s) = %v, %v; want %s", f.Ext(), got, err, f.Name())
		}
	}
}

type failing struct{ Collapsed }

func (failing) Write(w io.Writer, p *prof.Profile, o Options) error {
	io.WriteString(w, "partial")
	return errors.New("boom")
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.txt")
	if err := WriteFile(path, Collapsed{}, synthetic(), Options{}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, render(t, Collapsed{}, synthetic())) {
		t.Errorf("file content differs from Write")
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	err := WriteFile(path, failing{}, synthetic(), Options{})
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("failing format: %v", err)
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(again, got) {
		t.Errorf("a failed write changed the existing file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("temporary files left behind: %v", names)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "out.txt"), Collapsed{}, synthetic(), Options{}); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
}

func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	if err := CheckWritable(filepath.Join(dir, "out.svg")); err != nil {
		t.Errorf("writable directory: %v", err)
	}
	if err := CheckWritable(file); err != nil {
		t.Errorf("existing file: %v", err)
	}
	for name, path := range map[string]string{
		"missing dir":  filepath.Join(dir, "nope", "out.svg"),
		"dir is file":  filepath.Join(file, "out.svg"),
		"path is dir":  dir,
		"proc is r/o":  "/proc/out.svg",
		"sys dir no w": "/sys/out.svg",
	} {
		if err := CheckWritable(path); err == nil {
			t.Errorf("%s: CheckWritable(%s) succeeded", name, path)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("probe files left behind: %d entries", len(entries))
	}
}
