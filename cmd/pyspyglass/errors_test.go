package main

import (
	"strings"
	"testing"

	"github.com/pyspyglass/pyspyglass/procmem"
)

func TestRemedy(t *testing.T) {
	user := procmem.Facts{PtraceScope: -1, TargetUID: -1}
	with := func(f func(*procmem.Facts)) procmem.Facts { c := user; f(&c); return c }
	tests := []struct {
		name    string
		facts   procmem.Facts
		want    []string
		notWant []string
	}{
		{"other user", with(func(f *procmem.Facts) { f.OtherUser, f.TargetUID = true, 1000 }),
			[]string{"uid 1000", "sudo", "setcap cap_sys_ptrace+ep"}, []string{"ptrace_scope", "--cap-add"}},
		{"other user unknown uid", with(func(f *procmem.Facts) { f.OtherUser = true }),
			[]string{"another user", "sudo"}, nil},
		{"yama 1 same user", with(func(f *procmem.Facts) { f.PtraceScope = 1 }),
			[]string{"ptrace_scope is 1", "echo 0 | sudo tee /proc/sys/kernel/yama/ptrace_scope", "sudo"}, []string{"--cap-add"}},
		{"yama 1 other user", with(func(f *procmem.Facts) { f.PtraceScope, f.OtherUser = 1, true }),
			[]string{"sudo", "setcap"}, []string{"ptrace_scope"}},
		{"yama 2", with(func(f *procmem.Facts) { f.PtraceScope = 2 }),
			[]string{"ptrace_scope is 2", "setcap cap_sys_ptrace+ep"}, []string{"echo 0"}},
		{"yama 3", with(func(f *procmem.Facts) { f.PtraceScope, f.Root, f.CapSysPtrace = 3, true, true }),
			[]string{"ptrace_scope is 3", "reboot"}, []string{"sudo"}},
		{"root in docker", with(func(f *procmem.Facts) { f.Root, f.Container, f.OtherUser = true, true, true }),
			[]string{"--cap-add SYS_PTRACE", "Kubernetes"}, []string{"setcap", "sudo"}},
		{"user in docker", with(func(f *procmem.Facts) { f.Container, f.OtherUser = true, true }),
			[]string{"sudo", "setcap", "--cap-add SYS_PTRACE"}, nil},
		{"root without capability", with(func(f *procmem.Facts) { f.Root = true }),
			[]string{"without CAP_SYS_PTRACE", "--cap-add SYS_PTRACE"}, []string{"setcap"}},
		{"capability but refused", with(func(f *procmem.Facts) { f.CapSysPtrace = true }),
			[]string{"AppArmor", "seccomp"}, []string{"sudo"}},
		{"same user not dumpable", user,
			[]string{"not dumpable", "sudo"}, []string{"ptrace_scope", "--cap-add"}},
		{"already traced", with(func(f *procmem.Facts) { f.TracerPid, f.Root = 4242, true }),
			[]string{"traced by pid 4242"}, []string{"sudo"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := remedy(123, tc.facts)
			for _, w := range tc.want {
				if !strings.Contains(r, w) {
					t.Errorf("remedy() = %q, want it to mention %q", r, w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(r, w) {
					t.Errorf("remedy() = %q, should not mention %q", r, w)
				}
			}
			if n := strings.Count(r, ". ") + 1; n > 2 {
				t.Errorf("remedy() has %d sentences, want at most 2: %q", n, r)
			}
		})
	}
}
