package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/pyspyglass/pyspyglass/attach"
	"github.com/pyspyglass/pyspyglass/sampler"
)

type dumpOptions struct {
	threadFlags
	pids pidsValue
	json bool
	log  string
}

func runDump(args []string, stdout, stderr io.Writer) error {
	var o dumpOptions
	fs := newFlags("dump", "Print the current Python stack of every thread of a running process.",
		"pyspyglass dump --pid PID [--pid PID ...] [--json]", stderr)
	fs.VarP(&o.pids, "pid", "p", "a running Python process (repeatable: each is dumped in turn)")
	fs.BoolVar(&o.json, "json", false, "write JSON instead of text (an array when several --pid are given)")
	fs.StringVar(&o.log, "log", "warn", "`LEVEL` of logging: debug shows each step of finding the interpreter")
	o.threadFlags.bind(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	filter, err := o.filter()
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("dump takes no arguments, got %q: give the process with --pid PID", fs.Args())
	}
	if len(o.pids) == 0 {
		return fmt.Errorf("dump needs --pid PID (see pyspyglass dump --help)")
	}
	log, err := newLogger(o.log, stderr)
	if err != nil {
		return err
	}
	// Each pid is dumped in turn; one that fails is reported and the
	// others still dumped.
	var docs []jsonDump
	var errs []error
	for i, pid := range o.pids {
		doc, err := dumpOne(pid, filter, log)
		if err != nil {
			if len(o.pids) == 1 {
				return err
			}
			fmt.Fprintf(stderr, "pyspyglass: pid %d: %s\n", pid, explain(err))
			errs = append(errs, err)
			continue
		}
		if o.json {
			docs = append(docs, doc)
			continue
		}
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		if err := writeDumpText(stdout, doc); err != nil {
			return err
		}
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		var err error
		if len(o.pids) == 1 {
			err = enc.Encode(docs[0])
		} else {
			err = enc.Encode(docs)
		}
		if err != nil {
			return err
		}
	}
	if len(errs) > 0 {
		return &exitError{code: 1}
	}
	return nil
}

// dumpOne reads every thread's stack of pid once.
func dumpOne(pid int, filter sampler.ThreadFilter, log *slog.Logger) (jsonDump, error) {
	if err := attach.Check(pid); err != nil {
		return jsonDump{}, err
	}
	t, err := sampler.Open(pid, log)
	if err != nil {
		return jsonDump{}, err
	}
	defer t.Close()
	threads, err := t.Snapshot()
	if err != nil {
		return jsonDump{}, err
	}
	return dumpDoc(t, filterStacks(filter, t.Pid, threads)), nil
}

// writeDumpText writes a dump as py-spy's dump prints it.
func writeDumpText(w io.Writer, d jsonDump) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Process %d: %s\nPython v%s\n", d.Pid, strings.Join(d.Cmdline, " "), d.Version)
	several := false
	for _, th := range d.Threads {
		several = several || th.Interp != d.Threads[0].Interp
	}
	for i, th := range d.Threads {
		if several && (i == 0 || th.Interp != d.Threads[i-1].Interp) {
			fmt.Fprintf(&b, "\n%s\n", interpreterTitle(th.Interp))
		}
		state := "active"
		if th.Idle {
			state = "idle"
		}
		if th.GIL {
			state += "+gil"
		}
		fmt.Fprintf(&b, "\nThread %d (%s): %q\n", th.NativeID, state, th.Name)
		for _, f := range th.Frames {
			fmt.Fprintf(&b, "    %s (%s:%d)\n", f.Name, f.File, f.Line)
		}
		if th.Error != "" {
			fmt.Fprintf(&b, "    <error reading stack: %s>\n", th.Error)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// interpreterTitle heads the threads of one interpreter of a process
// running sub-interpreters.
func interpreterTitle(id int64) string {
	if id == 0 {
		return "Main interpreter (id 0):"
	}
	return fmt.Sprintf("Interpreter %d:", id)
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
	Interp   int64       `json:"interpreter_id"`
	GIL      bool        `json:"gil"`
	Idle     bool        `json:"idle"`
	OSState  string      `json:"os_state,omitempty"`
	Frames   []jsonFrame `json:"frames"`
	Error    string      `json:"error,omitempty"`
}

// jsonDump is one process's dump, as --json writes it.
type jsonDump struct {
	Pid     int          `json:"pid"`
	Cmdline []string     `json:"cmdline"`
	Version string       `json:"python_version"`
	Threads []jsonThread `json:"threads"`
}

func dumpDoc(t *sampler.Target, threads []sampler.ThreadStack) jsonDump {
	out := jsonDump{Pid: t.Pid, Cmdline: t.Cmdline, Version: t.Interp.Version.String()}
	for _, th := range threads {
		jt := jsonThread{ThreadID: th.ThreadID, NativeID: th.NativeID, Name: th.Name, Interp: th.InterpID, GIL: th.HasGIL, Idle: th.Idle, Frames: []jsonFrame{}}
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
	return out
}
