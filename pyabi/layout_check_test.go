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

// TestLayoutTablesMatchDWARF checks the tables against a second witness:
// the debug info of each interpreter's libpython, where the build kept it
// (pyenv builds do; distribution builds strip it). This is what catches a
// header that does not describe the binary, and it is the only independent
// check of the struct _dictkeysobject the probe copies for 3.6-3.10.
func TestLayoutTablesMatchDWARF(t *testing.T) {
	ctx := context.Background()
	ins, _ := probe.Discover(ctx)
	type outcome struct {
		vals map[string]int
		err  error
	}
	outs := make([]outcome, len(ins))
	done := make(chan struct{})
	sem := make(chan struct{}, runtime.NumCPU())
	for i, in := range ins {
		go func() {
			defer func() { done <- struct{}{} }()
			if in.LibPython == "" {
				outs[i].err = errors.New("no shared libpython")
				return
			}
			sem <- struct{}{}
			defer func() { <-sem }()
			outs[i].vals, outs[i].err = probe.FromDWARF(in.LibPython, in.MinorVersion())
		}()
	}
	for range ins {
		<-done
	}
	var checked, skipped []string
	for i, in := range ins {
		name := fmt.Sprintf("%s (%s)", in.Path, in.Version)
		l, _, err := LookupLayout(Version{Major: in.Major, Minor: in.Minor, Patch: in.Patch})
		switch {
		case err != nil:
			t.Logf("skipped %s: %v", name, err)
			skipped = append(skipped, in.Path)
			continue
		case errors.Is(outs[i].err, probe.ErrNoDWARF) || (outs[i].err != nil && in.LibPython == ""):
			t.Logf("skipped %s: %v", name, outs[i].err)
			skipped = append(skipped, in.Path)
			continue
		case outs[i].err != nil:
			t.Errorf("%s: %v", name, outs[i].err)
			continue
		}
		paths, table := flattenLayout(l)
		ok := true
		for _, p := range paths {
			want, has := outs[i].vals[p]
			if !has {
				want = Absent
			}
			if got := table[p]; got != want {
				ok = false
				t.Errorf("%s: %s = %d in the table, DWARF of %s says %d", name, p, got, in.LibPython, want)
			}
		}
		if ok {
			checked = append(checked, in.Version)
		}
	}
	if len(checked) == 0 {
		t.Skipf("no libpython with DWARF found (skipped: %s)", strings.Join(skipped, ", "))
	}
	t.Logf("summary: tables match DWARF for %s; skipped %d: %s",
		strings.Join(checked, ", "), len(skipped), strings.Join(skipped, ", "))
}
