package attach

import (
	"slices"
	"testing"
)

func TestSudoIDs(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		euid     int
		uid, gid int
		ok, bad  bool
	}{
		{"not sudo", nil, 0, 0, 0, false, false},
		{"sudo", map[string]string{"SUDO_UID": "1000", "SUDO_GID": "100"}, 0, 1000, 100, true, false},
		{"sudo but not root", map[string]string{"SUDO_UID": "1000", "SUDO_GID": "100"}, 1000, 0, 0, false, false},
		{"root ran sudo", map[string]string{"SUDO_UID": "0", "SUDO_GID": "0"}, 0, 0, 0, false, false},
		{"gid missing", map[string]string{"SUDO_UID": "1000"}, 0, 0, 0, false, false},
		{"bad uid", map[string]string{"SUDO_UID": "x", "SUDO_GID": "100"}, 0, 0, 0, false, true},
		{"bad gid", map[string]string{"SUDO_UID": "1000", "SUDO_GID": "-1"}, 0, 0, 0, false, true},
	}
	for _, tc := range tests {
		uid, gid, ok, err := sudoIDs(func(k string) string { return tc.env[k] }, tc.euid)
		if (err != nil) != tc.bad || ok != tc.ok || uid != tc.uid || gid != tc.gid {
			t.Errorf("%s: sudoIDs = %d %d %v %v; want %d %d %v (error %v)", tc.name, uid, gid, ok, err, tc.uid, tc.gid, tc.ok, tc.bad)
		}
	}
}

func TestSetEnv(t *testing.T) {
	in := []string{"HOME=/root", "PATH=/bin", "HOMEX=1", "HOME=/again"}
	got := setEnv(in, "HOME", "/home/u")
	if want := []string{"PATH=/bin", "HOMEX=1", "HOME=/home/u"}; !slices.Equal(got, want) {
		t.Errorf("setEnv = %v, want %v", got, want)
	}
	if in[0] != "HOME=/root" {
		t.Error("setEnv modified its input")
	}
}
