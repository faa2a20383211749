package pyabi

import (
	"encoding/hex"
	"encoding/json"
	"github.com/pyspyglass/pyspyglass/internal/testutil"
	"testing"
)

// lineProbe prints, for every code object of a small module, its line
// table and the line CPython itself gives for each bytecode position. It
// runs unchanged on 2.7 and 3.6+.
const lineProbe = `
import sys, json, dis, types, binascii
src = '''
def f(a, b):
    x = a + b
    if x > 3:
        y = [i
             for i in range(x)]
    else:
        y = None

    return (x,
            y)

class C(object):
    def m(self):
        try:
            1 / 0
        except ZeroDivisionError:
            return 2
'''
code = compile(src, "probe.py", "exec")
out = []
def walk(co):
    v = sys.version_info
    if v >= (3, 11):
        table = co.co_linetable
        lines = [(i, p[0]) for i, p in enumerate(co.co_positions())]
    else:
        table = co.co_linetable if v >= (3, 10) else co.co_lnotab
        starts = list(dis.findlinestarts(co))
        lines = []
        step = 2 if v >= (3, 6) else 1
        for off in range(0, len(co.co_code), step):
            line = None
            if v >= (3, 10):
                for s, e, l in co.co_lines():
                    if s <= off < e:
                        line = l
            else:
                for s, l in starts:
                    if s <= off:
                        line = l
            lines.append((off, line))
    out.append({"first": co.co_firstlineno, "table": binascii.hexlify(table).decode("ascii"), "lines": lines})
    for c in co.co_consts:
        if isinstance(c, types.CodeType):
            walk(c)
walk(code)
sys.stdout.write(json.dumps(out))
`

// TestLineTablesMatchCPython checks every line codec against the lines the
// interpreter of that version reports for its own code objects.
func TestLineTablesMatchCPython(t *testing.T) {
	testutil.ForEach(t, testutil.Interpreters(t), func(t *testing.T, in testutil.Interpreter) {
		out, err := in.Command("-c", lineProbe).Output()
		if err != nil {
			t.Fatalf("probe: %v", err)
		}
		v, err := ParseVersion(in.Version)
		if err != nil {
			t.Fatal(err)
		}
		codec := codecFor(v)
		var codes []struct {
			First int
			Table string
			Lines [][2]*int
		}
		if err := json.Unmarshal(out, &codes); err != nil {
			t.Fatal(err)
		}
		checked := 0
		for _, c := range codes {
			table, err := hex.DecodeString(c.Table)
			if err != nil {
				t.Fatal(err)
			}
			for _, pl := range c.Lines {
				if pl[1] == nil {
					continue // CPython has no line here either
				}
				pos := *pl[0]
				if got := codec.Line(table, c.First, pos); got != *pl[1] {
					t.Errorf("first line %d, position %d: got line %d, CPython says %d", c.First, pos, got, *pl[1])
				}
				checked++
			}
		}
		if checked < 20 {
			t.Fatalf("only %d positions checked", checked)
		}
	})
}

func FuzzLineCodecs(f *testing.F) {
	f.Add([]byte{0x80, 0x01, 0xf8, 0x41, 0x42}, 10, 3)
	f.Fuzz(func(t *testing.T, table []byte, first, pos int) {
		for c := LnotabUnsigned; c <= Locations311; c++ {
			c.Line(table, first, pos)
		}
	})
}
