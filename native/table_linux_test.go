package native

import (
	"path/filepath"
	"testing"

	"github.com/pyspyglass/pyspyglass/internal/testutil"
)

// TestRealInterpreterTables reads the CFI and symbols of every discovered
// interpreter's binary with the evaluation loop (Debian's stripped static
// python3.11 among them) and checks that the loop's entry has a rule the
// walker evaluates and its name resolves.
func TestRealInterpreterTables(t *testing.T) {
	testutil.ForEach(t, testutil.Interpreters(t), func(t *testing.T, in testutil.Interpreter) {
		var tab *Table
		var addr uint64
		for _, p := range evalLoopCandidates(in.HostPath(in.Path)) {
			tb, err := OpenTable(p)
			if err != nil {
				continue
			}
			for _, s := range tb.syms {
				if s.name == "_PyEval_EvalFrameDefault" || s.name == "PyEval_EvalFrameEx" {
					tab, addr = tb, s.addr
				}
			}
			if tab != nil {
				break
			}
			tb.Close()
		}
		if tab == nil {
			t.Skipf("%s: no binary with the evaluation loop's symbol found beside it", in.Path)
		}
		defer tab.Close()
		if tab.CFIError() != nil || len(tab.fdes) < 1000 {
			t.Fatalf("%s: %d FDEs (%v)", tab.Path, len(tab.fdes), tab.CFIError())
		}
		for i := 1; i < len(tab.fdes); i++ {
			if tab.fdes[i].Begin() < tab.fdes[i-1].Begin() {
				t.Fatalf("FDEs not sorted at %d", i)
			}
		}
		if r := tab.ruleAt(addr); r.kind != ruleCFA || r.cfaFP || r.cfaOff != 8 || r.raOff != -8 {
			t.Errorf("%s: rule at the eval loop's entry = %+v, want CFA rsp+8, RA at CFA-8", tab.Path, r)
		}
		if s := tab.Lookup(addr + 1); s.Func == "" || s.Offset != 1 {
			t.Errorf("%s: Lookup = %+v", tab.Path, s)
		}
	})
}

// evalLoopCandidates lists the interpreter itself and the libpython beside
// it (pyenv's --enable-shared builds keep the loop there).
func evalLoopCandidates(exe string) []string {
	out := []string{exe}
	libs, _ := filepath.Glob(filepath.Join(filepath.Dir(exe), "..", "lib", "libpython*.so*"))
	return append(out, libs...)
}
