// Package opcodedump asks a CPython interpreter how it numbers its opcodes,
// through its own opcode and dis modules; genopcodes writes pyabi's tables
// from it and pyabi's check test compares them against it.
package opcodedump

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

//go:embed opcodes.py
var dumpScript string

// dumped is what opcodes.py prints.
type dumped struct {
	Version string            `json:"version"`
	Names   []*string         `json:"names"` // 256 entries, null for unused bytes
	Base    map[string]string `json:"base"`  // specialised name -> family name
}

// Table is one interpreter's opcode numbering.
type Table struct {
	Version string
	Names   [256]string
	Base    [256]uint8 // the opcode of the instruction each stands for
}

// Dump runs python (its command line, e.g. one that runs it in a chroot) on
// opcodes.py and turns what it prints into a table. A
// specialised or adaptive form stands for its family; INSTRUMENTED_X (3.12+,
// while sys.monitoring or a debugger is active) for X where X exists.
func Dump(python ...string) (Table, error) {
	cmd := exec.Command(python[0], append(python[1:], "-c", dumpScript)...)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.Output()
	if err != nil {
		return Table{}, err
	}
	var d dumped
	if err := json.Unmarshal(out, &d); err != nil {
		return Table{}, fmt.Errorf("decode: %w", err)
	}
	if len(d.Names) != 256 {
		return Table{}, fmt.Errorf("%d opcode names, want 256", len(d.Names))
	}
	t := Table{Version: d.Version}
	byName := map[string]int{}
	for op, n := range d.Names {
		if n != nil {
			t.Names[op] = *n
			byName[*n] = op
		}
	}
	for op, n := range t.Names {
		t.Base[op] = uint8(op)
		base, ok := d.Base[n]
		if !ok {
			if b, cut := strings.CutPrefix(n, "INSTRUMENTED_"); cut {
				base, ok = b, true
			}
		}
		if b, found := byName[base]; ok && found {
			t.Base[op] = uint8(b)
		}
	}
	return t, nil
}
