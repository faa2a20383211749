package sampler

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// ThreadFilter chooses threads by name or id (--thread, --tid). The zero
// value keeps every thread. Filtered-out threads are never walked: they
// cost only their place in the thread list.
type ThreadFilter struct {
	Names []*regexp.Regexp // kept when one matches the Python name or the OS name
	TIDs  []int            // kept when the native thread id is one of these
}

// ParseThreadFilter compiles --thread patterns; tids are --tid values.
func ParseThreadFilter(patterns []string, tids []int) (ThreadFilter, error) {
	f := ThreadFilter{TIDs: slices.Clone(tids)}
	for _, p := range patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return ThreadFilter{}, fmt.Errorf("--thread %q: %w", p, err)
		}
		f.Names = append(f.Names, re)
	}
	for _, tid := range tids {
		if tid <= 0 {
			return ThreadFilter{}, fmt.Errorf("--tid %d: a thread id is a positive number", tid)
		}
	}
	return f, nil
}

// Active reports whether the filter drops anything.
func (f ThreadFilter) Active() bool { return len(f.Names) > 0 || len(f.TIDs) > 0 }

// Keep reports whether thread tid of process pid, whose Python name (or,
// without one, OS name) is name, passes. The OS name is read only when the
// name given does not match.
func (f ThreadFilter) Keep(pid, tid int, name string) bool {
	if !f.Active() || slices.Contains(f.TIDs, tid) {
		return true
	}
	if f.matches(name) {
		return true
	}
	if tid == 0 {
		return false
	}
	comm, err := procmem.ThreadComm(pid, tid)
	return err == nil && comm != name && f.matches(comm)
}

func (f ThreadFilter) matches(name string) bool {
	for _, re := range f.Names {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

// String is the filter as a user would give it, for headers.
func (f ThreadFilter) String() string {
	var parts []string
	for _, re := range f.Names {
		parts = append(parts, re.String())
	}
	for _, tid := range f.TIDs {
		parts = append(parts, "tid "+strconv.Itoa(tid))
	}
	return strings.Join(parts, " | ")
}

// SetThreads replaces the thread filter by one regular expression over
// thread names ("" keeps every thread): the live view's filter.
func (s *Sampler) SetThreads(pattern string) error {
	var f ThreadFilter
	if pattern != "" {
		re, err := regexp.Compile(pattern)
		if err != nil {
			return fmt.Errorf("thread filter %q: %w", pattern, err)
		}
		f.Names = []*regexp.Regexp{re}
	}
	s.SetThreadFilter(f)
	return nil
}
