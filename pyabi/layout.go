// Package pyabi knows how CPython lays out its interpreter in memory, version
// by version: offset tables, version detection, _Py_DebugOffsets, and the
// decoders for strings, code objects and line tables. It reads memory only
// through procmem.Reader, so the same code runs on a live process, a core
// file, or a byte image in a test. It does not decide when or how often to
// read: that is the sampler's job.
package pyabi

// Absent marks a field that this version does not have.
const Absent = -1

// Layout holds the byte offsets of every field the profiler reads, for one
// CPython version range. Each group is one C struct; the C field name is in
// the comment. Offsets are facts taken from the headers or debug info of
// real builds: the generated layout_py*.go files, made by internal/genlayout.
type Layout struct {
	// _PyRuntimeState (3.7+): the root of everything.
	Runtime struct {
		InterpretersHead int // interpreters.head
		TstateCurrent    int // gilstate.tstate_current (3.7-3.11); Absent later
		GIL              int // ceval.gil: inline _gil_runtime_state (3.7-3.11); Absent later
		GCCollecting     int // gc.collecting (3.7, 3.8): int, non-zero while the collector runs
	}
	// PyInterpreterState.
	Interp struct {
		Next         int // next
		ThreadsHead  int // tstate_head (<=3.10), threads.head (3.11+)
		Modules      int // modules (<=3.11), imports.modules (3.12+): the sys.modules dict
		GILPtr       int // ceval.gil (3.12+): pointer to _gil_runtime_state; Absent before
		GCCollecting int // gc.collecting (3.9+): int, non-zero while the collector runs
		ID           int // id (3.7+): int64_t, 0 for the main interpreter
	}
	// struct _gil_runtime_state (3.7+; 2.7 and 3.6 use _PyThreadState_Current).
	GIL struct {
		LastHolder int // last_holder: the PyThreadState that holds or last held it
		Locked     int // locked: int, non-zero while held
	}
	// PyThreadState.
	Thread struct {
		Next           int // next
		Interp         int // interp
		Frame          int // frame: PyFrameObject* (<=3.10)
		CFrame         int // cframe: _PyCFrame* (3.11, 3.12)
		CurrentFrame   int // current_frame: _PyInterpreterFrame* (3.13+)
		ThreadID       int // thread_id: pthread_self()
		NativeThreadID int // native_thread_id: the OS tid (3.11+)
	}
	// _PyCFrame (3.11, 3.12).
	CFrame struct {
		CurrentFrame int // current_frame
	}
	// PyFrameObject (<=3.10) or _PyInterpreterFrame (3.11+).
	Frame struct {
		Previous int // f_back (<=3.10), previous (3.11+)
		Code     int // f_code (<=3.12), f_executable (3.13+, a _PyStackRef in 3.14+)
		LastI    int // f_lasti (<=3.10): byte offset (<=3.9) or code unit index (3.10)
		InstrPtr int // prev_instr (3.11, 3.12), instr_ptr (3.13+)
		Owner    int // owner (3.11+): char; thread, generator, frame object, C stack
		Gen      int // f_gen (3.6-3.10): the generator running the frame, or NULL
	}
	// PyCodeObject.
	Code struct {
		Filename     int // co_filename
		Name         int // co_name
		QualName     int // co_qualname (3.11+)
		FirstLineNo  int // co_firstlineno: int
		LineTable    int // co_lnotab (<=3.9), co_linetable (3.10+): bytes
		CodeAdaptive int // co_code_adaptive (3.11+): the bytecode, inline
		Bytecode     int // co_code (<=3.10): bytes
	}
	// PyObject and PyTypeObject.
	Object struct {
		Type int // ob_type
	}
	Type struct {
		Name       int // tp_name: const char*
		BasicSize  int // tp_basicsize
		DictOffset int // tp_dictoffset
		Flags      int // tp_flags
		Dict       int // tp_dict: a class's namespace, where __module__ is
	}
	// PyHeapTypeObject.
	HeapType struct {
		CachedKeys int // ht_cached_keys (3.6+): shared keys of instance dicts
	}
	// PyDictObject.
	Dict struct {
		Used   int // ma_used
		Keys   int // ma_keys (3.x)
		Values int // ma_values (3.x): split-table values, or NULL
		Mask   int // ma_mask (2.7)
		Table  int // ma_table (2.7)
	}
	// PyDictKeysObject (3.6+).
	DictKeys struct {
		Size           int // dk_size (3.6-3.10)
		Log2Size       int // dk_log2_size (3.11+)
		Log2IndexBytes int // dk_log2_index_bytes (3.11+)
		Kind           int // dk_kind (3.11+): general or unicode-keyed entries
		NEntries       int // dk_nentries
		Indices        int // dk_indices: start of the index array
	}
	// PyLongObject (3.x) and PyIntObject (2.7).
	Long struct {
		Size  int // ob_size (<=3.11), long_value.lv_tag (3.12+)
		Digit int // ob_digit (<=3.11), long_value.ob_digit (3.12+)
		IVal  int // ob_ival (2.7 PyIntObject)
	}
	// PyASCIIObject / PyCompactUnicodeObject (3.3+).
	Unicode struct {
		Length      int // length: code points
		State       int // state: bit field holding kind, compact, ascii
		ASCIIData   int // sizeof(PyASCIIObject): data of a compact ASCII string
		CompactData int // sizeof(PyCompactUnicodeObject): data of other compact strings
	}
	// PyBytesObject (3.x) or PyStringObject (2.7).
	Bytes struct {
		Size int // ob_size
		Data int // ob_sval
	}
	// The rest is read only to explain a hung process (dump): a frame's
	// variables, and the objects they hold.
	// PyCodeObject's variables and stack.
	CodeVars struct {
		ArgCount        int // co_argcount: positional parameters, positional-only included
		KwOnlyArgCount  int // co_kwonlyargcount (3.x)
		Flags           int // co_flags: int; CO_VARARGS, CO_VARKEYWORDS
		StackSize       int // co_stacksize: int
		NLocals         int // co_nlocals (<=3.10): int
		VarNames        int // co_varnames (<=3.10): tuple of str
		CellVars        int // co_cellvars (<=3.10): tuple of str
		FreeVars        int // co_freevars (<=3.10): tuple of str
		NLocalsPlus     int // co_nlocalsplus (3.11+): int
		LocalsPlusNames int // co_localsplusnames (3.11+): tuple of str
		LocalsPlusKinds int // co_localspluskinds (3.11+): bytes, one kind per name
		ExceptionTable  int // co_exceptiontable (3.11+): bytes
	}
	// PyFrameObject (<=3.10) or _PyInterpreterFrame (3.11+) variables.
	FrameVars struct {
		Globals    int // f_globals
		LocalsPlus int // f_localsplus (<=3.10), localsplus (3.11+): locals, cells, frees, then the stack
		ValueStack int // f_valuestack (<=3.10): PyObject**
		IBlock     int // f_iblock (<=3.10): int, blocks in use
		BlockStack int // f_blockstack (<=3.10): PyTryBlock[CO_MAXBLOCKS]
		StackTop   int // stacktop (3.11-3.13): int, TOS index from localsplus
	}
	// The containers and numbers dump shows.
	VarObject struct {
		Size int // ob_size of PyVarObject: items of a tuple or list
	}
	Tuple struct {
		Item int // ob_item: inline PyObject*[]
	}
	List struct {
		Item int // ob_item: PyObject**
	}
	Float struct {
		Value int // ob_fval: double
	}
	Set struct {
		Used  int // used: active entries
		Mask  int // mask: table slots minus one
		Table int // table: setentry* ({key, hash})
	}
	Cell struct {
		Ref int // ob_ref: the cell's content, or NULL
	}
	// A bound method: PyMethodObject (a Python function bound to
	// __self__) and PyCFunctionObject (a C method, e.g. lock.__exit__).
	Method struct {
		Func int // im_func
		Self int // im_self
	}
	CFunction struct {
		Self int // m_self
	}
}
