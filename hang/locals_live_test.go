package hang

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/internal/testutil"
	"github.com/pyspyglass/pyspyglass/sampler"
)

// TestLocalsLive dumps testdata/locals.py with --locals and --locals-all
// and compares every variable of its leaf frame exactly.
func TestLocalsLive(t *testing.T) {
	testutil.ForEach(t, testutil.Interpreters(t), func(t *testing.T, in testutil.Interpreter) {
		tg := testutil.Spawn(t, in, "locals.py")
		target, err := sampler.Open(tg.Pid, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer target.Close()
		if _, err := target.Interp.NewInspector(); err != nil {
			t.Skipf("%s: locals not readable: %v", in.Name, err)
		}
		py2 := in.Major == 2
		text, data := `'héllo wörld ✓'`, `b"\x00\xffab'c"`
		if py2 {
			text, data = `'h\xc3\xa9llo'`, `"\x00\xffab'c"`
		}
		common := map[string]string{
			"n": "3", "rest": "('r',)", "options": "{'flag': 1}",
			"nothing": "None", "yes": "True", "no": "False", "small": "42", "negative": "-7",
			"huge":  "1606938044258990275541962092341162602522202993782792835301376",
			"giant": "<int of 6644 bits>", "ratio": "0.1", "large": "1e+16",
			"text": text, "data": data,
			"pair": "(1, 'two')", "single": "(1,)", "empty": "()",
			"tags": "{'x'}", "no_tags": "set()",
			"point":    `<__main__.Point object at 0x[0-9a-f]+>`,
			"use":      `<function object at 0x[0-9a-f]+>`,
			"captured": "'cell'",
		}
		limited := map[string]string{
			"long_text": "'" + strings.Repeat("x", 64) + "...'",
			"big_list":  "[0, 1, 2, 3, 4, 5, 6, 7, ... (1000 items)]",
			"nested":    "{'a': {'b': <dict of 1>}}",
		}
		var nums []string
		for i := range 1000 {
			nums = append(nums, fmt.Sprint(i))
		}
		all := map[string]string{
			"long_text": "'" + strings.Repeat("x", 1000) + "'",
			"big_list":  "[" + strings.Join(nums, ", ") + "]",
			"nested":    "{'a': {'b': {'c': {'d': 1}}}}",
		}
		args := map[string]bool{"n": true, "rest": true, "options": true}
		for _, tc := range []struct {
			name string
			o    Options
			want map[string]string
		}{{"locals", Options{Locals: true}, limited}, {"locals-all", Options{LocalsAll: true}, all}} {
			want := map[string]string{}
			for k, v := range common {
				want[k] = v
			}
			for k, v := range tc.want {
				want[k] = v
			}
			// The readiness line comes just before the sleep: retry until
			// the leaf frame is there (the deadline bounds a failure).
			var leaf *Frame
			line := testutil.Mark(t, "locals.py", "leaf")
			for deadline := time.Now().Add(20 * time.Second); leaf == nil || leaf.Line != line; {
				if time.Now().After(deadline) {
					t.Fatalf("%s: no leaf frame at line %d: %+v", tc.name, line, leaf)
				}
				d, err := Take(target, tc.o, nil)
				if err != nil {
					t.Fatal(err)
				}
				leaf = nil
				for i := range d.Threads {
					for j := range d.Threads[i].Frames {
						if f := &d.Threads[i].Frames[j]; f.Name == "leaf" {
							leaf = f
						}
					}
				}
			}
			got := map[string]bool{}
			for _, v := range leaf.Locals {
				got[v.Name] = true
				w, ok := want[v.Name]
				if !ok {
					t.Errorf("%s: unexpected variable %s = %s", tc.name, v.Name, v.Repr)
					continue
				}
				if !regexp.MustCompile(`^` + regexpQuoteExceptHex(w) + `$`).MatchString(v.Repr) {
					t.Errorf("%s: %s = %s, want %s", tc.name, v.Name, v.Repr, w)
				}
				if v.Arg != args[v.Name] {
					t.Errorf("%s: %s arg = %v", tc.name, v.Name, v.Arg)
				}
			}
			for name := range want {
				if !got[name] {
					t.Errorf("%s: variable %s missing", tc.name, name)
				}
			}
		}
	})
}

// regexpQuoteExceptHex quotes w for a regexp, keeping the address
// pattern 0x[0-9a-f]+ of object reprs.
func regexpQuoteExceptHex(w string) string {
	const hex = "0x[0-9a-f]+"
	parts := strings.Split(w, hex)
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return strings.Join(parts, hex)
}
