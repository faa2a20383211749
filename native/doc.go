// Package native unwinds the C stack of a thread from a copy of its
// registers and of a window of its stack, and names the addresses it
// finds. It never touches the target: the caller stops the thread, reads
// the registers and the stack window, resumes it, and hands the copies
// here. The walk then runs locally, so a slow or failed unwind never
// keeps the target stopped.
//
// Per-binary facts (call-frame information from .eh_frame and
// .debug_frame, symbols, DWARF lines) live in a Table, shared through a
// Cache keyed by build id. Per-process facts (where each binary is loaded)
// live in a Space. Only x86_64 is supported: the register numbers and the
// return-address convention below are that ABI's.
package native
