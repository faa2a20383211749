//go:build !linux

package testutil

import (
	"syscall"
	"time"
)

// watchExit closes done when pid can no longer be signalled: without
// pidfds or /proc, a poll with signal 0 (which a zombie still answers, so
// this only sees the exit once the process is reaped).
func watchExit(pid int, done chan struct{}) {
	go func() {
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for range tick.C {
			if syscall.Kill(pid, 0) != nil {
				return
			}
		}
	}()
}
