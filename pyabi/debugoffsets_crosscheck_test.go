package pyabi

import "testing"

// TestDebugOffsetsMatchStaticTables checks the two sources of offsets
// against each other: every Layout field that both _Py_DebugOffsets and the
// static table give must agree. The images are the ones the live tests
// prove equal to a running 3.13.0 and to the 3.14.6 binary's .PyRuntime.
func TestDebugOffsetsMatchStaticTables(t *testing.T) {
	for _, tt := range []struct {
		name string
		img  []byte
	}{
		{"3.13.0", debugImage313()},
		{"3.13.0t", debugImage313t()},
		{"3.14.6", debugImage314()},
		{"3.14.6t", debugImage314t()},
		{"3.15.0rc1", debugImage315()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := mustDecodeDebug(t, tt.img)
			static, guessed, err := LookupLayout(d.Version)
			if err != nil {
				t.Skipf("no static table to cross-check against: %v", err)
			}
			if guessed {
				t.Logf("static table for %s is a guess from a nearby patch release", d.Version)
			}
			both := 0
			sf := debugLayoutFields(&static)
			for i, f := range debugLayoutFields(&d.Layout) {
				if *f.ptr == Absent || *sf[i].ptr == Absent {
					continue
				}
				both++
				if *f.ptr != *sf[i].ptr {
					t.Errorf("Layout.%s: _Py_DebugOffsets %d, static table %d", f.path, *f.ptr, *sf[i].ptr)
				}
			}
			if both == 0 {
				t.Error("no field in common")
			}
		})
	}
}
