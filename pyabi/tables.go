package pyabi

import (
	"fmt"
	"strings"
)

// anyPatch as a patchRange's hi means "and every later patch release".
const anyPatch = -1

// A patchRange is one layout for the patch releases lo..hi of a minor. The
// generated layout_pyXY.go files define the ranges: normally one per minor,
// lo 0 and hi anyPatch; a minor whose patch releases moved a field gets one
// range per measured layout.
type patchRange struct {
	lo, hi int
	layout func() Layout
}

func (r patchRange) contains(patch int) bool {
	return patch >= r.lo && (r.hi == anyPatch || patch <= r.hi)
}

// distance is how many patch releases lie between patch and r; 0 inside.
func (r patchRange) distance(patch int) int {
	switch {
	case patch < r.lo:
		return r.lo - patch
	case r.hi != anyPatch && patch > r.hi:
		return patch - r.hi
	}
	return 0
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

// LookupLayout returns the offset table for v. A minor split into patch
// ranges is matched by patch; a patch outside every range (between two
// measured releases that disagree) gets the nearest range, the newer one
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
