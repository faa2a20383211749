package attach

import "testing"

const sampleStatus = `Name:	python3
Umask:	0022
State:	S (sleeping)
Tgid:	4242
Pid:	4242
PPid:	1
TracerPid:	77
Uid:	1000	1001	1002	1003
Gid:	1000	1000	1000	1000
CapInh:	0000000000000000
CapPrm:	0000000000000000
CapEff:	0000000000080000
`

func TestParseStatus(t *testing.T) {
	has, err := parseCapEff(sampleStatus)
	if err != nil || !has {
		t.Errorf("parseCapEff = %v, %v; want true (bit 19 only)", has, err)
	}
	has, err = parseCapEff("CapEff:\t000001fffef7ffff\n")
	if err != nil || has {
		t.Errorf("parseCapEff(all but bit 19) = %v, %v; want false", has, err)
	}
	r, e, s, err := parseUids(sampleStatus)
	if err != nil || r != 1000 || e != 1001 || s != 1002 {
		t.Errorf("parseUids = %d %d %d, %v; want 1000 1001 1002", r, e, s, err)
	}
	if tp, err := parseTracerPid(sampleStatus); err != nil || tp != 77 {
		t.Errorf("parseTracerPid = %d, %v; want 77", tp, err)
	}
	for _, bad := range []string{"", "CapEff:\tzz\n", "Name:\tx\n"} {
		if _, err := parseCapEff(bad); err == nil {
			t.Errorf("parseCapEff(%q) succeeded", bad)
		}
	}
	for _, bad := range []string{"", "Uid:\t1 2\n", "Uid:\ta b c d\n"} {
		if _, _, _, err := parseUids(bad); err == nil {
			t.Errorf("parseUids(%q) succeeded", bad)
		}
	}
	if _, err := parseTracerPid("TracerPid:\tx\n"); err == nil {
		t.Error("parseTracerPid(bad) succeeded")
	}
}

func TestCgroupInContainer(t *testing.T) {
	tests := []struct {
		name, text string
		want       bool
	}{
		{"host v1", "12:pids:/user.slice/user-1000.slice\n1:name=systemd:/init.scope\n", false},
		{"host v2", "0::/init.scope\n", false},
		{"namespaced v2", "0::/\n", false},
		{"docker v1", "12:pids:/docker/3f4a9c\n", true},
		{"kubernetes", "0::/kubepods/besteffort/pod1234/abcd\n", true},
		{"containerd", "0::/system.slice/containerd.service\n", true},
		{"podman", "0::/machine.slice/libpod-abc.scope\n", true},
	}
	for _, tc := range tests {
		if got := cgroupInContainer(tc.text); got != tc.want {
			t.Errorf("%s: cgroupInContainer = %v, want %v", tc.name, got, tc.want)
		}
	}
}
