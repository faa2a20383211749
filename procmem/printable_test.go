package procmem

import "testing"

func TestPrintable(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain_name", "plain_name"},
		{"ünïcödé 😀 工作", "ünïcödé 😀 工作"},
		{"evil\x1b]0;pwned\x07", `evil\x1b]0;pwned\x07`},
		{"two\nlines\r", `two\x0alines\x0d`},
		{"tab\there", `tab\x09here`},
		{"del\x7f", `del\x7f`},
		{"c1\u009bcsi", `c1\u009bcsi`},
		{"bad\xffutf8", `bad\xffutf8`},
		{"", ""},
	} {
		if got := Printable(tt.in); got != tt.want {
			t.Errorf("Printable(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { Printable("nothing_to_escape.py") }); n != 0 {
		t.Errorf("Printable allocates %v times for a clean string, want 0", n)
	}
}

func FuzzPrintable(f *testing.F) {
	f.Add("a\x1b[2Jb")
	f.Fuzz(func(t *testing.T, s string) {
		out := Printable(s)
		for i := 0; i < len(out); i++ {
			if c := out[i]; c < 0x20 || c == 0x7f {
				t.Fatalf("Printable(%q) = %q keeps control byte %#x", s, out, c)
			}
		}
	})
}
