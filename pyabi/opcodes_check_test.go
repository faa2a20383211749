package pyabi

import (
	"testing"

	"github.com/pyspyglass/pyspyglass/internal/testutil"
	"github.com/pyspyglass/pyspyglass/pyabi/internal/opcodedump"
)

// TestOpcodeTablesMatchInterpreters asks every interpreter found how it
// numbers its opcodes (its own opcode and dis modules) and compares that
// with the committed table of its minor: a new patch release that
// renumbers fails here, not in a user's profile.
func TestOpcodeTablesMatchInterpreters(t *testing.T) {
	testutil.ForEach(t, testutil.Interpreters(t), func(t *testing.T, in testutil.Interpreter) {
		got, err := opcodedump.Dump(in.Argv()...)
		if err != nil {
			t.Fatalf("dump %s: %v", in.Path, err)
		}
		tab, err := OpcodeTable(Version{Major: in.Major, Minor: in.Minor})
		if err != nil {
			t.Fatalf("%v (run go generate ./pyabi)", err)
		}
		for op := range 256 {
			want, ok := tab.Lookup(uint8(op))
			if got.Names[op] != want.Name {
				t.Errorf("opcode %d: %s names it %q, table (from %s) %q", op, in.Name, got.Names[op], tab.measured, want.Name)
				continue
			}
			if ok && got.Names[got.Base[op]] != want.Base {
				t.Errorf("opcode %d (%s): %s says base %q, table %q", op, want.Name, in.Name, got.Names[got.Base[op]], want.Base)
			}
		}
	})
}

func TestOpcodeLookup(t *testing.T) {
	for _, tc := range []struct {
		v          Version
		op         uint8
		name, base string
	}{
		{Version{Major: 3, Minor: 12}, 13, "BINARY_OP_MULTIPLY_FLOAT", "BINARY_OP"},
		{Version{Major: 3, Minor: 13}, 244, "INSTRUMENTED_CALL", "CALL"},
		{Version{Major: 3, Minor: 10}, 20, "BINARY_MULTIPLY", "BINARY_MULTIPLY"},
		{Version{Major: 2, Minor: 7}, 23, "BINARY_ADD", "BINARY_ADD"},
	} {
		tab, err := OpcodeTable(tc.v)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := tab.Lookup(tc.op)
		if !ok || got.Name != tc.name || got.Base != tc.base {
			t.Errorf("%d.%d opcode %d = %+v, %v; want %s -> %s", tc.v.Major, tc.v.Minor, tc.op, got, ok, tc.name, tc.base)
		}
	}
	if _, err := OpcodeTable(Version{Major: 3, Minor: 99}); err == nil {
		t.Error("3.99 has a table")
	}
	tab, _ := OpcodeTable(Version{Major: 2, Minor: 7})
	if _, ok := tab.Lookup(6); ok {
		t.Error("2.7 byte 6 is an instruction")
	}
}
