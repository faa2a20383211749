package pyabi

import "testing"

// TestCycleCheck: a loop is found within three times its length plus the
// steps before it, whatever their sizes; a chain without one never is.
func TestCycleCheck(t *testing.T) {
	for _, tc := range []struct{ tail, loop int }{
		{0, 1}, {0, 2}, {1, 1}, {3, 7}, {100, 1}, {1, 1000}, {4095, 4096}, {10000, 3},
	} {
		var c cycleCheck
		steps := 0
		for i := 0; steps < 4*(tc.tail+tc.loop)+4; i++ {
			addr := uint64(i)
			if i >= tc.tail {
				addr = uint64(tc.tail + (i-tc.tail)%tc.loop)
			}
			steps++
			if c.seen(addr + 0x1000) {
				break
			}
		}
		if steps > 3*(tc.tail+tc.loop)+2 {
			t.Errorf("tail %d, loop %d: found after %d steps, want at most %d", tc.tail, tc.loop, steps, 3*(tc.tail+tc.loop)+2)
		}
	}
	var c cycleCheck
	for i := range 100000 {
		if c.seen(uint64(i) + 0x1000) {
			t.Fatalf("a chain of distinct addresses flagged as a loop at step %d", i)
		}
	}
}
