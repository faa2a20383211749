package procmem

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"strconv"
)

// ParseStat parses the start of a /proc/PID/stat or /proc/PID/task/TID/stat
// line, "pid (comm) S ...", returning comm and the one-letter state
// (R running, S sleeping, D disk wait, Z zombie, T stopped, ...).
// comm is chosen by the program and may hold spaces and parentheses, so it
// runs from the first '(' to the last ')'.
func ParseStat(line string) (comm string, state byte, err error) {
	open, close, state, err := parseStat([]byte(line))
	if err != nil {
		return "", 0, err
	}
	return line[open+1 : close], state, nil
}

// parseStat is ParseStat on bytes, returning comm's bounds instead of a
// string so that StatReader's hot path does not allocate.
func parseStat(b []byte) (open, close int, state byte, err error) {
	open = bytes.IndexByte(b, '(')
	close = bytes.LastIndexByte(b, ')')
	if open < 0 || close < open {
		return 0, 0, 0, errMalformedStat
	}
	// After ')' come one space and the state letter.
	if close+2 >= len(b) || b[close+1] != ' ' {
		return 0, 0, 0, errMalformedStat
	}
	state = b[close+2]
	if state < 'A' || state > 'z' {
		return 0, 0, 0, errMalformedStat
	}
	return open, close, state, nil
}

var errMalformedStat = errors.New("malformed stat line")

// parseStartTime returns field 22 of a stat line, the start time.
func parseStartTime(b []byte) (uint64, error) {
	_, close, _, err := parseStat(b)
	if err != nil {
		return 0, err
	}
	// Fields after comm: 3 (state) is the first, 22 the twentieth.
	fields := bytes.Fields(b[close+1:])
	if len(fields) < 20 {
		return 0, errMalformedStat
	}
	start, err := strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return 0, errMalformedStat
	}
	return start, nil
}

// ParseCmdline splits the NUL-separated /proc/PID/cmdline. The kernel ends
// each argument with a NUL, so the final empty piece is dropped.
func ParseCmdline(b []byte) []string {
	b = bytes.TrimSuffix(b, []byte{0})
	if len(b) == 0 {
		return nil
	}
	var args []string
	for arg := range bytes.SplitSeq(b, []byte{0}) {
		args = append(args, string(arg))
	}
	return args
}

// HostPath returns the name under which the host sees path as opened by
// process pid. A process in a container (another mount namespace) names
// its binaries relative to its own root; /proc/PID/root is that root as
// seen from here, and is the identity for a process in our namespace.
func HostPath(pid int, p string) string {
	return "/proc/" + strconv.Itoa(pid) + "/root" + path.Clean("/"+p)
}

// parseTids converts the names in /proc/PID/task to thread ids, ignoring
// anything that is not a number.
func parseTids(names []string) []int {
	tids := make([]int, 0, len(names))
	for _, n := range names {
		if tid, err := strconv.Atoi(n); err == nil && tid > 0 {
			tids = append(tids, tid)
		}
	}
	return tids
}

func statErr(pid, tid int, err error) error {
	return fmt.Errorf("pid %d tid %d: stat: %w", pid, tid, err)
}
