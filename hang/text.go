package hang

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// width is what the text keeps to where it can: header lines that would
// be longer put the thread's wait on a line of its own.
const width = 80

// WriteText writes dumps as text: per process a header, the deadlock
// verdict if any, then every thread with its wait and stack.
func WriteText(w io.Writer, dumps []*Dump) error {
	var b strings.Builder
	for n, d := range dumps {
		if n > 0 {
			b.WriteString("\n")
		}
		writeText(&b, d)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeText(b *strings.Builder, d *Dump) {
	fmt.Fprintf(b, "Process %d: %s\nPython v%s\n", d.Pid, strings.Join(d.Cmdline, " "), d.Version)
	if len(d.Deadlock) > 0 {
		var parts []string
		for _, e := range d.Deadlock {
			parts = append(parts, fmt.Sprintf("%q waits for %s (held by %q) at %s:%d",
				e.Thread, e.Object, e.Holder, filepath.Base(e.File), e.Line))
		}
		// One wait of the cycle per line, to keep within 80 columns.
		fmt.Fprintf(b, "DEADLOCK: %s\n", strings.Join(parts, ";\n          "))
	}
	for _, note := range d.Notes {
		fmt.Fprintf(b, "note: %s\n", note)
	}
	several := false
	for _, th := range d.Threads {
		several = several || th.Interp != d.Threads[0].Interp
	}
	for i, th := range d.Threads {
		// Threads come sorted by interpreter; a process running
		// sub-interpreters gets a title per interpreter.
		if several && (i == 0 || th.Interp != d.Threads[i-1].Interp) {
			fmt.Fprintf(b, "\n%s\n", interpreterTitle(th.Interp))
		}
		// py-spy's header, with the thread's wait after its state; a wait
		// too long for the line goes on a line of its own.
		state, wait := threadState(th)
		if line := fmt.Sprintf("Thread %d (%s, %s): %q", th.NativeID, state, wait, th.Name); wait != "" && len(line) <= width {
			fmt.Fprintf(b, "\n%s\n", line)
		} else {
			fmt.Fprintf(b, "\nThread %d (%s): %q\n", th.NativeID, state, th.Name)
			if wait != "" {
				fmt.Fprintf(b, "    in %s\n", wait)
			}
		}
		if w := th.Wait; w != nil {
			fmt.Fprintf(b, "    %s\n", waitText(w))
		}
		for _, f := range th.Frames {
			switch {
			case f.Line > 0 || f.Kind == "":
				fmt.Fprintf(b, "    %s (%s:%d)\n", f.Name, f.File, f.Line)
			case f.File != "": // a native frame without line tables
				fmt.Fprintf(b, "    %s (%s)\n", f.Name, f.File)
			default:
				fmt.Fprintf(b, "    %s\n", f.Name)
			}
			writeVars(b, f.Locals)
		}
		if th.Error != "" {
			fmt.Fprintf(b, "    <error reading stack: %s>\n", th.Error)
		}
	}
	if d.Asyncio != nil {
		writeAsyncio(b, d.Asyncio, d.Threads)
	}
}

// interpreterTitle heads the threads of one interpreter.
func interpreterTitle(id int64) string {
	if id == 0 {
		return "Main interpreter (id 0):"
	}
	return fmt.Sprintf("Interpreter %d:", id)
}

// threadState is the header's state (active or idle, +gil, or waiting
// for the GIL, which is neither) and the thread's OS wait, "" for a
// running thread.
func threadState(th Thread) (state, wait string) {
	state = "active"
	if th.Idle {
		state = "idle"
	}
	if th.GIL {
		state += "+gil"
	}
	switch {
	case th.WaitsGIL:
		state = "waiting for the GIL"
	case th.OSWait != nil && th.OSWait.Kind != "running":
		wait = th.OSWait.Text
	}
	return state, wait
}

// waitText is the line under a thread's header naming what it waits on:
// "waits to acquire lock_b (Lock 0x...), held by "worker-2" (inferred)"
// or "waits in jobs.get() (queue.Queue 0x...)".
func waitText(w *Wait) string {
	what := fmt.Sprintf("(%s %s)", w.Type, w.Object)
	var s string
	switch {
	case w.Op == "acquire" && w.Name != "":
		s = fmt.Sprintf("waits to acquire %s %s", w.Name, what)
	case w.Op == "acquire":
		s = "waits to acquire " + what
	case w.Name != "":
		s = fmt.Sprintf("waits in %s.%s() %s", w.Name, w.Op, what)
	default:
		s = fmt.Sprintf("waits in %s() %s", w.Op, what)
	}
	if len(w.Holders) == 0 {
		return s
	}
	var hs []string
	inferred := false
	for _, h := range w.Holders {
		hs = append(hs, fmt.Sprintf("%q", h.Name))
		inferred = inferred || h.Inferred
	}
	if w.Op == "join" {
		return s + ", until " + strings.Join(hs, ", ") + " ends"
	}
	s += ", held by " + strings.Join(hs, ", ")
	if inferred {
		s += " (inferred)"
	}
	return s
}

func writeVars(b *strings.Builder, vars []Var) {
	var args, locals []Var
	for _, v := range vars {
		if v.Arg {
			args = append(args, v)
		} else {
			locals = append(locals, v)
		}
	}
	for _, group := range []struct {
		title string
		vars  []Var
	}{{"Arguments:", args}, {"Locals:", locals}} {
		if len(group.vars) == 0 {
			continue
		}
		fmt.Fprintf(b, "        %s\n", group.title)
		for _, v := range group.vars {
			fmt.Fprintf(b, "            %s = %s\n", v.Name, v.Repr)
		}
	}
}

// WriteJSON writes one dump as an object, or with several (more than one
// --pid, --subprocesses) an array of them.
func WriteJSON(w io.Writer, dumps []*Dump, several bool) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if !several && len(dumps) == 1 {
		return enc.Encode(dumps[0])
	}
	if dumps == nil {
		dumps = []*Dump{}
	}
	return enc.Encode(dumps)
}
