package top

import (
	"strings"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// TestMemoryColumns: with --memory the rows carry the growth attributed to
// them, sort by it on keys 5 and 6, and the text table shows the columns.
func TestMemoryColumns(t *testing.T) {
	p := prof.New(time.Unix(0, 0))
	p.Memory = true
	run := p.Frame(prof.Frame{Name: "run", File: "app.py", Line: 5})
	grow := p.Frame(prof.Frame{Name: "grow", File: "app.py", Line: 10})
	churn := p.Frame(prof.Frame{Name: "churn", File: "app.py", Line: 20})
	th := p.Thread(prof.Thread{Pid: 1, TID: 1})
	g := p.Stack([]prof.FrameID{run, grow})
	c := p.Stack([]prof.FrameID{run, churn})
	p.Add(g, th, 0, 10)
	p.Add(c, th, 0, 30)
	p.AddMemory(g, th, 200<<20)
	p.AddMemory(c, th, 1<<20)
	p.AddMemory(c, th, -1<<20)

	m := NewModel(false, 100)
	m.Update(p)
	if !m.Stats().Memory {
		t.Fatal("Stats().Memory is false")
	}
	m.SetSort(SortOwnMem)
	rows := m.Rows()
	if len(rows) != 3 || rows[0].Name != "grow" || rows[0].OwnMem != 200<<20 || rows[0].TotalMem != 200<<20 {
		t.Fatalf("rows by OwnMem: %+v", rows)
	}
	for _, r := range rows {
		if r.Name == "run" && (r.OwnMem != 0 || r.TotalMem != 201<<20) {
			t.Errorf("run: own %d total %d, want 0 and 201 MiB", r.OwnMem, r.TotalMem)
		}
	}
	var b strings.Builder
	if err := WriteText(&b, p, Options{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "OwnMem") || !strings.Contains(b.String(), "200M") {
		t.Errorf("text table without memory columns:\n%s", b.String())
	}
	p.Memory = false
	b.Reset()
	WriteText(&b, p, Options{})
	if strings.Contains(b.String(), "OwnMem") {
		t.Errorf("memory columns without --memory:\n%s", b.String())
	}
}

func TestFmtBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 512: "512B", 1536: "1.5K", 200 << 20: "200M", 5 << 30: "5.0G"} {
		if got := fmtBytes(n); got != want {
			t.Errorf("fmtBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
