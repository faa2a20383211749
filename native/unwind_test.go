package native

import (
	"encoding/binary"
	"slices"
	"testing"
)

// fakeTable is a binary whose rows are given, as if computed before.
func fakeTable(rows map[uint64]rule) *Table {
	return &Table{rules: rows, names: map[uint64]Symbol{}}
}

// image builds a stack copy at addr from words.
func image(addr uint64, words ...uint64) Stack {
	st := Stack{Addr: addr, Data: make([]byte, 8*len(words))}
	for i, w := range words {
		binary.LittleEndian.PutUint64(st.Data[8*i:], w)
	}
	return st
}

// The images below model a process with one binary loaded at 0x400000
// (bias 0x400000, so link address = pc - 0x400000) and a second module
// without CFI at 0x800000 walked by frame pointers.
func testSpace() *Space {
	lib := fakeTable(map[uint64]rule{
		// leaf, no frame: CFA = rsp+8, return address at CFA-8.
		0x1000: {kind: ruleCFA, cfaOff: 8, raOff: -8},
		// after push rbp; mov rbp,rsp: CFA = rbp+16, rbp saved at CFA-16.
		0x2004 - 1: {kind: ruleCFA, cfaFP: true, cfaOff: 16, raOff: -8, fpOff: -16},
		// an epilogue after pop rbp: CFA = rsp+8, the stale rbp rule kept.
		0x2010: {kind: ruleCFA, cfaOff: 8, raOff: -8, fpOff: -16},
		// a frame of 32 bytes on rsp, rbp not saved.
		0x3008 - 1: {kind: ruleCFA, cfaOff: 40, raOff: -8},
		// the thread's entry: return address undefined.
		0x4010 - 1: {kind: ruleEnd},
		// an expression the walker does not evaluate.
		0x5000: {kind: ruleUnknown},
	})
	return &Space{mods: []Module{
		{Start: 0x400000, End: 0x410000, Bias: 0x400000, Path: "/lib/libx.so", Table: lib},
		{Start: 0x800000, End: 0x810000, Path: "/jit"},
	}}
}

func TestUnwind(t *testing.T) {
	const sp = 0x7fff0000
	tests := []struct {
		name string
		regs Regs
		st   Stack
		max  int
		want []uint64
		end  End
	}{
		{
			name: "cfa rules to the outermost frame",
			// leaf at 0x401000 (CFA sp+8), caller 0x403008 (CFA +40),
			// its caller 0x402004 (CFA rbp+16), entry 0x404010.
			regs: Regs{PC: 0x401000, SP: sp, FP: sp + 0x40},
			st: image(sp,
				0x403008,   // sp+0: return into 0x403008
				0, 0, 0, 0, // 32 bytes of locals
				0x402004, // sp+0x28: return into 0x402004
				0, 0,     // sp+0x30..0x38
				sp+0x80,  // sp+0x40 = rbp: saved rbp
				0x404010, // sp+0x48: return into entry
			),
			max:  64,
			want: []uint64{0x401000, 0x403008, 0x402004, 0x404010},
			end:  EndOutermost,
		},
		{
			name: "frame pointers where there is no CFI",
			regs: Regs{PC: 0x800100, SP: sp, FP: sp + 0x10},
			st: image(sp,
				0, 0,
				sp+0x30, 0x800200, // frame 1: saved rbp, return address
				0, 0,
				0, 0x401000, // frame 2 returns into the CFI module
				0x403008,
			),
			max:  64,
			want: []uint64{0x800100, 0x800200, 0x401000},
			end:  EndLost, // no row for 0x401000-1 and rbp is 0 there
		},
		{
			name: "in an epilogue, rbp's slot below rsp was popped already",
			// The row at 0x2010 still says rbp is at CFA-16, which is
			// below rsp after the pop: rbp is kept as it is.
			regs: Regs{PC: 0x402010, SP: sp, FP: 0x1234},
			st:   image(sp, 0x404010),
			max:  64,
			want: []uint64{0x402010, 0x404010},
			end:  EndOutermost,
		},
		{
			name: "return address zero ends the walk",
			regs: Regs{PC: 0x401000, SP: sp},
			st:   image(sp, 0),
			max:  64,
			want: []uint64{0x401000},
			end:  EndOutermost,
		},
		{
			name: "unsupported rule is a cut, not a guess",
			regs: Regs{PC: 0x405000, SP: sp},
			st:   image(sp, 0x401000),
			max:  64,
			want: []uint64{0x405000},
			end:  EndLost,
		},
		{
			name: "pc outside any module",
			regs: Regs{PC: 0x1234, SP: sp},
			st:   image(sp, 0x401000),
			max:  64,
			want: []uint64{0x1234},
			end:  EndLost,
		},
		{
			name: "stack window ends",
			regs: Regs{PC: 0x401000, SP: sp + 8},
			st:   image(sp, 0x403008),
			max:  64,
			want: []uint64{0x401000},
			end:  EndLost,
		},
		{
			name: "frame pointer below sp is not followed",
			regs: Regs{PC: 0x800100, SP: sp + 16, FP: sp},
			st:   image(sp, sp+16, 0x800200, 0, 0),
			max:  64,
			want: []uint64{0x800100},
			end:  EndLost,
		},
		{
			name: "a frame-pointer loop stops at the depth limit or earlier",
			regs: Regs{PC: 0x800100, SP: sp, FP: sp},
			st:   image(sp, sp, 0x800100),
			max:  8,
			want: []uint64{0x800100, 0x800100},
			end:  EndLost, // the second step would not move rsp up
		},
		{
			name: "depth limit",
			regs: Regs{PC: 0x401000, SP: sp, FP: sp + 0x40},
			st:   image(sp, 0x403008, 0, 0, 0, 0, 0x402004, 0, 0, sp+0x80, 0x404010),
			max:  2,
			want: []uint64{0x401000, 0x403008},
			end:  EndDepth,
		},
	}
	s := testSpace()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, end := s.Unwind(tc.regs, tc.st, nil, tc.max)
			if !slices.Equal(got, tc.want) || end != tc.end {
				t.Errorf("Unwind = %#x, %v; want %#x, %v", got, end, tc.want, tc.end)
			}
		})
	}
}

func TestSymbolizeModuleOffset(t *testing.T) {
	s := testSpace()
	s.mods[0].Table.syms = []symbol{{addr: 0x1000, size: 0x100, name: "_ZN3foo3barEv"}, {addr: 0x3000, name: "asm_fn"}}
	tests := []struct {
		pc   uint64
		leaf bool
		want string
	}{
		{0x401010, true, "foo::bar()"},
		{0x401100, false, "foo::bar()"}, // return address just past the end
		{0x401200, true, "libx.so+0x1200"},
		{0x403500, true, "asm_fn"},
		{0x800010, true, "jit+0x10"},
		{0x10, true, "[anon]+0x10"},
	}
	for _, tc := range tests {
		if got := s.Symbolize(tc.pc, tc.leaf).Name(); got != tc.want {
			t.Errorf("Symbolize(%#x, %v) = %q, want %q", tc.pc, tc.leaf, got, tc.want)
		}
	}
}

func TestUnwindAllocatesNothing(t *testing.T) {
	s := testSpace()
	st := image(0x1000, 0x403008, 0, 0, 0, 0, 0x402004, 0, 0, 0x1080, 0x404010)
	pcs := make([]uint64, 0, 64)
	allocs := testing.AllocsPerRun(100, func() {
		pcs, _ = s.Unwind(Regs{PC: 0x401000, SP: 0x1000, FP: 0x1040}, st, pcs[:0], 64)
	})
	if allocs != 0 {
		t.Errorf("Unwind allocates %v times per walk", allocs)
	}
}

func FuzzUnwind(f *testing.F) {
	f.Add(uint64(0x401000), uint64(0x1000), uint64(0x1040), []byte{8, 0x30, 0x40, 0, 0, 0, 0, 0})
	f.Add(uint64(0x800100), uint64(0x1000), uint64(0x1000), make([]byte, 64))
	s := testSpace()
	f.Fuzz(func(t *testing.T, pc, sp, fp uint64, data []byte) {
		const max = 128
		pcs, _ := s.Unwind(Regs{PC: pc, SP: sp, FP: fp}, Stack{Addr: 0x1000, Data: data}, nil, max)
		if len(pcs) == 0 || len(pcs) > max {
			t.Fatalf("%d frames", len(pcs))
		}
		for i, p := range pcs {
			s.Symbolize(p, i == 0)
		}
	})
}
