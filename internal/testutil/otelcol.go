package testutil

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// CollectorBinary returns the test OpenTelemetry Collector (the module in
// internal/otelcol: OTLP receiver with profiles, file exporter), building it
// on first use into the user's cache directory. The binary's name carries a
// hash of the module's sources, so a change to them builds a new one. The
// first build downloads and compiles the collector's modules: about 2
// to 4 minutes on 2 cores, far longer on an overloaded machine; .ci/setup
// does it ahead, with a longer test timeout than go test's default.
func CollectorBinary(t testing.TB) string {
	t.Helper()
	src := filepath.Join(ModuleRoot(), "internal", "otelcol")
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum", "main.go"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatalf("collector sources: %v", err)
		}
		h.Write(b)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "pyspyglass", "otelcol")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "otelcol-"+hex.EncodeToString(h.Sum(nil))[:16])
	// One build at a time: test packages run in parallel.
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	t.Logf("building the test OpenTelemetry Collector into %s (first time only: a few minutes)", bin)
	start := time.Now()
	tmp := bin + ".tmp"
	cmd := exec.Command("go", "build", "-o", tmp, ".")
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the test collector in %s: %v\n%s", src, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		t.Fatal(err)
	}
	t.Logf("built the test collector in %v", time.Since(start).Round(time.Second))
	return bin
}

// Collector is a running test collector on 127.0.0.1.
type Collector struct {
	GRPC, HTTP string // host:port of the OTLP receivers
	bin, dir   string
	runs       int
	cmd        *exec.Cmd
	exited     chan struct{}
}

// StartCollector starts the test collector on free ports; it is stopped
// when the test ends. Each run writes what it receives to its own file
// (Outputs).
func StartCollector(t testing.TB) *Collector {
	t.Helper()
	c := &Collector{bin: CollectorBinary(t), dir: t.TempDir(), GRPC: freeAddr(t), HTTP: freeAddr(t)}
	c.Start(t)
	t.Cleanup(c.Stop)
	return c
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Start runs the collector (again, after Stop) on the same ports and waits
// until both receivers accept connections.
func (c *Collector) Start(t testing.TB) {
	t.Helper()
	c.runs++
	cfg := fmt.Sprintf(`receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
      http:
        endpoint: %s
exporters:
  file:
    path: %s
    flush_interval: 100ms
service:
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
  pipelines:
    profiles:
      receivers: [otlp]
      exporters: [file]
`, c.GRPC, c.HTTP, c.output(c.runs))
	path := filepath.Join(c.dir, "config-"+strconv.Itoa(c.runs)+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(c.dir, "collector-"+strconv.Itoa(c.runs)+".log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	c.cmd = exec.Command(c.bin, "--config", "file:"+path, "--feature-gates=service.profilesSupport")
	c.cmd.Stdout, c.cmd.Stderr = log, log
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start collector: %v", err)
	}
	c.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(c.cmd, c.exited)
	deadline := time.Now().Add(Deadline)
	for _, addr := range []string{c.GRPC, c.HTTP} {
		for {
			conn, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				conn.Close()
				break
			}
			select {
			case <-c.exited:
				b, _ := os.ReadFile(log.Name())
				t.Fatalf("collector exited at start:\n%s", b)
			default:
			}
			if time.Now().After(deadline) {
				c.Stop()
				t.Fatalf("collector does not listen on %s after %v", addr, Deadline)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// Stop ends the collector (SIGTERM, which flushes its exporter) and waits.
func (c *Collector) Stop() {
	if c.cmd == nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
	}
	c.cmd = nil
}

func (c *Collector) output(run int) string {
	return filepath.Join(c.dir, "received-"+strconv.Itoa(run)+".json")
}

// Outputs are the files the runs so far wrote, one OTLP JSON request per line.
func (c *Collector) Outputs() []string {
	var out []string
	for i := 1; i <= c.runs; i++ {
		out = append(out, c.output(i))
	}
	return out
}
