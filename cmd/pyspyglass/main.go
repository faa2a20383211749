// Command pyspyglass is a sampling profiler for running CPython processes.
// main only wires arguments, output streams and the exit code; each
// subcommand lives in its own file.
package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/pyspyglass/pyspyglass/attach"
	"github.com/pyspyglass/pyspyglass/ui/render"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

const usage = `pyspyglass: a sampling profiler for Python programs

Usage:
  pyspyglass <command> [options]

Commands:
  record   Record samples of a running process or a command into a profile file
  top      Show a live, top-like view of the functions that take the most time
  dump     Print the current stack of every thread of a running process
  render   Write a recording (--format recording) in another format
  diff     Compare two recordings: what grew, what shrank (table, differential flamegraph)

Options:
  -h, --help      Show this help (or a command's help: pyspyglass <command> --help)
  -V, --version   Show the version

Examples:
  sudo pyspyglass top --pid 1234
  pyspyglass record -o profile.svg --pid 1234
  pyspyglass record -o profile.svg -- python app.py
  pyspyglass dump --pid 1234
`

// exitError carries an exit code out of run (e.g. the launched child's).
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	// Under sudo, outputs belong to the user who ran it, as the command
	// launched does.
	if uid, gid, ok, err := attach.SudoUser(); ok && err == nil {
		render.FileOwner = render.Owner{UID: uid, GID: gid}
	}
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	var ee *exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		os.Exit(ee.code)
	case errors.Is(err, pflag.ErrHelp):
	default:
		fmt.Fprintf(os.Stderr, "pyspyglass: %s\n", explain(err))
		os.Exit(1)
	}
}

// run dispatches to a subcommand; it never exits the process itself.
func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &exitError{code: 2}
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	case "-V", "--version", "version":
		fmt.Fprintf(stdout, "pyspyglass %s\n", version)
		return nil
	case "dump":
		return runDump(args[1:], stdout, stderr)
	case "record":
		return runRecord(args[1:], stdout, stderr)
	case "top":
		return runTop(args[1:], stdout, stderr)
	case "render":
		return runRender(args[1:], stdout, stderr)
	case "diff":
		return runDiff(args[1:], stdout, stderr)
	}
	return fmt.Errorf("unknown command %q (commands: record, top, dump, render, diff; see --help)", args[0])
}

// newFlags makes a subcommand's flag set with a usage text like py-spy's.
func newFlags(name, summary, synopsis string, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\n\nUsage:\n  %s\n\nOptions:\n%s", summary, synopsis, fs.FlagUsages())
	}
	return fs
}

// newLogger returns a logger for --log LEVEL (debug, info, warn, error).
func newLogger(level string, stderr io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, fmt.Errorf("--log %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: l})), nil
}
