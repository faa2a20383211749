package attach

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// SudoUser returns the uid and gid of the user who ran sudo, when we run
// as root under sudo: launched commands and output files are theirs.
func SudoUser() (uid, gid int, ok bool, err error) {
	return sudoIDs(os.Getenv, os.Geteuid())
}

// sudoIDs returns the uid and gid of the user who ran sudo, from the
// SUDO_UID and SUDO_GID variables sudo sets, when we run as root under
// sudo. ok is false when not under sudo or when the invoker was root.
func sudoIDs(getenv func(string) string, euid int) (uid, gid int, ok bool, err error) {
	if euid != 0 {
		return 0, 0, false, nil
	}
	su, sg := getenv("SUDO_UID"), getenv("SUDO_GID")
	if su == "" || sg == "" {
		return 0, 0, false, nil
	}
	if uid, err = strconv.Atoi(su); err != nil || uid < 0 {
		return 0, 0, false, fmt.Errorf("bad SUDO_UID %q", su)
	}
	if gid, err = strconv.Atoi(sg); err != nil || gid < 0 {
		return 0, 0, false, fmt.Errorf("bad SUDO_GID %q", sg)
	}
	if uid == 0 {
		return 0, 0, false, nil // root ran sudo: nothing to drop
	}
	return uid, gid, true, nil
}

// setEnv returns env with key set to value, replacing every earlier
// setting, in a new slice.
func setEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}
