package native

import (
	"debug/dwarf"
	"sort"
)

// cuRange is the address range of one compile unit.
type cuRange struct {
	lo, hi uint64
	cu     *dwarf.Entry
	lr     *dwarf.LineReader // made on first use
}

// line returns the source file and line of addr from the DWARF line
// tables, or "", 0 where the binary has none (stripped distro builds).
// The compile-unit index is built on the first call; t.mu is held.
func (t *Table) line(addr uint64) (file string, line int) {
	defer func() {
		if recover() != nil { // debug/dwarf on a damaged table
			file, line = "", 0
		}
	}()
	if !t.dwOnce {
		t.dwOnce = true
		t.loadCUs()
	}
	i := sort.Search(len(t.cus), func(i int) bool { return t.cus[i].hi > addr })
	if i == len(t.cus) || addr < t.cus[i].lo {
		return "", 0
	}
	// One reader per compile unit, kept: making one parses the unit's
	// line-program header, which costs more than the lookup itself.
	lr := t.cus[i].lr
	if lr == nil {
		var err error
		if lr, err = t.dwarf.LineReader(t.cus[i].cu); err != nil || lr == nil {
			return "", 0
		}
		t.cus[i].lr = lr
	}
	var e dwarf.LineEntry
	if err := lr.SeekPC(addr, &e); err != nil {
		return "", 0
	}
	if e.File != nil {
		file = e.File.Name
	}
	return file, e.Line
}

// loadCUs indexes the compile units by the address ranges they cover.
func (t *Table) loadCUs() {
	if t.elf == nil || t.elf.Section(".debug_info") == nil || t.elf.Section(".debug_line") == nil {
		return
	}
	d, err := t.elf.DWARF()
	if err != nil {
		return
	}
	t.dwarf = d
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			break
		}
		if e.Tag == dwarf.TagCompileUnit {
			if ranges, err := d.Ranges(e); err == nil {
				for _, rg := range ranges {
					if rg[1] > rg[0] {
						t.cus = append(t.cus, cuRange{lo: rg[0], hi: rg[1], cu: e})
					}
				}
			}
		}
		r.SkipChildren()
	}
	sort.Slice(t.cus, func(i, j int) bool { return t.cus[i].lo < t.cus[j].lo })
}
