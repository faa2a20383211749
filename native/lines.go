package native

import (
	"debug/dwarf"
	"sort"
)

// cuRange is the address range of one compile unit.
type cuRange struct {
	lo, hi uint64
	cu     *dwarf.Entry
	rows   []lineRow // the unit's line table sorted by address, read on first use
	read   bool
}

// lineRow is one row of a line table: from addr on (up to the next row),
// the code is file:line. An end-of-sequence row has line 0.
type lineRow struct {
	addr uint64
	file string
	line int
}

// maxLineRows bounds the rows kept of one compile unit.
const maxLineRows = 1 << 20

// line returns the source file and line of addr from the DWARF line
// tables, or "", 0 where the binary has none (stripped distro builds).
// The compile-unit index is built on the first call, each unit's rows on
// the first lookup in it: a line reader's SeekPC scans the unit's program
// from its start, which in ceval.c's unit is a millisecond per address.
// t.mu is held.
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
	cu := &t.cus[i]
	if !cu.read {
		cu.read = true
		cu.rows = t.readRows(cu.cu)
	}
	j := sort.Search(len(cu.rows), func(j int) bool { return cu.rows[j].addr > addr }) - 1
	if j < 0 || cu.rows[j].line == 0 {
		return "", 0
	}
	return cu.rows[j].file, cu.rows[j].line
}

// readRows decodes the line table of one compile unit, sorted by address.
func (t *Table) readRows(cu *dwarf.Entry) []lineRow {
	lr, err := t.dwarf.LineReader(cu)
	if err != nil || lr == nil {
		return nil
	}
	var rows []lineRow
	var e dwarf.LineEntry
	for len(rows) < maxLineRows && lr.Next(&e) == nil {
		r := lineRow{addr: e.Address}
		if !e.EndSequence {
			r.line = e.Line
			if e.File != nil {
				r.file = e.File.Name
			}
		}
		rows = append(rows, r)
	}
	// At one address the last row wins, as in the line program, except
	// that a sequence's end never hides the start of the next one.
	sort.SliceStable(rows, func(a, b int) bool { return rows[a].addr < rows[b].addr })
	out := rows[:0]
	for _, r := range rows {
		if n := len(out); n > 0 && out[n-1].addr == r.addr {
			if r.line != 0 || out[n-1].line == 0 {
				out[n-1] = r
			}
			continue
		}
		out = append(out, r)
	}
	return out
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
