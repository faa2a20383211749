package render

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// nativeProfile is a --native recording: a Python frame calling into a C
// extension, which calls back into Python, with one C frame from libc.
func nativeProfile() *prof.Profile {
	p := prof.New(time.Unix(1_700_000_000, 0))
	p.Binary = prof.Binary{Path: "/usr/bin/python3.11", BuildID: "aa11"}
	p.Health.Rate = 100
	th := p.Thread(prof.Thread{Pid: 1, TID: 1, Name: "MainThread"})
	outer := p.Frame(prof.Frame{Name: "outer", File: "app.py", Line: 3, Kind: prof.KindPython})
	ext := p.Frame(prof.Frame{Name: "nd_call", File: "nativedemo.c", Line: 42, Kind: prof.KindNative, Module: "/tmp/ext/nativedemo.so", BuildID: "bb22"})
	inner := p.Frame(prof.Frame{Name: "inner", File: "app.py", Line: 7, Kind: prof.KindPython})
	libc := p.Frame(prof.Frame{Name: "memcpy", File: "libc.so.6", Kind: prof.KindNative, Module: "/lib/libc.so.6", BuildID: "cc33"})
	p.Add(p.Stack([]prof.FrameID{outer, ext, inner}), th, 0, 3)
	p.Add(p.Stack([]prof.FrameID{outer, ext, inner, libc}), th, 0, 2)
	return p
}

// TestPprofNativeMappings: each native frame's binary is a mapping of its
// own, with path and build id; Python frames stay on the interpreter's.
func TestPprofNativeMappings(t *testing.T) {
	pp := parsePprof(t, render(t, Pprof{}, nativeProfile()))
	want := map[string]string{"nd_call": "/tmp/ext/nativedemo.so bb22", "memcpy": "/lib/libc.so.6 cc33",
		"outer": "/usr/bin/python3.11 aa11", "inner": "/usr/bin/python3.11 aa11"}
	for _, l := range pp.Location {
		name := l.Line[0].Function.Name
		if got := l.Mapping.File + " " + l.Mapping.BuildID; got != want[name] {
			t.Errorf("%s: mapping %q, want %q", name, got, want[name])
		}
	}
	if len(pp.Mapping) != 3 {
		t.Errorf("%d mappings, want 3", len(pp.Mapping))
	}
}

// TestCallgrindNativeObjects: with native frames, every function and call
// names its object (ob=, cob=), so KCachegrind groups by binary.
func TestCallgrindNativeObjects(t *testing.T) {
	out := string(render(t, Callgrind{}, nativeProfile()))
	for _, want := range []string{"ob=(1) /lib/libc.so.6\nfl=(1) libc.so.6\nfn=(1) memcpy\n",
		"ob=(2) /tmp/ext/nativedemo.so\n", "cob=(3) /usr/bin/python3.11\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("callgrind lacks %q:\n%s", want, out)
		}
	}
	if c := parseCallgrind(t, out); c.self["inner"] != 3 {
		t.Errorf("self cost of inner %d, want 3", c.self["inner"])
	}
}

// TestRecordingKeepsNativeBinaries: a recording read back has the native
// frames' binaries and the count of samples without Python.
func TestRecordingKeepsNativeBinaries(t *testing.T) {
	p := nativeProfile()
	p.Health.NoPython = 4
	back, err := ReadRecording(bytes.NewReader(render(t, Recording{}, p)))
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range p.Frames {
		if back.Frames[i] != f {
			t.Errorf("frame %d read back as %+v, want %+v", i, back.Frames[i], f)
		}
	}
	if back.Health.NoPython != 4 {
		t.Errorf("no_python %d, want 4", back.Health.NoPython)
	}
}
