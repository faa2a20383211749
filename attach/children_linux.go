package attach

import (
	"fmt"
	"os"
	"strconv"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// Descendants returns the pids of all children, grandchildren and so on
// of pid, in ascending order. It reads /proc/PID/task/TID/children where
// the kernel provides it (CONFIG_PROC_CHILDREN) and otherwise scans the
// parent pid of every process in /proc.
func Descendants(pid int) ([]int, error) {
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil {
		return nil, fmt.Errorf("pid %d: %w", pid, procmem.ErrNoProcess)
	}
	tids, err := procmem.Threads(pid)
	if err == nil && len(tids) > 0 {
		if _, err := os.Stat(childrenPath(pid, tids[0])); err == nil {
			return walkTree(pid, childrenFromTasks), nil
		}
	}
	return descendantsByStat(pid)
}

func childrenPath(pid, tid int) string {
	return "/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(tid) + "/children"
}

// childrenFromTasks lists the children of every thread of pid: a child
// belongs to the thread that forked it. A process that exits while we
// read simply has no children.
func childrenFromTasks(pid int) []int {
	tids, err := procmem.Threads(pid)
	if err != nil {
		return nil
	}
	var out []int
	for _, tid := range tids {
		b, err := os.ReadFile(childrenPath(pid, tid))
		if err != nil {
			continue
		}
		if c, err := parseChildren(string(b)); err == nil {
			out = append(out, c...)
		}
	}
	return out
}

// descendantsByStat builds the parent map from every /proc/PID/stat. It
// sees only thread group leaders, which is what we want: threads are not
// descendants.
func descendantsByStat(root int) ([]int, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, fmt.Errorf("list /proc: %w", err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, fmt.Errorf("list /proc: %w", err)
	}
	kids := make(map[int][]int)
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + n + "/stat")
		if err != nil {
			continue // exited since we listed /proc
		}
		if ppid, err := parsePPid(string(b)); err == nil {
			kids[ppid] = append(kids[ppid], pid)
		}
	}
	return walkTree(root, func(pid int) []int { return kids[pid] }), nil
}
