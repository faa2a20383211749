package upload

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"go.opentelemetry.io/collector/pdata/pprofile/pprofileotlp"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// sampleProfile is a profile with two threads of one process and known
// stacks: main;work (3 samples), main;idle (1), and on "worker": main;work (2).
func sampleProfile(start time.Time) *prof.Profile {
	p := prof.New(start)
	p.Health.Rate = 100
	mainF := p.Frame(prof.Frame{Name: "main", File: "app.py", Line: 10})
	work := p.Frame(prof.Frame{Name: "work", File: "app.py", Line: 20})
	idle := p.Frame(prof.Frame{Name: "idle", File: "app.py", Line: 30})
	t0 := p.Thread(prof.Thread{Pid: 42, TID: 100, Name: "MainThread"})
	t1 := p.Thread(prof.Thread{Pid: 42, TID: 101, Name: "worker"})
	p.Add(p.Stack([]prof.FrameID{mainF, work}), t0, 0, 3)
	p.Add(p.Stack([]prof.FrameID{mainF, idle}), t0, 0, 1)
	p.Add(p.Stack([]prof.FrameID{mainF, work}), t1, 0, 2)
	p.Health.Samples = 4
	return p
}

// flat is a profile's counts as "thread:frame;frame" -> n, root first.
func flat(p *prof.Profile) map[string]int64 {
	out := map[string]int64{}
	for _, c := range p.Counts() {
		var names []string
		for _, f := range p.Stacks[c.Stack] {
			names = append(names, p.Frames[f].Name)
		}
		out[p.Threads[c.Thread].Name+":"+strings.Join(names, ";")] += c.N
	}
	return out
}

func TestCutterHandsOutDifferences(t *testing.T) {
	start := time.Unix(1000, 0)
	p := sampleProfile(start)
	c := NewCutter()
	first := c.Cut(p, start.Add(2*time.Second))
	if got := flat(first.Profile); len(got) != 3 || got["MainThread:main;work"] != 3 || got["worker:main;work"] != 2 || got["MainThread:main;idle"] != 1 {
		t.Fatalf("first period: %v", got)
	}
	if first.Seq != 1 || !first.From.Equal(start) || first.Profile.Health.Samples != 4 {
		t.Errorf("first period: seq %d from %v, %d rounds", first.Seq, first.From, first.Profile.Health.Samples)
	}
	// Two more samples of one stack, one of a new one.
	p.Add(0, 0, 0, 2)
	newStack := p.Stack([]prof.FrameID{0})
	p.Add(newStack, 1, 0, 1)
	p.Health.Samples = 7
	second := c.Cut(p, start.Add(4*time.Second))
	want := map[string]int64{"MainThread:main;work": 2, "worker:main": 1}
	if got := flat(second.Profile); len(got) != len(want) || got["MainThread:main;work"] != 2 || got["worker:main"] != 1 {
		t.Fatalf("second period: %v, want %v", got, want)
	}
	if second.Seq != 2 || !second.From.Equal(first.Until) || second.Profile.Health.Samples != 3 {
		t.Errorf("second period: seq %d from %v (first until %v), %d rounds", second.Seq, second.From, first.Until, second.Profile.Health.Samples)
	}
	if n := len(second.Profile.Frames); n != 2 {
		t.Errorf("second period carries %d frames, want only the 2 it uses", n)
	}
	// The live profile is left as it was.
	if p.Total() != 9 {
		t.Errorf("source profile total %d, want 9", p.Total())
	}
	// A reset of the source (top's window) starts the counts afresh.
	p.Reset(start.Add(5 * time.Second))
	p.Add(0, 0, 0, 1)
	third := c.Cut(p, start.Add(6*time.Second))
	if got := flat(third.Profile); len(got) != 1 || got["MainThread:main;work"] != 1 {
		t.Errorf("after a reset: %v", got)
	}
	// Nothing new: an empty period, still written and sent.
	if empty := c.Cut(p, start.Add(8*time.Second)); empty.Profile.Total() != 0 {
		t.Errorf("empty period has %d samples", empty.Profile.Total())
	}
}

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct {
		url, format string
		want        Endpoint
		err         string
	}{
		{url: "otlp://collector", want: Endpoint{Protocol: OTLPGRPC, Host: "collector:4317"}},
		{url: "otlps://collector:443", want: Endpoint{Protocol: OTLPGRPC, TLS: true, Host: "collector:443"}},
		{url: "http://collector:4318", want: Endpoint{Protocol: OTLPHTTP, Host: "collector:4318", URL: "http://collector:4318/v1development/profiles"}},
		{url: "https://otel.example/v1development/profiles", want: Endpoint{Protocol: OTLPHTTP, TLS: true, Host: "otel.example", URL: "https://otel.example/v1development/profiles"}},
		{url: "pyroscope://localhost", want: Endpoint{Protocol: Pyroscope, Host: "localhost:4040", URL: "http://localhost:4040/ingest"}},
		{url: "https://profiles.example/pyroscope", format: "pyroscope", want: Endpoint{Protocol: Pyroscope, TLS: true, Host: "profiles.example", URL: "https://profiles.example/pyroscope/ingest"}},
		{url: "http://h:4040/ingest", format: "pyroscope", want: Endpoint{Protocol: Pyroscope, Host: "h:4040", URL: "http://h:4040/ingest"}},
		{url: "collector:4317", err: "is not a URL"},
		{url: "localhost", err: "is not a URL"},
		{url: "ftp://h", err: `unknown scheme "ftp"`},
		{url: "otlp://h:99999", err: "bad port"},
		{url: "otlp://h:4317/x", err: "has no path"},
		{url: "http://user:pw@h", err: "not in the URL"},
		{url: "otlp://h", format: "pyroscope", err: "is OTLP/gRPC"},
		{url: "http://h", format: "jaeger", err: "want otlp or pyroscope"},
	} {
		got, err := ParseEndpoint(tc.url, tc.format)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.url, err, tc.err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.url, err)
		case got != tc.want:
			t.Errorf("%s: %+v, want %+v", tc.url, got, tc.want)
		}
	}
}

func TestHeadersAndCredentials(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	h, err := headers([]string{"X-Scope-OrgID: team-a"}, env(EnvToken, "s3cret"))
	if err != nil || h["x-scope-orgid"] != "team-a" || h["authorization"] != "Bearer s3cret" {
		t.Errorf("token: %v %v", h, err)
	}
	h, err = headers(nil, env(EnvUser, "u", EnvPassword, "p"))
	if err != nil || h["authorization"] != "Basic dTpw" {
		t.Errorf("basic: %v %v", h, err)
	}
	for _, tc := range []struct {
		lines []string
		env   func(string) string
		err   string
	}{
		{[]string{"novalue"}, env(), "want \"Name: value\""},
		{[]string{"Bad Name: v"}, env(), "want \"Name: value\""},
		{nil, env(EnvToken, "t", EnvUser, "u"), "give one"},
		{nil, env(EnvPassword, "p"), "without"},
	} {
		if _, err := headers(tc.lines, tc.env); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%v: err %v, want %q", tc.lines, err, tc.err)
		}
	}
}

func TestServiceName(t *testing.T) {
	for _, tc := range []struct {
		cmd  []string
		want string
	}{
		{[]string{"/usr/bin/python3", "-u", "app/server.py", "--port", "80"}, "server"},
		{[]string{"python", "-m", "gunicorn", "app:wsgi"}, "gunicorn"},
		{[]string{"python3.12", "-mcelery", "worker"}, "celery"},
		{[]string{"python", "-X", "dev", "job.py"}, "job"},
		{[]string{"python", "-c", "print(1)"}, "python"},
		{[]string{"/usr/local/bin/uwsgi", "--ini", "app.ini"}, "uwsgi"},
		{nil, ""},
	} {
		if got := ServiceName(tc.cmd); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.cmd, got, tc.want)
		}
	}
}

func period(seq int, from time.Time) Period {
	return Period{Seq: seq, From: from, Until: from.Add(10 * time.Second), Profile: sampleProfile(from)}
}

// TestPyroscopeRequest checks the ingest request against the API's
// documented shape: POST /ingest, name with labels, from/until in Unix
// seconds, format=pprof, sampleRate, and a pprof body (the "profile" part of
// a multipart form) that google/pprof decodes to the period's samples.
func TestPyroscopeRequest(t *testing.T) {
	type req struct {
		method, path, auth, tenant string
		query                      map[string]string
		prof                       *profile.Profile
		err                        error
	}
	got := make(chan req, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rq := req{method: r.Method, path: r.URL.Path, auth: r.Header.Get("Authorization"), tenant: r.Header.Get("X-Scope-OrgID"), query: map[string]string{}}
		for k, v := range r.URL.Query() {
			rq.query[k] = v[0]
		}
		f, _, err := r.FormFile("profile")
		if err == nil {
			rq.prof, err = profile.Parse(f)
		}
		rq.err = err
		got <- rq
	}))
	defer srv.Close()
	from := time.Unix(1700000000, 0)
	u, err := New(Options{
		URL: "pyroscope://" + strings.TrimPrefix(srv.URL, "http://"), Headers: []string{"X-Scope-OrgID: team-a"},
		Resource: Resource{Service: "shop", Host: "web-1"},
		Getenv:   func(k string) string { return map[string]string{EnvToken: "tok"}[k] },
	})
	if err != nil {
		t.Fatal(err)
	}
	u.Submit(period(1, from))
	r := <-got
	st := u.Close(5 * time.Second)
	if r.err != nil {
		t.Fatalf("body: %v", r.err)
	}
	if r.method != "POST" || r.path != "/ingest" || r.auth != "Bearer tok" || r.tenant != "team-a" {
		t.Errorf("request %s %s, auth %q, tenant %q", r.method, r.path, r.auth, r.tenant)
	}
	want := map[string]string{"name": "shop{hostname=web-1}", "from": "1700000000", "until": "1700000010", "format": "pprof", "sampleRate": "100", "spyName": "pyspyglass"}
	for k, v := range want {
		if r.query[k] != v {
			t.Errorf("query %s = %q, want %q", k, r.query[k], v)
		}
	}
	if err := r.prof.CheckValid(); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for _, s := range r.prof.Sample {
		var names []string
		for _, l := range s.Location {
			names = append([]string{l.Line[0].Function.Name}, names...)
		}
		counts[s.Label["thread"][0]+":"+strings.Join(names, ";")] += s.Value[0]
	}
	if !equalCounts(counts, flat(sampleProfile(from))) {
		t.Errorf("pprof body holds %v, want %v", counts, flat(sampleProfile(from)))
	}
	if st.Sent != 1 || st.Bytes == 0 || st.Dropped+st.Failed+st.Retries != 0 {
		t.Errorf("stats %+v", st)
	}
}

func equalCounts(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestOTLPHTTPRequest decodes the OTLP/HTTP body with the collector's own
// request type and checks the development-version header.
func TestOTLPHTTPRequest(t *testing.T) {
	var mu sync.Mutex
	var bodies [][]byte
	var version, ctype string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, b)
		version, ctype = r.Header.Get(pprofileotlp.DevelopmentVersionHeader), r.Header.Get("Content-Type")
		mu.Unlock()
	}))
	defer srv.Close()
	u, err := New(Options{URL: srv.URL, Resource: Resource{Service: "shop", Host: "web-1",
		Process: func(pid int) (Process, bool) {
			return Process{Pid: pid, Cmdline: []string{"/usr/bin/python3.12", "shop.py"}, Python: "3.12.1"}, true
		}}})
	if err != nil {
		t.Fatal(err)
	}
	u.Submit(period(1, time.Unix(1700000000, 0)))
	st := u.Close(5 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	if st.Sent != 1 || len(bodies) != 1 {
		t.Fatalf("stats %+v, %d requests", st, len(bodies))
	}
	if version != pprofileotlp.DevelopmentVersion || ctype != "application/x-protobuf" {
		t.Errorf("headers: version %q, content type %q", version, ctype)
	}
	req := pprofileotlp.NewExportRequest()
	if err := req.UnmarshalProto(bodies[0]); err != nil {
		t.Fatal(err)
	}
	pd := req.Profiles()
	if pd.ResourceProfiles().Len() != 1 {
		t.Fatalf("%d resources", pd.ResourceProfiles().Len())
	}
	attrs := pd.ResourceProfiles().At(0).Resource().Attributes().AsRaw()
	want := map[string]any{"service.name": "shop", "host.name": "web-1", "process.pid": int64(42), "process.executable.name": "python3.12",
		"process.command_line": "/usr/bin/python3.12 shop.py", "process.runtime.name": "cpython", "process.runtime.version": "3.12.1"}
	for k, v := range want {
		if attrs[k] != v {
			t.Errorf("%s = %v, want %v", k, attrs[k], v)
		}
	}
	profs := pd.ResourceProfiles().At(0).ScopeProfiles().At(0).Profiles()
	if profs.Len() != 2 {
		t.Fatalf("%d profiles, want samples and cpu", profs.Len())
	}
	d := pd.Dictionary()
	var total [2]int64
	for i := range 2 {
		pr := profs.At(i)
		for _, s := range pr.Samples().All() {
			total[i] += s.Values().At(0)
		}
		if got := d.StringTable().At(int(pr.SampleType().TypeStrindex())); got != sampleTypes[i][0] {
			t.Errorf("profile %d is %q", i, got)
		}
	}
	if total != [2]int64{6, 6 * 1e7} {
		t.Errorf("totals %v, want 6 samples and 60 ms", total)
	}
}

// fakeSender fails while down is set.
type fakeSender struct {
	mu   sync.Mutex
	down bool
	sent []int
}

func (f *fakeSender) encode(per Period) (payload, error) {
	return payload{seq: per.Seq, body: make([]byte, 1000)}, nil
}

func (f *fakeSender) send(ctx context.Context, p payload) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return &sendError{true, errors.New("down")}
	}
	f.sent = append(f.sent, p.seq)
	return nil
}

func (f *fakeSender) close() {}

// TestQueueDropsOldest fills the queue while the backend is down: the
// newest periods wait, the oldest are dropped and counted, and the waiting
// ones are sent, in order, when the backend is back.
func TestQueueDropsOldest(t *testing.T) {
	for _, tc := range []struct {
		name      string
		size      int
		bytes     int64
		wantSent  []int
		wantDrops int64
	}{
		{"by count", 3, 1 << 20, []int{8, 9, 10}, 7},
		{"by memory", 100, 2500, []int{9, 10}, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeSender{down: true}
			u := &Uploader{o: Options{QueueSize: tc.size, QueueBytes: tc.bytes, Timeout: time.Second, BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond},
				snd: f, wake: make(chan struct{}, 1), done: make(chan struct{})}
			u.o.Log = discard()
			go u.run()
			for i := 1; i <= 10; i++ {
				u.Submit(period(i, time.Unix(int64(i), 0)))
			}
			for deadline := time.Now().Add(10 * time.Second); u.Stats().Retries == 0 && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			if st := u.Stats(); st.Dropped != tc.wantDrops || st.Queued != len(tc.wantSent) || st.Retries == 0 {
				t.Errorf("while down: %+v", st)
			}
			f.mu.Lock()
			f.down = false
			f.mu.Unlock()
			st := u.Close(5 * time.Second)
			f.mu.Lock()
			defer f.mu.Unlock()
			if !equalInts(f.sent, tc.wantSent) || st.Dropped != tc.wantDrops || st.Sent != int64(len(tc.wantSent)) || st.Retries == 0 {
				t.Errorf("sent %v, stats %+v; want sent %v, %d dropped", f.sent, st, tc.wantSent, tc.wantDrops)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSendFailures: refused connections, TLS failures and 4xx/5xx answers
// give a message that names the cause, are counted, and never block Submit.
func TestSendFailures(t *testing.T) {
	status := func(code int, body string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(code)
			io.WriteString(w, body)
		}))
	}
	refused := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return addr
	}()
	// HTTP/2 too, so that gRPC's handshake gets as far as the certificate.
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	tlsSrv.EnableHTTP2 = true
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0)
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}), 0o644)
	bad, unavailable, denied := status(400, "invalid profile: no samples"), status(503, "overloaded"), status(401, "")
	plain := status(200, "")
	for _, s := range []*httptest.Server{bad, unavailable, denied, plain} {
		defer s.Close()
	}
	for _, tc := range []struct {
		name, url, ca, format string
		retried               bool
		msg                   string
	}{
		{"refused http", "http://" + refused, "", "", true, "refused the connection: is the backend running there?"},
		{"refused grpc", "otlp://" + refused, "", "", true, "refused the connection"},
		{"4xx", bad.URL, "", "", false, "400 Bad Request: invalid profile: no samples"},
		{"5xx", unavailable.URL, "", "", true, "503 Service Unavailable: overloaded"},
		{"401", denied.URL, "", "pyroscope", false, "401 Unauthorized (set PYSPYGLASS_UPLOAD_TOKEN"},
		{"unknown CA", tlsSrv.URL, "", "", false, "unknown authority: give its CA with --upload-ca FILE"},
		{"TLS to plain", strings.Replace(plain.URL, "http:", "https:", 1), "", "", false, "does not speak TLS"},
		{"grpc TLS unknown CA", "otlps://" + strings.TrimPrefix(tlsSrv.URL, "https://"), "", "", false, "unknown authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := New(Options{URL: tc.url, Format: tc.format, CAFile: tc.ca, Timeout: 2 * time.Second, BackoffMin: 50 * time.Millisecond, BackoffMax: 100 * time.Millisecond, Log: discard()})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			u.Submit(period(1, time.Unix(1700000000, 0)))
			if d := time.Since(start); d > time.Second {
				t.Errorf("Submit took %v", d) // never waits for the backend
			}
			st := u.Close(time.Second)
			if st.Sent != 0 || !strings.Contains(st.LastErr, tc.msg) {
				t.Errorf("stats %+v, want the message %q", st, tc.msg)
			}
			if tc.retried && (st.Retries == 0 || st.Dropped != 1) || !tc.retried && (st.Failed != 1 || st.Retries != 0) {
				t.Errorf("retried %v: %+v", tc.retried, st)
			}
		})
	}
	// With --upload-ca naming the server's CA, the same server accepts.
	u, err := New(Options{URL: tlsSrv.URL, CAFile: caFile, Log: discard()})
	if err != nil {
		t.Fatal(err)
	}
	u.Submit(period(1, time.Unix(1700000000, 0)))
	if st := u.Close(5 * time.Second); st.Sent != 1 {
		t.Errorf("with --upload-ca: %+v", st)
	}
}

// TestBadOptions fail in New, before any sampling.
func TestBadOptions(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "x.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o644)
	for _, tc := range []struct {
		o   Options
		err string
	}{
		{Options{}, "give --upload URL or --output-dir DIR"},
		{Options{URL: "collector:4317"}, "is not a URL"},
		{Options{URL: "https://h", CAFile: filepath.Join(dir, "missing.pem")}, "--upload-ca"},
		{Options{URL: "https://h", CAFile: notPEM}, "no PEM certificate"},
		{Options{URL: "http://h", CAFile: notPEM}, "no PEM certificate"},
		{Options{URL: "http://h", Headers: []string{"oops"}}, "--upload-header"},
		{Options{OutputDir: "/proc/self/nope"}, "--output-dir"},
	} {
		if _, err := New(tc.o); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%+v: err %v, want %q", tc.o, err, tc.err)
		}
	}
}

// TestLocalCopiesRotate keeps the newest --output-keep files and leaves
// other files in the directory alone.
func TestLocalCopiesRotate(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "notes.txt")
	os.WriteFile(other, []byte("mine"), 0o644)
	u, err := New(Options{OutputDir: dir, Keep: 3})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Unix(1700000000, 0)
	for i := 1; i <= 5; i++ {
		u.Submit(period(i, base.Add(time.Duration(i)*10*time.Second)))
	}
	st := u.Close(time.Second)
	names, _ := filepath.Glob(filepath.Join(dir, "pyspyglass-period-*.pb.gz"))
	if len(names) != 3 || st.Saved != 5 {
		t.Fatalf("%d files kept, %d saved: %v", len(names), st.Saved, names)
	}
	for i, n := range names {
		if want := PeriodFile(period(i+3, base.Add(time.Duration(i+3)*10*time.Second))); filepath.Base(n) != want {
			t.Errorf("kept %s, want %s", filepath.Base(n), want)
		}
		b, _ := os.ReadFile(n)
		p, err := profile.Parse(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if p.TimeNanos != base.Add(time.Duration(i+3)*10*time.Second).UnixNano() {
			t.Errorf("%s starts at %d", n, p.TimeNanos)
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("rotation removed a file not its own: %v", err)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestOTLPOneResourcePerProcess: with several processes (--subprocesses),
// each gets its own resource with its pid, and only its own samples.
func TestOTLPOneResourcePerProcess(t *testing.T) {
	from := time.Unix(1700000000, 0)
	p := sampleProfile(from)
	child := p.Thread(prof.Thread{Pid: 43, TID: 200, Name: "MainThread"})
	p.Add(p.Stack([]prof.FrameID{0}), child, 0, 5)
	pd := toOTLP(Period{Seq: 1, From: from, Until: from.Add(10 * time.Second), Profile: p}, Resource{Service: "pool"}, "test")
	if n := pd.ResourceProfiles().Len(); n != 2 {
		t.Fatalf("%d resources, want 2", n)
	}
	for i, want := range []struct {
		pid   int64
		total int64
	}{{42, 6}, {43, 5}} {
		rp := pd.ResourceProfiles().At(i)
		pid, _ := rp.Resource().Attributes().Get("process.pid")
		var total int64
		for _, s := range rp.ScopeProfiles().At(0).Profiles().At(0).Samples().All() {
			total += s.Values().At(0)
		}
		if pid.Int() != want.pid || total != want.total {
			t.Errorf("resource %d: pid %d with %d samples, want pid %d with %d", i, pid.Int(), total, want.pid, want.total)
		}
	}
}
