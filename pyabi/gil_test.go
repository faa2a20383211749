package pyabi

import (
	"errors"
	"testing"

	"github.com/pyspyglass/pyspyglass/procmem"
)

func TestCanReadGIL(t *testing.T) {
	v := Version{Major: 3, Minor: 12, Patch: 1}
	l, _, err := LookupLayout(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := newInterpreter(procmem.Bytes{}, v, l).CanReadGIL(); err != nil {
		t.Errorf("3.12 layout: %v", err)
	}
	noGIL := l
	noGIL.GIL.LastHolder = Absent
	in := newInterpreter(procmem.Bytes{}, v, noGIL)
	if err := in.CanReadGIL(); !errors.Is(err, ErrGILUnknown) {
		t.Errorf("layout without gil.last_holder: %v, want ErrGILUnknown", err)
	}
	if _, err := in.GILHolder(); !errors.Is(err, ErrGILUnknown) {
		t.Errorf("GILHolder without gil.last_holder: %v, want ErrGILUnknown", err)
	}
	// 2.7-3.11 read the current thread state word instead.
	in.tstateCurrent = 0x1000
	if err := in.CanReadGIL(); err != nil {
		t.Errorf("with a current thread state word: %v", err)
	}
}
