package main

import (
	"os"
	"strings"
	"syscall"
)

// noAsyncPreemption restarts a sampling command (record, top) with the Go
// runtime's asynchronous preemption off. The sampler sleeps in a raw
// system call on a locked thread, which the runtime sees as a goroutine
// running for the whole gap: every 10 ms it would send the thread a
// preemption signal, ending the sleep and handing its P around (at
// 100 Hz about 1.5 wake-ups of the sampling thread per sample instead of
// one, and 30% more CPU). The setting is read only at start-up (//go:debug
// does not accept it), hence the exec; it keeps the pid. A GODEBUG that
// already says asyncpreemptoff is left as it is. After the exec the user's
// own GODEBUG is put back (the runtime read its setting at start-up), so a
// command we launch gets the environment it was given, not ours.
func noAsyncPreemption(args []string) {
	if orig, ok := os.LookupEnv(userGODEBUG); ok {
		os.Unsetenv(userGODEBUG)
		if orig == "" {
			os.Unsetenv("GODEBUG")
		} else {
			os.Setenv("GODEBUG", strings.TrimPrefix(orig, "="))
		}
		return
	}
	if len(args) < 2 || (args[1] != "record" && args[1] != "top") {
		return
	}
	godebug, had := os.LookupEnv("GODEBUG")
	if strings.Contains(godebug, "asyncpreemptoff=") {
		return
	}
	// "=" marks a GODEBUG that was set, even to nothing.
	orig := ""
	if had {
		orig = "=" + godebug
	}
	if godebug != "" {
		godebug += ","
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GODEBUG=") {
			env = append(env, kv)
		}
	}
	env = append(env, "GODEBUG="+godebug+"asyncpreemptoff=1", userGODEBUG+"="+orig)
	// On failure (no /proc), sample with preemption on: only slower.
	syscall.Exec("/proc/self/exe", args, env)
}

// userGODEBUG carries the user's GODEBUG across the exec.
const userGODEBUG = "PYSPYGLASS_USER_GODEBUG"
