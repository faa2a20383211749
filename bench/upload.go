package main

// The cost of continuous profiling to the profiler (--upload-cost): two
// copies of the same busy workload are recorded side by side for the same
// time at 100 Hz, one plainly (-o FILE.pb.gz) and one with --upload to the
// test OpenTelemetry Collector every 10 s and --output-dir, and the
// profiler's CPU and resident memory of each are printed as a Markdown
// table.
//
//	go run ./bench --upload-cost ~/.cache/pyspyglass/otelcol/otelcol-HASH
//
// (`go test -v -run TestCollectorBuilds ./internal/testutil/` builds the
// collector and logs its path.)

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

type uploadRun struct {
	name   string
	args   []string
	cmd    *exec.Cmd
	target *exec.Cmd
	cpu    []time.Duration // at each minute
	rss    []int64
	hwm    int64
}

func uploadCost(root, bin, dir, collector, python string, minutes float64) error {
	const rate, period = "100", "10"
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return err
	}
	cfg := filepath.Join(dir, "otelcol.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`receivers:
  otlp:
    protocols:
      grpc: {endpoint: "%s"}
      http: {endpoint: "%s"}
exporters:
  file: {path: "%s"}
service:
  telemetry: {metrics: {level: none}, logs: {level: warn}}
  pipelines:
    profiles: {receivers: [otlp], exporters: [file]}
`, addr, httpAddr, filepath.Join(dir, "received.json"))), 0o644)
	col := exec.Command(collector, "--config", "file:"+cfg, "--feature-gates=service.profilesSupport")
	col.Stderr = os.Stderr
	if err := col.Start(); err != nil {
		return err
	}
	defer func() { col.Process.Signal(syscall.SIGTERM); col.Wait() }()
	time.Sleep(2 * time.Second)

	d := time.Duration(minutes * float64(time.Minute))
	// Recording goes on 30 s past the last reading, so every reading is
	// of a profiler at work.
	secs := strconv.FormatFloat(d.Seconds()+30, 'f', 0, 64)
	runs := []*uploadRun{
		{name: "plain recording", args: []string{"record", "-r", rate, "-d", secs, "-o", filepath.Join(dir, "plain.pb.gz")}},
		{name: "upload mode", args: []string{"record", "-r", rate, "-d", secs, "--upload", "otlp://" + addr, "--period", period, "--output-dir", filepath.Join(dir, "periods")}},
	}
	for _, r := range runs {
		r.target = exec.Command(python, "-u", filepath.Join(root, "testdata", "cpu_split.py"), strconv.FormatFloat(d.Seconds()+90, 'f', 0, 64))
		out, _ := r.target.StdoutPipe()
		if err := r.target.Start(); err != nil {
			return err
		}
		defer r.target.Process.Kill()
		if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
			return fmt.Errorf("workload: %v", err)
		}
		r.cmd = exec.Command(bin, append(r.args, "--pid", strconv.Itoa(r.target.Process.Pid))...)
		r.cmd.Stderr = os.Stderr
		if err := r.cmd.Start(); err != nil {
			return err
		}
	}
	start := time.Now()
	for m := 1; time.Duration(m)*time.Minute <= d; m++ {
		time.Sleep(time.Until(start.Add(time.Duration(m) * time.Minute)))
		for _, r := range runs {
			c, _ := cpuNow(r.cmd.Process.Pid)
			rss, hwm := rssNow(r.cmd.Process.Pid)
			if rss > 0 {
				r.cpu, r.rss, r.hwm = append(r.cpu, c), append(r.rss, rss), hwm
			}
		}
	}
	for _, r := range runs {
		if err := r.cmd.Wait(); err != nil {
			return fmt.Errorf("%s: %v", r.name, err)
		}
	}
	fmt.Printf("| %s Hz, %s min | profiler CPU | CPU per sample | RSS after 1 min | RSS at the end | peak RSS |\n|---|---|---|---|---|---|\n", rate, strconv.FormatFloat(minutes, 'f', -1, 64))
	hz, _ := strconv.ParseFloat(rate, 64)
	for _, r := range runs {
		if len(r.cpu) == 0 {
			return fmt.Errorf("%s: no measurement", r.name)
		}
		last := r.cpu[len(r.cpu)-1]
		elapsed := time.Duration(len(r.cpu)) * time.Minute
		fmt.Printf("| %s | %.2f%% of a core (%.1f s) | %.0f µs | %s | %s | %s |\n", r.name,
			100*last.Seconds()/elapsed.Seconds(), last.Seconds(), float64(last.Microseconds())/(hz*elapsed.Seconds()),
			mib(r.rss[0]), mib(r.rss[len(r.rss)-1]), mib(r.hwm))
	}
	return nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
