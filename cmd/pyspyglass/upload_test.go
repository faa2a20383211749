package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"go.opentelemetry.io/collector/pdata/pprofile"

	"github.com/pyspyglass/pyspyglass/internal/testutil"
)

// uploadInterpreter picks the interpreter the upload tests sample: what is
// sent does not depend on the Python build (the record tests cover every
// interpreter), so one stands for all, the newest plain build of this
// system (not free-threaded, debug or in another root), and the rest are
// named.
func uploadInterpreter(t *testing.T) testutil.Interpreter {
	interps := testutil.Interpreters(t)
	if len(interps) == 0 {
		t.Fatal("no Python interpreter found")
	}
	plain := slices.DeleteFunc(slices.Clone(interps), func(in testutil.Interpreter) bool {
		return in.FreeThreaded || in.Debug || in.Root != ""
	})
	if len(plain) == 0 {
		plain = interps
	}
	in := slices.MaxFunc(plain, func(a, b testutil.Interpreter) int { return compareVersions(a.Version, b.Version) })
	var others []string
	for _, o := range interps {
		if o.Name != in.Name {
			others = append(others, o.Name)
		}
	}
	t.Logf("sampling %s; not repeated on %s (the upload does not depend on the build)", in.Name, strings.Join(others, ", "))
	return in
}

func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			return x - y
		}
	}
	return len(pa) - len(pb)
}

// period is one profile reduced to what both sides must agree on: its start
// and, per (stack, thread), the sample count. Stacks are "func file:line"
// frames, leaf first, joined by ";".
type period struct {
	start  int64
	counts map[string]int64
	rounds int64 // sampling rounds (local copies only: from the health comment)
	dur    time.Duration
}

func stackKey(frames []string, tid int64) string {
	return fmt.Sprintf("%s @%d", strings.Join(frames, ";"), tid)
}

// readLocalPeriods reads the --output-dir copies, oldest first.
func readLocalPeriods(t *testing.T, dir string) []period {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "pyspyglass-period-*.pb.gz"))
	slices.Sort(names)
	roundsRE := regexp.MustCompile(`in (\d+) rounds`)
	var out []period
	for _, n := range names {
		f, err := os.Open(n)
		if err != nil {
			t.Fatal(err)
		}
		p, err := profile.Parse(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if err := p.CheckValid(); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		per := period{start: p.TimeNanos, counts: map[string]int64{}, dur: time.Duration(p.DurationNanos)}
		for _, c := range p.Comments {
			if m := roundsRE.FindStringSubmatch(c); m != nil {
				per.rounds, _ = strconv.ParseInt(m[1], 10, 64)
			}
		}
		for _, s := range p.Sample {
			var frames []string
			for _, l := range s.Location {
				for _, ln := range l.Line {
					frames = append(frames, fmt.Sprintf("%s %s:%d", ln.Function.Name, ln.Function.Filename, ln.Line))
				}
			}
			per.counts[stackKey(frames, s.NumLabel["thread_id"][0])] += s.Value[0]
		}
		out = append(out, per)
	}
	return out
}

// readCollected reads what the collector's file exporter wrote: each line
// one OTLP request. It returns the "samples" profiles as periods and every
// resource's attributes.
func readCollected(t *testing.T, files []string) ([]period, []map[string]any) {
	t.Helper()
	var pers []period
	var resources []map[string]any
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			pd, err := (&pprofile.JSONUnmarshaler{}).UnmarshalProfiles(sc.Bytes())
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			d := pd.Dictionary()
			str := func(i int32) string { return d.StringTable().At(int(i)) }
			for _, rp := range pd.ResourceProfiles().All() {
				resources = append(resources, rp.Resource().Attributes().AsRaw())
				for _, sp := range rp.ScopeProfiles().All() {
					for _, pr := range sp.Profiles().All() {
						if str(pr.SampleType().TypeStrindex()) != "samples" {
							continue
						}
						per := period{start: int64(pr.Time()), counts: map[string]int64{}}
						for _, s := range pr.Samples().All() {
							var frames []string
							for _, li := range d.StackTable().At(int(s.StackIndex())).LocationIndices().All() {
								for _, ln := range d.LocationTable().At(int(li)).Lines().All() {
									fn := d.FunctionTable().At(int(ln.FunctionIndex()))
									frames = append(frames, fmt.Sprintf("%s %s:%d", str(fn.NameStrindex()), str(fn.FilenameStrindex()), ln.Line()))
								}
							}
							attrs, err := pprofile.FromAttributeIndices(d.AttributeTable(), s, d)
							if err != nil {
								t.Fatal(err)
							}
							tid, _ := attrs.Get("thread.id")
							per.counts[stackKey(frames, tid.Int())] += s.Values().At(0)
						}
						pers = append(pers, per)
					}
				}
			}
		}
	}
	slices.SortFunc(pers, func(a, b period) int { return int(a.start - b.start) })
	return pers, resources
}

// TestUploadToCollector records a known workload into a real OpenTelemetry
// Collector over OTLP/gRPC and OTLP/HTTP: what the collector received is,
// period by period, exactly what the local pprof copies hold, with the
// resource attributes of the sampled process.
func TestUploadToCollector(t *testing.T) {
	in := uploadInterpreter(t)
	col := testutil.StartCollector(t)
	proc := testutil.Spawn(t, in, "cpu_split.py", "120")
	host, _ := os.Hostname()
	for _, tc := range []struct {
		name, url string
		interrupt bool // Ctrl-C in the fourth period instead of -d 7
	}{
		{"grpc", "otlp://" + col.GRPC, false},
		{"http", "http://" + col.HTTP + "/v1development/profiles", false},
		{"grpc-ctrl-c", "otlp://" + col.GRPC, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			before, _ := readCollected(t, col.Outputs())
			args := []string{"record", "--pid", strconv.Itoa(proc.Pid), "--upload", tc.url, "--period", "2",
				"--output-dir", dir, "--service", "cpu-split"}
			var r result
			if tc.interrupt {
				r = interruptWhen(t, func() bool {
					names, _ := filepath.Glob(filepath.Join(dir, "pyspyglass-period-*"))
					return len(names) >= 3
				}, time.Second, args...)
			} else {
				r = pyspyglass(t, append(args, "-d", "7")...)
			}
			if r.code != 0 {
				t.Fatalf("exit %d:\n%s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, "0 dropped, 0 failed") {
				t.Errorf("summary does not say all was sent:\n%s", r.stderr)
			}
			// A period without samples (the last, when it is very short) is
			// kept locally and not sent.
			local := slices.DeleteFunc(readLocalPeriods(t, dir), func(p period) bool { return len(p.counts) == 0 })
			// The exporter flushes every 100 ms; wait for every period.
			var got []period
			var res []map[string]any
			deadline := time.Now().Add(10 * time.Second)
			for {
				all, allRes := readCollected(t, col.Outputs())
				got, res = all[len(before):], allRes[len(before):]
				if len(got) >= len(local) || time.Now().After(deadline) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if len(local) < 4 || len(got) < 3 {
				t.Fatalf("%d local periods and %d received in 7 s with --period 2s; want 4 and at least 3\n%s", len(local), len(got), r.stderr)
			}
			if len(got) != len(local) {
				t.Fatalf("received %d periods, the local copies are %d", len(got), len(local))
			}
			for i := range local {
				if got[i].start != local[i].start {
					t.Errorf("period %d starts at %d in the collector, %d locally", i, got[i].start, local[i].start)
				}
				if !maps.Equal(got[i].counts, local[i].counts) {
					t.Errorf("period %d differs:\ncollector: %v\nlocal:     %v", i, got[i].counts, local[i].counts)
				}
			}
			// The workload's own frames, with their lines.
			heavy := regexp.MustCompile(fmt.Sprintf(`(^|;)heavy \S*cpu_split\.py:%d;run \S*cpu_split\.py:%d;`,
				testutil.Mark(t, "cpu_split.py", "heavy-loop"), testutil.Mark(t, "cpu_split.py", "run-call-heavy")))
			found := false
			for _, p := range got {
				for k := range p.counts {
					found = found || heavy.MatchString(k)
				}
			}
			if !found {
				t.Errorf("no period holds a stack matching %s", heavy)
			}
			want := map[string]any{
				"service.name": "cpu-split", "host.name": host, "process.pid": int64(proc.Pid),
				"process.executable.name": filepath.Base(in.Path), "process.runtime.name": "cpython",
				"process.runtime.version": in.Version,
			}
			for _, attrs := range res {
				for k, v := range want {
					if attrs[k] != v {
						t.Errorf("resource attribute %s = %v, want %v", k, attrs[k], v)
					}
				}
			}
		})
	}
}

// interruptWhen runs pyspyglass and sends it SIGINT, as Ctrl-C, d after
// ready says so.
func interruptWhen(t *testing.T, ready func() bool, d time.Duration, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); !ready(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("not ready after a minute:\n%s", stderr.String())
		}
	}
	time.Sleep(d)
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestUploadCollectorDown stops the collector for 10 s in the middle of a
// recording: the periods of the outage wait in the queue (2 here), the
// older ones are dropped and counted, none of the others is lost, and the
// sampler keeps its rate meanwhile.
func TestUploadCollectorDown(t *testing.T) {
	in := uploadInterpreter(t)
	col := testutil.StartCollector(t)
	proc := testutil.Spawn(t, in, "cpu_split.py", "120")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "record", "--pid", strconv.Itoa(proc.Pid), "--upload", "otlp://"+col.GRPC,
		"--period", "2", "-d", "24", "--upload-queue", "2", "--output-dir", dir, "--log", "debug")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	// Stop the collector in the middle of the second period, away from
	// the moment a period is sent: the collector may acknowledge a request
	// that comes in while it shuts down and then lose it.
	var first time.Time
	for deadline := time.Now().Add(time.Minute); first.IsZero(); time.Sleep(20 * time.Millisecond) {
		if names, _ := filepath.Glob(filepath.Join(dir, "pyspyglass-period-*")); len(names) > 0 {
			first = time.Now()
		} else if time.Now().After(deadline) {
			t.Fatalf("no period after a minute:\n%s", stderr.String())
		}
	}
	time.Sleep(time.Until(first.Add(time.Second)))
	stopped := time.Now()
	col.Stop()
	time.Sleep(time.Until(stopped.Add(10 * time.Second)))
	col.Start(t)
	restarted := time.Now()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("record: %v\n%s", err, stderr.String())
	}
	col.Stop() // flushes the file exporter

	m := regexp.MustCompile(`upload: (\d+) periods, (\d+) sent .* (\d+) queued, (\d+) retries, (\d+) dropped, (\d+) failed(?:, (\d+) empty)?`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no upload summary:\n%s", stderr.String())
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	periods, sent, retries, dropped, failed, empty := n(1), n(2), n(4), n(5), n(6), n(7)
	all := readLocalPeriods(t, dir)
	local := slices.DeleteFunc(slices.Clone(all), func(p period) bool { return len(p.counts) == 0 })
	got, _ := readCollected(t, col.Outputs())
	t.Logf("collector down from %v to %v; %d periods, %d sent, %d retries, %d dropped; %d received, %d local",
		stopped.Sub(began).Round(time.Millisecond), restarted.Sub(began).Round(time.Millisecond), periods, sent, retries, dropped, len(got), len(local))
	for i, l := range local {
		_, ok := slices.BinarySearchFunc(got, l.start, func(p period, s int64) int { return int(p.start - s) })
		t.Logf("period %d: %v to %v, received %v", i, time.Unix(0, l.start).Sub(began).Round(time.Millisecond),
			time.Unix(0, l.start).Add(l.dur).Sub(began).Round(time.Millisecond), ok)
	}
	if len(all) != periods || sent+dropped+empty != periods || len(all)-len(local) != empty || failed != 0 {
		t.Fatalf("periods %d = sent %d + dropped %d + empty %d, failed %d, local copies %d (%d with samples):\n%s",
			periods, sent, dropped, empty, failed, len(all), len(local), stderr.String())
	}
	if retries == 0 || dropped == 0 {
		t.Errorf("a 10 s outage with --period 2 and a queue of 2 should retry and drop; got %d retries, %d dropped", retries, dropped)
	}
	if len(got) != sent {
		t.Fatalf("the collector holds %d periods, %d were sent", len(got), sent)
	}
	// What was received is exactly the local copy; what is missing is one
	// run of periods ended during the outage, the oldest first.
	byStart := map[int64]period{}
	for _, p := range got {
		byStart[p.start] = p
	}
	var missing []int
	for i, l := range local {
		p, ok := byStart[l.start]
		if !ok {
			missing = append(missing, i)
			continue
		}
		if !maps.Equal(p.counts, l.counts) {
			t.Errorf("period %d differs from its local copy", i)
		}
	}
	// The queue kept its 2: at most the periods ended during the outage,
	// less 2, plus the one that may end before the first retry succeeds.
	ended := 0
	for _, l := range local {
		if end := time.Unix(0, l.start).Add(l.dur); end.After(stopped) && end.Before(restarted) {
			ended++
		}
	}
	if len(missing) > ended-2+1 {
		t.Log(stderr.String())
		t.Errorf("%d periods ended during the outage, %d were dropped: the queue of 2 did not keep its bound", ended, len(missing))
	}
	if len(missing) != dropped {
		t.Errorf("%d periods missing at the collector, %d counted as dropped", len(missing), dropped)
	}
	for j, i := range missing {
		end := time.Unix(0, local[i].start).Add(local[i].dur)
		if j > 0 && i != missing[j-1]+1 {
			t.Errorf("missing periods %v are not one run", missing)
		}
		if end.Before(stopped.Add(-time.Second)) || end.After(restarted.Add(time.Second)) {
			t.Errorf("period %d, ended %v, was dropped but did not end within the outage (%v to %v)", i, end, stopped, restarted)
		}
	}
	// The sampling rate did not change while the backend was away: rounds
	// per second of the outage's full periods against the others'.
	var inOut, inUp []float64
	for _, l := range all {
		if l.dur < 1900*time.Millisecond {
			continue // the last, partial one
		}
		end := time.Unix(0, l.start).Add(l.dur)
		rate := float64(l.rounds) / l.dur.Seconds()
		if time.Unix(0, l.start).After(stopped) && end.Before(restarted) {
			inOut = append(inOut, rate)
		} else {
			inUp = append(inUp, rate)
		}
	}
	mean := func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x
		}
		return s / float64(len(v))
	}
	if len(inOut) == 0 || len(inUp) == 0 {
		t.Fatalf("periods during the outage %v, outside %v", inOut, inUp)
	}
	if mean(inOut) < 0.8*mean(inUp) {
		t.Errorf("rate during the outage %.0f Hz, outside %.0f Hz", mean(inOut), mean(inUp))
	}
}

// TestUploadBadFlags: a bad --upload setting is a one-line error naming the
// fix, before anything is attached or launched.
func TestUploadBadFlags(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--upload", "collector:4317"}, `--upload "collector:4317" is not a URL: want otlp://HOST:PORT`},
		{[]string{"--upload", "ftp://h"}, `unknown scheme "ftp"`},
		{[]string{"--upload", "otlp://h", "--period", "0.5"}, "--period 500ms: give at least 1 second"},
		{[]string{"--upload", "https://h", "--upload-ca", "/nonexistent.pem"}, "--upload-ca: open /nonexistent.pem"},
		{[]string{"--upload", "http://h", "--upload-header", "nocolon"}, `--upload-header "nocolon": want "Name: value"`},
		{[]string{"--upload", "http://u:p@h"}, "PYSPYGLASS_UPLOAD_TOKEN"},
		{[]string{"--upload", "otlp://h", "--upload-queue", "0"}, "--upload-queue 0: give at least 1"},
		{[]string{"--output-dir", "/proc/self/x"}, "--output-dir"},
		{[]string{"--period", "5"}, "--period needs --upload URL or --output-dir DIR"},
		{[]string{"--output-dir", "d", "--upload-ca", "ca.pem"}, "--upload-ca needs --upload URL"},
		{[]string{"--upload", "otlp://h", "--output-keep", "3"}, "--output-keep needs --output-dir DIR"},
	} {
		r := pyspyglass(t, append(append([]string{"record"}, tc.args...), "--", "sh", "-c", "touch "+marker)...)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code != 1 || len(lines) != 1 || !strings.Contains(r.stderr, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want one line with %q", tc.args, r.code, r.stderr, tc.msg)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a command was launched despite a bad flag")
	}
}
