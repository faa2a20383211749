package attach

import (
	"slices"
	"testing"
)

func TestParseChildren(t *testing.T) {
	tests := []struct {
		name, text string
		want       []int
		bad        bool
	}{
		{"none", "", nil, false},
		{"two", "123 456 ", []int{123, 456}, false},
		{"newline", "7\n", []int{7}, false},
		{"garbage", "12 x", nil, true},
		{"zero", "0", nil, true},
		{"negative", "-3", nil, true},
	}
	for _, tc := range tests {
		got, err := parseChildren(tc.text)
		if (err != nil) != tc.bad || !slices.Equal(got, tc.want) {
			t.Errorf("%s: parseChildren(%q) = %v, %v; want %v (error %v)", tc.name, tc.text, got, err, tc.want, tc.bad)
		}
	}
}

func TestParsePPid(t *testing.T) {
	tests := []struct {
		name, line string
		want       int
		bad        bool
	}{
		{"plain", "4242 (python3) S 17 4242 4242 0 -1 4194560 ...", 17, false},
		{"comm with spaces and parens", "99 (a) b (c) R 1 99 99", 1, false},
		{"kernel thread", "2 (kthreadd) S 0 0 0", 0, false},
		{"no paren", "4242 python3 S 17", 0, true},
		{"truncated", "4242 (python3) S", 0, true},
		{"bad ppid", "4242 (python3) S x 1", 0, true},
	}
	for _, tc := range tests {
		got, err := parsePPid(tc.line)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("%s: parsePPid = %d, %v; want %d (error %v)", tc.name, got, err, tc.want, tc.bad)
		}
	}
}

func TestWalkTree(t *testing.T) {
	kids := map[int][]int{
		1:  {10, 20},
		10: {11, 12},
		12: {13},
		20: {10}, // listed twice while reparenting
		13: {1},  // a cycle must not loop
		99: {100},
	}
	got := walkTree(1, func(pid int) []int { return kids[pid] })
	if want := []int{10, 11, 12, 13, 20}; !slices.Equal(got, want) {
		t.Errorf("walkTree(1) = %v, want %v", got, want)
	}
	if got := walkTree(11, func(pid int) []int { return kids[pid] }); len(got) != 0 {
		t.Errorf("walkTree(leaf) = %v, want none", got)
	}
}
