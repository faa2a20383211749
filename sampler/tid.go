package sampler

import (
	"slices"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// Before 3.11 a PyThreadState holds only thread_id, the pthread_t. With
// glibc and musl that is the address of the thread's struct pthread, which
// stores the kernel tid at a fixed offset (glibc x86_64: 0x2d0). The offset
// is found once per process by checking candidates against the real tids.
const (
	glibcTidOffset = 0x2d0
	maxTidOffset   = 0x1000
)

// fillNativeIDs sets NativeID on threads whose version does not record it.
func (t *Target) fillNativeIDs() {
	if len(t.threads) == 0 || t.threads[0].NativeID != 0 {
		return
	}
	tids, err := procmem.Threads(t.Pid)
	if err != nil {
		return
	}
	if t.tidOffset == 0 {
		t.tidOffset = t.findTidOffset(tids)
	}
	if t.tidOffset < 0 {
		return
	}
	for i := range t.threads {
		if v, err := procmem.I32(t.Proc, t.threads[i].ThreadID+uint64(t.tidOffset)); err == nil && slices.Contains(tids, int(v)) {
			t.threads[i].NativeID = int(v)
		}
	}
}

// findTidOffset returns the offset in struct pthread where every thread's
// kernel tid is, distinct per thread, or -1.
func (t *Target) findTidOffset(tids []int) int {
	valid := func(off int) bool {
		seen := map[int32]bool{}
		for _, th := range t.threads {
			v, err := procmem.I32(t.Proc, th.ThreadID+uint64(off))
			if err != nil || seen[v] || !slices.Contains(tids, int(v)) {
				return false
			}
			seen[v] = true
		}
		return true
	}
	if valid(glibcTidOffset) {
		return glibcTidOffset
	}
	for off := 4; off < maxTidOffset; off += 4 {
		if valid(off) {
			return off
		}
	}
	return -1
}
