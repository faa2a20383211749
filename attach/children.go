package attach

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// parseChildren parses a /proc/PID/task/TID/children text: the pids of
// that thread's children, separated by spaces.
func parseChildren(s string) ([]int, error) {
	var pids []int
	for _, f := range strings.Fields(s) {
		pid, err := strconv.Atoi(f)
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("children: bad pid %q", f)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// parsePPid returns the parent pid from a /proc/PID/stat line. The fields
// after comm are "state ppid ..."; comm may hold spaces and parentheses,
// so they are counted from the last ')'.
func parsePPid(line string) (int, error) {
	close := strings.LastIndexByte(line, ')')
	if close < 0 {
		return 0, fmt.Errorf("stat: no ')' in %q", line)
	}
	f := strings.Fields(line[close+1:])
	if len(f) < 2 {
		return 0, fmt.Errorf("stat: no ppid in %q", line)
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil || ppid < 0 {
		return 0, fmt.Errorf("stat: bad ppid %q", f[1])
	}
	return ppid, nil
}

// walkTree returns every descendant of root, in ascending order, given a
// function listing the direct children of a pid. A pid seen twice (a
// reparented process listed under its old and new parent while we read)
// is kept once, which also ends any cycle.
func walkTree(root int, children func(pid int) []int) []int {
	seen := map[int]bool{root: true}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children(pid) {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
				queue = append(queue, c)
			}
		}
	}
	slices.Sort(out)
	return out
}
