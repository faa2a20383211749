package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/pyspyglass/pyspyglass/attach"
	"github.com/pyspyglass/pyspyglass/sampler"
)

type dumpOptions struct {
	threadFlags
	pid  int
	json bool
	log  string
}

func runDump(args []string, stdout, stderr io.Writer) error {
	var o dumpOptions
	fs := newFlags("dump", "Print the current Python stack of every thread of a running process.",
		"pyspyglass dump --pid PID [--json]", stderr)
	fs.IntVarP(&o.pid, "pid", "p", 0, "PID of the running Python process")
	fs.BoolVar(&o.json, "json", false, "write JSON instead of text")
	fs.StringVar(&o.log, "log", "warn", "log level: debug shows each step of finding the interpreter")
	o.threadFlags.bind(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	filter, err := o.filter()
	if err != nil {
		return err
	}
	if o.pid <= 0 {
		fs.Usage()
		return fmt.Errorf("dump needs --pid PID")
	}
	log, err := newLogger(o.log, stderr)
	if err != nil {
		return err
	}
	if err := attach.Check(o.pid); err != nil {
		return err
	}
	t, err := sampler.Open(o.pid, log)
	if err != nil {
		return err
	}
	defer t.Close()
	threads, err := t.Snapshot()
	if err != nil {
		return err
	}
	threads = filterStacks(filter, t.Pid, threads)
	if o.json {
		return writeDumpJSON(stdout, t, threads)
	}
	return writeDumpText(stdout, t, threads)
}

func writeDumpText(w io.Writer, t *sampler.Target, threads []sampler.ThreadStack) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Process %d: %s\nPython v%s\n", t.Pid, strings.Join(t.Cmdline, " "), t.Interp.Version)
	for _, th := range threads {
		state := "active"
		if th.Idle {
			state = "idle"
		}
		if th.HasGIL {
			state += "+gil"
		}
		fmt.Fprintf(&b, "\nThread %d (%s): %q\n", th.NativeID, state, th.Name)
		for _, f := range th.Frames {
			fmt.Fprintf(&b, "    %s (%s:%d)\n", f.Code.Name, f.Code.File, f.Line)
		}
		if th.Err != nil {
			fmt.Fprintf(&b, "    <error reading stack: %v>\n", th.Err)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

type jsonFrame struct {
	Name string `json:"name"`
	File string `json:"file"`
	Line int    `json:"line"`
}

type jsonThread struct {
	ThreadID uint64      `json:"thread_id"`
	NativeID int         `json:"native_id"`
	Name     string      `json:"name"`
	GIL      bool        `json:"gil"`
	Idle     bool        `json:"idle"`
	OSState  string      `json:"os_state,omitempty"`
	Frames   []jsonFrame `json:"frames"`
	Error    string      `json:"error,omitempty"`
}

func writeDumpJSON(w io.Writer, t *sampler.Target, threads []sampler.ThreadStack) error {
	out := struct {
		Pid     int          `json:"pid"`
		Cmdline []string     `json:"cmdline"`
		Version string       `json:"python_version"`
		Threads []jsonThread `json:"threads"`
	}{Pid: t.Pid, Cmdline: t.Cmdline, Version: t.Interp.Version.String()}
	for _, th := range threads {
		jt := jsonThread{ThreadID: th.ThreadID, NativeID: th.NativeID, Name: th.Name, GIL: th.HasGIL, Idle: th.Idle, Frames: []jsonFrame{}}
		if th.OSState != 0 {
			jt.OSState = string(th.OSState)
		}
		if th.Err != nil {
			jt.Error = th.Err.Error()
		}
		for _, f := range th.Frames {
			jt.Frames = append(jt.Frames, jsonFrame{Name: f.Code.Name, File: f.Code.File, Line: f.Line})
		}
		out.Threads = append(out.Threads, jt)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
