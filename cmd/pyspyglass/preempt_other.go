//go:build !linux

package main

// noAsyncPreemption matters only to the Linux sampler's raw sleep.
func noAsyncPreemption([]string) {}
