package attach

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/pyspyglass/pyspyglass/procmem"
)

func TestRemedy(t *testing.T) {
	user := Facts{PtraceScope: -1, TargetUID: -1}
	with := func(f func(*Facts)) Facts { c := user; f(&c); return c }
	tests := []struct {
		name    string
		facts   Facts
		want    []string
		notWant []string
	}{
		{"other user", with(func(f *Facts) { f.OtherUser, f.TargetUID = true, 1000 }),
			[]string{"uid 1000", "sudo", "setcap cap_sys_ptrace+ep"}, []string{"ptrace_scope", "--cap-add"}},
		{"other user unknown uid", with(func(f *Facts) { f.OtherUser = true }),
			[]string{"another user", "sudo"}, nil},
		{"yama 1 same user", with(func(f *Facts) { f.PtraceScope = 1 }),
			[]string{"ptrace_scope is 1", "echo 0 | sudo tee /proc/sys/kernel/yama/ptrace_scope", "sudo"}, []string{"--cap-add"}},
		{"yama 1 other user", with(func(f *Facts) { f.PtraceScope, f.OtherUser = 1, true }),
			[]string{"sudo", "setcap"}, []string{"ptrace_scope"}},
		{"yama 2", with(func(f *Facts) { f.PtraceScope = 2 }),
			[]string{"ptrace_scope is 2", "setcap cap_sys_ptrace+ep"}, []string{"echo 0"}},
		{"yama 3", with(func(f *Facts) { f.PtraceScope, f.Root, f.CapSysPtrace = 3, true, true }),
			[]string{"ptrace_scope is 3", "reboot"}, []string{"sudo"}},
		{"root in docker", with(func(f *Facts) { f.Root, f.Container, f.OtherUser = true, true, true }),
			[]string{"--cap-add SYS_PTRACE", "Kubernetes"}, []string{"setcap", "sudo"}},
		{"user in docker", with(func(f *Facts) { f.Container, f.OtherUser = true, true }),
			[]string{"sudo", "setcap", "--cap-add SYS_PTRACE"}, nil},
		{"root without capability", with(func(f *Facts) { f.Root = true }),
			[]string{"without CAP_SYS_PTRACE", "--cap-add SYS_PTRACE"}, []string{"setcap"}},
		{"capability but refused", with(func(f *Facts) { f.CapSysPtrace = true }),
			[]string{"AppArmor", "seccomp"}, []string{"sudo"}},
		{"same user not dumpable", user,
			[]string{"not dumpable", "sudo"}, []string{"ptrace_scope", "--cap-add"}},
		{"already traced", with(func(f *Facts) { f.TracerPid, f.Root = 4242, true }),
			[]string{"traced by pid 4242"}, []string{"sudo"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := &PermissionError{Pid: 123, Facts: tc.facts, Err: &procmem.PermissionError{Pid: 123, Op: "process_vm_readv", Err: os.ErrPermission}}
			r := e.Remedy()
			for _, w := range tc.want {
				if !strings.Contains(r, w) {
					t.Errorf("Remedy() = %q, want it to mention %q", r, w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(r, w) {
					t.Errorf("Remedy() = %q, should not mention %q", r, w)
				}
			}
			if n := strings.Count(r, ". ") + 1; n > 2 {
				t.Errorf("Remedy() has %d sentences, want at most 2: %q", n, r)
			}
		})
	}
}

func TestPermissionErrorWraps(t *testing.T) {
	inner := &procmem.PermissionError{Pid: 7, Op: "process_vm_readv", Err: os.ErrPermission}
	var err error = &PermissionError{Pid: 7, Err: inner}
	var perr *procmem.PermissionError
	if !errors.As(err, &perr) || perr != inner {
		t.Errorf("errors.As(*procmem.PermissionError) failed on %v", err)
	}
	if !errors.Is(err, os.ErrPermission) {
		t.Errorf("errors.Is(os.ErrPermission) = false for %v", err)
	}
	if !strings.Contains(err.Error(), "pid 7") {
		t.Errorf("Error() = %q, want it to name the pid", err)
	}
}

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
