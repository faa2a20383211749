package pyabi

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pyspyglass/pyspyglass/internal/testutil"
	"github.com/pyspyglass/pyspyglass/procmem"
)

// threadsScript starts a spinning and a waiting thread, prints each
// thread's name and ident, then "ready", and blocks until stdin closes.
// With the argument "dict" it first asks for each Thread's __dict__, which
// on 3.11+ turns the instance's inline values into a dict object. It runs
// unchanged on 2.7 and 3.x.
const threadsScript = `
import sys, threading
stop = threading.Event()
def busy():
    n = 0
    while not stop.is_set():
        n += 1
def idle():
    stop.wait()
threads = [threading.Thread(target=busy, name="busy-worker"),
           threading.Thread(target=idle, name="idle-worker")]
for t in threads:
    t.daemon = True
    t.start()
# 2.7 sets a thread's started event before it enters threading._active.
while [t for t in threads if t.ident not in threading._active]:
    stop.wait(0.001)
everyone = [threading.current_thread()] + threads
if sys.argv[1:] == ["dict"]:
    dicts = [vars(t) for t in everyone]
for t in everyone:
    sys.stdout.write("thread %s %d\n" % (t.name, t.ident))
sys.stdout.write("ready\n")
sys.stdout.flush()
sys.stdin.read()
stop.set()
`

// startThreads runs threadsScript under python and returns the pid and
// the ident printed for each thread name.
func startThreads(t *testing.T, in testutil.Interpreter, args ...string) (int, map[string]uint64) {
	t.Helper()
	py := in.Name
	cmd := in.Command(append([]string{"-u", "-c", threadsScript}, args...)...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", py, err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	idents := map[string]uint64{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if line == "ready" {
			go io.Copy(io.Discard, stdout)
			return cmd.Process.Pid, idents
		}
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "thread" {
			t.Fatalf("%s: unexpected line %q", py, line)
		}
		id, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			t.Fatalf("%s: ident in %q: %v", py, line, err)
		}
		idents[f[1]] = id
	}
	t.Fatalf("%s exited before ready: %v", py, sc.Err())
	return 0, nil
}

// locateLive finds the interpreter of pid the way the sampler does:
// libpython first, then the executable.
func locateLive(t *testing.T, pid int) *Interpreter {
	t.Helper()
	proc, err := procmem.Open(pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proc.Close() })
	maps, err := procmem.ReadMaps(pid)
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := procmem.Exe(pid)
	var images []Image
	for _, m := range procmem.Modules(maps) {
		lib := strings.HasPrefix(filepath.Base(m.Path), "libpython")
		if !lib && m.Path != exe {
			continue
		}
		name, err := procmem.MappedFile(pid, m.First)
		if err != nil {
			continue
		}
		bin, err := procmem.OpenBinary(name)
		if err != nil {
			continue
		}
		t.Cleanup(func() { bin.Close() })
		bias, err := bin.Bias(maps, m.Path)
		if err != nil {
			continue
		}
		im := Image{Path: m.Path, File: bin, Bias: bias}
		if lib {
			images = slices.Insert(images, 0, im)
		} else {
			images = append(images, im)
		}
	}
	in, err := Locate(proc, images, nil)
	var unsup *UnsupportedVersionError
	if errors.As(err, &unsup) {
		t.Skipf("pid %d: %v", pid, err)
	}
	if err != nil {
		t.Fatalf("locate pid %d: %v", pid, err)
	}
	return in
}

func TestThreadNamesLive(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("live tests read /proc")
	}
	testutil.ForEach(t, testutil.Interpreters(t), func(t *testing.T, in testutil.Interpreter) {
		for _, mode := range []string{"values", "dict"} {
			t.Run(mode, func(t *testing.T) {
				pid, idents := startThreads(t, in, mode)
				checkThreadNames(t, locateLive(t, pid), idents)
			})
		}
	})
}

// checkThreadNames compares ThreadNames with the idents the script printed
// and with the interpreter's thread states.
func checkThreadNames(t *testing.T, in *Interpreter, idents map[string]uint64) {
	t.Helper()
	counter := &countingReader{r: in.r}
	in.r = counter
	got, err := in.ThreadNames()
	if err != nil {
		t.Fatalf("%v: ThreadNames: %v", in.Version, err)
	}
	want := map[uint64]string{}
	for name, id := range idents {
		want[id] = name
	}
	if len(want) != 3 || !mapsEqual(got, want) {
		t.Fatalf("%v: ThreadNames = %v, want %v", in.Version, got, want)
	}
	threads, err := in.Threads(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, th := range threads {
		if _, ok := got[th.ThreadID]; !ok {
			t.Errorf("%v: thread state %#x (id %#x) has no name", in.Version, th.Addr, th.ThreadID)
		}
	}
	t.Logf("%v: %d reads, %d bytes", in.Version, counter.reads, counter.bytes)
	// Again: the keys are tried where they were found, not scanned for.
	first := *counter
	counter.reads, counter.bytes = 0, 0
	again, err := in.ThreadNames()
	if err != nil || !mapsEqual(again, want) {
		t.Fatalf("%v: ThreadNames again = %v, %v, want %v", in.Version, again, err, want)
	}
	t.Logf("%v: again %d reads, %d bytes", in.Version, counter.reads, counter.bytes)
	if counter.bytes*2 > first.bytes {
		t.Errorf("%v: ThreadNames again read %d bytes, the first call %d: want at most half", in.Version, counter.bytes, first.bytes)
	}
}

func mapsEqual(a, b map[uint64]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// countingReader counts the reads ThreadNames costs: system calls, as a
// batch is one process_vm_readv (up to 1024 spans).
type countingReader struct {
	r            procmem.Reader
	reads, bytes int
}

func (c *countingReader) ReadBatch(spans []procmem.Span) error {
	c.reads += (len(spans) + 1023) / 1024
	for _, s := range spans {
		c.bytes += len(s.Buf)
	}
	return c.r.(procmem.BatchReader).ReadBatch(spans)
}

func (c *countingReader) ReadAt(p []byte, addr uint64) (int, error) {
	c.reads++
	c.bytes += len(p)
	return c.r.ReadAt(p, addr)
}

// FuzzThreadNames patches a valid image, or reads pure garbage, and checks
// that ThreadNames ends with a map or an error: no panic, no endless loop.
func FuzzThreadNames(f *testing.F) {
	f.Add(uint8(0), uint16(0), []byte{})
	f.Add(uint8(1), uint16(64), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Add(uint8(0x87), uint16(900), []byte{8, 0, 0, 0, 0, 0, 0, 0})
	f.Add(uint8(0x46), uint16(0), bytes.Repeat([]byte{0x10, 0, 1, 0, 0, 0, 0, 0}, 64))
	names := map[uint64]string{1: "MainThread", 0x7f0000802000: "worker"}
	vs := imageVersions()
	f.Fuzz(func(t *testing.T, mode uint8, off uint16, patch []byte) {
		v := vs[int(mode&0x3f)%len(vs)]
		if mode&0x40 != 0 {
			// Garbage: the interpreter and everything it points to come
			// from the fuzzer's bytes.
			l, _, err := LookupLayout(v)
			if err != nil {
				t.Fatal(err)
			}
			in := newInterpreter(procmem.Bytes{Base: imageBase, Data: patch}, v, l)
			in.Head = imageBase + uint64(off)%64
			in.ThreadNames()
			return
		}
		m, in := threadsImage(t, v, names, mode&0x80 != 0)
		copy(m.data[int(off)%len(m.data):], patch)
		in.ThreadNames()
	})
}
