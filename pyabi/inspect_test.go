package pyabi

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/pyspyglass/pyspyglass/procmem"
)

func TestExcDepth(t *testing.T) {
	// Two entries as CPython 3.11 writes them: [4, 4+6) -> target 20,
	// depth 1, lasti; [12, 12+70) -> target 90, depth 3. The second uses
	// two-byte varints (70 = 1<<6 | 6, 90 = 1<<6 | 26).
	table := []byte{0x80 | 4, 6, 20, 1<<1 | 1, 0x80 | 12, 0x40 | 1, 6, 0x40 | 1, 26, 3 << 1}
	tests := []struct {
		pos, depth int
		ok         bool
	}{
		{3, 0, false}, {4, 1, true}, {9, 1, true}, {10, 0, false}, {12, 3, true}, {81, 3, true}, {82, 0, false},
	}
	for _, tc := range tests {
		d, ok := excDepth(table, tc.pos)
		if d != tc.depth || ok != tc.ok {
			t.Errorf("pos %d: got (%d, %v), want (%d, %v)", tc.pos, d, ok, tc.depth, tc.ok)
		}
	}
	// Truncated and endless varints end the scan, never loop or panic.
	for _, bad := range [][]byte{{0x80 | 4}, {0x80 | 4, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40}, {0x40}} {
		if _, ok := excDepth(bad, 4); ok {
			t.Errorf("%x: found an entry in a broken table", bad)
		}
	}
}

func TestPyQuote(t *testing.T) {
	tests := []struct {
		in    string
		trunc bool
		kind  quoteKind
		want  string
	}{
		{"abc", false, quoteStr, `'abc'`},
		{"it's", false, quoteStr, `"it's"`},
		{`both ' and "`, false, quoteStr, `'both \' and "'`},
		{"tab\there\n", false, quoteStr, `'tab\there\n'`},
		{"héllo wörld ✓", false, quoteStr, `'héllo wörld ✓'`},
		{"bell\x07", false, quoteStr, `'bell\x07'`},
		{"zero\u200bwidth", false, quoteStr, `'zero\u200bwidth'`},
		{"long", true, quoteStr, `'long...'`},
		{"\xff\x00ab'", false, quoteBytes, `b"\xff\x00ab'"`},
		{`back\slash`, false, quoteBytes, `b'back\\slash'`},
		{"h\xc3\xa9llo", false, quoteStr27, `'h\xc3\xa9llo'`},
	}
	for _, tc := range tests {
		if got := pyQuote(tc.in, tc.trunc, tc.kind); got != tc.want {
			t.Errorf("pyQuote(%q): got %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestPyFloat(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{1, "1.0"}, {0.1, "0.1"}, {-2.5, "-2.5"}, {1e16, "1e+16"}, {1234567890123456.0, "1234567890123456.0"},
		{1e-5, "1e-05"}, {0.0001, "0.0001"}, {0, "0.0"}, {math.Inf(1), "inf"}, {math.NaN(), "nan"},
		{3.141592653589793, "3.141592653589793"},
	}
	for _, tc := range tests {
		if got := pyFloat(tc.in); got != tc.want {
			t.Errorf("pyFloat(%v): got %s, want %s", tc.in, got, tc.want)
		}
	}
}

// FuzzRepr runs the object inspector on arbitrary memory under every
// version's layout: reprs and frame reads must stay bounded and never
// panic, whatever the pointers say.
func FuzzRepr(f *testing.F) {
	const base = 0x10000
	// A seed whose words all point back into the image, so type, item
	// and dict pointers lead somewhere readable.
	seed := make([]byte, 256)
	for i := 0; i < len(seed); i += 8 {
		binary.LittleEndian.PutUint64(seed[i:], base+uint64(i*3%256))
	}
	f.Add(seed, uint16(0))
	f.Add(make([]byte, 64), uint16(8))
	f.Fuzz(func(t *testing.T, data []byte, at uint16) {
		img := make([]byte, 0, 8192)
		for len(img) < 8192 && len(data) > 0 {
			img = append(img, data...)
		}
		mem := procmem.Bytes{Base: base, Data: img}
		for _, v := range SupportedVersions() {
			l, _, err := LookupLayout(v)
			if err != nil {
				t.Fatal(err)
			}
			in := newInterpreter(mem, v, l)
			x, err := in.NewInspector()
			if err != nil {
				continue
			}
			addr := base + uint64(at)
			for _, lim := range []Limits{ReprDefault, ReprAll} {
				if s := x.Repr(addr, lim); len(s) > lim.Total+8 {
					t.Fatalf("%s: repr of %d bytes, limit %d", v, len(s), lim.Total)
				}
			}
			x.Frame(addr)
			x.Lock(addr)
			x.LockFromParked(addr)
			x.BoundSelf(addr)
		}
	})
}
