package top

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestWriteText(t *testing.T) {
	tests := []struct {
		name   string
		golden string
		p      func() *prof.Profile
		o      Options
	}{
		{"by function", "text_functions.golden", fixture, Options{Header: testHeader}},
		{"by line, idle shown", "text_lines.golden", fixture, Options{Header: testHeader, Lines: true, ShowIdle: true}},
		{"empty, target from the profile", "text_empty.golden", func() *prof.Profile {
			p := prof.New(time.Time{})
			p.Target = "pid 7 python idle.py"
			return p
		}, Options{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteText(&b, tc.p(), tc.o); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.golden, b.Bytes())
		})
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteTextError(t *testing.T) {
	err := WriteText(failWriter{}, fixture(), Options{})
	if err == nil || err.Error() != "top: write table: disk full" {
		t.Errorf("err = %v", err)
	}
}

func TestClip(t *testing.T) {
	tests := []struct {
		in          string
		w           int
		right, left string
	}{
		{"hello", 10, "hello", "hello"},
		{"hello", 5, "hello", "hello"},
		{"hello", 4, "hel…", "…llo"},
		{"hello", 1, "…", "…"},
		{"hello", 0, "", ""},
		{"日本語です", 6, "日本…", "…です"}, // wide characters are two columns
		{"日本語です", 4, "日…", "…す"},
		{"a/b/c/module.py", 10, "a/b/c/mod…", "…module.py"},
	}
	for _, tc := range tests {
		if got := clip(tc.in, tc.w); got != tc.right {
			t.Errorf("clip(%q, %d) = %q, want %q", tc.in, tc.w, got, tc.right)
		}
		if got := clipLeft(tc.in, tc.w); got != tc.left {
			t.Errorf("clipLeft(%q, %d) = %q, want %q", tc.in, tc.w, got, tc.left)
		}
		if w := width(clip(tc.in, tc.w)); w > tc.w {
			t.Errorf("clip(%q, %d) is %d columns", tc.in, tc.w, w)
		}
	}
}

func TestFormat(t *testing.T) {
	tests := []struct{ got, want string }{
		{fmtCount(0), "0"},
		{fmtCount(999), "999"},
		{fmtCount(1000), "1,000"},
		{fmtCount(1234567), "1,234,567"},
		{fmtCount(-1234), "-1,234"},
		{fmtSecs(0.5), "0.50s"},
		{fmtSecs(123.45), "123.5s"},
		{fmtSecs(12345.6), "12346s"},
		{fmtElapsed(800 * time.Millisecond), "0.8s"},
		{fmtElapsed(125 * time.Second), "2m05s"},
		{fmtElapsed(3723 * time.Second), "1h02m03s"},
		{fmtPct(71.42857), "71.4%"},
		{fmtRate(99.84), "99.8"},
		{fmtRate(1000), "1000"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
