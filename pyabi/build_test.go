package pyabi

import "testing"

// TestBuildFactsFromDebugOffsets checks that the strategy facts taken from
// each recorded _Py_DebugOffsets (shim frame owners, f_executable's tag
// bits) agree with the version rules that are the fallback without them.
func TestBuildFactsFromDebugOffsets(t *testing.T) {
	for _, tt := range []struct {
		name string
		img  []byte
	}{
		{"3.13.0", debugImage313()}, {"3.13.0t", debugImage313t()},
		{"3.14.6", debugImage314()}, {"3.14.6t", debugImage314t()},
		{"3.15.0rc1", debugImage315()}, {"3.15.0rc1t", debugImage315t()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := mustDecodeDebug(t, padDebug(tt.img))
			rules := newBuild(d.Version, d.Layout)
			facts := newBuild(d.Version, d.Layout)
			facts.useDebugOffsets(d)
			if facts.shimMin != rules.shimMin || facts.codeMask != rules.codeMask {
				t.Errorf("from _Py_DebugOffsets: shim owners from %d, code mask %#x; version rules: %d, %#x",
					facts.shimMin, facts.codeMask, rules.shimMin, rules.codeMask)
			}
			if facts.shimMin < 0 {
				t.Error("no shim frame owner known")
			}
		})
	}
}
