package native

import "encoding/binary"

// Regs are the registers the walk starts from (x86_64 rip, rsp, rbp).
type Regs struct {
	PC, SP, FP uint64
}

// ThreadRegs are one thread's registers.
type ThreadRegs struct {
	TID int
	Regs
}

// Stack is a copy of the target's stack from Addr upwards: the window
// read right after the registers, while the thread was stopped.
type Stack struct {
	Addr uint64
	Data []byte
}

// word reads the 8 bytes at addr from the copy.
func (st Stack) word(addr uint64) (uint64, bool) {
	off := addr - st.Addr
	if addr < st.Addr || off > uint64(len(st.Data)) || uint64(len(st.Data))-off < 8 {
		return 0, false
	}
	return binary.LittleEndian.Uint64(st.Data[off:]), true
}

// End says how a walk ended.
type End uint8

const (
	// EndOutermost: the walk reached the thread's first frame.
	EndOutermost End = iota
	// EndDepth: the depth limit cut the walk.
	EndDepth
	// EndLost: the next frame could not be found (no CFI and no frame
	// pointer, an unsupported rule, or the stack window ended). The
	// frames found so far are right; the caller marks the cut.
	EndLost
)

func (e End) String() string {
	switch e {
	case EndOutermost:
		return "outermost"
	case EndDepth:
		return "depth limit"
	default:
		return "lost"
	}
}

// Unwind walks the stack from regs over the copy st and appends the
// program counter of each frame, innermost first, to pcs (pass a reused
// slice: a walk over cached rules allocates nothing). At most max frames
// are produced. Garbage in the copy can end the walk early but never
// makes it loop: each step must move the stack pointer up.
func (s *Space) Unwind(regs Regs, st Stack, pcs []uint64, max int) ([]uint64, End) {
	pc, sp, fp := regs.PC, regs.SP, regs.FP
	for n := 0; ; n++ {
		if n >= max {
			return pcs, EndDepth
		}
		pcs = append(pcs, pc)
		r := rule{kind: ruleNone}
		if mod, ok := s.Module(pc); ok && mod.Table != nil {
			look := pc - mod.Bias
			if n > 0 {
				look-- // a return address: find the call's row
			}
			r = mod.Table.ruleAt(look)
		} else if !ok {
			return pcs, EndLost // not code: a wrong stack from here on
		}
		var cfa, ra uint64
		switch r.kind {
		case ruleEnd:
			return pcs, EndOutermost
		case ruleUnknown:
			return pcs, EndLost
		case ruleCFA:
			base := sp
			if r.cfaFP {
				base = fp
			}
			cfa = base + uint64(int64(r.cfaOff))
			var ok bool
			if ra, ok = st.word(cfa + uint64(int64(r.raOff))); !ok {
				return pcs, EndLost
			}
			if slot := cfa + uint64(int64(r.fpOff)); r.fpOff != 0 && slot >= sp {
				if fp, ok = st.word(slot); !ok {
					return pcs, EndLost
				}
			}
			// A slot below rsp was popped already (gcc's epilogues do not
			// restore the rule): rbp holds the caller's value again.
		case ruleNone:
			// No CFI: trust the frame-pointer chain, [rbp] = caller's
			// rbp, [rbp+8] = return address. Only an rbp inside the
			// copy above rsp can be a frame pointer.
			if fp < sp {
				return pcs, EndLost
			}
			next, ok1 := st.word(fp)
			ret, ok2 := st.word(fp + 8)
			if !ok1 || !ok2 {
				return pcs, EndLost
			}
			cfa, ra, fp = fp+16, ret, next
		}
		if ra == 0 {
			return pcs, EndOutermost // glibc's thread start zeroes it
		}
		if cfa <= sp {
			return pcs, EndLost
		}
		pc, sp = ra, cfa
	}
}
