package procmem

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Printable returns s with what a terminal would act on written as
// escapes: control characters (C0, DEL, C1) and bytes that are not UTF-8,
// as \xNN (\u0080-\u009f for C1). Names read from a target (functions,
// files, threads, its command line) are the target's choice: raw, they
// could move the cursor, retitle the window or split an output line. A
// string with nothing to escape is returned as is, without allocating.
func Printable(s string) string {
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if needsEscape(r, size) {
			break
		}
		i += size
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case needsEscape(r, size) && r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		case needsEscape(r, size):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(r rune, size int) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || (r == utf8.RuneError && size == 1)
}
