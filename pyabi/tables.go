package pyabi

import (
	"fmt"
	"slices"
	"strings"
)

// A patchRange is one layout of a minor and the patch releases it was
// measured on. The generated layout_pyXY.go files define them: one per
// minor, or one per measured layout where patch releases moved a field.
// Any other patch release of the minor gets the nearest range, flagged as
// guessed.
type patchRange struct {
	patches []int // measured, ascending
	layout  func() Layout
}

func (r patchRange) contains(patch int) bool { return slices.Contains(r.patches, patch) }

// distance is how many patch releases lie between patch and the nearest
// measured one of r; 0 for a measured one.
func (r patchRange) distance(patch int) int {
	d := -1
	for _, p := range r.patches {
		if n := max(p-patch, patch-p); d < 0 || n < d {
			d = n
		}
	}
	return d
}

// minorTable is every layout of one major.minor.
type minorTable struct {
	major, minor int
	ranges       []patchRange
}

// registry lists the supported minors, oldest first. Free-threaded builds
// (3.13t) have none yet: their PyObject header is larger, so every offset
// past it differs.
var registry = []minorTable{
	{2, 7, py27},
	{3, 6, py36},
	{3, 7, py37},
	{3, 8, py38},
	{3, 9, py39},
	{3, 10, py310},
	{3, 11, py311},
	{3, 12, py312},
	{3, 13, py313},
}

// UnsupportedVersionError is returned by LookupLayout for a version that has
// no table. Supported is the span of minors that do, for the message and
// for a caller that wants to suggest one.
type UnsupportedVersionError struct {
	Version   Version
	Supported []Version
}

func (e *UnsupportedVersionError) Error() string {
	what := "CPython " + e.Version.String()
	if e.Version.FreeThreaded {
		what += " (free-threaded)"
	}
	// 3.13 and later are also read through the _Py_DebugOffsets they
	// carry, so a newer minor reaches this only when those did not decode.
	return fmt.Sprintf("%s is not supported (supported: %s, and 3.13 or newer whose _Py_DebugOffsets this build can decode)",
		what, spanString(e.Supported))
}

// LookupLayout returns the offset table for v. A patch release a table was
// measured on gets that table; any other gets the nearest one, the newer
// on a tie, and guessed is true: the layout may be wrong and callers should
// prefer _Py_DebugOffsets where the target has them. A minor without a
// table, or a free-threaded build, returns *UnsupportedVersionError.
func LookupLayout(v Version) (l Layout, guessed bool, err error) {
	return lookupIn(registry, v)
}

func lookupIn(reg []minorTable, v Version) (l Layout, guessed bool, err error) {
	for _, t := range reg {
		if t.major != v.Major || t.minor != v.Minor || v.FreeThreaded {
			continue
		}
		best := -1
		for i, r := range t.ranges {
			if r.contains(v.Patch) {
				return r.layout(), false, nil
			}
			if best < 0 || r.distance(v.Patch) <= t.ranges[best].distance(v.Patch) {
				best = i
			}
		}
		return t.ranges[best].layout(), true, nil
	}
	return Layout{}, false, &UnsupportedVersionError{Version: v, Supported: versionsOf(reg)}
}

// SupportedVersions lists the minors that have a table, oldest first; Patch
// is 0 and stands for the whole minor.
func SupportedVersions() []Version { return versionsOf(registry) }

func versionsOf(reg []minorTable) []Version {
	vs := make([]Version, 0, len(reg))
	for _, t := range reg {
		vs = append(vs, Version{Major: t.major, Minor: t.minor})
	}
	return vs
}

// spanString writes consecutive minors as a range: "2.7, 3.6–3.13".
func spanString(vs []Version) string {
	var parts []string
	for i := 0; i < len(vs); {
		j := i
		for j+1 < len(vs) && vs[j+1].Major == vs[j].Major && vs[j+1].Minor == vs[j].Minor+1 {
			j++
		}
		s := fmt.Sprintf("%d.%d", vs[i].Major, vs[i].Minor)
		if j > i {
			s += fmt.Sprintf("–%d.%d", vs[j].Major, vs[j].Minor)
		}
		parts = append(parts, s)
		i = j + 1
	}
	return strings.Join(parts, ", ")
}
