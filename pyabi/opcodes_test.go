package pyabi

import "testing"

// TestInstructionReads checks codeReader.instruction on a 3.12 bytecode
// image: the byte at a position is named, a position outside the bytecode
// is refused (never guessed), and an instruction the interpreter
// specialises in place is seen in its new form on the next scheduled read.
func TestInstructionReads(t *testing.T) {
	ops, err := OpcodeTable(Version{Major: 3, Minor: 12})
	if err != nil {
		t.Fatal(err)
	}
	m := &memImage{base: 0x10000}
	bc := m.alloc(8)
	// BINARY_OP (122), oparg 5 (multiply); RETURN_VALUE (83), 0.
	copy(m.at(bc), []byte{122, 5, 83, 0, 0, 0, 0, 0})
	cr := &codeReader{l: layoutPy312(), ops: ops}
	e := &cachedCode{addr: bc - 16, bcAddr: bc, bcLen: 8}

	r := m.reader()
	if in, ok := cr.instruction(r, e, 0); !ok || in.Name != "BINARY_OP" || in.Specialized() {
		t.Fatalf("position 0: %+v, %v; want BINARY_OP", in, ok)
	}
	// The interpreter specialises it (BINARY_OP_MULTIPLY_FLOAT is 13 in
	// 3.12); the second meeting re-reads the bytecode.
	m.at(bc)[0] = 13
	in, ok := cr.instruction(r, e, 0)
	if !ok || in.Name != "BINARY_OP_MULTIPLY_FLOAT" || in.Base != "BINARY_OP" {
		t.Fatalf("after specialisation: %+v, %v; want BINARY_OP_MULTIPLY_FLOAT (BINARY_OP)", in, ok)
	}
	if in, ok := cr.instruction(r, e, 1); !ok || in.Name != "RETURN_VALUE" {
		t.Errorf("position 1: %+v, %v; want RETURN_VALUE", in, ok)
	}
	for _, pos := range []int{-1, 4, 1 << 20} {
		if in, ok := cr.instruction(r, e, pos); ok {
			t.Errorf("position %d outside 4 code units named %+v", pos, in)
		}
	}
	// A bytecode length from a torn read is refused, not allocated.
	bad := &cachedCode{addr: bc - 16, bcAddr: bc, bcLen: maxBytecode + 2}
	if _, ok := cr.instruction(r, bad, 0); ok {
		t.Error("an oversized bytecode was read")
	}
}
