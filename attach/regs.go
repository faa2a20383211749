package attach

// ThreadRegs are the registers a native unwind starts from, read from one
// stopped thread: the instruction, stack and frame pointers (x86_64 rip,
// rsp, rbp).
type ThreadRegs struct {
	TID        int
	PC, SP, FP uint64
}
