package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pyspyglass/pyspyglass/attach"
	"github.com/pyspyglass/pyspyglass/pyabi"
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
	icicle        bool
	linesTop      int
	upload        uploadFlags
}

func runRecord(args []string, stdout, stderr io.Writer) error {
	var o recordFlags
	fs := newFlags("record", "Record samples of a Python process into a flamegraph or another profile format.",
		"pyspyglass record [options] --pid PID\n  pyspyglass record [options] -- python app.py [args]", stderr)
	o.bind(fs)
	fs.StringVarP(&o.output, "output", "o", "", "output `FILE`, - for stdout (default: pyspyglass-TIME.svg, or the --format's extension)")
	fs.StringVarP(&o.format, "format", "f", "", "output `FORMAT`: "+strings.Join(render.Names(), ", ")+
		"; raw is accepted as py-spy's name for collapsed (default: from the file name; flamegraph when it has no known "+
		"ending; collapsed for -o -)")
	fs.VarP(&o.duration, "duration", "d", "stop after this many seconds (default: until Ctrl-C or the target exits); a launched command is then stopped")
	fs.BoolVarP(&o.threads, "threads", "t", false, "add a root frame per thread (id and name)")
	fs.BoolVarP(&o.function, "function", "F", false, "aggregate by function (its first line) instead of by line")
	fs.BoolVar(&o.nolineno, "nolineno", false, "do not record line numbers")
	fs.BoolVar(&o.fullFilenames, "full-filenames", false, "show full file paths instead of shortened ones")
	fs.StringVar(&o.title, "title", "", "`TITLE` of the flamegraph")
	fs.BoolVar(&o.icicle, "icicle", false, "draw the flamegraph root at the top (icicle, as py-spy draws it)")
	fs.IntVar(&o.linesTop, "lines-top", 10, "`N` functions in --format lines and lines-html")
	o.upload.bind(fs)
	fs.SetInterspersed(false)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.linesTop < 1 {
		return fmt.Errorf("--lines-top %d: want 1 or more functions", o.linesTop)
	}
	if err := o.upload.check(fs); err != nil {
		return err
	}
	// With --upload or --output-dir, the whole recording is written only
	// when -o or -f asks for it.
	whole := !o.upload.enabled() || fs.Changed("output") || fs.Changed("format")
	log, err := newLogger(o.log, stderr)
	if err != nil {
		return err
	}
	format, err := pickFormat(o.format, &o.output, stderr)
	if err != nil {
		return err
	}
	if _, ok := format.(render.Callgrind); ok {
		// callgrind_annotate and KCachegrind open the sources by these names.
		o.fullFilenames = true
	}
	toStdout := o.output == "-"
	var launch attach.LaunchOptions
	if toStdout {
		if err := checkStdout(stdout, format); err != nil {
			return err
		}
		// The profile owns our stdout: the command's output goes to stderr.
		launch.Stdout = os.Stderr
	} else if err := render.CheckWritable(o.output); whole && err != nil {
		// Fail before sampling, not after minutes of it.
		return err
	}

	// Take SIGUSR1 from the start: its default action would kill us.
	flush := make(chan os.Signal, 1)
	signal.Notify(flush, syscall.SIGUSR1)
	defer signal.Stop(flush)
	// A closed terminal or SSH session (SIGHUP) ends the recording like
	// SIGTERM: what was recorded is written.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	p := prof.New(time.Now())
	p.KeepTimeline = render.WantsTimeline(format)
	s, err := openSession(ctx, &o.targetFlags, fs.Args(), launch, p, sampler.Options{
		Rate: float64(o.rate), Idle: o.idle, GILOnly: o.gil,
		ThreadRoots: o.threads, Function: o.function, NoLineNo: o.nolineno, FullFilenames: o.fullFilenames,
		Sources: render.WantsSources(format),
	}, log)
	if s != nil {
		defer s.Close()
	}
	if err != nil {
		return childExit(ctx, s, err, true)
	}
	if o.subprocesses {
		go s.follow(ctx)
	}
	ropts := render.Options{Title: o.title, LinesTop: o.linesTop, Icicle: o.icicle}
	var up *uploading
	if o.upload.enabled() {
		if up, err = startUpload(&o.upload, s, log); err != nil {
			return childExit(ctx, s, err, true)
		}
	}

	// The duration is timed here rather than in the sampler so that its
	// end is told apart from the target exiting.
	sampling, endSampling := context.WithCancel(ctx)
	defer endSampling()
	var deadline <-chan time.Time
	if o.duration > 0 {
		dt := time.NewTimer(time.Duration(o.duration))
		defer dt.Stop()
		deadline = dt.C
	}
	go s.sampler.Run(sampling)
	dest := outputName(o.output)
	if up != nil {
		dest = up.dest(whole, dest)
	}
	fmt.Fprintf(stderr, "pyspyglass: sampling %s at %v Hz; Ctrl-C to stop and write %s\n", describe(p), o.rate.String(), dest)
	progress := newProgress(stderr)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	durationEnded := false
loop:
	for {
		select {
		case <-s.sampler.Done():
			break loop
		case <-deadline:
			durationEnded = true
			endSampling()
			<-s.sampler.Done()
			break loop
		case <-flush:
			if toStdout {
				fmt.Fprintf(stderr, "\npyspyglass: SIGUSR1 ignored: the profile goes to stdout once, at the end\n")
			} else if err := write(s.sampler, o.output, format, ropts); err != nil {
				fmt.Fprintf(stderr, "pyspyglass: flush: %v\n", err)
			} else {
				fmt.Fprintf(stderr, "\npyspyglass: wrote %s so far\n", o.output)
			}
		case <-up.ticks():
			up.cut(s.sampler)
		case <-tick.C:
			extra := up.status()
			s.sampler.View(func(p *prof.Profile) { progress.show(p, extra) })
		}
	}
	progress.end()
	if up != nil {
		up.finish(s.sampler, stderr)
	}
	var saveErr error
	if whole {
		saveErr = save(s.sampler, o.output, format, ropts, stdout)
	}
	if saveErr == nil {
		s.sampler.View(func(p *prof.Profile) { summary(stderr, p, dest) })
	}
	// Our duration ending is not the command failing: it is stopped and
	// its exit status is not ours.
	stopped := durationEnded && s.child != nil && !exited(s.child)
	if stopped {
		fmt.Fprintf(stderr, "pyspyglass: stopped the command (pid %d) at the end of the %v duration\n",
			s.child.Pid, time.Duration(o.duration))
	}
	err = childExit(ctx, s, s.sampler.Err(), stopped || s.sampler.Err() != nil)
	switch {
	case saveErr != nil:
		return saveErr
	case stopped:
		return s.sampler.Err()
	}
	return err
}

func exited(c *attach.Child) bool {
	select {
	case <-c.Exited():
		return true
	default:
		return false
	}
}

// outputName is how messages name the output.
func outputName(path string) string {
	if path == "-" {
		return "stdout"
	}
	return path
}

// checkStdout refuses to write binary output onto a terminal.
func checkStdout(stdout io.Writer, f render.Format) error {
	if file, ok := stdout.(*os.File); ok && render.Binary(f) && term.IsTerminal(int(file.Fd())) {
		return fmt.Errorf("-o -: %s output is binary and stdout is a terminal; redirect it (> file, | tool) or give -o FILE", f.Name())
	}
	return nil
}

// pickFormat resolves --format and -o: each may imply the other. A file
// name with no known ending gets a flamegraph, and a name that says
// another format than --format gets a warning, both on warn.
func pickFormat(name string, output *string, warn io.Writer) (render.Format, error) {
	var f render.Format
	if name != "" {
		var err error
		if f, err = render.ByName(name); err != nil {
			return nil, err
		}
	}
	switch *output {
	case "":
	case "-":
		if f == nil {
			f = render.Collapsed{} // what a pipe into flamegraph.pl or inferno wants
		}
	default:
		byName, err := render.FromPath(*output)
		switch {
		case err != nil && f == nil:
			f = render.Flamegraph{}
			fmt.Fprintf(warn, "pyspyglass: %s has no known file name ending; writing a flamegraph (SVG); --format chooses another\n", *output)
		case err != nil:
		case f == nil:
			f = byName
		case byName != f:
			fmt.Fprintf(warn, "pyspyglass: warning: writing %s format to %s, whose name says %s\n", f.Name(), *output, byName.Name())
		}
		*output = filepath.Clean(*output)
	}
	if f == nil {
		f = render.Flamegraph{}
	}
	if *output == "" {
		*output = "pyspyglass-" + time.Now().Format("20060102-150405") + f.Ext()
	}
	return f, nil
}

// write renders a snapshot of the profile to path: sampling goes on while
// the file is written.
func write(s *sampler.Sampler, path string, f render.Format, o render.Options) error {
	p, o := render.ViewFor(s.Snapshot(), f, o, true)
	return render.WriteFile(path, f, p, o)
}

// save writes the final profile to path, or to stdout for "-". When that
// fails (a full disk, a directory gone) the samples are kept in a
// recording in the first place that takes it, and the error says where
// and how to render it: nothing recorded is lost.
func save(s *sampler.Sampler, path string, f render.Format, o render.Options, stdout io.Writer) (err error) {
	if path == "-" {
		s.View(func(p *prof.Profile) {
			bw := bufio.NewWriter(stdout)
			if err = f.Write(bw, p, o); err == nil {
				err = bw.Flush()
			}
		})
		if err == nil {
			return nil
		}
		err = fmt.Errorf("write to stdout: %w", err)
	} else if err = write(s, path, f, o); err == nil {
		return nil
	}
	name := fmt.Sprintf("pyspyglass-rescued-%d-%s%s", os.Getpid(), time.Now().Format("20060102-150405"), render.Recording{}.Ext())
	dirs := []string{os.TempDir()}
	if home, herr := os.UserHomeDir(); herr == nil {
		dirs = append(dirs, home)
	}
	var failed []string
	for _, dir := range append(dirs, ".") {
		rescue := filepath.Join(dir, name)
		werr := write(s, rescue, render.Recording{}, o)
		if werr == nil {
			return fmt.Errorf("%w\n  the samples are saved in %s; once there is room: pyspyglass render %s -o %s",
				err, rescue, rescue, outputName(path))
		}
		failed = append(failed, werr.Error())
	}
	return fmt.Errorf("%w\n  saving the samples elsewhere failed too: %s", err, strings.Join(failed, "; "))
}

// childExit waits for a launched child and passes its exit code on; an
// earlier error wins. With stop (our --duration ended, the user pressed
// Ctrl-C in top, or we failed) a child still running is interrupted as
// Ctrl-C would, and killed if it does not exit within a grace period.
// Without it the child runs to its end: sampling also ends when the Python
// processes are gone while the command itself (a shell script) goes on.
// After a signal to us, which the child may have had too, it first has
// that grace period to finish.
func childExit(ctx context.Context, s *session, err error, stop bool) error {
	if s == nil || s.child == nil {
		return err
	}
	if !stop {
		select {
		case <-s.child.Exited():
		case <-ctx.Done():
		}
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
	fmt.Fprintf(w, "pyspyglass: wrote %s: %d samples in %.1fs (%s Hz of %s requested), %d thread samples, %d errors, %d late\n",
		path, h.Samples, h.Elapsed.Seconds(), hz(h.AchievedRate()), hz(h.Rate), p.Total(), h.Errors, h.Late)
	if h.Truncated > 0 || h.Cycles > 0 {
		fmt.Fprintf(w, "pyspyglass: %d stacks deeper than %d frames kept truncated, %d reads of a looping frame chain\n", h.Truncated, pyabi.MaxDepth, h.Cycles)
	}
}

// hz formats a rate: whole numbers at usual rates, significant digits
// below 10 Hz (0.5 Hz must not read as 0).
func hz(r float64) string {
	if r >= 10 {
		return strconv.FormatFloat(r, 'f', 0, 64)
	}
	return strconv.FormatFloat(r, 'g', 2, 64)
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

func (pr *progress) show(p *prof.Profile, extra string) {
	if !pr.on {
		return
	}
	h := p.Health
	lag := time.Duration(0)
	if h.Late > 0 {
		lag = h.TotalLag / time.Duration(h.Late)
	}
	fmt.Fprintf(pr.w, "\r\033[K%s  %d samples  %s/%s Hz  lag %v  errors %d%s",
		h.Elapsed.Truncate(time.Second), h.Samples, hz(h.AchievedRate()), hz(h.Rate), lag.Truncate(time.Microsecond), h.Errors, extra)
}

func (pr *progress) end() {
	if pr.on {
		fmt.Fprint(pr.w, "\r\033[K")
	}
}
