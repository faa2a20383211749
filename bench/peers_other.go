//go:build !linux

package main

import "errors"

// withRootProc needs Linux mounts: Tachyon is measured on Linux only.
func withRootProc(string, func(string)) error {
	return errors.New("Tachyon side by side runs on Linux only")
}
