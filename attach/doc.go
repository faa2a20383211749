// Package attach finds, launches and controls the processes pyspyglass
// profiles: it checks that a pid exists and that we may read its memory
// (explaining how to fix it when we may not), starts `-- python app.py`
// children, lists a process's descendants, and stops and resumes a
// target for blocking mode. It is the only package that uses ptrace.
//
// It does not read Python structures (that is pyabi) nor target memory
// beyond a one-byte probe (that is procmem), and it does not handle our
// own signals: the CLI decides what Ctrl-C means.
package attach
