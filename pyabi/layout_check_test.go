package pyabi

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/pyspyglass/pyspyglass/pyabi/internal/genlayout/probe"
)

// TestLayoutTablesMatchHeaders re-measures every CPython on this machine
// that has its headers installed and checks that the committed table for
// its version says the same, field by field. A mismatch means a table was
// edited by hand, the probe rules changed without regenerating, or a patch
// release moved a field: run `go generate ./pyabi` and look at the diff.
func TestLayoutTablesMatchHeaders(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not found: cannot compile the offsetof probes")
	}
	ctx := context.Background()
	ins, skipped := probe.Discover(ctx)
	var summarySkipped []string
	for _, s := range skipped {
		t.Logf("skipped %s: %s", s.Path, s.Reason)
		summarySkipped = append(summarySkipped, s.Path)
	}
	if len(ins) == 0 {
		t.Skipf("no CPython with headers found (skipped: %s)", strings.Join(summarySkipped, ", "))
	}
	// Each probe is one gcc run over the Python headers: run them side by side.
	results, errs := probe.MeasureAll(ctx, ins, t.TempDir(), runtime.NumCPU())
	var checked []string
	for i, in := range ins {
		name := fmt.Sprintf("%s (%s)", in.Path, in.Version)
		if errs[i] != nil {
			if errors.Is(errs[i], probe.ErrNoCompiler) {
				t.Skip("gcc not found")
			}
			// The headers are there (Discover checked), so a probe that does
			// not compile is a rule in probe.Fields that no longer matches them.
			t.Errorf("%s: %v", name, errs[i])
			continue
		}
		v := Version{Major: in.Major, Minor: in.Minor, Patch: in.Patch}
		l, guessed, err := LookupLayout(v)
		if err != nil {
			t.Logf("skipped %s: %v (run go generate ./pyabi to add a table)", name, err)
			summarySkipped = append(summarySkipped, in.Path)
			continue
		}
		if guessed {
			t.Errorf("%s: its table is only a guess, yet its headers are here: regenerate", name)
		}
		paths, table := flattenLayout(l)
		mismatches := 0
		for _, p := range paths {
			want, ok := results[i].Values[p]
			if !ok {
				want = Absent
			}
			if got := table[p]; got != want {
				mismatches++
				t.Errorf("%s: %s = %d in the table, headers say %d (%s)", name, p, got, want, exprOr(results[i].Exprs[p], "not in this version"))
			}
		}
		if mismatches == 0 {
			checked = append(checked, in.Version)
		}
	}
	t.Logf("summary: tables match headers for %s; skipped %d: %s",
		strings.Join(checked, ", "), len(summarySkipped), strings.Join(summarySkipped, ", "))
}

func exprOr(e, alt string) string {
	if e == "" {
		return alt
	}
	return e
}
