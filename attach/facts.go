package attach

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// capSysPtrace is CAP_SYS_PTRACE's bit in the capability sets
// (include/uapi/linux/capability.h).
const capSysPtrace = 19

// statusField returns the value of "Name:\tvalue" in a /proc/PID/status
// text, without the name and surrounding space.
func statusField(status, name string) (string, bool) {
	sc := bufio.NewScanner(strings.NewReader(status))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && k == name {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// parseCapEff reports whether the CapEff line of a /proc/PID/status text
// holds CAP_SYS_PTRACE.
func parseCapEff(status string) (bool, error) {
	v, ok := statusField(status, "CapEff")
	if !ok {
		return false, fmt.Errorf("status: no CapEff line")
	}
	caps, err := strconv.ParseUint(v, 16, 64)
	if err != nil {
		return false, fmt.Errorf("status: bad CapEff %q", v)
	}
	return caps&(1<<capSysPtrace) != 0, nil
}

// parseUids returns the real, effective and saved uid from the Uid line
// of a /proc/PID/status text ("Uid:\treal\teffective\tsaved\tfs").
func parseUids(status string) (real, eff, saved int, err error) {
	v, ok := statusField(status, "Uid")
	if !ok {
		return 0, 0, 0, fmt.Errorf("status: no Uid line")
	}
	f := strings.Fields(v)
	if len(f) < 3 {
		return 0, 0, 0, fmt.Errorf("status: bad Uid %q", v)
	}
	var ids [3]int
	for i := range ids {
		if ids[i], err = strconv.Atoi(f[i]); err != nil {
			return 0, 0, 0, fmt.Errorf("status: bad Uid %q", v)
		}
	}
	return ids[0], ids[1], ids[2], nil
}

// parseTracerPid returns the TracerPid of a /proc/PID/status text.
func parseTracerPid(status string) (int, error) {
	v, ok := statusField(status, "TracerPid")
	if !ok {
		return 0, fmt.Errorf("status: no TracerPid line")
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("status: bad TracerPid %q", v)
	}
	return n, nil
}

// cgroupInContainer reports whether a /proc/1/cgroup text names a
// container runtime. With cgroup v2 and a cgroup namespace the file reads
// "0::/" inside containers too, so this is a hint, not a proof.
func cgroupInContainer(cgroup string) bool {
	for _, w := range []string{"docker", "kubepods", "containerd", "libpod", "lxc"} {
		if strings.Contains(cgroup, w) {
			return true
		}
	}
	return false
}
