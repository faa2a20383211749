package pyabi

import "fmt"

// The opcodes_py*.go tables are generated from each installed CPython's
// own opcode and dis modules; opcodes_check_test.go fails when a committed
// table and an installed interpreter disagree.
//go:generate go run ./internal/genopcodes

// opcodeTable names the bytes of one minor's bytecode.
type opcodeTable struct {
	measured string          // the releases the table was generated from
	names    [256]string     // "" where the byte is no instruction
	base     map[uint8]uint8 // the instruction a specialised or instrumented byte stands for
}

// Instruction is one bytecode instruction as the interpreter ran it.
type Instruction struct {
	Op   uint8
	Name string // as executed: specialised, adaptive or instrumented form
	Base string // the instruction of the source it stands for (dis's name)
}

// Specialized reports whether the interpreter runs a form other than the
// one the compiler emitted (quickened, specialised or instrumented).
func (i Instruction) Specialized() bool { return i.Name != i.Base }

// OpcodeTable returns the names of version v's opcodes, or an error naming
// the versions that have a table.
func OpcodeTable(v Version) (*opcodeTable, error) {
	if t := opcodeTables[v.Major*100+v.Minor]; t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("no opcode table for Python %d.%d (tables exist for 2.7 and 3.6-3.15 where generated)", v.Major, v.Minor)
}

// Lookup names opcode op; ok is false for a byte that is no instruction of
// this version (a position inside inline caches or a torn read).
func (t *opcodeTable) Lookup(op uint8) (Instruction, bool) {
	n := t.names[op]
	if n == "" {
		return Instruction{Op: op}, false
	}
	b, ok := t.base[op]
	if !ok {
		b = op
	}
	return Instruction{Op: op, Name: n, Base: t.names[b]}, true
}

// EnableOpcodes makes Stack name the instruction the innermost frame of
// each stack is at (Frame.Instr), or says why this interpreter cannot.
func (in *Interpreter) EnableOpcodes() error {
	t, err := OpcodeTable(in.Version)
	if err != nil {
		return err
	}
	if in.Version.FreeThreaded && in.Version.AtLeast(3, 14) {
		// instr_ptr may point into a thread's private copy (co_tlbc).
		return fmt.Errorf("opcodes are not read on free-threaded Python %d.%d (threads run private copies of the bytecode)", in.Version.Major, in.Version.Minor)
	}
	if in.Layout.Code.Bytecode == Absent && in.Layout.Code.CodeAdaptive == Absent {
		return fmt.Errorf("the layout of Python %d.%d does not say where the bytecode is", in.Version.Major, in.Version.Minor)
	}
	in.codes.ops = t
	return nil
}

// BadInstructions counts innermost frames whose instruction could not be
// named: a position outside the bytecode or a failed read. Never guessed.
func (in *Interpreter) BadInstructions() int64 { return in.codes.badInstr }
