package render

import (
	"bytes"
	"strings"
	"testing"
)

func TestReadFolded(t *testing.T) {
	f, err := ReadFolded(strings.NewReader("main (app.py:10);a (app.py:20) 3\nmain (app.py:11);a (app.py:22) 2\n\n<idle> 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f["main (app.py);a (app.py)"] != 5 || f["<idle>"] != 1 || len(f) != 2 {
		t.Errorf("folded %v: lines of one function should merge", f)
	}
	for _, bad := range []string{"main;a\n", "main;a x\n", "main;a -3\n"} {
		if _, err := ReadFolded(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("ReadFolded(%q): %v, want an error naming line 1", bad, err)
		}
	}
}

func TestDiffOfSynthetic(t *testing.T) {
	base, err := FoldProfile(synthetic())
	if err != nil {
		t.Fatal(err)
	}
	d := Diff{Base: base, New: Folded{"main (app.py);a (app.py);" + foldLabel(nameB+" ("+fileB+")"): 50, "main (app.py);计算_ü (app.py)": 50}}
	rows, err := d.Rows()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0].Change() != 25 {
		t.Fatalf("rows %+v, want a, b and c changing by 25 points", rows)
	}
	var buf bytes.Buffer
	if err := d.WriteCollapsed(&buf); err != nil {
		t.Fatal(err)
	}
	want := "main (app.py);a (app.py);b:<tag>&\"q\" (lib/ünï.py) 75 50\nmain (app.py);计算_ü (app.py) 25 50\n"
	if buf.String() != want {
		t.Errorf("collapsed diff:\n%s\nwant\n%s", buf.String(), want)
	}
	if _, err := (Diff{Base: base, New: Folded{}}).Rows(); err == nil {
		t.Error("a diff against an empty profile should fail")
	}
}
