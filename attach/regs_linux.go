package attach

import (
	"fmt"
	"sort"
)

// Registers appends the registers of every thread stopped by the last
// Pause to dst, sorted by thread id. Call it between Pause and Resume. A
// thread that died while stopped is left out; the error is for a machine
// where reading registers is not supported (see getRegs).
func (p *Pauser) Registers(dst []ThreadRegs) ([]ThreadRegs, error) {
	err := p.do(func(t *tracer) error {
		start := len(dst)
		for tid, th := range t.threads {
			if !th.stopped {
				continue
			}
			r, err := getRegs(tid)
			if err == errRegsUnsupported {
				return fmt.Errorf("pid %d: %w", t.pid, err)
			}
			if err != nil {
				continue // died since it stopped: its exit is collected later
			}
			r.TID = tid
			dst = append(dst, r)
		}
		got := dst[start:]
		sort.Slice(got, func(i, j int) bool { return got[i].TID < got[j].TID })
		return nil
	})
	return dst, err
}
