package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/pyspyglass/pyspyglass/attach"
	"github.com/pyspyglass/pyspyglass/hang"
	"github.com/pyspyglass/pyspyglass/native"
	"github.com/pyspyglass/pyspyglass/procmem"
	"github.com/pyspyglass/pyspyglass/sampler"
)

type dumpOptions struct {
	threadFlags
	pids         pidsValue
	json         bool
	log          string
	locals       int // -l once: locals; twice or --locals-all: without item limits
	localsAll    bool
	subprocesses bool
	nonblocking  bool
	native       bool
	nativeAll    bool
	async        bool
}

func runDump(args []string, stdout, stderr io.Writer) error {
	var o dumpOptions
	fs := newFlags("dump", "Print every thread of a running process: its stack, what it waits on and who holds it, and any deadlock.",
		"pyspyglass dump --pid PID [--pid PID ...] [--locals] [--subprocesses] [--json]", stderr)
	fs.VarP(&o.pids, "pid", "p", "a running Python process (repeatable: each is dumped in turn)")
	fs.BoolVar(&o.json, "json", false, "write JSON instead of text (an array when several processes are dumped)")
	fs.StringVar(&o.log, "log", "warn", "`LEVEL` of logging: debug shows each step of finding the interpreter")
	fs.CountVarP(&o.locals, "locals", "l", "show each frame's arguments and locals (-ll: all items, within hard bounds)")
	fs.BoolVar(&o.localsAll, "locals-all", false, "show locals with the item limits lifted (same as -ll)")
	fs.BoolVarP(&o.subprocesses, "subprocesses", "s", false, "dump every process of the tree under each PID too")
	fs.BoolVar(&o.nonblocking, "nonblocking", false, "do not stop the target while reading (the dump may be inconsistent)")
	fs.BoolVarP(&o.native, "native", "n", false, "merge each thread's C/C++ stack with its Python frames, and show threads without Python (x86_64)")
	fs.BoolVar(&o.nativeAll, "native-all", false, "with --native, keep the interpreter's own call and start-up frames")
	fs.BoolVar(&o.async, "async", false, "show each thread running an asyncio task as that task's await chain, and list every task as a tree (CPython 3.11+)")
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
	if err := checkNative(&targetFlags{native: o.native, nativeAll: o.nativeAll, nonblocking: o.nonblocking, async: o.async}); err != nil {
		return err
	}
	log, err := newLogger(o.log, stderr)
	if err != nil {
		return err
	}
	pids := []int(o.pids)
	if o.subprocesses {
		pids = nil
		for _, pid := range o.pids {
			kids, err := attach.Descendants(pid)
			if err != nil {
				return err
			}
			pids = append(append(pids, pid), kids...)
		}
	}
	opts := hang.Options{Locals: o.locals > 0, LocalsAll: o.localsAll || o.locals > 1, NativeAll: o.nativeAll, Async: o.async}
	// Each process is dumped in turn; one that fails is reported and the
	// others still dumped. A child that is not Python is only logged.
	var dumps []*hang.Dump
	var errs []error
	for _, pid := range pids {
		d, err := dumpOne(pid, opts, !o.nonblocking, o.native, log)
		switch {
		case err != nil && len(pids) == 1:
			return err
		case err != nil && !containsPid(o.pids, pid):
			log.Info("subprocess skipped", "pid", pid, "err", err)
			continue
		case err != nil:
			fmt.Fprintf(stderr, "pyspyglass: pid %d: %s\n", pid, explain(err))
			errs = append(errs, err)
			continue
		}
		// Waits and holders are worked out on every thread; the filter
		// only chooses which are shown.
		if filter.Active() {
			if d.Asyncio != nil {
				d.Asyncio = filterTasks(d.Asyncio, d.Threads, filter, pid)
			}
			kept := d.Threads[:0]
			for _, th := range d.Threads {
				if filter.Keep(pid, th.NativeID, th.Name) {
					kept = append(kept, th)
				}
			}
			d.Threads = kept
		}
		dumps = append(dumps, d)
	}
	if o.json {
		err = hang.WriteJSON(stdout, dumps, len(pids) > 1)
	} else {
		err = hang.WriteText(stdout, dumps)
	}
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		return &exitError{code: 1}
	}
	return nil
}

func containsPid(pids pidsValue, pid int) bool {
	for _, p := range pids {
		if p == pid {
			return true
		}
	}
	return false
}

// dumpOne reads one process, stopped for the read unless !stop.
func dumpOne(pid int, opts hang.Options, stop, withNative bool, log *slog.Logger) (*hang.Dump, error) {
	if err := attach.Check(pid); err != nil {
		return nil, err
	}
	t, err := sampler.Open(pid, log)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	var note string
	if opts.Async {
		if err := t.EnableAsync(); sampler.AsyncUnsupported(err) {
			return nil, fmt.Errorf("--async: pid %d: %w", pid, err)
		} else if err != nil {
			// 3.14+ before asyncio is imported: no task to show.
			opts.Async, note = false, "asyncio tasks: none ("+err.Error()+")"
		}
	}
	d, err := takeDump(t, pid, opts, stop, withNative)
	if d != nil && note != "" {
		d.Notes = append(d.Notes, note)
	}
	return d, err
}

// filterTasks keeps the tasks whose event loop runs in a thread the
// filter keeps, and those whose thread is not known.
func filterTasks(a *hang.Asyncio, threads []hang.Thread, f sampler.ThreadFilter, pid int) *hang.Asyncio {
	names := map[int]string{}
	for _, th := range threads {
		names[th.NativeID] = th.Name
	}
	return a.Only(func(tid int) bool { return tid == 0 || f.Keep(pid, tid, names[tid]) })
}

// takeDump reads t, stopped for the read unless !stop.
func takeDump(t *sampler.Target, pid int, opts hang.Options, stop, withNative bool) (*hang.Dump, error) {
	if !stop {
		return hang.Take(t, opts, nil)
	}
	if d := takeAlone(t, pid, opts, withNative); d != nil {
		return d, nil
	}
	p, err := attach.NewPauser(pid)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	if withNative {
		opts.NativeRegs = func() ([]native.ThreadRegs, error) {
			regs, err := p.Registers(nil)
			return toNativeRegs(regs), err
		}
	}
	return hang.Take(t, opts, detachOnResume{p})
}

// takeAlone dumps a process of one thread without stopping it, or
// returns nil. With no other thread there is no picture across threads
// to keep consistent, and the walk of one stack detects a read torn by
// the running thread; so the stop (seizing, interrupting, waiting for the
// stop, detaching: most of a dump of a busy process on a loaded machine)
// buys nothing unless the read fails. It does not cover what needs the
// stop itself (registers for --native) or reads values that move while
// the thread runs (--locals, the --async task graph). A second thread
// started meanwhile, a stack not read whole or a note of anything not
// read sends the dump the stopped way.
func takeAlone(t *sampler.Target, pid int, opts hang.Options, withNative bool) *hang.Dump {
	if withNative || opts.Locals || opts.LocalsAll || opts.Async {
		return nil
	}
	if tids, err := procmem.Threads(pid); err != nil || len(tids) != 1 {
		return nil
	}
	d, err := hang.Take(t, opts, nil)
	if err != nil || len(d.Threads) != 1 || d.Threads[0].Error != "" || len(d.Notes) > 0 {
		return nil
	}
	if tids, err := procmem.Threads(pid); err != nil || len(tids) != 1 {
		return nil
	}
	return d
}

// detachOnResume ends the one stop of a dump by detaching: a Resume and
// then Close would stop every thread a second time only to detach it.
type detachOnResume struct{ *attach.Pauser }

func (d detachOnResume) Resume() error { return d.Close() }
