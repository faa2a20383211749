package render

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// Recording writes pyspyglass's own recording ("--format recording",
// *.pyspyglass, *.raw.gz): everything in the Profile, so that
// ReadRecording gives back a profile from which every other format comes out byte
// for byte as it would have from the original.
//
// It is not py-spy's "raw" format, which is collapsed stacks (Collapsed).
// The file is gzip-compressed JSON lines (one JSON value per line), chosen
// over a binary format because it is self-describing, can be inspected with
// zcat, and compresses to a few bytes per timeline entry. Line 1 is a header
// object:
//
//	{"format":"pyspyglass-raw","version":1,"start":RFC3339 time,"target":string,
//	 "binary":{"path":string,"build_id":string} (optional),"keep_timeline":bool,"health":{...},"frames":N,"stacks":N,"threads":N,
//	 "counts":N,"timeline":N}
//
// health holds rate (float), samples, errors, late, total_lag_ns, elapsed_ns,
// idle_drops, gil_samples and no_python. The N fields are record counts, checked at the
// end so a truncated file is an error. Then one array per record, first
// element a tag, in this order (ids are positions within their kind, from 0):
//
//	["f", name, file, line, kind, first line, module, build id]   a frame
//	                                 (kind: prof.Kind as a number; first
//	                                 line from version 2; the native
//	                                 frame's binary from version 4)
//	["s", frame id, ...]            a stack, root first
//	["t", pid, tid, name]           a thread
//	["c", stack id, thread, n]      an aggregate, as Profile.Counts returns them
//	["e", at_ns, stack id, thread]  a timeline sample; a fourth field 1
//	                                 when the thread held the GIL (version 6)
//	["src", file, text]             a source file's text (version 3), by
//	                                 file name as in frames, sorted
//	["m", stack id, thread, grow, shrink]  resident memory change in bytes
//	                                 (version 5), as MemoryCounts returns them
//
// Readers reject a newer version; unknown header fields are ignored so
// later versions may add some. Strings that are not valid UTF-8 are stored
// with U+FFFD in place of bad bytes (JSON cannot hold them).
type Recording struct{}

func (Recording) Name() string { return "recording" }
func (Recording) Ext() string  { return ".pyspyglass" }

const (
	rawMagic   = "pyspyglass-raw"
	rawVersion = 6 // 2: frames carry the function's first line; 3: sources; 4: native frames' binaries; 5: memory; 6: GIL per sample
)

type rawBinary struct {
	Path    string `json:"path"`
	BuildID string `json:"build_id,omitempty"`
}

type rawHeader struct {
	Format       string     `json:"format"`
	Version      int        `json:"version"`
	Start        time.Time  `json:"start"`
	Target       string     `json:"target"`
	Binary       *rawBinary `json:"binary,omitempty"`
	KeepTimeline bool       `json:"keep_timeline"`
	Health       rawHealth  `json:"health"`
	Frames       int        `json:"frames"`
	Stacks       int        `json:"stacks"`
	Threads      int        `json:"threads"`
	Counts       int        `json:"counts"`
	Timeline     int        `json:"timeline"`
	Sources      int        `json:"sources"`
	Memory       bool       `json:"memory"`
	MemCounts    int        `json:"mem_counts"`
}

type rawHealth struct {
	Rate       float64 `json:"rate"`
	Samples    int64   `json:"samples"`
	Errors     int64   `json:"errors"`
	Late       int64   `json:"late"`
	TotalLagNs int64   `json:"total_lag_ns"`
	ElapsedNs  int64   `json:"elapsed_ns"`
	IdleDrops  int64   `json:"idle_drops"`
	GILSamples int64   `json:"gil_samples"`
	NoPython   int64   `json:"no_python,omitempty"`
}

func (Recording) Write(w io.Writer, p *prof.Profile, o Options) error {
	if err := checkCounts(p); err != nil {
		return err
	}
	for _, s := range p.Timeline {
		if err := checkIDs(p, s.Stack, s.Thread); err != nil {
			return fmt.Errorf("timeline: %w", err)
		}
	}
	counts := p.Counts()
	mem := p.MemoryCounts()
	h := p.Health
	var bin *rawBinary
	if p.Binary != (prof.Binary{}) {
		bin = &rawBinary{Path: p.Binary.Path, BuildID: p.Binary.BuildID}
	}
	hdr := rawHeader{
		Binary: bin,
		Format: rawMagic, Version: rawVersion, Start: p.Start, Target: p.Target,
		KeepTimeline: p.KeepTimeline,
		Health: rawHealth{
			Rate: h.Rate, Samples: h.Samples, Errors: h.Errors, Late: h.Late,
			TotalLagNs: int64(h.TotalLag), ElapsedNs: int64(h.Elapsed),
			IdleDrops: h.IdleDrops, GILSamples: h.GILSamples, NoPython: h.NoPython,
		},
		Frames: len(p.Frames), Stacks: len(p.Stacks), Threads: len(p.Threads),
		Counts: len(counts), Timeline: len(p.Timeline), Sources: len(p.Sources),
		Memory: p.Memory, MemCounts: len(mem),
	}
	zw := gzip.NewWriter(w)
	bw := bufio.NewWriterSize(zw, 1<<16)
	// The monotonic reading and the location are not part of a recording.
	hdr.Start = hdr.Start.Round(0)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(hdr); err != nil { // one line, newline included
		return fmt.Errorf("encode recording header: %w", err)
	}
	str := func(s string) {
		bw.WriteString(jsonString(s))
	}
	num := func(n int64) {
		bw.WriteByte(',')
		bw.WriteString(strconv.FormatInt(n, 10))
	}
	for _, f := range p.Frames {
		bw.WriteString(`["f",`)
		str(f.Name)
		bw.WriteByte(',')
		str(f.File)
		num(int64(f.Line))
		num(int64(f.Kind))
		num(int64(f.FirstLine))
		bw.WriteByte(',')
		str(f.Module)
		bw.WriteByte(',')
		str(f.BuildID)
		bw.WriteString("]\n")
	}
	for _, s := range p.Stacks {
		bw.WriteString(`["s"`)
		for _, f := range s {
			num(int64(f))
		}
		bw.WriteString("]\n")
	}
	for _, t := range p.Threads {
		bw.WriteString(`["t"`)
		num(int64(t.Pid))
		num(int64(t.TID))
		bw.WriteByte(',')
		str(t.Name)
		bw.WriteString("]\n")
	}
	for _, c := range counts {
		bw.WriteString(`["c"`)
		num(int64(c.Stack))
		num(int64(c.Thread))
		num(c.N)
		bw.WriteString("]\n")
	}
	for _, s := range p.Timeline {
		bw.WriteString(`["e"`)
		num(int64(s.At))
		num(int64(s.Stack))
		num(int64(s.Thread))
		if s.GIL {
			bw.WriteString(",1")
		}
		bw.WriteString("]\n")
	}
	for _, file := range slices.Sorted(maps.Keys(p.Sources)) {
		bw.WriteString(`["src",`)
		str(file)
		bw.WriteByte(',')
		str(p.Sources[file])
		bw.WriteString("]\n")
	}
	for _, m := range mem {
		bw.WriteString(`["m"`)
		num(int64(m.Stack))
		num(int64(m.Thread))
		num(m.Grow)
		num(m.Shrink)
		bw.WriteString("]\n")
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return zw.Close()
}

// ErrNotRecording is returned by ReadRecording for input that is not a pyspyglass
// recording at all.
var ErrNotRecording = errors.New("not a pyspyglass recording")

// ReadRecording reads a file written by Recording. It checks every id against the
// tables read so far and the record counts against the header, so a
// corrupted or truncated file is an error, never a panic or a silently
// partial profile.
func ReadRecording(r io.Reader) (*prof.Profile, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotRecording, err)
	}
	p, err := decodeRecording(zr)
	if err != nil {
		return nil, err
	}
	// decodeRaw stops after the records the header announced; anything
	// after them, or a bad gzip checksum, is corruption.
	if n, err := io.Copy(io.Discard, zr); err != nil {
		return nil, fmt.Errorf("pyspyglass recording: %w", err)
	} else if n != 0 {
		return nil, fmt.Errorf("pyspyglass recording: %d unexpected bytes after the last record", n)
	}
	return p, nil
}

// decodeRaw reads the uncompressed JSON lines.
func decodeRecording(r io.Reader) (*prof.Profile, error) {
	dec := json.NewDecoder(r)
	var hdr rawHeader
	if err := dec.Decode(&hdr); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrNotRecording, err)
	}
	if hdr.Format != rawMagic {
		return nil, fmt.Errorf("%w: header format is %q", ErrNotRecording, hdr.Format)
	}
	if hdr.Version < 1 || hdr.Version > rawVersion {
		return nil, fmt.Errorf("pyspyglass recording version %d is not supported (this build reads 1 to %d)", hdr.Version, rawVersion)
	}
	if hdr.Frames < 0 || hdr.Stacks < 0 || hdr.Threads < 0 || hdr.Counts < 0 || hdr.Timeline < 0 || hdr.Sources < 0 || hdr.MemCounts < 0 {
		return nil, fmt.Errorf("pyspyglass recording: negative record count in header")
	}
	p := prof.New(hdr.Start)
	p.Target = hdr.Target
	if hdr.Binary != nil {
		p.Binary = prof.Binary{Path: hdr.Binary.Path, BuildID: hdr.Binary.BuildID}
	}
	h := hdr.Health
	p.Health = prof.Health{
		Rate: h.Rate, Samples: h.Samples, Errors: h.Errors, Late: h.Late,
		TotalLag: time.Duration(h.TotalLagNs), Elapsed: time.Duration(h.ElapsedNs),
		IdleDrops: h.IdleDrops, GILSamples: h.GILSamples, NoPython: h.NoPython,
	}

	var rec []json.RawMessage
	next := func(tag string, i int) error {
		rec = rec[:0]
		if err := dec.Decode(&rec); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("pyspyglass recording: %q record %d: %w", tag, i, err)
		}
		var got string
		if len(rec) == 0 || json.Unmarshal(rec[0], &got) != nil || got != tag {
			return fmt.Errorf("pyspyglass recording: expected %q record %d, got %.40s", tag, i, rawText(rec))
		}
		return nil
	}
	// arg decodes field j of the current record into v.
	arg := func(tag string, i, j int, v any) error {
		if j >= len(rec) {
			return fmt.Errorf("pyspyglass recording: %q record %d: missing field %d", tag, i, j)
		}
		if err := json.Unmarshal(rec[j], v); err != nil {
			return fmt.Errorf("pyspyglass recording: %q record %d field %d: %w", tag, i, j, err)
		}
		return nil
	}
	args := func(tag string, i int, want int, vs ...any) error {
		if len(rec) != want+1 {
			return fmt.Errorf("pyspyglass recording: %q record %d has %d fields, want %d", tag, i, len(rec)-1, want)
		}
		// An older version's record has fewer fields; the rest stay zero.
		for j, v := range vs[:min(want, len(vs))] {
			if err := arg(tag, i, j+1, v); err != nil {
				return err
			}
		}
		return nil
	}

	for i := range hdr.Frames {
		var f prof.Frame
		var kind uint8
		if err := next("f", i); err != nil {
			return nil, err
		}
		fields := 4
		switch {
		case hdr.Version >= 4:
			fields = 7
		case hdr.Version >= 2:
			fields = 5
		}
		if err := args("f", i, fields, &f.Name, &f.File, &f.Line, &kind, &f.FirstLine, &f.Module, &f.BuildID); err != nil {
			return nil, err
		}
		f.Kind = prof.Kind(kind)
		if id := p.Frame(f); int(id) != i {
			return nil, fmt.Errorf("pyspyglass recording: frame %d repeats frame %d", i, id)
		}
	}
	var frames []prof.FrameID
	for i := range hdr.Stacks {
		if err := next("s", i); err != nil {
			return nil, err
		}
		frames = frames[:0]
		for j := 1; j < len(rec); j++ {
			var f prof.FrameID
			if err := arg("s", i, j, &f); err != nil {
				return nil, err
			}
			if f < 0 || int(f) >= len(p.Frames) {
				return nil, fmt.Errorf("pyspyglass recording: stack %d: frame id %d out of range (%d frames)", i, f, len(p.Frames))
			}
			frames = append(frames, f)
		}
		if id := p.Stack(frames); int(id) != i {
			return nil, fmt.Errorf("pyspyglass recording: stack %d repeats stack %d", i, id)
		}
	}
	for i := range hdr.Threads {
		var t prof.Thread
		if err := next("t", i); err != nil {
			return nil, err
		}
		if err := args("t", i, 3, &t.Pid, &t.TID, &t.Name); err != nil {
			return nil, err
		}
		if idx := p.Thread(t); idx != i {
			return nil, fmt.Errorf("pyspyglass recording: thread %d repeats thread %d", i, idx)
		}
	}
	ids := func(tag string, i int, stack prof.StackID, thread int) error {
		if stack < 0 || int(stack) >= len(p.Stacks) {
			return fmt.Errorf("pyspyglass recording: %q record %d: stack id %d out of range (%d stacks)", tag, i, stack, len(p.Stacks))
		}
		if thread < 0 || thread >= len(p.Threads) {
			return fmt.Errorf("pyspyglass recording: %q record %d: thread %d out of range (%d threads)", tag, i, thread, len(p.Threads))
		}
		return nil
	}
	type countKey struct {
		stack  prof.StackID
		thread int
	}
	seen := map[countKey]bool{}
	for i := range hdr.Counts {
		var c prof.Count
		if err := next("c", i); err != nil {
			return nil, err
		}
		if err := args("c", i, 3, &c.Stack, &c.Thread, &c.N); err != nil {
			return nil, err
		}
		if err := ids("c", i, c.Stack, c.Thread); err != nil {
			return nil, err
		}
		if c.N < 0 {
			return nil, fmt.Errorf("pyspyglass recording: count %d is negative (%d)", i, c.N)
		}
		k := countKey{c.Stack, c.Thread}
		if seen[k] {
			return nil, fmt.Errorf("pyspyglass recording: count %d repeats stack %d on thread %d", i, c.Stack, c.Thread)
		}
		seen[k] = true
		// KeepTimeline is still false here, so Add touches only counts;
		// the timeline is restored as recorded below.
		p.Add(c.Stack, c.Thread, 0, c.N)
	}
	// Grow the timeline as records arrive rather than trusting the header
	// for one huge allocation.
	for i := range hdr.Timeline {
		var s prof.Sample
		var at int64
		if err := next("e", i); err != nil {
			return nil, err
		}
		fields := 3
		if hdr.Version >= 6 && len(rec) == 5 {
			fields = 4
		}
		var gil int
		if err := args("e", i, fields, &at, &s.Stack, &s.Thread, &gil); err != nil {
			return nil, err
		}
		if fields == 4 && gil != 1 {
			return nil, fmt.Errorf("pyspyglass recording: \"e\" record %d: GIL field %d, want 1 or none", i, gil)
		}
		s.GIL = gil == 1
		if err := ids("e", i, s.Stack, s.Thread); err != nil {
			return nil, err
		}
		s.At = time.Duration(at)
		p.Timeline = append(p.Timeline, s)
	}
	p.KeepTimeline = hdr.KeepTimeline
	for i := range hdr.Sources {
		var file, text string
		if err := next("src", i); err != nil {
			return nil, err
		}
		if err := args("src", i, 2, &file, &text); err != nil {
			return nil, err
		}
		p.SetSource(file, text)
	}
	p.Memory = hdr.Memory
	for i := range hdr.MemCounts {
		var m prof.MemCount
		if err := next("m", i); err != nil {
			return nil, err
		}
		if err := args("m", i, 4, &m.Stack, &m.Thread, &m.Grow, &m.Shrink); err != nil {
			return nil, err
		}
		if err := ids("m", i, m.Stack, m.Thread); err != nil {
			return nil, err
		}
		if m.Grow < 0 || m.Shrink < 0 {
			return nil, fmt.Errorf("pyspyglass recording: memory record %d is negative", i)
		}
		p.AddMemory(m.Stack, m.Thread, m.Grow)
		p.AddMemory(m.Stack, m.Thread, -m.Shrink)
	}
	// The decoder may have buffered past the last record; whatever it holds
	// must be blank.
	if dec.More() {
		return nil, fmt.Errorf("pyspyglass recording: more records than the header announces")
	}
	rest, err := io.ReadAll(dec.Buffered())
	if err != nil {
		return nil, err
	}
	for _, b := range rest {
		if b != '\n' && b != ' ' && b != '\r' && b != '\t' {
			return nil, fmt.Errorf("pyspyglass recording: unexpected data after the last record")
		}
	}
	return p, nil
}

func rawText(rec []json.RawMessage) string {
	b, _ := json.Marshal(rec)
	return string(b)
}
