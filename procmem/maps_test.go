package procmem

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseMaps(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []Mapping
	}{
		{
			name: "file, anonymous and pseudo",
			text: `55d0c0a00000-55d0c0a01000 r--p 00000000 08:02 173521                     /usr/bin/python3.12
55d0c0a01000-55d0c0a02000 r-xp 00001000 08:02 173521                     /usr/bin/python3.12
55d0c1d3c000-55d0c1e5d000 rw-p 00000000 00:00 0                          [heap]
7f1c2e000000-7f1c2e021000 rw-p 00000000 00:00 0 
7ffd5a1e0000-7ffd5a201000 rw-p 00000000 00:00 0                          [stack]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
`,
			want: []Mapping{
				{Start: 0x55d0c0a00000, End: 0x55d0c0a01000, Perms: "r--p", DevMajor: 8, DevMinor: 2, Inode: 173521, Path: "/usr/bin/python3.12"},
				{Start: 0x55d0c0a01000, End: 0x55d0c0a02000, Offset: 0x1000, Perms: "r-xp", DevMajor: 8, DevMinor: 2, Inode: 173521, Path: "/usr/bin/python3.12"},
				{Start: 0x55d0c1d3c000, End: 0x55d0c1e5d000, Perms: "rw-p", Path: "[heap]"},
				{Start: 0x7f1c2e000000, End: 0x7f1c2e021000, Perms: "rw-p"},
				{Start: 0x7ffd5a1e0000, End: 0x7ffd5a201000, Perms: "rw-p", Path: "[stack]"},
				{Start: 0xffffffffff600000, End: 0xffffffffff601000, Perms: "--xp", Path: "[vsyscall]"},
			},
		},
		{
			name: "path with spaces and deleted",
			text: "7f00-7f10 r-xs 0000a000 fd:01 42   /opt/my app/lib x.so (deleted)\n",
			want: []Mapping{{Start: 0x7f00, End: 0x7f10, Offset: 0xa000, Perms: "r-xs", DevMajor: 0xfd, DevMinor: 1, Inode: 42, Path: "/opt/my app/lib x.so", Deleted: true}},
		},
		{
			name: "memfd and no trailing newline",
			text: "1000-2000 rw-s 00000000 00:01 7 /memfd:shm (deleted)",
			want: []Mapping{{Start: 0x1000, End: 0x2000, Perms: "rw-s", DevMinor: 1, Inode: 7, Path: "/memfd:shm", Deleted: true}},
		},
		{
			name: "blank lines skipped",
			text: "\n1000-2000 r--p 00000000 00:00 0\n\n",
			want: []Mapping{{Start: 0x1000, End: 0x2000, Perms: "r--p"}},
		},
		{name: "empty", text: "", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMaps(strings.NewReader(tt.text))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestParseMapsMalformed(t *testing.T) {
	good := "1000-2000 r--p 00000000 08:02 5 /lib/a.so\n"
	tests := []struct {
		name, line, wantErr string
	}{
		{"too few fields", "1000-2000 r--p 00000000 08:02", "want at least 5 fields"},
		{"no dash", "10002000 r--p 00000000 08:02 5", "bad address range"},
		{"bad start", "zz-2000 r--p 00000000 08:02 5", "bad start address"},
		{"bad end", "1000-2000x r--p 00000000 08:02 5", "bad end address"},
		{"end before start", "2000-1000 r--p 00000000 08:02 5", "before start"},
		{"bad perms", "1000-2000 rwx 00000000 08:02 5", "bad permissions"},
		{"perms letters", "1000-2000 rwqp 00000000 08:02 5", "bad permissions"},
		{"bad offset", "1000-2000 r--p 0000g000 08:02 5", "bad offset"},
		{"bad device", "1000-2000 r--p 00000000 0802 5", "bad device"},
		{"missing device shifts fields", "1000-2000 r--p 00000000 5 /lib/a.so", "bad device"},
		{"bad inode", "1000-2000 r--p 00000000 08:02 -5", "bad inode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The bad line comes second, so the error must say "line 2".
			_, err := ParseMaps(strings.NewReader(good + tt.line + "\n" + good))
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range []string{"maps line 2 ", tt.wantErr} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestMappingHelpers(t *testing.T) {
	m := Mapping{Start: 0x1000, End: 0x3000, Perms: "r-xp", Path: "/usr/lib/libc.so.6"}
	if !m.Readable() || m.Writable() || !m.Exec() || !m.FileBacked() {
		t.Errorf("flags wrong for %v", m)
	}
	if m.Size() != 0x2000 || !m.Contains(0x2fff) || m.Contains(0x3000) {
		t.Errorf("bounds wrong for %v", m)
	}
	if (Mapping{Path: "[heap]"}).FileBacked() || (Mapping{}).FileBacked() {
		t.Error("pseudo or anonymous mapping reported as file-backed")
	}
}

func FuzzParseMaps(f *testing.F) {
	f.Add("55d0c0a00000-55d0c0a01000 r--p 00000000 08:02 173521    /usr/bin/python3.12\n")
	f.Add("7f00-7f10 r-xs 0000a000 fd:01 42   /opt/my app/x.so (deleted)\n1000-2000 rw-p 00000000 00:00 0\n")
	f.Add("1000-2000 rw-p 00000000 00:00 0 [heap]\r\n")
	f.Fuzz(func(t *testing.T, text string) {
		maps, err := ParseMaps(strings.NewReader(text))
		if err != nil {
			return
		}
		// Whatever parsed must be self-consistent and survive a round trip
		// through the kernel's format.
		var sb strings.Builder
		for _, m := range maps {
			if m.End < m.Start || len(m.Perms) != 4 {
				t.Fatalf("inconsistent mapping %+v", m)
			}
			sb.WriteString(m.String() + "\n")
		}
		again, err := ParseMaps(strings.NewReader(sb.String()))
		if err != nil {
			t.Fatalf("reparse of %q: %v", sb.String(), err)
		}
		if !reflect.DeepEqual(maps, again) && !(len(maps) == 0 && len(again) == 0) {
			t.Fatalf("round trip changed\n%+v\ninto\n%+v", maps, again)
		}
	})
}
