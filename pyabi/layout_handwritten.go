package pyabi

// Hand-written facts for versions without a generated table (no headers on
// this machine: 3.14). _Py_DebugOffsets gives the walk; these give what it
// lacks, used only for thread names and string sizes. Each number is from
// the header named beside it, and the 3.14 ones are checked live against
// the python-build-standalone 3.14.6 by TestThreadNamesLive.
func fillDebugGaps(l *Layout, v Version) {
	set := func(p *int, val int) {
		if *p == Absent {
			*p = val
		}
	}
	// Include/cpython/unicodeobject.h v3.13.0 and v3.14.0:
	// PyCompactUnicodeObject is PyASCIIObject plus utf8_length and utf8,
	// in the free-threaded build too (its bigger header is inside
	// PyASCIIObject). The string reader needs it for every name, so a
	// free-threaded 3.13 or 3.14 must not go without it.
	if l.Unicode.ASCIIData != Absent {
		set(&l.Unicode.CompactData, l.Unicode.ASCIIData+16)
	}
	if v.FreeThreaded && v.Major == 3 && v.Minor == 13 {
		// Free-threaded 3.13 (Include/object.h, Include/cpython/object.h,
		// Include/cpython/dictobject.h, Include/internal/pycore_dict.h
		// v3.13.0 with Py_GIL_DISABLED): PyObject grows by ob_tid, the
		// flags, ob_mutex, ob_gc_bits and the split refcount, so ob_type
		// is at 24 and every field after the header moves 16 bytes on;
		// PyDictKeysObject's dk_mutex fills padding, moving nothing.
		// Checked live against a --disable-gil 3.13 by TestThreadNamesLive.
		set(&l.Type.BasicSize, 48)
		set(&l.Type.DictOffset, 304)
		set(&l.HeapType.CachedKeys, 896)
		set(&l.Dict.Used, 32)
		setDictKeys313(l, set)
		return
	}
	if v.FreeThreaded || !v.AtLeast(3, 14) {
		return // the free-threaded object header shifts all of these
	}
	// Include/cpython/object.h v3.14.0: tp_basicsize follows PyVarObject
	// and tp_name; tp_dictoffset and ht_cached_keys are where 3.13 has them.
	set(&l.Type.BasicSize, 32)
	set(&l.Type.DictOffset, 288)
	set(&l.HeapType.CachedKeys, 880)
	// Include/cpython/dictobject.h and Include/internal/pycore_dict.h
	// v3.14.0: PyDictObject and PyDictKeysObject as in 3.13 (default build).
	set(&l.Dict.Used, 16)
	setDictKeys313(l, set)
	setVars314(l, set)
}

// setVars314 sets what dump reads of frames and objects that
// _Py_DebugOffsets lacks, for default (GIL) builds of 3.14 and 3.15. They
// are where 3.13 has them, measured by its genlayout table: PyCodeObject
// keeps co_exceptiontable, co_flags, co_argcount, co_kwonlyargcount,
// co_stacksize and co_nlocalsplus in place (Include/cpython/code.h
// v3.14.0); _PyInterpreterFrame keeps f_globals after f_executable,
// previous and f_funcobj (Include/internal/pycore_interpframe_structs.h
// v3.14.0); PyTypeObject's tp_dict, PyCellObject's ob_ref, PyMethodObject
// and PyCFunctionObject are unchanged (Include/cpython/object.h,
// cellobject.h, classobject.h, methodobject.h v3.14.0). Checked live on
// 3.14.6, 3.14.10 and 3.15.2 by TestLocalsLive and TestDumpLive.
func setVars314(l *Layout, set func(*int, int)) {
	set(&l.Type.Dict, 264)
	set(&l.CodeVars.ExceptionTable, 40)
	set(&l.CodeVars.Flags, 48)
	set(&l.CodeVars.KwOnlyArgCount, 60)
	set(&l.CodeVars.StackSize, 64)
	set(&l.CodeVars.NLocalsPlus, 72)
	set(&l.FrameVars.Globals, 24)
	set(&l.Cell.Ref, 16)
	set(&l.Method.Func, 16)
	set(&l.Method.Self, 24)
	set(&l.CFunction.Self, 24)
}

// setDictKeys313 sets PyDictKeysObject as 3.13 and 3.14 lay it out
// (Include/internal/pycore_dict.h v3.13.0, v3.14.0), with or without the GIL.
func setDictKeys313(l *Layout, set func(*int, int)) {
	set(&l.DictKeys.Log2Size, 8)
	set(&l.DictKeys.Log2IndexBytes, 9)
	set(&l.DictKeys.Kind, 10)
	set(&l.DictKeys.NEntries, 24)
	set(&l.DictKeys.Indices, 32)
}
