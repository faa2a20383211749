package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pyspyglass/pyspyglass/sampler"
	"github.com/pyspyglass/pyspyglass/sampler/prof"
	"github.com/pyspyglass/pyspyglass/ui/render"
	"golang.org/x/term"
)

type recordFlags struct {
	targetFlags
	output        string
	format        string
	duration      secondsValue
	threads       bool
	function      bool
	nolineno      bool
	fullFilenames bool
	title         string
	linesTop      int
}

func runRecord(args []string, stdout, stderr io.Writer) error {
	var o recordFlags
	fs := newFlags("record", "Record samples of a Python process into a flamegraph or another profile format.",
		"pyspyglass record [options] --pid PID\n  pyspyglass record [options] -- python app.py [args]", stderr)
	o.bind(fs)
	fs.StringVarP(&o.output, "output", "o", "", "output file (default: pyspyglass-TIME.EXT)")
	fs.StringVarP(&o.format, "format", "f", "", "output format: "+strings.Join(render.Names(), ", ")+" (default: from the file name, else flamegraph)")
	fs.VarP(&o.duration, "duration", "d", "stop after this many seconds (default: until Ctrl-C or the target exits)")
	fs.BoolVarP(&o.threads, "threads", "t", false, "add a root frame per thread (id and name)")
	fs.BoolVarP(&o.function, "function", "F", false, "aggregate by function (its first line) instead of by line")
	fs.BoolVar(&o.nolineno, "nolineno", false, "do not record line numbers")
	fs.BoolVar(&o.fullFilenames, "full-filenames", false, "show full file paths instead of shortened ones")
	fs.StringVar(&o.title, "title", "", "title of the flamegraph")
	fs.IntVar(&o.linesTop, "lines-top", 10, "functions in --format lines and lines-html")
	fs.SetInterspersed(false)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.linesTop < 1 {
		return fmt.Errorf("--lines-top %d: want 1 or more functions", o.linesTop)
	}
	log, err := newLogger(o.log, stderr)
	if err != nil {
		return err
	}
	format, err := pickFormat(o.format, &o.output)
	if err != nil {
		return err
	}
	// Fail before sampling, not after minutes of it.
	if err := render.CheckWritable(o.output); err != nil {
		return err
	}

	// Take SIGUSR1 from the start: its default action would kill us.
	flush := make(chan os.Signal, 1)
	signal.Notify(flush, syscall.SIGUSR1)
	defer signal.Stop(flush)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p := prof.New(time.Now())
	p.KeepTimeline = render.WantsTimeline(format)
	s, err := openSession(ctx, &o.targetFlags, fs.Args(), p, sampler.Options{
		Rate: float64(o.rate), Duration: time.Duration(o.duration), Idle: o.idle, GILOnly: o.gil,
		ThreadRoots: o.threads, Function: o.function, NoLineNo: o.nolineno, FullFilenames: o.fullFilenames,
		Sources: render.WantsSources(format),
	}, log)
	if s != nil {
		defer s.Close()
	}
	if err != nil {
		return childExit(ctx, s, err)
	}
	if o.subprocesses {
		go s.follow(ctx)
	}
	ropts := render.Options{Title: o.title, LinesTop: o.linesTop}

	go s.sampler.Run(ctx)
	fmt.Fprintf(stderr, "pyspyglass: sampling %s at %v Hz; Ctrl-C to stop and write %s\n", describe(p), o.rate.String(), o.output)
	progress := newProgress(stderr)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
loop:
	for {
		select {
		case <-s.sampler.Done():
			break loop
		case <-flush:
			if err := write(s.sampler, o.output, format, ropts); err != nil {
				fmt.Fprintf(stderr, "pyspyglass: flush: %v\n", err)
			} else {
				fmt.Fprintf(stderr, "\npyspyglass: wrote %s so far\n", o.output)
			}
		case <-tick.C:
			s.sampler.View(func(p *prof.Profile) { progress.show(p) })
		}
	}
	progress.end()
	if err := write(s.sampler, o.output, format, ropts); err != nil {
		return err
	}
	s.sampler.View(func(p *prof.Profile) { summary(stderr, p, o.output) })
	return childExit(ctx, s, s.sampler.Err())
}

// pickFormat resolves --format and -o: each may imply the other.
func pickFormat(name string, output *string) (render.Format, error) {
	var f render.Format
	var err error
	switch {
	case name != "":
		f, err = render.ByName(name)
	case *output != "":
		f, err = render.FromPath(*output)
	default:
		f = render.Flamegraph{}
	}
	if err != nil {
		return nil, err
	}
	if *output == "" {
		*output = "pyspyglass-" + time.Now().Format("20060102-150405") + f.Ext()
	}
	*output = filepath.Clean(*output)
	return f, nil
}

// write renders a snapshot of the profile to path: sampling goes on while
// the file is written.
func write(s *sampler.Sampler, path string, f render.Format, o render.Options) error {
	return render.WriteFile(path, f, s.Snapshot(), o)
}

// childExit waits for a launched child and passes its exit code on; an
// earlier error wins. A child still running when sampling ended (by
// --duration, or by the user leaving top) is interrupted as Ctrl-C would,
// and killed if it does not exit within a grace period. After a Ctrl-C,
// which the child got too, it first has that grace period to finish.
func childExit(ctx context.Context, s *session, err error) error {
	if s == nil || s.child == nil {
		return err
	}
	first := time.Duration(0)
	if ctx.Err() != nil {
		first = childGrace
	}
	select {
	case <-s.child.Exited():
	case <-time.After(first):
		s.child.Signal(os.Interrupt)
		select {
		case <-s.child.Exited():
		case <-time.After(childGrace):
			s.child.Signal(os.Kill)
		}
	}
	code, werr := s.child.Wait()
	if err != nil {
		return err
	}
	if werr != nil {
		return werr
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// describe names what is sampled, for the start line.
func describe(p *prof.Profile) string {
	if p.Target == "" {
		return "nothing (the command exited)"
	}
	return p.Target
}

// childGrace is how long a launched child has to exit after SIGINT.
const childGrace = 3 * time.Second

func summary(w io.Writer, p *prof.Profile, path string) {
	h := p.Health
	fmt.Fprintf(w, "pyspyglass: wrote %s: %d samples in %.1fs (%.0f Hz of %.0f requested), %d thread samples, %d errors, %d late\n",
		path, h.Samples, h.Elapsed.Seconds(), h.AchievedRate(), h.Rate, p.Total(), h.Errors, h.Late)
}

// progress is the one-line live status on a terminal's stderr.
type progress struct {
	w  io.Writer
	on bool
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, on: ok && term.IsTerminal(int(f.Fd()))}
}

func (pr *progress) show(p *prof.Profile) {
	if !pr.on {
		return
	}
	h := p.Health
	lag := time.Duration(0)
	if h.Late > 0 {
		lag = h.TotalLag / time.Duration(h.Late)
	}
	fmt.Fprintf(pr.w, "\r\033[K%s  %d samples  %.0f/%.0f Hz  lag %v  errors %d",
		h.Elapsed.Truncate(time.Second), h.Samples, h.AchievedRate(), h.Rate, lag.Truncate(time.Microsecond), h.Errors)
}

func (pr *progress) end() {
	if pr.on {
		fmt.Fprint(pr.w, "\r\033[K")
	}
}
