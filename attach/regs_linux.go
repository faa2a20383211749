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
	err := p.do(func(t *tracer) (err error) {
		dst, err = t.registers(dst)
		return err
	})
	return dst, err
}

// PauseRegisters is Pause then Registers in one request to the ptrace
// goroutine: each request is a hand-off between two OS threads, which
// costs more than the ptrace calls themselves (--native samples).
func (p *Pauser) PauseRegisters(dst []ThreadRegs) ([]ThreadRegs, error) {
	err := p.do(func(t *tracer) (err error) {
		if err := t.pause(); err != nil {
			return err
		}
		dst, err = t.registers(dst)
		return err
	})
	return dst, err
}

func (t *tracer) registers(dst []ThreadRegs) ([]ThreadRegs, error) {
	start := len(dst)
	for tid, th := range t.threads {
		if !th.stopped {
			continue
		}
		r, err := getRegs(tid)
		if err == errRegsUnsupported {
			return dst, fmt.Errorf("pid %d: %w", t.pid, err)
		}
		if err != nil {
			continue // died since it stopped: its exit is collected later
		}
		r.TID = tid
		dst = append(dst, r)
	}
	got := dst[start:]
	sort.Slice(got, func(i, j int) bool { return got[i].TID < got[j].TID })
	return dst, nil
}

// WhilePaused stops every thread, reads their registers into dst and runs
// fn with them on the ptrace goroutine, then lets the threads run again,
// also when fn fails or panics (the panic is returned as an error). It is
// one request: a --native sample costs one hand-off between OS threads.
// fn must not call the Pauser.
func (p *Pauser) WhilePaused(dst []ThreadRegs, fn func(regs []ThreadRegs) error) ([]ThreadRegs, error) {
	err := p.do(func(t *tracer) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("pid %d: while paused: %v", t.pid, r)
			}
			if rerr := t.resume(); err == nil {
				err = rerr
			}
		}()
		if err := t.pause(); err != nil {
			return err
		}
		if dst, err = t.registers(dst); err != nil {
			return err
		}
		return fn(dst)
	})
	return dst, err
}
