package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gdamore/tcell/v2"
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p := prof.New(time.Now())
	s, err := openSession(ctx, &o.targetFlags, fs.Args(), p, sampler.Options{Rate: float64(o.rate), Idle: o.idle, GILOnly: o.gil}, log)
	if s != nil {
		defer s.Close()
	}
	if err != nil {
		return childExit(ctx, s, err)
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
		Header: top.HeaderInfo{Pids: s.sampler.Pids(), Command: s.command, Python: s.python, Rate: float64(o.rate)}}

	f, isFile := stdout.(*os.File)
	if o.once || !isFile || !term.IsTerminal(int(f.Fd())) {
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
		return childExit(sigCtx, s, s.sampler.Err())
	}

	screen, err := tcell.NewScreen()
	if err != nil {
		return err
	}
	err = top.Run(screen, s.sampler, opts)
	cancel()
	<-s.sampler.Done()
	if err != nil && !strings.Contains(err.Error(), "exited") {
		return err
	}
	return childExit(sigCtx, s, err)
}
