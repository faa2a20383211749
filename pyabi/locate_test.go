package pyabi

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// fakeELF comes from image_test.go.

func TestLocateErrors(t *testing.T) {
	const base = 0x1000
	mem := make([]byte, 0x100)
	// Py_Version of a CPython too new for any table, without the
	// _Py_DebugOffsets that would let us read it anyway.
	binary.LittleEndian.PutUint32(mem[0x10:], 0x031000f0)
	r := procmem.Bytes{Base: base, Data: mem}
	cases := []struct {
		name   string
		images []Image
		want   string
		is     error
	}{
		{"newer version", []Image{{Path: "/usr/lib/libpython3.16.so", File: fakeELF{symbols: map[string]uint64{"Py_Version": base + 0x10, "_PyRuntime": base + 0x40}}}},
			"CPython 3.16.0 is not supported", nil},
		{"not python", []Image{{Path: "/bin/sleep", File: fakeELF{}}}, "not a python process", ErrNotPython},
		{"nothing mapped", nil, "no executable images", ErrNotPython},
		{"not initialised", []Image{{Path: "/usr/lib/libpython3.12.so", File: fakeELF{symbols: map[string]uint64{"_PyRuntime": base + 0x40}}}},
			"not initialised", ErrNotReady},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Locate(r, c.images, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Fatalf("%v is not %v", err, c.is)
			}
		})
	}
}
