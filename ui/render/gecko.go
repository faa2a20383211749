package render

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// Gecko writes the Firefox Profiler's processed profile format
// (https://profiler.firefox.com, "Load a profile from file"), version 57 of
// that format, the one CPython 3.15's sampler writes too; the profiler
// upgrades it to its current version on load. It needs the profile's
// timeline; without one it returns ErrNoTimeline.
//
// Each (pid, tid) is one thread track, grouped by process, so a
// --subprocesses recording shows one process per child; a process's main
// thread is the one whose tid is its pid. Samples are in time order, in
// milliseconds since Profile.Start. Frames fall into the categories Python
// (yellow), Native (blue), GC (orange) for "<GC>", Idle (transparent) for
// "<idle>", and Other (grey) for process and thread roots. Functions carry
// their file and first line, frames their current line, so the profiler's
// call tree and source view name them as the other formats do. Python
// functions are marked as "JS" so the profiler's "JavaScript only" call tree
// shows just the Python frames. Where the recording knows which thread held
// the GIL, each run of a thread's samples holding it is a "GIL held"
// interval marker (category GIL), ending at the thread's next sample
// without it, or one interval after its last when the thread was not seen
// for gapIntervals intervals.
type Gecko struct{}

func (Gecko) Name() string { return "gecko" }
func (Gecko) Ext() string  { return ".gecko.json" }

// geckoVersion is the processed format version written.
const geckoVersion = 57

const (
	geckoOther = iota // grey: the profiler's default category
	geckoPython
	geckoNative
	geckoGC
	geckoIdle
	geckoGIL
)

var geckoCategories = []geckoCategory{
	{"Other", "grey", []string{"Other"}},
	{"Python", "yellow", []string{"Other"}},
	{"Native", "blue", []string{"Other"}},
	{"GC", "orange", []string{"Other"}},
	{"Idle", "transparent", []string{"Other"}},
	{"GIL", "green", []string{"Other"}},
}

// geckoGILSchema describes the "GIL held" interval markers.
var geckoGILSchema = map[string]any{
	"name":         "GIL",
	"display":      []string{"marker-chart", "marker-table", "timeline-overview"},
	"tooltipLabel": "GIL held",
	"tableLabel":   "GIL held",
	"chartLabel":   "GIL",
	"description":  "The thread held the GIL in consecutive samples over this interval.",
	"fields":       []any{},
}

type geckoCategory struct {
	Name          string   `json:"name"`
	Color         string   `json:"color"`
	Subcategories []string `json:"subcategories"`
}

func geckoCategoryOf(f prof.Frame) int {
	switch f.Kind {
	case prof.KindPython:
		return geckoPython
	case prof.KindNative:
		return geckoNative
	case prof.KindOther:
		switch f.Name {
		case "<GC>":
			return geckoGC
		case "<idle>":
			return geckoIdle
		}
	}
	return geckoOther
}

type geckoProfile struct {
	Meta    geckoMeta     `json:"meta"`
	Libs    []any         `json:"libs"`
	Pages   []any         `json:"pages"`
	Threads []geckoThread `json:"threads"`
	Shared  struct {
		StringArray []string `json:"stringArray"`
	} `json:"shared"`
}

type geckoMeta struct {
	Interval                   float64         `json:"interval"`
	StartTime                  float64         `json:"startTime"`
	ProcessType                int             `json:"processType"`
	Product                    string          `json:"product"`
	Stackwalk                  int             `json:"stackwalk"`
	Version                    int             `json:"version"`
	PreprocessedProfileVersion int             `json:"preprocessedProfileVersion"`
	Categories                 []geckoCategory `json:"categories"`
	MarkerSchema               []any           `json:"markerSchema"`
	Symbolicated               bool            `json:"symbolicated"`
	Platform                   string          `json:"platform"`
	ImportedFrom               string          `json:"importedFrom"`
	Misc                       string          `json:"misc"`
}

type geckoThread struct {
	ProcessType         string   `json:"processType"`
	ProcessStartupTime  float64  `json:"processStartupTime"`
	ProcessShutdownTime *float64 `json:"processShutdownTime"`
	RegisterTime        float64  `json:"registerTime"`
	UnregisterTime      *float64 `json:"unregisterTime"`
	PausedRanges        []any    `json:"pausedRanges"`
	Name                string   `json:"name"`
	ProcessName         string   `json:"processName"`
	IsMainThread        bool     `json:"isMainThread"`
	Pid                 string   `json:"pid"`
	Tid                 int      `json:"tid"`
	Samples             struct {
		Stack      []int     `json:"stack"`
		Time       []float64 `json:"time"`
		Weight     *[]int    `json:"weight"`
		WeightType string    `json:"weightType"`
		Length     int       `json:"length"`
	} `json:"samples"`
	Markers struct {
		Data      []any     `json:"data"`
		Name      []int     `json:"name"`
		StartTime []float64 `json:"startTime"`
		EndTime   []float64 `json:"endTime"`
		Phase     []int     `json:"phase"`
		Category  []int     `json:"category"`
		Length    int       `json:"length"`
	} `json:"markers"`
	StackTable struct {
		Frame  []int    `json:"frame"`
		Prefix nullInts `json:"prefix"`
		Length int      `json:"length"`
	} `json:"stackTable"`
	FrameTable struct {
		Address       []int    `json:"address"`
		InlineDepth   []int    `json:"inlineDepth"`
		Category      []int    `json:"category"`
		Subcategory   []int    `json:"subcategory"`
		Func          []int    `json:"func"`
		NativeSymbol  []*int   `json:"nativeSymbol"`
		InnerWindowID []*int   `json:"innerWindowID"`
		Line          nullInts `json:"line"`
		Column        []*int   `json:"column"`
		Length        int      `json:"length"`
	} `json:"frameTable"`
	FuncTable struct {
		Name          []int    `json:"name"`
		IsJS          []bool   `json:"isJS"`
		RelevantForJS []bool   `json:"relevantForJS"`
		Resource      []int    `json:"resource"`
		FileName      nullInts `json:"fileName"`
		LineNumber    nullInts `json:"lineNumber"`
		ColumnNumber  []*int   `json:"columnNumber"`
		Length        int      `json:"length"`
	} `json:"funcTable"`
	ResourceTable struct {
		Lib    []*int `json:"lib"`
		Name   []int  `json:"name"`
		Host   []*int `json:"host"`
		Type   []int  `json:"type"`
		Length int    `json:"length"`
	} `json:"resourceTable"`
	NativeSymbols struct {
		LibIndex     []int  `json:"libIndex"`
		Address      []int  `json:"address"`
		Name         []int  `json:"name"`
		FunctionSize []*int `json:"functionSize"`
		Length       int    `json:"length"`
	} `json:"nativeSymbols"`
}

// geckoBuilder interns strings for the whole profile and tables per thread.
type geckoBuilder struct {
	p       *prof.Profile
	strings map[string]int
	out     *geckoProfile
}

func (b *geckoBuilder) str(s string) int {
	if i, ok := b.strings[s]; ok {
		return i
	}
	i := len(b.out.Shared.StringArray)
	b.out.Shared.StringArray = append(b.out.Shared.StringArray, s)
	b.strings[s] = i
	return i
}

// nullInts is a column of numbers in which -1 is written as null: a
// pointer per entry would cost an allocation each.
type nullInts []int

func (c nullInts) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+4*len(c))
	b = append(b, '[')
	for i, v := range c {
		if i > 0 {
			b = append(b, ',')
		}
		if v < 0 {
			b = append(b, "null"...)
		} else {
			b = strconv.AppendInt(b, int64(v), 10)
		}
	}
	return append(b, ']'), nil
}

// geckoTrack builds one thread's tables.
type geckoTrack struct {
	t         *geckoThread
	stacks    map[uint64]int // (prefix+1)<<32 | frame -> stack
	frames    map[prof.FrameID]int
	funcs     map[funcKey]int
	resources map[string]int
	memo      map[prof.StackID]int
}

func (b *geckoBuilder) newTrack(t prof.Thread, processName string) *geckoTrack {
	th := geckoThread{
		ProcessType: "default", PausedRanges: []any{},
		Name: t.Name, ProcessName: processName, IsMainThread: t.TID == t.Pid,
		Pid: strconv.Itoa(t.Pid), Tid: t.TID,
	}
	if th.Name == "" {
		th.Name = "tid " + strconv.Itoa(t.TID)
	}
	th.Samples.WeightType = "samples"
	b.out.Threads = append(b.out.Threads, th)
	return &geckoTrack{
		t: &b.out.Threads[len(b.out.Threads)-1], stacks: map[uint64]int{}, frames: map[prof.FrameID]int{},
		funcs: map[funcKey]int{}, resources: map[string]int{}, memo: map[prof.StackID]int{},
	}
}

func (b *geckoBuilder) resource(tr *geckoTrack, file string) int {
	if file == "" {
		return -1
	}
	if i, ok := tr.resources[file]; ok {
		return i
	}
	rt := &tr.t.ResourceTable
	i := rt.Length
	rt.Lib = append(rt.Lib, nil)
	rt.Name = append(rt.Name, b.str(file))
	rt.Host = append(rt.Host, nil)
	rt.Type = append(rt.Type, 0) // unknown: neither a library nor a URL
	rt.Length++
	tr.resources[file] = i
	return i
}

func (b *geckoBuilder) frame(tr *geckoTrack, id prof.FrameID) int {
	if i, ok := tr.frames[id]; ok {
		return i
	}
	f := b.p.Frames[id]
	k := funcKeyOf(f)
	fn, ok := tr.funcs[k]
	if !ok {
		ft := &tr.t.FuncTable
		fn = ft.Length
		python := f.Kind == prof.KindPython
		ft.Name = append(ft.Name, b.str(oneLine(cmpOr(f.Name, "<unknown>"))))
		ft.IsJS = append(ft.IsJS, python)
		ft.RelevantForJS = append(ft.RelevantForJS, false)
		ft.Resource = append(ft.Resource, b.resource(tr, f.File))
		file, line := -1, -1
		if f.File != "" {
			file = b.str(f.File)
		}
		if k.Line > 0 && f.Kind == prof.KindPython {
			line = k.Line
		}
		ft.FileName = append(ft.FileName, file)
		ft.LineNumber = append(ft.LineNumber, line)
		ft.ColumnNumber = append(ft.ColumnNumber, nil)
		ft.Length++
		tr.funcs[k] = fn
	}
	fr := &tr.t.FrameTable
	i := fr.Length
	fr.Address = append(fr.Address, -1)
	fr.InlineDepth = append(fr.InlineDepth, 0)
	fr.Category = append(fr.Category, geckoCategoryOf(f))
	fr.Subcategory = append(fr.Subcategory, 0)
	fr.Func = append(fr.Func, fn)
	fr.NativeSymbol = append(fr.NativeSymbol, nil)
	fr.InnerWindowID = append(fr.InnerWindowID, nil)
	line := -1
	if f.Line > 0 {
		line = f.Line
	}
	fr.Line = append(fr.Line, line)
	fr.Column = append(fr.Column, nil)
	fr.Length++
	tr.frames[id] = i
	return i
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// stack interns a profile stack into the track's prefix tree.
func (b *geckoBuilder) stack(tr *geckoTrack, id prof.StackID) int {
	if i, ok := tr.memo[id]; ok {
		return i
	}
	prefix := -1
	for _, f := range b.p.Stacks[id] {
		fr := b.frame(tr, f)
		k := uint64(prefix+1)<<32 | uint64(fr)
		i, ok := tr.stacks[k]
		if !ok {
			st := &tr.t.StackTable
			i = st.Length
			st.Frame = append(st.Frame, fr)
			st.Prefix = append(st.Prefix, prefix)
			st.Length++
			tr.stacks[k] = i
		}
		prefix = i
	}
	tr.memo[id] = prefix
	return prefix
}

func (Gecko) Write(w io.Writer, p *prof.Profile, o Options) error {
	if len(p.Timeline) == 0 && p.Total() > 0 {
		return fmt.Errorf("gecko: %w", ErrNoTimeline)
	}
	interval := secondsPerSample(p) * 1000
	out := &geckoProfile{Libs: []any{}, Pages: []any{}, Threads: []geckoThread{}}
	out.Shared.StringArray = []string{}
	out.Meta = geckoMeta{
		Interval:                   interval,
		StartTime:                  float64(p.Start.UnixNano()) / 1e6,
		Product:                    cmpOr(o.Title, "pyspyglass: "+p.Target),
		Version:                    32,
		PreprocessedProfileVersion: geckoVersion,
		Categories:                 geckoCategories,
		MarkerSchema:               []any{},
		Symbolicated:               true,
		Platform:                   "Linux",
		ImportedFrom:               "pyspyglass",
		Misc:                       healthLine(p),
	}
	if p.Start.IsZero() {
		out.Meta.StartTime = 0
	}
	// Name each process by its root frame when the recording has them.
	procNames := map[int]string{}
	timeline := sortedTimeline(p)
	for _, s := range timeline {
		if err := checkIDs(p, s.Stack, s.Thread); err != nil {
			return fmt.Errorf("gecko: timeline: %w", err)
		}
		t := p.Threads[s.Thread]
		if st := p.Stacks[s.Stack]; len(st) > 0 && p.Frames[st[0]].Kind == prof.KindProcess {
			if _, ok := procNames[t.Pid]; !ok {
				procNames[t.Pid] = p.Frames[st[0]].Name
			}
		}
	}
	b := &geckoBuilder{p: p, strings: map[string]int{}, out: out}
	type key struct{ pid, tid int }
	index := map[key]int{}
	for _, s := range timeline {
		t := p.Threads[s.Thread]
		if _, ok := index[key{t.Pid, t.TID}]; !ok {
			index[key{t.Pid, t.TID}] = len(index)
		}
	}
	// Every track's thread is allocated up front: newTrack keeps a pointer
	// into out.Threads, which must not move.
	out.Threads = make([]geckoThread, 0, len(index))
	tracks := make([]*geckoTrack, len(index))
	for _, s := range timeline {
		t := p.Threads[s.Thread]
		if i := index[key{t.Pid, t.TID}]; tracks[i] == nil {
			name := procNames[t.Pid]
			if name == "" {
				name = "pid " + strconv.Itoa(t.Pid)
			}
			tracks[i] = b.newTrack(t, name)
		}
	}
	for i := range out.Threads {
		m := &out.Threads[i].Markers
		m.Data, m.Name, m.StartTime, m.EndTime, m.Phase, m.Category = []any{}, []int{}, []float64{}, []float64{}, []int{}, []int{}
	}
	gilStart := make([]float64, len(tracks)) // start of the open GIL run; -1 none
	last := make([]float64, len(tracks))
	for i := range gilStart {
		gilStart[i] = -1
	}
	gap := float64(gapIntervals) * interval
	gil := false
	closeGIL := func(i int, end float64) {
		if gilStart[i] < 0 {
			return
		}
		m := &tracks[i].t.Markers
		m.Data = append(m.Data, map[string]string{"type": "GIL"})
		m.Name = append(m.Name, b.str("GIL held"))
		m.StartTime = append(m.StartTime, gilStart[i])
		m.EndTime = append(m.EndTime, end)
		m.Phase = append(m.Phase, 1) // an interval
		m.Category = append(m.Category, geckoGIL)
		m.Length++
		gilStart[i] = -1
	}
	for _, s := range timeline {
		t := p.Threads[s.Thread]
		i := index[key{t.Pid, t.TID}]
		tr := tracks[i]
		smp := &tr.t.Samples
		smp.Stack = append(smp.Stack, b.stack(tr, s.Stack))
		// Microsecond precision keeps the file small and exact enough.
		at := math.Round(float64(s.At)/1e3) / 1e3
		smp.Time = append(smp.Time, at)
		smp.Length++
		if gilStart[i] >= 0 && (!s.GIL || at-last[i] > gap) {
			end := at
			if at-last[i] > gap {
				end = last[i] + interval
			}
			closeGIL(i, end)
		}
		if s.GIL && gilStart[i] < 0 {
			gilStart[i] = at
		}
		gil = gil || s.GIL
		last[i] = at
	}
	for i := range tracks {
		closeGIL(i, last[i]+interval)
		nonNil(&out.Threads[i])
	}
	if gil {
		out.Meta.MarkerSchema = append(out.Meta.MarkerSchema, geckoGILSchema)
	}
	return writeGecko(w, out)
}

// writeGecko encodes out as encoding/json would, one thread at a time,
// letting go of each thread's tables once written: encoding the whole
// document at once would hold all of it, as JSON, on top of the tables.
func writeGecko(w io.Writer, out *geckoProfile) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	// Encode ends each value with a newline, which the document has
	// only at its end; each value goes through a buffer to drop it.
	var buf bytes.Buffer
	benc := json.NewEncoder(&buf)
	benc.SetEscapeHTML(false)
	put := func(prefix string, v any) error {
		buf.Reset()
		if err := benc.Encode(v); err != nil {
			return err
		}
		bw.WriteString(prefix)
		bw.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
		return nil
	}
	if err := put(`{"meta":`, out.Meta); err != nil {
		return err
	}
	if err := put(`,"libs":`, out.Libs); err != nil {
		return err
	}
	if err := put(`,"pages":`, out.Pages); err != nil {
		return err
	}
	bw.WriteString(`,"threads":[`)
	for i := range out.Threads {
		sep := ","
		if i == 0 {
			sep = ""
		}
		if err := put(sep, &out.Threads[i]); err != nil {
			return err
		}
		out.Threads[i] = geckoThread{}
	}
	if err := put(`],"shared":`, out.Shared); err != nil {
		return err
	}
	bw.WriteString("}\n")
	return bw.Flush()
}

// nonNil turns empty columns into [] rather than null.
func nonNil(t *geckoThread) {
	if t.Samples.Stack == nil {
		t.Samples.Stack, t.Samples.Time = []int{}, []float64{}
	}
	st, fr, fn, rt, ns := &t.StackTable, &t.FrameTable, &t.FuncTable, &t.ResourceTable, &t.NativeSymbols
	if st.Frame == nil {
		st.Frame, st.Prefix = []int{}, nullInts{}
	}
	if fr.Func == nil {
		fr.Address, fr.InlineDepth, fr.Category, fr.Subcategory, fr.Func = []int{}, []int{}, []int{}, []int{}, []int{}
		fr.NativeSymbol, fr.InnerWindowID, fr.Line, fr.Column = []*int{}, []*int{}, nullInts{}, []*int{}
	}
	if fn.Name == nil {
		fn.Name, fn.IsJS, fn.RelevantForJS, fn.Resource = []int{}, []bool{}, []bool{}, []int{}
		fn.FileName, fn.LineNumber, fn.ColumnNumber = nullInts{}, nullInts{}, []*int{}
	}
	if rt.Name == nil {
		rt.Lib, rt.Name, rt.Host, rt.Type = []*int{}, []int{}, []*int{}, []int{}
	}
	ns.LibIndex, ns.Address, ns.Name, ns.FunctionSize = []int{}, []int{}, []int{}, []*int{}
}
