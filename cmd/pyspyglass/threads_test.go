package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/pprof/profile"
	"github.com/pyspyglass/pyspyglass/internal/testutil"
	"github.com/pyspyglass/pyspyglass/ui/render"
)

// idleThreads parks 30 named threads, idle-1 ... idle-30, and main.
const idleThreads = 31

// wantedIdle lists the thread numbers of idle_threads.py whose name
// "idle-N" the pattern finds, as Go's regexp decides.
func wantedIdle(pattern string) []int {
	re := regexp.MustCompile(pattern)
	var out []int
	for i := 1; i < idleThreads; i++ {
		if re.MatchString("idle-" + strconv.Itoa(i)) {
			out = append(out, i)
		}
	}
	return out
}

var idleName = regexp.MustCompile(`idle-(\d+)\D`)

// idleNamed lists the idle-N thread numbers a file names (gzip undone).
func idleNamed(t *testing.T, path string) []int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(path, ".pb.gz") {
		// Protobuf puts a length byte, maybe a digit, after each name.
		p, err := profile.Parse(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		for _, f := range p.Function {
			b.WriteString(f.Name + "\n")
		}
		for _, s := range p.Sample {
			for k, vs := range s.Label {
				b.WriteString(k + "=" + strings.Join(vs, ",") + "\n")
			}
		}
		data = b.Bytes()
	} else if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	var out []int
	for _, m := range idleName.FindAllSubmatch(data, -1) {
		n, _ := strconv.Atoi(string(m[1]))
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// TestThreadFilterEveryFormat records 30 named idle threads with
// --thread 'idle-[12]' and a root frame per thread, in every format, and
// checks each output names exactly the threads the pattern matches (a
// format that names no thread at all, such as a per-line report, must at
// least name none of the others).
func TestThreadFilterEveryFormat(t *testing.T) {
	ins := testutil.Interpreters(t)
	if len(ins) == 0 {
		t.Skip("no Python interpreter found")
	}
	// The oldest and the newest: thread names are read differently.
	ins = slices.Compact([]testutil.Interpreter{ins[0], ins[len(ins)-1]})
	const pattern = "idle-[12]"
	want := wantedIdle(pattern)
	testutil.ForEach(t, ins, func(t *testing.T, in testutil.Interpreter) {
		tg := testutil.Spawn(t, in, "idle_threads.py", strconv.Itoa(idleThreads))
		dir := t.TempDir()
		var wg sync.WaitGroup
		for _, f := range render.Formats() {
			wg.Go(func() {
				out := filepath.Join(dir, "threads-"+f.Name()+f.Ext())
				r := pyspyglass(t, "record", "--idle", "--threads", "--thread", pattern, "--rate", "50", "-d", "1",
					"-f", f.Name(), "-o", out, "-p", strconv.Itoa(tg.Pid))
				if r.code != 0 {
					t.Errorf("%s: exit %d\n%s", f.Name(), r.code, r.stderr)
					return
				}
				got := idleNamed(t, out)
				switch {
				case len(got) == 0:
					t.Logf("%s names no thread", f.Name())
				case !slices.Equal(got, want):
					t.Errorf("%s names threads %v, want exactly %v", f.Name(), got, want)
				}
			})
		}
		wg.Wait()
	})
}

// TestThreadFilterDump checks dump --thread and --tid on every interpreter:
// only the matching threads are listed.
func TestThreadFilterDump(t *testing.T) {
	testutil.ForEach(t, testutil.Interpreters(t), func(t *testing.T, in testutil.Interpreter) {
		tg := testutil.Spawn(t, in, "idle_threads.py", strconv.Itoa(idleThreads))
		pid := strconv.Itoa(tg.Pid)
		r := pyspyglass(t, "dump", "-p", pid, "--thread", "^idle-2[0-4]$", "--thread", "idle-7")
		if r.code != 0 {
			t.Fatalf("dump: exit %d\n%s", r.code, r.stderr)
		}
		var got []int
		for _, m := range idleName.FindAllStringSubmatch(r.stdout, -1) {
			n, _ := strconv.Atoi(m[1])
			got = append(got, n)
		}
		slices.Sort(got)
		if want := []int{7, 20, 21, 22, 23, 24}; !slices.Equal(got, want) {
			t.Errorf("dump --thread lists %v, want %v\n%s", got, want, r.stdout)
		}
		main := tg.Field("main")
		r = pyspyglass(t, "dump", "-p", pid, "--tid", main)
		if r.code != 0 {
			t.Fatalf("dump --tid: exit %d\n%s", r.code, r.stderr)
		}
		if n := strings.Count(r.stdout, "\nThread "); n != 1 || !strings.Contains(r.stdout, "Thread "+main+" ") {
			t.Errorf("dump --tid %s lists %d threads:\n%s", main, n, r.stdout)
		}
		if r := pyspyglass(t, "dump", "-p", pid, "--thread", "("); r.code == 0 || !strings.Contains(r.stderr, "--thread") {
			t.Errorf("a bad pattern: exit %d, stderr %q", r.code, r.stderr)
		}
	})
}
