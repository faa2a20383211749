package pyabi

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a CPython release. FreeThreaded marks the --disable-gil builds
// (3.13t, 3.14t), whose object header and layouts differ.
type Version struct {
	Major, Minor, Patch int
	FreeThreaded        bool
}

// ParseVersion reads "3.11.7" (a trailing "t" or release suffix such as
// "rc1" or "+" is accepted and the suffix ignored, except "t").
func ParseVersion(s string) (Version, error) {
	var v Version
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, "t") {
		v.FreeThreaded = true
		s = strings.TrimSuffix(s, "t")
	}
	parts := strings.SplitN(s, ".", 3)
	if len(parts) < 2 {
		return Version{}, fmt.Errorf("version %q: want MAJOR.MINOR[.PATCH]", s)
	}
	var err error
	if v.Major, err = strconv.Atoi(parts[0]); err != nil {
		return Version{}, fmt.Errorf("version %q: major: %w", s, err)
	}
	if v.Minor, err = strconv.Atoi(parts[1]); err != nil {
		return Version{}, fmt.Errorf("version %q: minor: %w", s, err)
	}
	if len(parts) == 3 {
		// Keep the leading digits: "0rc1" and "13+" are patch 0 and 13.
		p := parts[2]
		end := 0
		for end < len(p) && p[end] >= '0' && p[end] <= '9' {
			end++
		}
		if end == 0 {
			return Version{}, fmt.Errorf("version %q: no patch number", s)
		}
		v.Patch, _ = strconv.Atoi(p[:end])
	}
	return v, nil
}

// FromHex decodes PY_VERSION_HEX as stored in Py_Version (3.11+) and in
// _Py_DebugOffsets.version: 0xMMmmppLS.
func FromHex(x uint64) Version {
	return Version{Major: int(x>>24) & 0xff, Minor: int(x>>16) & 0xff, Patch: int(x>>8) & 0xff}
}

// Compare orders versions by major, minor, patch.
func (v Version) Compare(o Version) int {
	switch {
	case v.Major != o.Major:
		return v.Major - o.Major
	case v.Minor != o.Minor:
		return v.Minor - o.Minor
	}
	return v.Patch - o.Patch
}

// AtLeast reports whether v is major.minor or newer.
func (v Version) AtLeast(major, minor int) bool {
	return v.Compare(Version{Major: major, Minor: minor}) >= 0
}

// Minor returns v without its patch level.
func (v Version) MinorOnly() Version {
	return Version{Major: v.Major, Minor: v.Minor, FreeThreaded: v.FreeThreaded}
}

func (v Version) String() string {
	s := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	if v.FreeThreaded {
		s += "t"
	}
	return s
}
