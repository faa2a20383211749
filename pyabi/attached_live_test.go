package pyabi

import (
	"runtime"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/internal/testutil"
)

// TestAttachedLive reads the attachment state of sleepers.py's threads on
// every 3.13+ interpreter: on a free-threaded build the spinning thread is
// attached in (nearly) every read and the two sleeping ones in none; the
// other builds say they cannot tell (their GIL holder tells instead).
func TestAttachedLive(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("live tests read /proc")
	}
	testutil.ForEach(t, testutil.Select(t, testutil.Interpreters(t), "3.13"), func(t *testing.T, in testutil.Interpreter) {
		proc := testutil.Spawn(t, in, "sleepers.py")
		py := locateLive(t, proc.Pid)
		if !in.FreeThreaded {
			if py.CanReadAttached() {
				t.Fatalf("%s has a GIL, yet reads attachment states", in.Name)
			}
			return
		}
		if !py.CanReadAttached() {
			t.Fatalf("%s: no attachment state offset", in.Name)
		}
		var w Walker
		threads, err := w.Threads(py, nil)
		if err != nil {
			t.Fatal(err)
		}
		names, err := py.ThreadNames()
		if err != nil {
			t.Fatal(err)
		}
		const reads = 20
		count := map[string]int{}
		var attached []bool
		for range reads {
			if attached, err = w.Attached(py, threads, attached); err != nil {
				t.Fatal(err)
			}
			for i, a := range attached {
				if a {
					count[names[threads[i].ThreadID]]++
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		// A stop of the world (the collector) suspends the spinner now and then.
		if count["busy-worker"] < reads*3/4 || count["MainThread"] != 0 || count["idle-worker"] != 0 || len(threads) != 3 {
			t.Errorf("attached in %d reads: %v over %d threads; want busy-worker nearly always, the sleepers never", reads, count, len(threads))
		}
	})
}
