package pyabi

// The layout_py*.go tables are measured, not typed: genlayout compiles an
// offsetof probe against the headers of every CPython installed here (pyenv
// and /usr/bin) and writes one file per minor. Rerun after installing a new
// release; layout_check_test.go fails when a committed table and the
// installed headers disagree.
//go:generate go run ./internal/genlayout
