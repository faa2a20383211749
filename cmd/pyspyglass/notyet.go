package main

import (
	"errors"
	"io"
)

func runRecord(args []string, stdout, stderr io.Writer) error {
	return errors.New("record: not yet")
}
func runTop(args []string, stdout, stderr io.Writer) error { return errors.New("top: not yet") }
func runRender(args []string, stdout, stderr io.Writer) error {
	return errors.New("render: not yet")
}
