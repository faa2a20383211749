package procmem

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"strings"
	"testing"
)

// libpython312 holds the PT_LOAD headers of pyenv's libpython3.12.so.1.0:
// the last segment's offset and vaddr differ by a page, as is usual for
// the RW segment of a shared object.
func libpython312() *Binary {
	load := func(off, vaddr uint64, flags elf.ProgFlag) *elf.Prog {
		return &elf.Prog{ProgHeader: elf.ProgHeader{Type: elf.PT_LOAD, Off: off, Vaddr: vaddr, Flags: flags}}
	}
	return &Binary{Path: "libpython3.12.so.1.0", f: &elf.File{Progs: []*elf.Prog{
		load(0x0, 0x0, elf.PF_R),
		load(0x106000, 0x106000, elf.PF_R|elf.PF_X),
		load(0x379000, 0x379000, elf.PF_R),
		load(0x4cc6d0, 0x4cd6d0, elf.PF_R|elf.PF_W),
	}}}
}

func TestBias(t *testing.T) {
	const lib = "/usr/lib/libpython3.12.so.1.0"
	const base = 0x7f0000000000
	shared := []Mapping{
		{Start: 0x400000, End: 0x401000, Perms: "r-xp", Path: "/usr/bin/python3.12"},
		{Start: base, End: base + 0x106000, Perms: "r--p", Offset: 0, Path: lib},
		{Start: base + 0x106000, End: base + 0x379000, Perms: "r-xp", Offset: 0x106000, Path: lib},
		{Start: base + 0x379000, End: base + 0x4cc000, Perms: "r--p", Offset: 0x379000, Path: lib},
		{Start: base + 0x4cd000, End: base + 0x4d0000, Perms: "r--p", Offset: 0x4cc000, Path: lib},
		{Start: base + 0x4d0000, End: base + 0x6b5000, Perms: "rw-p", Offset: 0x4cf000, Path: lib},
	}
	tests := []struct {
		name    string
		maps    []Mapping
		want    uint64
		wantErr bool
	}{
		{name: "shared object", maps: shared, want: base},
		{name: "only the data segment mapped", maps: shared[4:5], want: base},
		{name: "non-PIE at its link address", maps: []Mapping{
			{Start: 0, End: 0x106000, Perms: "r--p", Path: lib},
			{Start: 0x106000, End: 0x379000, Perms: "r-xp", Offset: 0x106000, Path: lib},
		}, want: 0},
		{name: "not mapped", maps: shared[:1], wantErr: true},
		{name: "offset matches no segment", maps: []Mapping{{Start: base, End: base + 0x1000, Perms: "r-xp", Offset: 0x5000, Path: lib}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := libpython312().Bias(tt.maps, lib)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("want error, got bias %#x", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("bias %#x, want %#x", got, tt.want)
			}
		})
	}
}

func TestOpenBinarySelf(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenBinary(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, _, ok := b.Section(".text"); !ok {
		t.Error("no .text section")
	}
	if _, ok := b.Symbol("no.such.symbol"); ok {
		t.Error("found a symbol that does not exist")
	}
	if _, err := b.SectionData(".no-such-section"); err == nil {
		t.Error("SectionData of a missing section succeeded")
	}
	if _, err := b.SectionData(".rodata"); err != nil {
		t.Error(err)
	}
	// go test strips the symbol table, so symbol lookups and Bias are
	// tested on C programs built by the live tests.
}

func TestOpenBinaryGarbage(t *testing.T) {
	path := t.TempDir() + "/garbage"
	if err := os.WriteFile(path, []byte("\x7fELF not really"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenBinary(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("want an error naming %s, got %v", path, err)
	}
	if _, err := OpenBinary(path + ".missing"); err == nil {
		t.Error("opened a missing file")
	}
}

func TestParseBuildIDNote(t *testing.T) {
	note := func(name string, typ uint32, desc []byte) []byte {
		var b bytes.Buffer
		binary.Write(&b, binary.LittleEndian, [3]uint32{uint32(len(name)), uint32(len(desc)), typ})
		b.WriteString(name)
		b.Write(make([]byte, (4-len(name)%4)%4))
		b.Write(desc)
		b.Write(make([]byte, (4-len(desc)%4)%4))
		return b.Bytes()
	}
	id := []byte{0xde, 0xad, 0xbe, 0xef, 0x01}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"build id", note("GNU\x00", 3, id), "deadbeef01"},
		{"after another note", append(note("GNU\x00", 5, []byte{1, 2, 3, 4}), note("GNU\x00", 3, id)...), "deadbeef01"},
		{"other vendor", note("Go\x00\x00", 3, id), ""},
		{"truncated desc", note("GNU\x00", 3, id)[:18], ""},
		{"empty", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseBuildIDNote(tt.data, binary.LittleEndian); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestModules(t *testing.T) {
	maps := []Mapping{
		{Start: 0x1000, End: 0x2000, Path: "/bin/python"},
		{Start: 0x2000, End: 0x3000, Path: "/bin/python"},
		{Start: 0x5000, End: 0x6000, Path: "[heap]"},
		{Start: 0x7000, End: 0x8000},
		{Start: 0x9000, End: 0xa000, Path: "/lib/libpython3.12.so.1.0"},
		{Start: 0xb000, End: 0xc000, Path: "/lib/libc.so.6"},
		{Start: 0xc000, End: 0xd000, Path: "/lib/libpython3.12.so.1.0"},
	}
	got := Modules(maps)
	want := []Module{
		{Path: "/bin/python", Start: 0x1000, End: 0x3000, First: maps[0]},
		{Path: "/lib/libpython3.12.so.1.0", Start: 0x9000, End: 0xd000, First: maps[4]},
		{Path: "/lib/libc.so.6", Start: 0xb000, End: 0xc000, First: maps[5]},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("module %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	m, ok := FindModule(got, func(p string) bool { return strings.Contains(p, "libpython") })
	if !ok || m != want[1] {
		t.Errorf("FindModule libpython: %+v %v", m, ok)
	}
	if _, ok := FindModule(got, func(string) bool { return false }); ok {
		t.Error("FindModule matched nothing but reported ok")
	}
}

func FuzzNewBinary(f *testing.F) {
	// Seed with the head of a real ELF file and a bare header, so the
	// fuzzer starts from inputs that get past the magic check.
	if exe, err := os.Executable(); err == nil {
		if data, err := os.ReadFile(exe); err == nil {
			f.Add(data[:min(len(data), 4096)])
		}
	}
	f.Add([]byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00\x3e\x00\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := NewBinary(bytes.NewReader(data))
		if err != nil {
			return
		}
		// None of these may panic, whatever the file says.
		b.Symbol("Py_Version")
		b.Section(".PyRuntime")
		b.SectionData(".rodata")
		b.Bias([]Mapping{{Start: 0x1000, End: 0x2000, Perms: "r-xp", Path: "/x"}}, "/x")
	})
}
