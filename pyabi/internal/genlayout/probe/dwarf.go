package probe

import (
	"debug/dwarf"
	"debug/elf"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrNoDWARF is returned by FromDWARF for a library without debug info
// (distribution builds strip it into a separate package).
var ErrNoDWARF = errors.New("no DWARF debug info")

// exprRE splits the probe's C expressions: offsetof(TYPE, a.b.c) or sizeof(TYPE).
var exprRE = regexp.MustCompile(`^(offsetof|sizeof)\(([^,()]+?)(?:,\s*([A-Za-z0-9_.]+))?\)$`)

// FromDWARF evaluates the probe's expressions for version m against the
// debug info of a built libpython instead of its headers. It answers the
// question the headers cannot: did this binary really get built with these
// structs? The copied struct probe_dictkeysobject is looked up under its
// real name, struct _dictkeysobject, which makes this the independent check
// of that copy.
func FromDWARF(lib string, m Minor) (map[string]int, error) {
	exprs := map[string]string{}
	for _, fl := range Fields {
		if e := fl.Expr(m); e != "" {
			exprs[fl.Path] = strings.Replace(e, "probe_dictkeysobject", "_dictkeysobject", 1)
		}
	}
	return EvalDWARF(lib, exprs)
}

// EvalDWARF evaluates expressions of the form offsetof(TYPE, a.b) and
// sizeof(TYPE), by name, against the debug info of the ELF file lib (a
// libpython, or an extension module whose structs no header declares).
func EvalDWARF(lib string, exprs map[string]string) (map[string]int, error) {
	f, err := elf.Open(lib)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := f.DWARF()
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", lib, ErrNoDWARF, err)
	}
	type query struct{ path, op, typ, member string }
	var qs []query
	want := map[string]bool{}
	for path, e := range exprs {
		sm := exprRE.FindStringSubmatch(e)
		if sm == nil {
			return nil, fmt.Errorf("field %s: cannot evaluate %q from DWARF", path, e)
		}
		typ := strings.TrimSpace(sm[2])
		qs = append(qs, query{path, sm[1], typ, sm[3]})
		want[typ] = true
	}
	types, err := findTypes(d, want)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", lib, err)
	}
	out := map[string]int{}
	for _, q := range qs {
		t, ok := types[q.typ]
		if !ok {
			return nil, fmt.Errorf("%s: field %s: no complete definition of %s", lib, q.path, q.typ)
		}
		if q.op == "sizeof" {
			out[q.path] = int(t.Size())
			continue
		}
		off, err := memberOffset(t, q.member)
		if err != nil {
			return nil, fmt.Errorf("%s: field %s: %s: %w", lib, q.path, q.typ, err)
		}
		out[q.path] = off
	}
	return out, nil
}

// findTypes walks the top level of every compile unit for the named types
// ("PyThreadState" for a typedef, "struct _PyCFrame" for a tag) and keeps
// the first complete definition of each.
func findTypes(d *dwarf.Data, want map[string]bool) (map[string]*dwarf.StructType, error) {
	found := map[string]*dwarf.StructType{}
	r := d.Reader()
	for len(found) < len(want) {
		e, err := r.Next()
		if err != nil {
			return nil, err
		}
		if e == nil {
			break
		}
		if e.Tag == dwarf.TagCompileUnit {
			continue // descend into its children
		}
		name, _ := e.Val(dwarf.AttrName).(string)
		key := name
		if e.Tag == dwarf.TagStructType {
			key = "struct " + name
		}
		if name != "" && want[key] && found[key] == nil &&
			(e.Tag == dwarf.TagTypedef || e.Tag == dwarf.TagStructType) {
			t, err := d.Type(e.Offset)
			if err != nil {
				return nil, err
			}
			if st, ok := strip(t).(*dwarf.StructType); ok && !st.Incomplete {
				found[key] = st
			}
		}
		if e.Children {
			r.SkipChildren()
		}
	}
	return found, nil
}

// strip removes typedefs and qualifiers.
func strip(t dwarf.Type) dwarf.Type {
	for {
		switch tt := t.(type) {
		case *dwarf.TypedefType:
			t = tt.Type
		case *dwarf.QualType:
			t = tt.Type
		default:
			return t
		}
	}
}

// memberOffset follows a dotted member path through nested structs.
func memberOffset(t dwarf.Type, path string) (int, error) {
	off := 0
	for _, name := range strings.Split(path, ".") {
		st, ok := strip(t).(*dwarf.StructType)
		if !ok || st.Incomplete {
			return 0, fmt.Errorf("%s: not a complete struct before .%s", t, name)
		}
		var field *dwarf.StructField
		for _, f := range st.Field {
			if f.Name == name {
				field = f
				break
			}
		}
		if field == nil {
			return 0, fmt.Errorf("no member %s in %s", name, st.StructName)
		}
		off += int(field.ByteOffset)
		t = field.Type
	}
	return off, nil
}
