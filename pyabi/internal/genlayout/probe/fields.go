package probe

import "fmt"

// Minor is a CPython major.minor as one comparable number: 3.11 is 311,
// 2.7 is 207. Rules and includes are keyed by it so that a span of
// versions reads as two numbers.
type Minor int

// MinorOf returns the Minor of major.minor.
func MinorOf(major, minor int) Minor { return Minor(major*100 + minor) }

func (m Minor) String() string { return fmt.Sprintf("%d.%d", int(m)/100, int(m)%100) }

// Latest is the newest minor the rules below were written against. A rule
// that runs "to Latest" is meant to continue into newer versions; a newer
// interpreter still gets probed, and a field that no longer compiles shows
// up as a probe error rather than a silent guess.
const Latest Minor = 399

// A Rule measures one field for the versions from..to (inclusive) with a C
// expression of type size_t, normally offsetof or sizeof.
type Rule struct {
	From, To Minor
	Expr     string
}

// A Field is one Layout field, named by its Go path ("Thread.CurrentFrame"),
// and the rules that measure it. A version no rule covers lacks the field:
// the generator writes Absent for it.
type Field struct {
	Path  string
	Rules []Rule
}

// Expr returns the C expression that measures f on version m, or "" when m
// lacks the field.
func (f Field) Expr(m Minor) string {
	for _, r := range f.Rules {
		if m >= r.From && m <= r.To {
			return r.Expr
		}
	}
	return ""
}

// Fields lists every field of pyabi.Layout in declaration order (a test in
// pyabi checks that the two agree). The C names and the versions that have
// them come from the CPython headers: Include/pystate.h, Include/cpython/
// pystate.h, Include/internal/pycore_{runtime,interp,frame,dict,gil}.h,
// Include/{code,frameobject,dictobject,longintrepr,unicodeobject}.h and
// their cpython/ counterparts, at each release tag.
var Fields = []Field{
	// _PyRuntimeState appeared in 3.7 (Include/internal/pystate.h); 2.7 and
	// 3.6 keep interp_head as a static in Python/pystate.c instead.
	{"Runtime.InterpretersHead", []Rule{{307, Latest, "offsetof(_PyRuntimeState, interpreters.head)"}}},
	// 3.12 replaced gilstate.tstate_current with the _Py_tss_tstate thread local.
	{"Runtime.TstateCurrent", []Rule{{307, 311, "offsetof(_PyRuntimeState, gilstate.tstate_current)"}}},
	// 3.12 moved the GIL into the interpreter (per-interpreter GIL, PEP 684).
	{"Runtime.GIL", []Rule{{307, 311, "offsetof(_PyRuntimeState, ceval.gil)"}}},

	// The cyclic collector's "collecting" flag moved from the runtime to
	// each interpreter in 3.9 (Include/internal/pycore_gc.h).
	{"Runtime.GCCollecting", []Rule{{307, 308, "offsetof(_PyRuntimeState, gc.collecting)"}}},
	{"Interp.Next", []Rule{{207, Latest, "offsetof(PyInterpreterState, next)"}}},
	// 3.11 gathered the thread list into struct pythreads (pycore_interp.h, v3.11.0).
	{"Interp.ThreadsHead", []Rule{
		{207, 310, "offsetof(PyInterpreterState, tstate_head)"},
		{311, Latest, "offsetof(PyInterpreterState, threads.head)"},
	}},
	{"Interp.Modules", []Rule{
		{207, 311, "offsetof(PyInterpreterState, modules)"},
		{312, Latest, "offsetof(PyInterpreterState, imports.modules)"},
	}},
	{"Interp.GILPtr", []Rule{{312, Latest, "offsetof(PyInterpreterState, ceval.gil)"}}},
	{"Interp.GCCollecting", []Rule{{309, Latest, "offsetof(PyInterpreterState, gc.collecting)"}}},
	{"Interp.ID", []Rule{{307, Latest, "offsetof(PyInterpreterState, id)"}}},

	// struct _gil_runtime_state: Include/internal/gil.h (3.7), pycore_gil.h (3.8+).
	{"GIL.LastHolder", []Rule{{307, Latest, "offsetof(struct _gil_runtime_state, last_holder)"}}},
	{"GIL.Locked", []Rule{{307, Latest, "offsetof(struct _gil_runtime_state, locked)"}}},

	{"Thread.Next", []Rule{{207, Latest, "offsetof(PyThreadState, next)"}}},
	{"Thread.Interp", []Rule{{207, Latest, "offsetof(PyThreadState, interp)"}}},
	{"Thread.Frame", []Rule{{207, 310, "offsetof(PyThreadState, frame)"}}},
	// 3.10 already has a cframe, but it holds no frame pointer until 3.11;
	// the walker reads tstate->frame there, so the table leaves it Absent.
	{"Thread.CFrame", []Rule{{311, 312, "offsetof(PyThreadState, cframe)"}}},
	{"Thread.CurrentFrame", []Rule{{313, Latest, "offsetof(PyThreadState, current_frame)"}}},
	{"Thread.ThreadID", []Rule{{207, Latest, "offsetof(PyThreadState, thread_id)"}}},
	// threading.get_native_id() came in 3.8, but PyThreadState only stores
	// the OS thread id from 3.11 on (Include/cpython/pystate.h, v3.11.0).
	{"Thread.NativeThreadID", []Rule{{311, Latest, "offsetof(PyThreadState, native_thread_id)"}}},

	{"CFrame.CurrentFrame", []Rule{{311, 312, "offsetof(struct _PyCFrame, current_frame)"}}},

	// PyFrameObject until 3.10; from 3.11 the evaluation loop runs on
	// _PyInterpreterFrame (Include/internal/pycore_frame.h).
	{"Frame.Previous", []Rule{
		{207, 310, "offsetof(PyFrameObject, f_back)"},
		{311, Latest, "offsetof(struct _PyInterpreterFrame, previous)"},
	}},
	{"Frame.Code", []Rule{
		{207, 310, "offsetof(PyFrameObject, f_code)"},
		{311, 312, "offsetof(struct _PyInterpreterFrame, f_code)"},
		{313, Latest, "offsetof(struct _PyInterpreterFrame, f_executable)"},
	}},
	{"Frame.LastI", []Rule{{207, 310, "offsetof(PyFrameObject, f_lasti)"}}},
	{"Frame.InstrPtr", []Rule{
		{311, 312, "offsetof(struct _PyInterpreterFrame, prev_instr)"},
		{313, Latest, "offsetof(struct _PyInterpreterFrame, instr_ptr)"},
	}},
	{"Frame.Owner", []Rule{{311, Latest, "offsetof(struct _PyInterpreterFrame, owner)"}}},
	// f_gen: the generator running this frame, or NULL (3.6-3.10).
	{"Frame.Gen", []Rule{{306, 310, "offsetof(PyFrameObject, f_gen)"}}},

	{"Code.Filename", []Rule{{207, Latest, "offsetof(PyCodeObject, co_filename)"}}},
	{"Code.Name", []Rule{{207, Latest, "offsetof(PyCodeObject, co_name)"}}},
	{"Code.QualName", []Rule{{311, Latest, "offsetof(PyCodeObject, co_qualname)"}}},
	{"Code.FirstLineNo", []Rule{{207, Latest, "offsetof(PyCodeObject, co_firstlineno)"}}},
	{"Code.LineTable", []Rule{
		{207, 309, "offsetof(PyCodeObject, co_lnotab)"},
		{310, Latest, "offsetof(PyCodeObject, co_linetable)"},
	}},
	{"Code.CodeAdaptive", []Rule{{311, Latest, "offsetof(PyCodeObject, co_code_adaptive)"}}},
	{"Code.Bytecode", []Rule{{207, 310, "offsetof(PyCodeObject, co_code)"}}},

	{"Object.Type", []Rule{{207, Latest, "offsetof(PyObject, ob_type)"}}},

	{"Type.Name", []Rule{{207, Latest, "offsetof(PyTypeObject, tp_name)"}}},
	{"Type.BasicSize", []Rule{{207, Latest, "offsetof(PyTypeObject, tp_basicsize)"}}},
	{"Type.DictOffset", []Rule{{207, Latest, "offsetof(PyTypeObject, tp_dictoffset)"}}},
	{"Type.Flags", []Rule{{207, Latest, "offsetof(PyTypeObject, tp_flags)"}}},
	{"Type.Dict", []Rule{{207, Latest, "offsetof(PyTypeObject, tp_dict)"}}},

	{"HeapType.CachedKeys", []Rule{{306, Latest, "offsetof(PyHeapTypeObject, ht_cached_keys)"}}},

	// 2.7's dict is the old open-addressing table: ma_mask and ma_table
	// inline in PyDictObject, no separate keys object.
	{"Dict.Used", []Rule{{207, Latest, "offsetof(PyDictObject, ma_used)"}}},
	{"Dict.Keys", []Rule{{306, Latest, "offsetof(PyDictObject, ma_keys)"}}},
	{"Dict.Values", []Rule{{306, Latest, "offsetof(PyDictObject, ma_values)"}}},
	{"Dict.Mask", []Rule{{207, 207, "offsetof(PyDictObject, ma_mask)"}}},
	{"Dict.Table", []Rule{{207, 207, "offsetof(PyDictObject, ma_table)"}}},

	// 3.6-3.10 keep struct _dictkeysobject private to Objects/dict-common.h;
	// the probe declares a copy of it (see dictKeysDecl). 3.11 moved it to
	// Include/internal/pycore_dict.h.
	{"DictKeys.Size", []Rule{{306, 310, "offsetof(struct probe_dictkeysobject, dk_size)"}}},
	{"DictKeys.Log2Size", []Rule{{311, Latest, "offsetof(PyDictKeysObject, dk_log2_size)"}}},
	{"DictKeys.Log2IndexBytes", []Rule{{311, Latest, "offsetof(PyDictKeysObject, dk_log2_index_bytes)"}}},
	{"DictKeys.Kind", []Rule{{311, Latest, "offsetof(PyDictKeysObject, dk_kind)"}}},
	{"DictKeys.NEntries", []Rule{
		{306, 310, "offsetof(struct probe_dictkeysobject, dk_nentries)"},
		{311, Latest, "offsetof(PyDictKeysObject, dk_nentries)"},
	}},
	{"DictKeys.Indices", []Rule{
		{306, 310, "offsetof(struct probe_dictkeysobject, dk_indices)"},
		{311, Latest, "offsetof(PyDictKeysObject, dk_indices)"},
	}},

	// 2.7's PyObject_VAR_HEAD spells ob_size inline; 3.x nests it in ob_base.
	// 3.12 replaced ob_size with long_value.lv_tag (sign and digit count).
	{"Long.Size", []Rule{
		{207, 207, "offsetof(PyLongObject, ob_size)"},
		{300, 311, "offsetof(PyLongObject, ob_base.ob_size)"},
		{312, Latest, "offsetof(PyLongObject, long_value.lv_tag)"},
	}},
	{"Long.Digit", []Rule{
		{207, 311, "offsetof(PyLongObject, ob_digit)"},
		{312, Latest, "offsetof(PyLongObject, long_value.ob_digit)"},
	}},
	{"Long.IVal", []Rule{{207, 207, "offsetof(PyIntObject, ob_ival)"}}},

	// PEP 393 compact strings (3.3+); 2.7's unicode is a different object
	// the profiler never needs for names, so the group is Absent there.
	{"Unicode.Length", []Rule{{303, Latest, "offsetof(PyASCIIObject, length)"}}},
	{"Unicode.State", []Rule{{303, Latest, "offsetof(PyASCIIObject, state)"}}},
	{"Unicode.ASCIIData", []Rule{{303, Latest, "sizeof(PyASCIIObject)"}}},
	{"Unicode.CompactData", []Rule{{303, Latest, "sizeof(PyCompactUnicodeObject)"}}},

	{"Bytes.Size", []Rule{
		{207, 207, "offsetof(PyStringObject, ob_size)"},
		{300, Latest, "offsetof(PyBytesObject, ob_base.ob_size)"},
	}},
	{"Bytes.Data", []Rule{
		{207, 207, "offsetof(PyStringObject, ob_sval)"},
		{300, Latest, "offsetof(PyBytesObject, ob_sval)"},
	}},

	// Variables (Include/code.h <=3.10, Include/cpython/code.h 3.11+): 3.11
	// merged locals, cells and frees into co_localsplus* (bpo-43693).
	{"CodeVars.ArgCount", []Rule{{207, Latest, "offsetof(PyCodeObject, co_argcount)"}}},
	{"CodeVars.KwOnlyArgCount", []Rule{{300, Latest, "offsetof(PyCodeObject, co_kwonlyargcount)"}}},
	{"CodeVars.Flags", []Rule{{207, Latest, "offsetof(PyCodeObject, co_flags)"}}},
	{"CodeVars.StackSize", []Rule{{207, Latest, "offsetof(PyCodeObject, co_stacksize)"}}},
	{"CodeVars.NLocals", []Rule{{207, 310, "offsetof(PyCodeObject, co_nlocals)"}}},
	{"CodeVars.VarNames", []Rule{{207, 310, "offsetof(PyCodeObject, co_varnames)"}}},
	{"CodeVars.CellVars", []Rule{{207, 310, "offsetof(PyCodeObject, co_cellvars)"}}},
	{"CodeVars.FreeVars", []Rule{{207, 310, "offsetof(PyCodeObject, co_freevars)"}}},
	{"CodeVars.NLocalsPlus", []Rule{{311, Latest, "offsetof(PyCodeObject, co_nlocalsplus)"}}},
	{"CodeVars.LocalsPlusNames", []Rule{{311, Latest, "offsetof(PyCodeObject, co_localsplusnames)"}}},
	{"CodeVars.LocalsPlusKinds", []Rule{{311, Latest, "offsetof(PyCodeObject, co_localspluskinds)"}}},
	{"CodeVars.ExceptionTable", []Rule{{311, Latest, "offsetof(PyCodeObject, co_exceptiontable)"}}},

	// Include/frameobject.h (<=3.10), Include/internal/pycore_frame.h (3.11+).
	{"FrameVars.Globals", []Rule{
		{207, 310, "offsetof(PyFrameObject, f_globals)"},
		{311, Latest, "offsetof(struct _PyInterpreterFrame, f_globals)"},
	}},
	{"FrameVars.LocalsPlus", []Rule{
		{207, 310, "offsetof(PyFrameObject, f_localsplus)"},
		{311, Latest, "offsetof(struct _PyInterpreterFrame, localsplus)"},
	}},
	{"FrameVars.ValueStack", []Rule{{207, 310, "offsetof(PyFrameObject, f_valuestack)"}}},
	{"FrameVars.IBlock", []Rule{{207, 310, "offsetof(PyFrameObject, f_iblock)"}}},
	{"FrameVars.BlockStack", []Rule{{207, 310, "offsetof(PyFrameObject, f_blockstack)"}}},
	// 3.14 keeps a _PyStackRef *stackpointer instead.
	{"FrameVars.StackTop", []Rule{{311, 313, "offsetof(struct _PyInterpreterFrame, stacktop)"}}},

	{"VarObject.Size", []Rule{{207, Latest, "offsetof(PyVarObject, ob_size)"}}},
	{"Tuple.Item", []Rule{{207, Latest, "offsetof(PyTupleObject, ob_item)"}}},
	{"List.Item", []Rule{{207, Latest, "offsetof(PyListObject, ob_item)"}}},
	{"Float.Value", []Rule{{207, Latest, "offsetof(PyFloatObject, ob_fval)"}}},
	{"Set.Used", []Rule{{207, Latest, "offsetof(PySetObject, used)"}}},
	{"Set.Mask", []Rule{{207, Latest, "offsetof(PySetObject, mask)"}}},
	{"Set.Table", []Rule{{207, Latest, "offsetof(PySetObject, table)"}}},
	{"Cell.Ref", []Rule{{207, Latest, "offsetof(PyCellObject, ob_ref)"}}},
	{"Method.Func", []Rule{{207, Latest, "offsetof(PyMethodObject, im_func)"}}},
	{"Method.Self", []Rule{{207, Latest, "offsetof(PyMethodObject, im_self)"}}},
	{"CFunction.Self", []Rule{{207, Latest, "offsetof(PyCFunctionObject, m_self)"}}},
}

// includes returns the headers the probe needs on version m, beyond
// Python.h. Internal headers need Py_BUILD_CORE, which the probe defines.
func includes(m Minor) []string {
	// Before 3.11 Python.h pulls in neither frameobject.h, code.h nor
	// longintrepr.h; 3.11 moved code.h and longintrepr.h under cpython/ and
	// includes them itself. frameobject.h is harmless where Python.h
	// already has it (include guards).
	h := []string{"frameobject.h"}
	if m <= 310 {
		h = append(h, "code.h", "longintrepr.h")
	}
	switch {
	case m == 307:
		// _PyRuntimeState and the GIL struct; PyInterpreterState is still
		// public in Include/pystate.h.
		h = append(h, "internal/pystate.h")
	case m == 308:
		// PyInterpreterState went internal in 3.8 (struct _is in pycore_pystate.h).
		h = append(h, "internal/pycore_pystate.h", "internal/pycore_gil.h")
	case m >= 309:
		h = append(h, "internal/pycore_runtime.h", "internal/pycore_interp.h",
			"internal/pycore_pystate.h", "internal/pycore_gil.h")
	}
	if m >= 311 {
		h = append(h, "internal/pycore_frame.h", "internal/pycore_code.h", "internal/pycore_dict.h")
	}
	return h
}

// dictKeysDecl returns a copy of the private struct _dictkeysobject for the
// versions that keep it in Objects/dict-common.h (3.6-3.10), or "".
//
// The copy follows the struct as the 3.6.15, 3.7.16, 3.8.18, 3.9.18 and
// 3.10.13 builds record it in their DWARF (gdb "ptype /o struct
// _dictkeysobject": the same five members and offsets in all five), and
// TestLayoutTablesMatchDWARF in pyabi re-checks it against each build.
// Only the lookup function's parameters differ between those releases; a
// function pointer's size does not depend on them, so it is a void* here.
func dictKeysDecl(m Minor) string {
	if m < 306 || m > 310 {
		return ""
	}
	return `/* Objects/dict-common.h (3.6-3.10): private to Objects/dictobject.c. */
struct probe_dictkeysobject {
    Py_ssize_t dk_refcnt;
    Py_ssize_t dk_size;       /* size of the hash table dk_indices: a power of 2 */
    void *dk_lookup;          /* dict_lookup_func */
    Py_ssize_t dk_usable;
    Py_ssize_t dk_nentries;
    char dk_indices[];        /* then PyDictKeyEntry dk_entries[] */
};
`
}

// Notes returns what a reader of version m's generated table should know
// about where its numbers came from, beyond the headers themselves.
func Notes(m Minor) []string {
	var n []string
	if dictKeysDecl(m) != "" {
		n = append(n, "DictKeys: struct _dictkeysobject is private to Objects/dict-common.h in "+m.String()+
			"; the probe measures a copy of it (probe.dictKeysDecl) that the DWARF check in pyabi verifies against the build.")
	}
	if m < 307 {
		n = append(n, "Runtime, GIL: "+m.String()+" has no _PyRuntimeState; the interpreter list starts at the static interp_head in Python/pystate.c.")
	}
	if m < 303 {
		n = append(n, "Unicode: "+m.String()+" has no PEP 393 compact strings.")
	}
	return n
}
