package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/pyspyglass/pyspyglass/sampler"
	"github.com/pyspyglass/pyspyglass/upload"
)

// uploadFlags are record's continuous-profiling flags.
type uploadFlags struct {
	url        string
	format     string
	period     secondsValue
	service    string
	ca         string
	headers    []string
	queue      int
	queueMB    int
	outputDir  string
	outputKeep int
}

// flushDeadline is how long the queue is flushed at exit (Ctrl-C, the
// end of --duration or of the target) before the rest is dropped.
const flushDeadline = 5 * time.Second

func (uf *uploadFlags) bind(fs *pflag.FlagSet) {
	uf.period = secondsValue(10 * time.Second)
	fs.StringVar(&uf.url, "upload", "", "send the profile to the backend at `URL` every --period: otlp://HOST:4317 (OTLP/gRPC; otlps:// for TLS), http(s)://HOST:4318/v1development/profiles (OTLP/HTTP) or pyroscope://HOST:4040")
	fs.StringVar(&uf.format, "upload-format", "", "`FORMAT` to upload: otlp or pyroscope (default: from the --upload URL); pyroscope with an http(s):// URL")
	fs.Var(&uf.period, "period", "seconds of recording per uploaded profile")
	fs.StringVar(&uf.service, "service", "", "service `NAME` sent with the profiles (default: from the command line)")
	fs.StringVar(&uf.ca, "upload-ca", "", "PEM `FILE` of the CA that signed the backend's certificate (default: the system's roots)")
	fs.StringArrayVar(&uf.headers, "upload-header", nil, "extra request `HEADER` \"Name: value\" (repeatable); credentials go in "+upload.EnvToken+" or "+upload.EnvUser+"/"+upload.EnvPassword)
	fs.IntVar(&uf.queue, "upload-queue", 30, "`N` periods kept while the backend is unreachable; beyond, the oldest are dropped")
	fs.IntVar(&uf.queueMB, "upload-queue-mb", 64, "memory limit of that queue, in `MiB`")
	fs.StringVar(&uf.outputDir, "output-dir", "", "also write each period as a pprof file into `DIR`")
	fs.IntVar(&uf.outputKeep, "output-keep", 100, "`N` period files kept in --output-dir (the oldest are removed)")
}

func (uf *uploadFlags) enabled() bool { return uf.url != "" || uf.outputDir != "" }

// check refuses bad values, and flags that would do nothing, before
// anything is attached.
func (uf *uploadFlags) check(fs *pflag.FlagSet) error {
	needs := map[string]bool{ // flag -> whether what it needs is given
		"upload-format": uf.url != "", "service": uf.url != "", "upload-ca": uf.url != "", "upload-header": uf.url != "",
		"upload-queue": uf.url != "", "upload-queue-mb": uf.url != "", "period": uf.enabled(), "output-keep": uf.outputDir != "",
	}
	for name, ok := range needs {
		if fs.Changed(name) && !ok {
			what := "--upload URL"
			switch name {
			case "period":
				what += " or --output-dir DIR"
			case "output-keep":
				what = "--output-dir DIR"
			}
			return fmt.Errorf("--%s needs %s", name, what)
		}
	}
	if !uf.enabled() {
		return nil
	}
	switch {
	case time.Duration(uf.period) < time.Second:
		return fmt.Errorf("--period %v: give at least 1 second", time.Duration(uf.period))
	case uf.queue < 1:
		return fmt.Errorf("--upload-queue %d: give at least 1", uf.queue)
	case uf.queueMB < 1:
		return fmt.Errorf("--upload-queue-mb %d: give at least 1", uf.queueMB)
	case uf.outputKeep < 1:
		return fmt.Errorf("--output-keep %d: give at least 1", uf.outputKeep)
	}
	return upload.Check(upload.Options{URL: uf.url, Format: uf.format, CAFile: uf.ca, Headers: uf.headers, OutputDir: uf.outputDir})
}

// uploading cuts periods from the sampler's profile and hands them to the
// uploader.
type uploading struct {
	uf     *uploadFlags
	up     *upload.Uploader
	cutter *upload.Cutter
	tick   *time.Ticker
}

func startUpload(uf *uploadFlags, s *session, log *slog.Logger) (*uploading, error) {
	host, _ := os.Hostname()
	service := uf.service
	if service == "" {
		service = upload.ServiceName(strings.Fields(s.command))
	}
	up, err := upload.New(upload.Options{
		URL: uf.url, Format: uf.format, CAFile: uf.ca, Headers: uf.headers,
		Resource: upload.Resource{Service: service, Host: host, Process: s.process},
		Version:  version, QueueSize: uf.queue, QueueBytes: int64(uf.queueMB) << 20,
		OutputDir: uf.outputDir, Keep: uf.outputKeep, Log: log,
		// Retry at least once a period, so that a backend back from an
		// outage drains the queue faster than new periods fill it.
		BackoffMax: min(15*time.Second, time.Duration(uf.period)),
	})
	if err != nil {
		return nil, err
	}
	return &uploading{uf: uf, up: up, cutter: upload.NewCutter(), tick: time.NewTicker(time.Duration(uf.period))}, nil
}

// dest says where the recording goes, for the start line.
func (u *uploading) dest(whole bool, output string) string {
	var to []string
	if u.uf.url != "" {
		to = append(to, u.uf.url)
	}
	if u.uf.outputDir != "" {
		to = append(to, u.uf.outputDir)
	}
	s := fmt.Sprintf("every %v to %s", time.Duration(u.uf.period), strings.Join(to, " and "))
	if whole {
		s += ", and the whole recording to " + output
	}
	return s
}

// ticks is nil without uploading, so its select case never fires.
func (u *uploading) ticks() <-chan time.Time {
	if u == nil {
		return nil
	}
	return u.tick.C
}

// cut takes the period that just ended from a snapshot of the profile:
// the sampler waits only for the snapshot.
func (u *uploading) cut(s *sampler.Sampler) {
	u.up.Submit(u.cutter.Cut(s.Snapshot(), time.Now()))
}

// finish cuts the last, partial period and flushes the queue.
func (u *uploading) finish(s *sampler.Sampler, stderr io.Writer) {
	u.tick.Stop()
	u.cut(s)
	st := u.up.Close(flushDeadline)
	fmt.Fprintf(stderr, "pyspyglass: %s\n", u.line(st))
	if st.LastErr != "" && st.Sent < st.Periods {
		fmt.Fprintf(stderr, "pyspyglass: upload: last error: %s\n", st.LastErr)
	}
}

// line is the upload's part of the health line and the summary.
func (u *uploading) line(st upload.Stats) string {
	s := fmt.Sprintf("%d periods", st.Periods)
	if u.up.Endpoint().Host != "" {
		s += fmt.Sprintf(", %d sent (%s) to %s", st.Sent, byteSize(st.Bytes), u.up.Endpoint().Host)
		s += fmt.Sprintf(", %d queued, %d retries, %d dropped, %d failed", st.Queued, st.Retries, st.Dropped, st.Failed)
	}
	if st.Empty > 0 {
		s += fmt.Sprintf(", %d empty (not sent)", st.Empty)
	}
	if st.Saved > 0 {
		s += fmt.Sprintf(", %d saved", st.Saved)
	}
	return "upload: " + s
}

// status is the short form for the live progress line.
func (u *uploading) status() string {
	if u == nil {
		return ""
	}
	st := u.up.Stats()
	if u.up.Endpoint().Host == "" {
		return fmt.Sprintf("  saved %d", st.Saved)
	}
	return fmt.Sprintf("  upload: sent %d/%d (%s) queued %d retries %d dropped %d failed %d",
		st.Sent, st.Periods, byteSize(st.Bytes), st.Queued, st.Retries, st.Dropped, st.Failed)
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// process is what the resource attributes say about a sampled pid.
func (s *session) process(pid int) (upload.Process, bool) {
	v, ok := s.procs.Load(pid)
	if !ok {
		return upload.Process{}, false
	}
	return v.(upload.Process), true
}

// remember keeps what the upload needs to know about a target.
func (s *session) remember(t *sampler.Target) {
	s.procs.Store(t.Pid, upload.Process{Pid: t.Pid, Cmdline: t.Cmdline, Python: t.Interp.Version.String()})
}
