package pyabi

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pyspyglass/pyspyglass/pyabi/internal/genlayout/probe"
)

// flattenLayout flattens l into "Group.Field" -> offset, in declaration order
// of the keys returned alongside.
func flattenLayout(l Layout) (paths []string, vals map[string]int) {
	vals = map[string]int{}
	lv := reflect.ValueOf(l)
	lt := lv.Type()
	for i := 0; i < lt.NumField(); i++ {
		g := lt.Field(i)
		for j := 0; j < g.Type.NumField(); j++ {
			p := g.Name + "." + g.Type.Field(j).Name
			paths = append(paths, p)
			vals[p] = int(lv.Field(i).Field(j).Int())
		}
	}
	return paths, vals
}

func TestProbeCoversEveryLayoutField(t *testing.T) {
	// The generator does not import pyabi (it must run while pyabi is being
	// regenerated), so its field list is a copy that this test keeps honest.
	paths, _ := flattenLayout(Layout{})
	var probed []string
	for _, f := range probe.Fields {
		probed = append(probed, f.Path)
	}
	if !reflect.DeepEqual(paths, probed) {
		t.Errorf("probe.Fields and Layout differ:\nLayout: %v\nprobe:  %v", paths, probed)
	}
}

func tablesVersion(s string) Version {
	ver, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return ver
}

func TestLookupLayout(t *testing.T) {
	tests := []struct {
		name    string
		version string
		wantErr string
		guessed bool // not a measured release: the nearest table
	}{
		{name: "2.7 measured", version: "2.7.18"},
		{name: "2.7 other patch", version: "2.7.5", guessed: true},
		{name: "3.6", version: "3.6.15"},
		{name: "3.11 Debian", version: "3.11.2"},
		{name: "3.11 pyenv", version: "3.11.7"},
		{name: "3.11 later patch", version: "3.11.9", guessed: true},
		{name: "3.11 between measured patches", version: "3.11.4", guessed: true},
		{name: "3.12.0 before measured patch", version: "3.12.0", guessed: true},
		{name: "3.13", version: "3.13.0"},
		{name: "newer minor", version: "3.16.0", wantErr: "CPython 3.16.0 is not supported (supported: 2.7, 3.6–3.13, and 3.13 or newer whose _Py_DebugOffsets this build can decode)"},
		{name: "between 2.7 and 3.6", version: "3.5.10", wantErr: "CPython 3.5.10 is not supported"},
		{name: "free-threaded", version: "3.13.0t", wantErr: "CPython 3.13.0t (free-threaded) is not supported"},
		{name: "major 4", version: "4.0.0", wantErr: "not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, guessed, err := LookupLayout(tablesVersion(tt.version))
			if tt.wantErr != "" {
				var uv *UnsupportedVersionError
				if !errors.As(err, &uv) {
					t.Fatalf("err = %v, want *UnsupportedVersionError", err)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err = %q, want it to contain %q", err, tt.wantErr)
				}
				if uv.Version != tablesVersion(tt.version) || len(uv.Supported) != len(registry) {
					t.Errorf("error data = %+v", uv)
				}
				return
			}
			if err != nil || guessed != tt.guessed {
				t.Fatalf("LookupLayout(%s) = guessed %v, err %v; want guessed %v", tt.version, guessed, err, tt.guessed)
			}
			if l.Object.Type != 8 {
				t.Errorf("Object.Type = %d, want 8 on x86_64", l.Object.Type)
			}
		})
	}
}

// TestLookupPatchRanges exercises a split minor with a registry made for
// the test: a measured patch release gets its table, any other the
// nearest one, flagged as guessed.
func TestLookupPatchRanges(t *testing.T) {
	mark := func(n int) func() Layout {
		return func() Layout { var l Layout; l.Object.Type = n; return l }
	}
	reg := []minorTable{{3, 14, []patchRange{
		{patches: []int{0, 2}, layout: mark(1)},
		{patches: []int{7, 9}, layout: mark(2)},
		{patches: []int{12}, layout: mark(3)},
	}}}
	tests := []struct {
		patch   int
		want    int
		guessed bool
	}{
		{0, 1, false}, {2, 1, false},
		{1, 1, true},               // between two measured releases of one table: not measured
		{3, 1, true}, {4, 1, true}, // nearer to 2
		{5, 2, true}, {6, 2, true}, // nearer to 7
		{7, 2, false}, {9, 2, false},
		{8, 2, true},
		{10, 2, true}, // one from 9
		{11, 3, true}, // one from 12
		{12, 3, false},
		{40, 3, true}, // a later release than any measured
	}
	for _, tt := range tests {
		l, guessed, err := lookupIn(reg, Version{Major: 3, Minor: 14, Patch: tt.patch})
		if err != nil || l.Object.Type != tt.want || guessed != tt.guessed {
			t.Errorf("3.14.%d: table %d guessed %v err %v; want table %d guessed %v",
				tt.patch, l.Object.Type, guessed, err, tt.want, tt.guessed)
		}
	}
	// Equidistant from two tables: the newer one.
	reg[0].ranges[1].patches = []int{6, 9}
	if l, guessed, _ := lookupIn(reg, Version{Major: 3, Minor: 14, Patch: 4}); l.Object.Type != 2 || !guessed {
		t.Errorf("3.14.4 between 2 and 6: table %d guessed %v, want the newer table, guessed", l.Object.Type, guessed)
	}
}

func TestSupportedVersions(t *testing.T) {
	vs := SupportedVersions()
	if len(vs) != len(registry) {
		t.Fatalf("got %d versions, want %d", len(vs), len(registry))
	}
	for i := 1; i < len(vs); i++ {
		if vs[i-1].Compare(vs[i]) >= 0 {
			t.Errorf("not sorted: %v before %v", vs[i-1], vs[i])
		}
	}
	if got, want := spanString(vs), "2.7, 3.6–3.13"; got != want {
		t.Errorf("span = %q, want %q", got, want)
	}
	if got, want := spanString([]Version{{Major: 3, Minor: 8}, {Major: 3, Minor: 10}}), "3.8, 3.10"; got != want {
		t.Errorf("span with a gap = %q, want %q", got, want)
	}
}

// fieldSpans says, independently of the probe's rules, which fields each version
// must have. A field not listed must be Absent before since and from until
// on; the walker picks its frame model by version, but readers of optional
// fields (GIL, native thread id) rely on Absent meaning "not there".
var fieldSpans = []struct {
	path         string
	since, until string // until "" = still present
}{
	{"Runtime.InterpretersHead", "3.7", ""},
	{"Runtime.TstateCurrent", "3.7", "3.12"},
	{"Runtime.GIL", "3.7", "3.12"},
	{"Runtime.GCCollecting", "3.7", "3.9"},
	{"Interp.Next", "2.7", ""},
	{"Interp.ThreadsHead", "2.7", ""},
	{"Interp.Modules", "2.7", ""},
	{"Interp.GILPtr", "3.12", ""},
	{"Interp.GCCollecting", "3.9", ""},
	{"Interp.ID", "3.7", ""},
	{"GIL.LastHolder", "3.7", ""},
	{"GIL.Locked", "3.7", ""},
	{"Thread.Next", "2.7", ""},
	{"Thread.Interp", "2.7", ""},
	{"Thread.Frame", "2.7", "3.11"},
	{"Thread.CFrame", "3.11", "3.13"},
	{"Thread.CurrentFrame", "3.13", ""},
	{"Thread.ThreadID", "2.7", ""},
	{"Thread.NativeThreadID", "3.11", ""},
	{"CFrame.CurrentFrame", "3.11", "3.13"},
	{"Frame.Previous", "2.7", ""},
	{"Frame.Code", "2.7", ""},
	{"Frame.LastI", "2.7", "3.11"},
	{"Frame.InstrPtr", "3.11", ""},
	{"Frame.Owner", "3.11", ""},
	{"Frame.Gen", "3.6", "3.11"},
	{"Code.Filename", "2.7", ""},
	{"Code.Name", "2.7", ""},
	{"Code.QualName", "3.11", ""},
	{"Code.FirstLineNo", "2.7", ""},
	{"Code.LineTable", "2.7", ""},
	{"Code.CodeAdaptive", "3.11", ""},
	{"Code.Bytecode", "2.7", "3.11"},
	{"Object.Type", "2.7", ""},
	{"Type.Name", "2.7", ""},
	{"Type.BasicSize", "2.7", ""},
	{"Type.DictOffset", "2.7", ""},
	{"Type.Flags", "2.7", ""},
	{"Type.Dict", "2.7", ""},
	{"HeapType.CachedKeys", "3.6", ""},
	{"Dict.Used", "2.7", ""},
	{"Dict.Keys", "3.6", ""},
	{"Dict.Values", "3.6", ""},
	{"Dict.Mask", "2.7", "3.0"},
	{"Dict.Table", "2.7", "3.0"},
	{"DictKeys.Size", "3.6", "3.11"},
	{"DictKeys.Log2Size", "3.11", ""},
	{"DictKeys.Log2IndexBytes", "3.11", ""},
	{"DictKeys.Kind", "3.11", ""},
	{"DictKeys.NEntries", "3.6", ""},
	{"DictKeys.Indices", "3.6", ""},
	{"Long.Size", "2.7", ""},
	{"Long.Digit", "2.7", ""},
	{"Long.IVal", "2.7", "3.0"},
	{"Unicode.Length", "3.3", ""},
	{"Unicode.State", "3.3", ""},
	{"Unicode.ASCIIData", "3.3", ""},
	{"Unicode.CompactData", "3.3", ""},
	{"Bytes.Size", "2.7", ""},
	{"Bytes.Data", "2.7", ""},
	{"CodeVars.ArgCount", "2.7", ""},
	{"CodeVars.KwOnlyArgCount", "3.0", ""},
	{"CodeVars.Flags", "2.7", ""},
	{"CodeVars.StackSize", "2.7", ""},
	{"CodeVars.NLocals", "2.7", "3.11"},
	{"CodeVars.VarNames", "2.7", "3.11"},
	{"CodeVars.CellVars", "2.7", "3.11"},
	{"CodeVars.FreeVars", "2.7", "3.11"},
	{"CodeVars.NLocalsPlus", "3.11", ""},
	{"CodeVars.LocalsPlusNames", "3.11", ""},
	{"CodeVars.LocalsPlusKinds", "3.11", ""},
	{"CodeVars.ExceptionTable", "3.11", ""},
	{"FrameVars.Globals", "2.7", ""},
	{"FrameVars.LocalsPlus", "2.7", ""},
	{"FrameVars.ValueStack", "2.7", "3.11"},
	{"FrameVars.IBlock", "2.7", "3.11"},
	{"FrameVars.BlockStack", "2.7", "3.11"},
	{"FrameVars.StackTop", "3.11", "3.14"},
	{"VarObject.Size", "2.7", ""},
	{"Tuple.Item", "2.7", ""},
	{"List.Item", "2.7", ""},
	{"Float.Value", "2.7", ""},
	{"Set.Used", "2.7", ""},
	{"Set.Mask", "2.7", ""},
	{"Set.Table", "2.7", ""},
	{"Cell.Ref", "2.7", ""},
	{"Method.Func", "2.7", ""},
	{"Method.Self", "2.7", ""},
	{"CFunction.Self", "2.7", ""},
}

func TestTablesHaveTheirVersionsFields(t *testing.T) {
	paths, _ := flattenLayout(Layout{})
	if len(fieldSpans) != len(paths) {
		t.Fatalf("fieldSpans lists %d fields, Layout fieldSpans %d: keep them in step", len(fieldSpans), len(paths))
	}
	for _, tab := range registry {
		ver := Version{Major: tab.major, Minor: tab.minor}
		for ri, r := range tab.ranges {
			_, vals := flattenLayout(r.layout())
			for _, h := range fieldSpans {
				want := ver.Compare(tablesVersion(h.since)) >= 0 && (h.until == "" || ver.Compare(tablesVersion(h.until)) < 0)
				got := vals[h.path]
				switch {
				case want && got == Absent:
					t.Errorf("%d.%d range %d: %s is Absent, but %d.%d fieldSpans it", tab.major, tab.minor, ri, h.path, tab.major, tab.minor)
				case !want && got != Absent:
					t.Errorf("%d.%d range %d: %s = %d, but %d.%d lacks it", tab.major, tab.minor, ri, h.path, got, tab.major, tab.minor)
				}
			}
		}
	}
}

func TestTablesAreSane(t *testing.T) {
	for _, tab := range registry {
		if len(tab.ranges) == 0 {
			t.Errorf("%d.%d: no patch ranges", tab.major, tab.minor)
			continue
		}
		var measured []int
		for _, r := range tab.ranges {
			measured = append(measured, r.patches...)
		}
		if len(measured) == 0 || !slices.IsSorted(measured) || len(slices.Compact(slices.Clone(measured))) != len(measured) {
			t.Errorf("%d.%d: measured patch releases %v, want some, ascending, each in one table", tab.major, tab.minor, measured)
		}
		for ri, r := range tab.ranges {
			paths, vals := flattenLayout(r.layout())
			for _, p := range paths {
				n := vals[p]
				// 3.13 put ~7 KiB of eval-loop state before the thread list
				// in PyInterpreterState; everything else is far smaller.
				limit := 4096
				if strings.HasPrefix(p, "Interp.") || strings.HasPrefix(p, "Runtime.") {
					limit = 16384
				}
				if n != Absent && (n < 0 || n >= limit) {
					t.Errorf("%d.%d range %d: %s = %d, want Absent or 0..%d", tab.major, tab.minor, ri, p, n, limit-1)
				}
			}
			l := r.layout()
			if l.Unicode.ASCIIData != Absent && l.Unicode.ASCIIData >= l.Unicode.CompactData {
				t.Errorf("%d.%d: sizeof(PyASCIIObject) %d >= sizeof(PyCompactUnicodeObject) %d",
					tab.major, tab.minor, l.Unicode.ASCIIData, l.Unicode.CompactData)
			}
			// Every object starts with the same header; these sit right after it.
			if l.Bytes.Size != 16 {
				t.Errorf("%d.%d: Bytes.Size = %d, want 16 (after refcount and type)", tab.major, tab.minor, l.Bytes.Size)
			}
		}
	}
}
