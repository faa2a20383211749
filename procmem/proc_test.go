package procmem

import (
	"reflect"
	"testing"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name, line, comm string
		state            byte
		wantErr          bool
	}{
		{name: "plain", line: "1234 (python3.12) S 1 1234 1234 0 -1 4194560 ...", comm: "python3.12", state: 'S'},
		{name: "spaces", line: "7 (my worker 1) R 1 7", comm: "my worker 1", state: 'R'},
		{name: "parentheses", line: "7 (a) b) (c) D 1 7", comm: "a) b) (c", state: 'D'},
		{name: "empty comm", line: "7 () Z 1", comm: "", state: 'Z'},
		{name: "no parentheses", line: "7 python S 1", wantErr: true},
		{name: "nothing after comm", line: "7 (python)", wantErr: true},
		{name: "no space after comm", line: "7 (python)S 1", wantErr: true},
		{name: "reversed", line: "7 )python( S", wantErr: true},
		{name: "empty", line: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			comm, state, err := ParseStat(tt.line)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("want error, got %q %c", comm, state)
				}
				return
			}
			if err != nil || comm != tt.comm || state != tt.state {
				t.Errorf("got %q %q %v, want %q %q", comm, state, err, tt.comm, tt.state)
			}
		})
	}
}

func TestParseStartTime(t *testing.T) {
	line := "2066 (py (x) 1) S 1 2066 2066 0 -1 4194560 1 0 0 0 5 1 0 0 20 0 3 0 181818 1 2\n"
	if got, err := parseStartTime([]byte(line)); err != nil || got != 181818 {
		t.Errorf("parseStartTime = %d, %v; want 181818", got, err)
	}
	for _, bad := range []string{"2066 (py) S 1 2", "2066 (py) S 1 2066 2066 0 -1 4194560 1 0 0 0 5 1 0 0 20 0 3 0 x 1", ""} {
		if got, err := parseStartTime([]byte(bad)); err == nil {
			t.Errorf("parseStartTime(%q) = %d, want an error", bad, got)
		}
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add("1234 (python3.12) S 1 1234")
	f.Add("7 (a) b) (c) D 1 7")
	f.Fuzz(func(t *testing.T, line string) {
		comm, _, err := ParseStat(line)
		if err == nil && len(comm) > len(line) {
			t.Fatalf("comm %q longer than line %q", comm, line)
		}
	})
}

func TestParseCmdline(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"args", "python\x00-c\x00print(1)\x00", []string{"python", "-c", "print(1)"}},
		{"empty argument kept", "python\x00\x00x\x00", []string{"python", "", "x"}},
		{"no trailing NUL", "python", []string{"python"}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseCmdline([]byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHostPath(t *testing.T) {
	tests := []struct {
		path, want string
	}{
		{"/usr/bin/python3", "/proc/42/root/usr/bin/python3"},
		{"/../../etc/passwd", "/proc/42/root/etc/passwd"},
		{"relative/x", "/proc/42/root/relative/x"},
	}
	for _, tt := range tests {
		if got := HostPath(42, tt.path); got != tt.want {
			t.Errorf("HostPath(42, %q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestParseTids(t *testing.T) {
	got := parseTids([]string{"12", "x", "-3", "0", "7"})
	if !reflect.DeepEqual(got, []int{12, 7}) {
		t.Errorf("got %v", got)
	}
}
