package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/pyspyglass/pyspyglass/attach"
	"github.com/pyspyglass/pyspyglass/sampler"
	"github.com/pyspyglass/pyspyglass/sampler/prof"
	"github.com/pyspyglass/pyspyglass/ui/top"
	"golang.org/x/term"
)

type topFlags struct {
	targetFlags
	delay secondsValue
	once  bool
	lines bool
}

func runTop(args []string, stdout, stderr io.Writer) error {
	var o topFlags
	o.delay = secondsValue(time.Second)
	fs := newFlags("top", "Show a live, top-like view of the functions a Python process spends its time in.",
		"pyspyglass top [options] --pid PID\n  pyspyglass top [options] -- python app.py [args]", stderr)
	o.bind(fs)
	fs.Var(&o.delay, "delay", "seconds between screen refreshes (and the sampling time of --once)")
	fs.BoolVar(&o.once, "once", false, "sample for one --delay, print the table as text and exit")
	fs.BoolVar(&o.lines, "lines", false, "aggregate by line instead of by function (key L toggles)")
	fs.SetInterspersed(false)
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := newLogger(o.log, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	f, isFile := stdout.(*os.File)
	interactive := !o.once && isFile && term.IsTerminal(int(f.Fd()))
	// A launched command must not write into the table: on screen its
	// output goes to a file named in the header, and it reads no keys;
	// as text, its output goes to stderr so stdout holds the table only.
	var launch attach.LaunchOptions
	var outName string
	if fs.NArg() > 0 {
		launch.Stdout = os.Stderr
		if interactive {
			out, err := os.CreateTemp("", "pyspyglass-top-*.log")
			if err != nil {
				return fmt.Errorf("a file for the command's output: %w", err)
			}
			defer out.Close()
			devnull, err := os.Open(os.DevNull)
			if err != nil {
				return err
			}
			defer devnull.Close()
			outName = out.Name()
			launch.Stdin, launch.Stdout, launch.Stderr = devnull, out, out
		}
	}
	p := prof.New(time.Now())
	s, err := openSession(ctx, &o.targetFlags, fs.Args(), launch, p, sampler.Options{Rate: float64(o.rate), Idle: o.idle, GILOnly: o.gil}, log)
	if s != nil {
		defer s.Close()
	}
	if err != nil {
		return childExit(ctx, s, err, true)
	}
	if o.subprocesses {
		go s.follow(ctx)
	}
	// sampling ends with a signal (sigCtx) or when the view is left.
	sigCtx := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.sampler.Run(ctx)
	opts := top.Options{Delay: time.Duration(o.delay), ShowIdle: o.idle, Lines: o.lines, Threads: s.sampler.ThreadFilter().String(), Opcodes: o.opcodes,
		Header: top.HeaderInfo{Pids: s.sampler.Pids(), Command: s.command, Python: s.python, Rate: float64(o.rate), Output: outName}}

	if !interactive {
		select {
		case <-time.After(time.Duration(o.delay)):
		case <-s.sampler.Done():
		case <-ctx.Done():
		}
		cancel()
		<-s.sampler.Done()
		s.sampler.View(func(p *prof.Profile) { err = top.WriteText(stdout, p, opts) })
		if err != nil {
			return err
		}
		// One --delay was the duration: a command still running is stopped.
		return childExit(sigCtx, s, s.sampler.Err(), true)
	}

	screen, err := tcell.NewScreen()
	if err != nil {
		return err
	}
	err = top.Run(screen, s.sampler, opts)
	cancel()
	<-s.sampler.Done()
	if s.child != nil && outName != "" {
		fmt.Fprintf(stderr, "pyspyglass: the command's output is in %s\n", outName)
	}
	if errors.Is(err, top.ErrInterrupted) {
		// Ctrl-C in the view: the command gets it as it would have.
		return childExit(sigCtx, s, nil, true)
	}
	if err != nil && !strings.Contains(err.Error(), "exited") {
		return childExit(sigCtx, s, err, true)
	}
	if s.child != nil && !exited(s.child) && sigCtx.Err() == nil {
		// q leaves the view, not the program: it runs on unprofiled.
		fmt.Fprintf(stderr, "pyspyglass: left the command running (pid %d); Ctrl-C in top stops it instead of q\n", s.child.Pid)
		return nil
	}
	return childExit(sigCtx, s, err, false)
}
