package pyabi

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// Bounds of what the inspector reads for one frame or object: a torn or
// garbage value must end in an error, never in a huge read.
const (
	maxVars       = 4096     // co_nlocalsplus, co_nlocals + cells + frees
	maxStackSize  = 1 << 16  // co_stacksize
	maxBlocks     = 20       // CO_MAXBLOCKS (Include/code.h <=3.10)
	maxExcTable   = 64 << 10 // co_exceptiontable bytes
	maxTypeName   = 256
	maxContainer  = 1 << 28 // items of a tuple, list, dict or set
	maxSetTable   = 1 << 24 // slots of a set's table
	maxAttrsCheck = 256     // instance attributes scanned for a name
)

// Inspector reads what dump shows beyond the stack: a frame's variables,
// its live value stack, and the objects they hold (repr.go). It caches
// types and code objects, which the target may free once it runs on, so it
// is meant to live for one dump. It is not safe for concurrent use.
type Inspector struct {
	in    *Interpreter
	o     *objReader
	types map[uint64]*typeDesc
	codes map[uint64]*codeVars
}

// NewInspector returns an Inspector, or an error when this interpreter's
// object layout is not known well enough to read variables.
func (in *Interpreter) NewInspector() (*Inspector, error) {
	if err := in.objectLayoutKnown(); err != nil {
		return nil, err
	}
	if missing := inspectorMissing(in.Layout); missing != "" {
		return nil, fmt.Errorf("the frame variables of %s are not known (no %s)", in.Version, missing)
	}
	return &Inspector{in: in, o: newObjReader(in.r, in.Version, in.Layout),
		types: map[uint64]*typeDesc{}, codes: map[uint64]*codeVars{}}, nil
}

// inspectorMissing names the first field the inspector reads that l
// lacks, or "": every offset it indexes with must be known.
func inspectorMissing(l Layout) string {
	fields := map[string]int{
		"Frame.Code": l.Frame.Code, "FrameVars.Globals": l.FrameVars.Globals, "FrameVars.LocalsPlus": l.FrameVars.LocalsPlus,
		"CodeVars.ArgCount": l.CodeVars.ArgCount, "CodeVars.Flags": l.CodeVars.Flags, "CodeVars.StackSize": l.CodeVars.StackSize,
		"VarObject.Size": l.VarObject.Size, "Tuple.Item": l.Tuple.Item, "List.Item": l.List.Item, "Float.Value": l.Float.Value,
		"Set.Used": l.Set.Used, "Set.Mask": l.Set.Mask, "Set.Table": l.Set.Table, "Cell.Ref": l.Cell.Ref,
		"Method.Self": l.Method.Self, "CFunction.Self": l.CFunction.Self, "Type.Dict": l.Type.Dict, "Type.Name": l.Type.Name,
		"Bytes.Size": l.Bytes.Size, "Bytes.Data": l.Bytes.Data, "Long.Size": l.Long.Size, "Long.Digit": l.Long.Digit,
		"Dict.Used": l.Dict.Used,
	}
	if l.CodeVars.LocalsPlusNames != Absent {
		fields["CodeVars.NLocalsPlus"] = l.CodeVars.NLocalsPlus
		fields["CodeVars.LocalsPlusKinds"] = l.CodeVars.LocalsPlusKinds
		fields["CodeVars.ExceptionTable"] = l.CodeVars.ExceptionTable
	} else {
		fields["CodeVars.NLocals"] = l.CodeVars.NLocals
		fields["CodeVars.VarNames"] = l.CodeVars.VarNames
		fields["CodeVars.CellVars"] = l.CodeVars.CellVars
		fields["CodeVars.FreeVars"] = l.CodeVars.FreeVars
		fields["FrameVars.IBlock"] = l.FrameVars.IBlock
		fields["FrameVars.BlockStack"] = l.FrameVars.BlockStack
	}
	if l.Long.IVal == Absent { // 3.x: str is PEP 393
		fields["Unicode.Length"] = l.Unicode.Length
		fields["Unicode.State"] = l.Unicode.State
		fields["Unicode.ASCIIData"] = l.Unicode.ASCIIData
		fields["Unicode.CompactData"] = l.Unicode.CompactData
	}
	var missing []string
	for name, off := range fields {
		if off == Absent {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	slices.Sort(missing)
	return strings.Join(missing, ", ")
}

// Local-variable kinds (CO_FAST_*, Include/internal/pycore_code.h v3.11.0);
// the inspector gives <=3.10's varnames, cellvars and freevars the same.
const (
	fastHidden = 0x10 // 3.12+: a comprehension's inlined variable
	fastLocal  = 0x20
	fastCell   = 0x40
	fastFree   = 0x80
)

// Code flags (Include/code.h, every version).
const (
	coVarargs   = 0x4
	coVarkwargs = 0x8
)

// codeVars is what the inspector knows of one code object.
type codeVars struct {
	names     []string
	kinds     []byte
	nargs     int // the first nargs names are parameters
	stackSize int
	excTable  []byte // 3.11+
}

// Var is one bound variable of a frame.
type Var struct {
	Name  string
	Value uint64 // the object (a cell's content for cell and free variables)
	Arg   bool   // a parameter of the function
}

// FrameInfo is what the inspector read of one frame.
type FrameInfo struct {
	Addr, Code uint64
	Globals    uint64 // the frame's globals dict
	Vars       []Var
	// Live holds the value stack slots the frame still needs when an
	// exception unwinds it: below the innermost try or with block. A
	// `with` keeps its context manager's bound __exit__ (3.14: the
	// manager itself) there while its body runs.
	Live []uint64
	// Stack holds every slot of the value stack, live or stale: only to
	// be matched against something known, never shown as a value.
	Stack []uint64
}

// Frame reads the variables and value stack of the frame at addr, one of
// those Interpreter.LastFrames returned.
func (x *Inspector) Frame(addr uint64) (FrameInfo, error) {
	l := x.in.Layout
	fv := l.FrameVars
	span := maxOffset(x.in.fspan-8, fv.Globals, fv.LocalsPlus, fv.ValueStack, fv.IBlock, fv.BlockStack, fv.StackTop) + 8
	if fv.BlockStack != Absent {
		span = max(span, fv.BlockStack+maxBlocks*12)
	}
	fb := make([]byte, span)
	if err := procmem.ReadFull(x.in.r, fb, addr); err != nil {
		return FrameInfo{}, fmt.Errorf("frame %#x: %w", addr, err)
	}
	code := le64(fb[l.Frame.Code:]) & x.in.codeMask
	fi := FrameInfo{Addr: addr, Code: code, Globals: le64(fb[fv.Globals:])}
	cv, err := x.codeVars(code)
	if err != nil {
		return fi, fmt.Errorf("frame %#x: %w", addr, err)
	}
	n := len(cv.names)
	slots := make([]byte, (n+cv.stackSize)*8)
	base := addr + uint64(fv.LocalsPlus)
	if err := procmem.ReadFull(x.in.r, slots, base); err != nil {
		return fi, fmt.Errorf("frame %#x: locals: %w", addr, err)
	}
	for i := range n {
		v := le64(slots[i*8:]) & x.in.codeMask
		if v == 0 || cv.kinds[i]&fastHidden != 0 {
			continue // unbound, or not the function's own
		}
		if cv.kinds[i]&(fastCell|fastFree) != 0 {
			// 3.11+ holds a cell variable's value itself until MAKE_CELL
			// runs; after that, and always before 3.11, a cell.
			if d, _ := x.typeDesc(v); d != nil && d.kind == kindCell {
				if v, err = procmem.Ptr(x.in.r, v+uint64(l.Cell.Ref)); err != nil || v == 0 {
					continue
				}
			}
		}
		fi.Vars = append(fi.Vars, Var{Name: cv.names[i], Value: v, Arg: i < cv.nargs})
	}
	stack := slots[n*8:]
	for i := range cv.stackSize {
		fi.Stack = append(fi.Stack, le64(stack[i*8:])&x.in.codeMask)
	}
	live := x.liveDepth(fb, code, cv)
	fi.Live = fi.Stack[:min(live, len(fi.Stack))]
	return fi, nil
}

// liveDepth is how many value stack slots from the bottom are live for
// certain: <=3.10 the level of the innermost block (SETUP_WITH and
// SETUP_FINALLY record it, Python/ceval.c), 3.11+ the depth of the
// exception table entry covering the current instruction
// (Objects/exception_handling_notes.txt v3.11.0).
func (x *Inspector) liveDepth(fb []byte, code uint64, cv *codeVars) int {
	fv := x.in.Layout.FrameVars
	if fv.IBlock != Absent {
		nb := int(int32(le32(fb[fv.IBlock:])))
		if nb < 0 || nb > maxBlocks {
			return 0
		}
		level := 0
		for i := range nb {
			// PyTryBlock {int b_type, b_handler, b_level}.
			level = max(level, int(int32(le32(fb[fv.BlockStack+i*12+8:]))))
		}
		return max(0, min(level, cv.stackSize))
	}
	if cv.excTable == nil {
		return 0
	}
	depth, ok := excDepth(cv.excTable, x.in.position(fb, code))
	if !ok {
		return 0
	}
	return min(depth, cv.stackSize)
}

// excDepth finds the exception table entry covering instruction pos (in
// code units) and returns its stack depth. Entries are varints of six bits
// per byte, most significant first, 0x40 meaning more follow, and 0x80
// marking an entry's first byte: start, size, target, depth<<1|lasti
// (Python/compile.c, Lib/dis.py _parse_exception_table, v3.11.0).
func excDepth(table []byte, pos int) (int, bool) {
	i := 0
	varint := func() (int, bool) {
		if i >= len(table) {
			return 0, false
		}
		b := table[i]
		i++
		v := int(b & 63)
		for n := 0; b&64 != 0; n++ {
			if i >= len(table) || n > 5 {
				return 0, false
			}
			b = table[i]
			i++
			v = v<<6 | int(b&63)
		}
		return v, true
	}
	for i < len(table) {
		start, ok1 := varint()
		size, ok2 := varint()
		_, ok3 := varint()
		dl, ok4 := varint()
		if !ok1 || !ok2 || !ok3 || !ok4 {
			return 0, false
		}
		if pos >= start && pos < start+size {
			return dl >> 1, true
		}
	}
	return 0, false
}

// codeVars reads the variable names of the code object at addr once.
func (x *Inspector) codeVars(addr uint64) (*codeVars, error) {
	if cv, ok := x.codes[addr]; ok {
		return cv, nil
	}
	l := x.in.Layout
	c := l.CodeVars
	h, err := x.o.header(addr, maxOffset(c.ArgCount, c.KwOnlyArgCount, c.Flags, c.StackSize, c.NLocals,
		c.VarNames, c.CellVars, c.FreeVars, c.NLocalsPlus, c.LocalsPlusNames, c.LocalsPlusKinds, c.ExceptionTable)+8, "code object")
	if err != nil {
		return nil, err
	}
	i32 := func(off int) int {
		if off == Absent {
			return 0
		}
		return int(int32(le32(h[off:])))
	}
	ptr := func(off int) uint64 { return le64(h[off:]) }
	cv := &codeVars{stackSize: i32(c.StackSize)}
	flags := i32(c.Flags)
	cv.nargs = i32(c.ArgCount) + i32(c.KwOnlyArgCount)
	if flags&coVarargs != 0 {
		cv.nargs++
	}
	if flags&coVarkwargs != 0 {
		cv.nargs++
	}
	if cv.stackSize < 0 || cv.stackSize > maxStackSize || cv.nargs < 0 {
		return nil, fmt.Errorf("code object %#x: stack size %d, %d parameters out of range", addr, cv.stackSize, cv.nargs)
	}
	if c.LocalsPlusNames != Absent {
		// 3.11+: one tuple of names and one bytes object of kinds.
		names, kinds, table := ptr(c.LocalsPlusNames), ptr(c.LocalsPlusKinds), ptr(c.ExceptionTable)
		n := i32(c.NLocalsPlus)
		if cv.names, err = x.strTuple(names, maxVars); err != nil {
			return nil, fmt.Errorf("code object %#x: co_localsplusnames: %w", addr, err)
		}
		if cv.kinds, err = x.bytesValue(kinds, maxVars); err != nil {
			return nil, fmt.Errorf("code object %#x: co_localspluskinds: %w", addr, err)
		}
		if len(cv.names) != n || len(cv.kinds) != n {
			return nil, fmt.Errorf("code object %#x: %d names, %d kinds, co_nlocalsplus %d", addr, len(cv.names), len(cv.kinds), n)
		}
		if cv.excTable, err = x.bytesValue(table, maxExcTable); err != nil {
			return nil, fmt.Errorf("code object %#x: co_exceptiontable: %w", addr, err)
		}
	} else {
		// <=3.10: f_localsplus holds co_nlocals locals (co_varnames),
		// then one cell per co_cellvars, then one per co_freevars.
		vars, err := x.strTuple(ptr(c.VarNames), maxVars)
		if err != nil {
			return nil, fmt.Errorf("code object %#x: co_varnames: %w", addr, err)
		}
		cells, err := x.strTuple(ptr(c.CellVars), maxVars)
		if err != nil {
			return nil, fmt.Errorf("code object %#x: co_cellvars: %w", addr, err)
		}
		frees, err := x.strTuple(ptr(c.FreeVars), maxVars)
		if err != nil {
			return nil, fmt.Errorf("code object %#x: co_freevars: %w", addr, err)
		}
		if nl := i32(c.NLocals); nl != len(vars) {
			return nil, fmt.Errorf("code object %#x: co_nlocals %d but %d varnames", addr, nl, len(vars))
		}
		for _, group := range []struct {
			names []string
			kind  byte
		}{{vars, fastLocal}, {cells, fastCell}, {frees, fastFree}} {
			for _, name := range group.names {
				cv.names, cv.kinds = append(cv.names, name), append(cv.kinds, group.kind)
			}
		}
		if len(cv.names) > maxVars {
			return nil, fmt.Errorf("code object %#x: %d variables", addr, len(cv.names))
		}
	}
	x.codes[addr] = cv
	return cv, nil
}

// strTuple reads a tuple of str (variable names) of at most max items.
func (x *Inspector) strTuple(addr uint64, max int) ([]string, error) {
	items, n, err := x.seqItems(addr, max)
	if err != nil {
		return nil, err
	}
	if n != len(items) {
		return nil, fmt.Errorf("tuple at %#x: %d items, more than %d", addr, n, max)
	}
	out := make([]string, 0, n)
	for _, it := range items {
		s, err := x.in.strs.Read(x.in.r, it)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// bytesValue reads a bytes object of at most max bytes.
func (x *Inspector) bytesValue(addr uint64, max int) ([]byte, error) {
	b := x.in.Layout.Bytes
	h, err := x.o.header(addr, b.Size+8, "bytes")
	if err != nil {
		return nil, err
	}
	n := int64(le64(h[b.Size:]))
	if n < 0 || n > int64(max) {
		return nil, fmt.Errorf("bytes at %#x: length %d out of range", addr, n)
	}
	out := make([]byte, n)
	if err := procmem.ReadFull(x.in.r, out, addr+uint64(b.Data)); err != nil {
		return nil, fmt.Errorf("bytes data at %#x: %w", addr, err)
	}
	return out, nil
}

// seqItems reads up to max item pointers of a tuple or list, and its
// length. Other objects are an error.
func (x *Inspector) seqItems(addr uint64, max int) ([]uint64, int, error) {
	d, err := x.typeDesc(addr)
	if err != nil {
		return nil, 0, err
	}
	l := x.in.Layout
	size, err := procmem.U64(x.in.r, addr+uint64(l.VarObject.Size))
	if err != nil {
		return nil, 0, fmt.Errorf("%s at %#x: size: %w", d.name, addr, err)
	}
	n := int64(size)
	if n < 0 || n > maxContainer {
		return nil, 0, fmt.Errorf("%s at %#x: size %d out of range", d.name, addr, n)
	}
	items := addr + uint64(l.Tuple.Item)
	switch d.kind {
	case kindTuple:
	case kindList:
		if items, err = procmem.Ptr(x.in.r, addr+uint64(l.List.Item)); err != nil {
			return nil, 0, fmt.Errorf("list at %#x: items: %w", addr, err)
		}
	default:
		return nil, 0, fmt.Errorf("object at %#x is a %s, not a tuple or list", addr, d.name)
	}
	m := min(int(n), max)
	if m == 0 {
		return nil, int(n), nil
	}
	buf := make([]byte, m*8)
	if err := procmem.ReadFull(x.in.r, buf, items); err != nil {
		return nil, 0, fmt.Errorf("%s items at %#x: %w", d.name, items, err)
	}
	out := make([]uint64, m)
	for i := range out {
		out[i] = le64(buf[i*8:])
	}
	return out, int(n), nil
}

// Attr returns obj.name from the instance's own attributes (no
// descriptors), as the thread-name reader does.
func (x *Inspector) Attr(obj uint64, name string) (uint64, bool, error) {
	return x.o.attr(obj, name)
}

// Global returns the value of name in a globals dict.
func (x *Inspector) Global(globals uint64, name string) (uint64, bool, error) {
	if globals == 0 {
		return 0, false, nil
	}
	return x.o.dictGetStr(globals, name)
}

// errFound ends a scan that found what it looked for.
var errFound = errors.New("found")

// NameIn returns the name under which dict (a module's globals) holds
// obj, if a str key does.
func (x *Inspector) NameIn(dict, obj uint64) (string, bool) {
	var key uint64
	n := 0
	err := x.o.eachItem(dict, func(k, v uint64) error {
		if n++; n > maxDictNames {
			return errStop
		}
		if v == obj {
			key = k
			return errFound
		}
		return nil
	})
	if err != errFound {
		return "", false
	}
	s, err := x.in.strs.Read(x.in.r, key)
	return s, err == nil
}

// maxDictNames bounds a scan of a globals or instance dict for a name.
const maxDictNames = 1 << 14

// AttrNameOf returns the name of an instance attribute of holder whose
// value is obj (self.lock), looking only at a plain instance dict.
func (x *Inspector) AttrNameOf(holder, obj uint64) (string, bool) {
	d, err := x.typeDesc(holder)
	if err != nil || d.kind != kindOther || !d.heap {
		return "", false
	}
	dict, err := x.instanceDict(holder)
	if err != nil || dict == 0 {
		return "", false
	}
	return x.NameIn(dict, obj)
}

// instanceDict returns the __dict__ of obj where one exists as a dict
// object: the pointer at tp_dictoffset (<=3.10) or the managed dict slot
// (3.11+). Instances whose attributes live only in inline values (3.11+)
// have none, and give 0.
func (x *Inspector) instanceDict(obj uint64) (uint64, error) {
	_, ti, err := x.o.typeOf(obj)
	if err != nil {
		return 0, err
	}
	if x.o.attrs == attrDictPtr || ti.flags&tpflagsManagedDict == 0 {
		if ti.dictOffset <= 0 || ti.dictOffset > maxDictOffset {
			return 0, nil
		}
		return procmem.Ptr(x.in.r, obj+uint64(ti.dictOffset))
	}
	d, err := procmem.Ptr(x.in.r, obj-managedDictOffset)
	if err != nil || (x.o.attrs == attrTagged312 && d&1 != 0) {
		return 0, err // 3.12: tagged values, not a dict
	}
	return d, nil
}

// moduleName returns the __module__ of a heap type: a str in its dict.
func (x *Inspector) moduleName(typ uint64) string {
	dict, err := procmem.Ptr(x.in.r, typ+uint64(x.in.Layout.Type.Dict))
	if err != nil || dict == 0 {
		return ""
	}
	mod, ok, err := x.o.dictGetStr(dict, "__module__")
	if err != nil || !ok {
		return ""
	}
	if ok, _ := x.o.isStr(mod); !ok {
		return ""
	}
	s, err := x.in.strs.Read(x.in.r, mod)
	if err != nil || len(s) > maxTypeName {
		return ""
	}
	return s
}

// TypeName returns the qualified name of obj's type: "module.Class" for
// classes defined in Python, the C name ("_thread.lock", "int") otherwise.
func (x *Inspector) TypeName(obj uint64) (string, error) {
	d, err := x.typeDesc(obj)
	if err != nil {
		return "", err
	}
	if x.o.py2 && d.name == "instance" && !d.heap {
		if name := x.classicClass(obj); name != "" {
			return name, nil
		}
	}
	return d.name, nil
}

// classicClass names the class of a 2.7 old-style instance: in_class of
// PyInstanceObject, then cl_dict and cl_name of PyClassObject, right
// after the object header (Include/classobject.h v2.7.18).
func (x *Inspector) classicClass(obj uint64) string {
	cls, err := procmem.Ptr(x.in.r, obj+16)
	if err != nil {
		return ""
	}
	h, err := x.o.header(cls, 40, "class")
	if err != nil {
		return ""
	}
	dict, nameObj := le64(h[24:]), le64(h[32:])
	name, err := x.in.strs.Read(x.in.r, nameObj)
	if err != nil || len(name) > maxTypeName {
		return ""
	}
	if mod, ok, err := x.o.dictGetStr(dict, "__module__"); err == nil && ok {
		if m, err := x.in.strs.Read(x.in.r, mod); err == nil && len(m) <= maxTypeName {
			return m + "." + name
		}
	}
	return name
}

// typeDesc reads the type of obj once per type.
func (x *Inspector) typeDesc(obj uint64) (*typeDesc, error) {
	typ, ti, err := x.o.typeOf(obj)
	if err != nil {
		return nil, err
	}
	if d, ok := x.types[typ]; ok {
		return d, nil
	}
	if len(x.types) > maxTypes {
		clear(x.types)
	}
	np, err := procmem.Ptr(x.in.r, typ+uint64(x.in.Layout.Type.Name))
	if err != nil {
		return nil, fmt.Errorf("type %#x: tp_name: %w", typ, err)
	}
	name, err := procmem.CString(x.in.r, np, maxTypeName)
	if err != nil {
		return nil, fmt.Errorf("type %#x: tp_name: %w", typ, err)
	}
	d := &typeDesc{name: name, heap: ti.flags&tpflagsHeapType != 0}
	if d.heap && !strings.Contains(name, ".") {
		// A class's tp_name is its bare __name__; a C type made from a
		// spec keeps its dotted name ("_thread.lock" from 3.12).
		if mod := x.moduleName(typ); mod != "" && mod != "builtins" {
			d.name = mod + "." + name
		}
	}
	d.kind = kindOf(d.name, d.heap, x.o.py2)
	x.types[typ] = d
	return d, nil
}

// maxTypes bounds the type cache of one dump.
const maxTypes = 1 << 12
