package render

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// Callgrind writes the callgrind format KCachegrind and QCachegrind read
// (https://valgrind.org/docs/manual/cl-format.html) with one event, Samples.
// A callgrind function is a (file, name) pair; its cost lines are at the
// source lines the samples were taken on. Self cost is what a stack's leaf
// frame got; for every adjacent caller->callee pair in a stack, a call record
// (cfl=/cfn=/calls=) at the caller's line carries the samples spent in the
// callee, which is its inclusive cost. A call into a function already on
// the stack above (recursion) gets no record: its samples are in the
// outermost call's already, and counting them again would make a recursive
// function's inclusive cost exceed its caller's. File and function names
// are compressed to "(id) name" on first use and "(id)" after. Threads are
// merged.
//
// Sampling cannot count calls; calls= is an estimate from the timeline as
// py-spy makes it for its other formats: a call starts whenever a thread's
// next sample shows the callee entered anew (a different function at that
// depth, or the same one called from another caller line). Without a
// timeline calls= is 0. The record's cost is samples, never calls.
type Callgrind struct{}

func (Callgrind) Name() string { return "callgrind" }
func (Callgrind) Ext() string  { return ".callgrind" }

// cgFunc is a function: its object (the binary of a native frame, the
// interpreter's for Python), file and name.
type cgFunc struct{ obj, file, name string }

type cgCall struct {
	line   int
	callee cgFunc
}

type cgFuncCost struct {
	self  map[int]int64 // line -> samples
	calls map[cgCall]*cgCallCost
}

type cgCallCost struct {
	n          int64
	calls      int64 // estimated from the timeline
	calleeLine int   // first line the callee was seen on, for calls='s target position
}

func (Callgrind) Write(w io.Writer, p *prof.Profile, o Options) error {
	if err := checkCounts(p); err != nil {
		return err
	}
	pyObj := oneLine(p.Binary.Path)
	if pyObj == "" {
		pyObj = "python"
	}
	fnOf := func(f prof.Frame) cgFunc {
		file, name := oneLine(f.File), oneLine(f.Name)
		if file == "" {
			file = "???"
		}
		if name == "" {
			name = "<unknown>"
		}
		obj := pyObj
		if f.Kind == prof.KindNative && f.Module != "" {
			obj = oneLine(f.Module)
		}
		return cgFunc{obj, file, name}
	}
	funcs := map[cgFunc]*cgFuncCost{}
	get := func(k cgFunc) *cgFuncCost {
		c := funcs[k]
		if c == nil {
			c = &cgFuncCost{self: map[int]int64{}, calls: map[cgCall]*cgCallCost{}}
			funcs[k] = c
		}
		return c
	}
	// Each frame's function as a number, so that the walks below compare
	// numbers, not three strings.
	fnIndex := map[cgFunc]int32{}
	frameFn := make([]int32, len(p.Frames))
	for i, f := range p.Frames {
		k := fnOf(f)
		id, ok := fnIndex[k]
		if !ok {
			id = int32(len(fnIndex))
			fnIndex[k] = id
		}
		frameFn[i] = id
	}
	// recursive says whether stack[i] is a function already on the stack
	// above it.
	recursive := func(stack []prof.FrameID, i int) bool {
		f := frameFn[stack[i]]
		for _, id := range stack[:i] {
			if frameFn[id] == f {
				return true
			}
		}
		return false
	}
	var total int64
	for _, c := range countsByStack(p) {
		stack := p.Stacks[c.Stack]
		if len(stack) == 0 {
			continue
		}
		total += c.N
		leaf := p.Frames[stack[len(stack)-1]]
		get(fnOf(leaf)).self[leaf.Line] += c.N
		for i := 0; i+1 < len(stack); i++ {
			if recursive(stack, i+1) {
				continue
			}
			caller, callee := p.Frames[stack[i]], p.Frames[stack[i+1]]
			k := cgCall{caller.Line, fnOf(callee)}
			fc := get(fnOf(caller))
			cc := fc.calls[k]
			if cc == nil {
				cc = &cgCallCost{calleeLine: callee.Line}
				fc.calls[k] = cc
			}
			cc.n += c.N
		}
	}
	// Estimated calls: per thread, each sample's stack against the last.
	prev := map[int][]prof.FrameID{}
	for _, e := range sortedTimeline(p) {
		if err := checkIDs(p, e.Stack, e.Thread); err != nil {
			return err
		}
		cur, last := p.Stacks[e.Stack], prev[e.Thread]
		k := 0
		for k < len(cur) && k < len(last) && frameFn[cur[k]] == frameFn[last[k]] && (k == 0 || cur[k-1] == last[k-1]) {
			k++
		}
		for j := max(k, 1); j < len(cur); j++ {
			if recursive(cur, j) {
				continue
			}
			caller := p.Frames[cur[j-1]]
			if cc := funcs[fnOf(caller)].calls[cgCall{caller.Line, fnOf(p.Frames[cur[j]])}]; cc != nil {
				cc.calls++
			}
		}
		prev[e.Thread] = cur
	}

	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# callgrind format\nversion: 1\ncreator: pyspyglass\n")
	if p.Target != "" {
		fmt.Fprintf(bw, "cmd: %s\n", oneLine(p.Target))
	}
	fmt.Fprintf(bw, "desc: %s\n", healthLine(p))
	if p.Health.Rate > 0 {
		fmt.Fprintf(bw, "desc: Trigger: sampling at %s Hz\n", strconv.FormatFloat(p.Health.Rate, 'f', -1, 64))
	}
	fmt.Fprintf(bw, "positions: line\nevents: Samples\nsummary: %d\n", total)

	objIDs, fileIDs, fnIDs := map[string]int{}, map[string]int{}, map[string]int{}
	// ref is callgrind's name compression: "(id) name" the first time,
	// "(id)" after.
	ref := func(ids map[string]int, name string) string {
		if id, ok := ids[name]; ok {
			return "(" + strconv.Itoa(id) + ")"
		}
		id := len(ids) + 1
		ids[name] = id
		return "(" + strconv.Itoa(id) + ") " + name
	}
	// Objects (ob=, cob=) are written only when native frames name
	// binaries; a Python-only profile has just the one.
	objects := slices.ContainsFunc(p.Frames, func(f prof.Frame) bool { return f.Kind == prof.KindNative && f.Module != "" })
	ob := func(prefix string, f cgFunc) string {
		if !objects {
			return ""
		}
		return prefix + "=" + ref(objIDs, f.obj) + "\n"
	}
	keys := make([]cgFunc, 0, len(funcs))
	files := map[string]map[string]bool{} // name -> files
	for k := range funcs {
		keys = append(keys, k)
		if files[k.name] == nil {
			files[k.name] = map[string]bool{}
		}
		files[k.name][k.file] = true
	}
	// KCachegrind keys functions by name within an object, so "<module>"
	// of two files would merge; such names get their file appended.
	fnName := func(f cgFunc) string {
		if len(files[f.name]) > 1 {
			return f.name + " [" + f.file + "]"
		}
		return f.name
	}
	slices.SortFunc(keys, cmpCgFunc)
	for _, k := range keys {
		fc := funcs[k]
		fmt.Fprintf(bw, "\n%sfl=%s\nfn=%s\n", ob("ob", k), ref(fileIDs, k.file), ref(fnIDs, fnName(k)))
		lines := make([]int, 0, len(fc.self))
		for l := range fc.self {
			lines = append(lines, l)
		}
		slices.Sort(lines)
		for _, l := range lines {
			fmt.Fprintf(bw, "%d %d\n", l, fc.self[l])
		}
		calls := make([]cgCall, 0, len(fc.calls))
		for c := range fc.calls {
			calls = append(calls, c)
		}
		slices.SortFunc(calls, func(a, b cgCall) int {
			return cmp.Or(cmp.Compare(a.line, b.line), cmpCgFunc(a.callee, b.callee))
		})
		for _, c := range calls {
			cc := fc.calls[c]
			// cfl= is written even for the caller's own file: readers differ
			// on whether an omitted cfl= means the current fl= or the last
			// cfl=.
			fmt.Fprintf(bw, "%scfl=%s\ncfn=%s\ncalls=%d %d\n%d %d\n", ob("cob", c.callee), ref(fileIDs, c.callee.file), ref(fnIDs, fnName(c.callee)), cc.calls, cc.calleeLine, c.line, cc.n)
		}
	}
	return bw.Flush()
}

func cmpCgFunc(a, b cgFunc) int {
	return cmp.Or(cmp.Compare(a.obj, b.obj), cmp.Compare(a.file, b.file), cmp.Compare(a.name, b.name))
}
