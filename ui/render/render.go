// Package render writes a prof.Profile in every output format pyspyglass
// offers, one file per format behind one Format interface, and reads back its
// own recording so any format can be produced again later. It owns the
// bytes of the output files and their atomic replacement on disk; it does not
// sample, and it never changes the profile it is given.
//
// Every writer is deterministic: the same profile gives the same bytes, so
// outputs can be compared with golden files and re-rendered from a
// recording byte for byte. Nothing reads the clock; times come from
// Profile.Start and Profile.Health.
//
// FromPath picks the format from the output file name (case-insensitive,
// longest match first):
//
//	name                                          format       what reads it
//	*.svg                                         flamegraph   a browser: zoom, search, tooltips
//	*.speedscope.json, *.speedscope, *.json       speedscope   https://www.speedscope.app
//	*.pb.gz, *.pb, *.pprof                        pprof        go tool pprof, Pyroscope, Parca
//	*.txt, *.folded, *.collapsed                  collapsed    flamegraph.pl, inferno, speedscope
//	callgrind.out, callgrind.out.*, *.callgrind   callgrind    KCachegrind, QCachegrind
//	*.trace.json, *.perfetto.json, *.chrometrace  chrometrace  Perfetto, chrome://tracing
//	*.raw                                         collapsed    (py-spy's "raw" is collapsed stacks)
//	*.pyspyglass, *.raw.gz                        recording    ReadRecording ("pyspyglass render")
//	*.pstats, *.prof                              pstats       python -m pstats, snakeviz, tuna
//	*.gecko.json                                  gecko        https://profiler.firefox.com
//	*.lines.txt                                   lines        people: line_profiler's table
//	*.lines.html, *.html                          lines-html   a browser: the same as a heat map
//
// Each format's type documents what it writes and what it leaves out.
package render

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// Options are the knobs a caller may set; the zero value is fine for every
// format.
type Options struct {
	// Title heads the flamegraph and names the speedscope and chrome trace
	// documents. Empty means a default per format.
	Title string
	// FlameWidth is the flamegraph's width in pixels; 0 means 1200.
	FlameWidth int
	// Icicle draws the flamegraph root at the top (py-spy's and inferno's
	// default) rather than at the bottom.
	Icicle bool
	// MinWidth is the narrowest flamegraph frame drawn, in pixels; narrower
	// frames are left out to keep the file small. 0 means 0.1; negative
	// draws every frame.
	MinWidth float64
	// LinesTop is how many functions the line tables show; 0 means 10.
	LinesTop int
	// Unit names what the counts are in the flamegraph ("bytes" for
	// MemoryView); empty means samples.
	Unit string
}

// Format is one output format.
type Format interface {
	// Name is what --format accepts.
	Name() string
	// Ext is the usual file name ending, with its dot.
	Ext() string
	// Write writes p to w. It does not close w.
	Write(w io.Writer, p *prof.Profile, o Options) error
}

// registry lists every format with the other names --format accepts for
// it and the file name endings that pick it. A new format is one row here
// and one file.
var registry = []struct {
	format   Format
	aliases  []string
	suffixes []string
	// binary output is refused on a terminal.
	binary bool
}{
	{format: Flamegraph{}, suffixes: []string{".svg"}},
	{format: Speedscope{}, suffixes: []string{".speedscope.json", ".speedscope", ".json"}},
	{format: Pprof{}, suffixes: []string{".pb.gz", ".pprof", ".pb"}, binary: true},
	// py-spy's "raw" is collapsed stacks; so is ours.
	{format: Collapsed{}, aliases: []string{"raw", "folded"}, suffixes: []string{".txt", ".folded", ".collapsed", ".raw"}},
	{format: Callgrind{}, suffixes: []string{".callgrind"}},
	{format: ChromeTrace{}, suffixes: []string{".trace.json", ".perfetto.json", ".chrometrace"}},
	{format: Recording{}, suffixes: []string{".pyspyglass", ".raw.gz"}, binary: true},
	{format: Pstats{}, suffixes: []string{".pstats", ".prof"}, binary: true},
	{format: Gecko{}, suffixes: []string{".gecko.json"}},
	{format: Lines{}, suffixes: []string{".lines.txt"}},
	{format: LinesHTML{}, suffixes: []string{".lines.html", ".html"}},
}

// Formats returns every format in a stable order.
func Formats() []Format {
	out := make([]Format, len(registry))
	for i, r := range registry {
		out[i] = r.format
	}
	return out
}

// Names returns the names of all formats, in the order of Formats.
func Names() []string {
	var names []string
	for _, f := range Formats() {
		names = append(names, f.Name())
	}
	return names
}

// ByName returns the format called name, or one of its aliases.
func ByName(name string) (Format, error) {
	for _, r := range registry {
		if r.format.Name() == name || slices.Contains(r.aliases, name) {
			return r.format, nil
		}
	}
	return nil, fmt.Errorf("unknown output format %q (valid: %s)", name, strings.Join(Names(), ", "))
}

// Binary says whether f writes bytes that are not text.
func Binary(f Format) bool {
	for _, r := range registry {
		if r.format == f {
			return r.binary
		}
	}
	return false
}

// ErrUnknownSuffix is returned by FromPath for a name with no known ending.
var ErrUnknownSuffix = errors.New("no known file name ending")

// FromPath picks a format from the file name (see the package comment):
// the longest matching ending wins, so that "x.trace.json" is a chrome
// trace, not speedscope.
func FromPath(path string) (Format, error) {
	base := strings.ToLower(filepath.Base(path))
	// valgrind's own naming is a prefix: callgrind.out.<pid>.
	if base == "callgrind.out" || strings.HasPrefix(base, "callgrind.out.") {
		return Callgrind{}, nil
	}
	var best Format
	bestLen := 0
	for _, r := range registry {
		for _, s := range r.suffixes {
			if strings.HasSuffix(base, s) && len(s) > bestLen {
				best, bestLen = r.format, len(s)
			}
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%q: %w", path, ErrUnknownSuffix)
	}
	return best, nil
}

// WriteFile writes p to path in format f atomically: the output goes to a
// temporary file in the same directory, is synced, and is renamed over path
// only when complete, so a reader never sees half a file and a failed write
// leaves any previous file untouched.
func WriteFile(path string, f Format, p *prof.Profile, o Options) error {
	return WriteFileFunc(path, func(w io.Writer) error {
		if err := f.Write(w, p, o); err != nil {
			return fmt.Errorf("write %s as %s: %w", path, f.Name(), err)
		}
		return nil
	})
}

// WriteFileFunc writes what write produces to path atomically, as
// WriteFile does.
func WriteFileFunc(path string, write func(io.Writer) error) (err error) {
	path, through, err := outputTarget(path)
	if err != nil {
		return err
	}
	if through {
		return writeThrough(path, write)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<16)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := adopt(tmp, path); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp.Name(), path, err)
	}
	// Make the rename itself durable; some file systems cannot sync a
	// directory, which does not make the output any less complete.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// CheckWritable reports, before any sampling starts, whether WriteFile can
// later create path: its directory must exist and accept new files, and path
// must not be a directory. It tries a real file rather than checking mode
// bits, which say nothing for root, read-only mounts or ACLs.
func CheckWritable(path string) error {
	path, through, err := outputTarget(path)
	if err != nil {
		return err
	}
	if through {
		// A device or FIFO: opening it now could be noticed (a FIFO's
		// reader would see the end of its input).
		if err := syscall.Access(path, 2 /* W_OK */); err != nil {
			return fmt.Errorf("output %s: %w", path, err)
		}
		return nil
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("output directory %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("output directory %s is not a directory", dir)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".check*")
	if err != nil {
		return fmt.Errorf("output directory %s is not writable: %w", dir, err)
	}
	name := tmp.Name()
	tmp.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("remove probe file %s: %w", name, err)
	}
	return nil
}

// ErrNoTimeline is returned by formats that need individual samples in time
// order (chrometrace) when the profile kept only aggregates; the recorder
// keeps them when Profile.KeepTimeline is set before sampling.
var ErrNoTimeline = errors.New("the profile was recorded without a timeline")

// frameLabel is how a frame is shown in text outputs: "name (file:line)"
// like py-spy, the line left out when unknown and the parentheses when there
// is no file (synthetic frames).
func frameLabel(f prof.Frame) string {
	name := f.Name
	if name == "" {
		name = "<unknown>"
	}
	switch {
	case f.File == "":
		return name
	case f.Line > 0:
		return name + " (" + f.File + ":" + strconv.Itoa(f.Line) + ")"
	default:
		return name + " (" + f.File + ")"
	}
}

// oneLine replaces line breaks, which would split a record in the line
// oriented formats.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// stackCount is the count of one stack summed over threads.
type stackCount struct {
	Stack prof.StackID
	N     int64
}

// countsByStack sums the counts over threads, sorted by stack id. Outputs
// that do not split by thread read this; thread roots, when wanted, are
// already frames in the stacks. It holds 9 bytes per stack while summing.
func countsByStack(p *prof.Profile) []stackCount {
	sum := make([]int64, len(p.Stacks))
	seen := make([]bool, len(p.Stacks))
	n := 0
	p.EachCount(func(c prof.Count) {
		if c.Stack >= 0 && int(c.Stack) < len(sum) {
			if !seen[c.Stack] {
				seen[c.Stack] = true
				n++
			}
			sum[c.Stack] += c.N
		}
	})
	out := make([]stackCount, 0, n)
	for s, ok := range seen {
		if ok {
			out = append(out, stackCount{prof.StackID(s), sum[s]})
		}
	}
	return out
}

// checkIDs reports a count or sample that points outside the profile's
// tables, which would otherwise panic a writer.
func checkIDs(p *prof.Profile, stack prof.StackID, thread int) error {
	if stack < 0 || int(stack) >= len(p.Stacks) {
		return fmt.Errorf("stack id %d out of range (%d stacks)", stack, len(p.Stacks))
	}
	if thread < 0 || thread >= len(p.Threads) {
		return fmt.Errorf("thread index %d out of range (%d threads)", thread, len(p.Threads))
	}
	for _, f := range p.Stacks[stack] {
		if f < 0 || int(f) >= len(p.Frames) {
			return fmt.Errorf("stack %d: frame id %d out of range (%d frames)", stack, f, len(p.Frames))
		}
	}
	return nil
}

// checkCounts runs checkIDs over every aggregate.
func checkCounts(p *prof.Profile) (err error) {
	p.EachCount(func(c prof.Count) {
		if err == nil {
			err = checkIDs(p, c.Stack, c.Thread)
		}
	})
	return err
}

// healthLine is the one-line summary of the recorder's health shown in the
// outputs that have room for free text.
func healthLine(p *prof.Profile) string {
	h := p.Health
	var b strings.Builder
	fmt.Fprintf(&b, "%d thread samples in %d rounds", p.Total(), h.Samples)
	if h.Elapsed > 0 {
		fmt.Fprintf(&b, " over %s, %s Hz achieved", h.Elapsed.Round(1e6), strconv.FormatFloat(h.AchievedRate(), 'f', 1, 64))
	}
	if h.Rate > 0 {
		fmt.Fprintf(&b, " of %s Hz requested", strconv.FormatFloat(h.Rate, 'f', -1, 64))
	}
	fmt.Fprintf(&b, ", %d errors", h.Errors)
	if h.Late > 0 {
		fmt.Fprintf(&b, ", %d late", h.Late)
	}
	if h.IdleDrops > 0 {
		fmt.Fprintf(&b, ", %d idle dropped", h.IdleDrops)
	}
	if h.NoPython > 0 {
		fmt.Fprintf(&b, ", %d without Python frames", h.NoPython)
	}
	return b.String()
}

// jsonString quotes s as a JSON string, leaving <, > and & readable
// (encoding/json escapes them for HTML by default).
func jsonString(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// samplingPeriod is the mean interval between samples from the requested
// rate, or 0 when the profile gives no usable rate (missing, or so extreme
// that the interval is below a nanosecond or above an hour).
func samplingPeriod(p *prof.Profile) time.Duration {
	r := p.Health.Rate
	if !(r > 0) {
		return 0
	}
	iv := float64(time.Second) / r
	if !(iv >= 1 && iv <= float64(time.Hour)) {
		return 0
	}
	return time.Duration(math.Round(iv))
}
