package testutil

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// watchExit closes done when pid terminates. A pidfd becomes readable when
// the process exits, without waiting on it; kernels without pidfd_open (before
// 5.3) fall back to watching /proc/<pid>/stat.
func watchExit(pid int, done chan struct{}) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		go pollProcExit(pid, done)
		return
	}
	go func() {
		defer close(done)
		defer unix.Close(fd)
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			_, err := unix.Poll(fds, -1)
			if err == nil || !errors.Is(err, unix.EINTR) {
				return
			}
		}
	}()
}

func pollProcExit(pid int, done chan struct{}) {
	defer close(done)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		// The state follows the parenthesised command name, which may
		// itself contain ") ".
		s := string(data)
		if i := strings.LastIndex(s, ") "); i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X') {
			return
		}
	}
}
