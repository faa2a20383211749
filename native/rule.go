package native

import (
	"github.com/go-delve/delve/pkg/dwarf/frame"
	"github.com/go-delve/delve/pkg/dwarf/regnum"
)

// ruleKind says how to leave a frame.
type ruleKind uint8

const (
	ruleNone    ruleKind = iota // no CFI covers the address: try frame pointers
	ruleCFA                     // CFA = reg + off, return address and rbp saved relative to it
	ruleEnd                     // return address undefined: the outermost frame (_start, clone)
	ruleUnknown                 // CFI too complex for this walker (expressions): stop here
)

// rule is the compact form of one row of the CFI table: all the walker
// needs on x86_64 is how to find the CFA, the return address and the
// caller's rbp. Other callee-saved registers are not tracked: code that
// computes its CFA from them uses expressions, which end the walk.
type rule struct {
	kind   ruleKind
	cfaFP  bool  // CFA is based on rbp, else on rsp
	cfaOff int32 // CFA = base + cfaOff
	raOff  int32 // return address at CFA + raOff
	fpOff  int32 // caller's rbp at CFA + fpOff; 0: rbp unchanged
}

// pltRule is the row for PLT stubs: their CFI is an expression that
// evaluates to rsp+8 (or +16 inside the lazy-binding push), so the
// return address is at the top of the stack in the common case.
var pltRule = rule{kind: ruleCFA, cfaOff: 8, raOff: -8}

// ruleAt returns the unwind rule for the link-time address pc, computing
// and caching it on first use.
func (t *Table) ruleAt(pc uint64) rule {
	t.mu.Lock()
	r, ok := t.rules[pc]
	t.mu.Unlock()
	if ok {
		return r
	}
	r = t.computeRule(pc)
	t.mu.Lock()
	t.rules[pc] = r
	t.mu.Unlock()
	return r
}

func (t *Table) computeRule(pc uint64) (r rule) {
	for _, p := range t.plt {
		if pc >= p.lo && pc < p.hi {
			return pltRule
		}
	}
	fde, err := t.fdes.FDEForPC(pc)
	if err != nil {
		return rule{kind: ruleNone}
	}
	defer func() {
		if recover() != nil { // a malformed CFA program
			r = rule{kind: ruleUnknown}
		}
	}()
	fc, err := fde.EstablishFrame(pc)
	if err != nil {
		return rule{kind: ruleUnknown}
	}
	return toRule(fc)
}

// toRule reduces delve's frame context to a rule, or ruleUnknown for the
// forms this walker does not evaluate.
func toRule(fc *frame.FrameContext) rule {
	if fc.CFA.Rule != frame.RuleCFA {
		return rule{kind: ruleUnknown}
	}
	r := rule{kind: ruleCFA, cfaOff: int32(fc.CFA.Offset)}
	switch fc.CFA.Reg {
	case regnum.AMD64_Rsp:
	case regnum.AMD64_Rbp:
		r.cfaFP = true
	default:
		return rule{kind: ruleUnknown}
	}
	ra, ok := fc.Regs[fc.RetAddrReg]
	switch {
	case !ok:
		// x86_64 CIEs always give the return address; if one does not,
		// the call convention puts it just below the CFA.
		r.raOff = -8
	case ra.Rule == frame.RuleUndefined:
		return rule{kind: ruleEnd}
	case ra.Rule == frame.RuleOffset:
		r.raOff = int32(ra.Offset)
	default:
		return rule{kind: ruleUnknown}
	}
	if fp, ok := fc.Regs[regnum.AMD64_Rbp]; ok {
		switch fp.Rule {
		case frame.RuleOffset:
			r.fpOff = int32(fp.Offset)
		case frame.RuleSameVal, frame.RuleUndefined:
		default:
			return rule{kind: ruleUnknown}
		}
	}
	return r
}
