package pyabi

// The field order of _Py_DebugOffsets, one spec per minor. The struct is a
// flat run of uint64 values with no per-group length, so the position of a
// field follows only from the names before it: these lists must match the
// header field for field. CPython promises the struct stable within a minor
// from its final release on, and changes it freely between minors and
// during a minor's pre-releases.

// debugGroup is one nested struct of _Py_DebugOffsets. When sized is set,
// its first field is sizeof the C struct its other fields point into, and
// every field is an offset within that struct except those listed in
// debugOffsetsNotInGroup.
type debugGroup struct {
	name   string
	sized  bool
	fields []string
}

// debugSpec is the _Py_DebugOffsets of one minor version.
type debugSpec struct {
	minor int
	// since is the first PY_VERSION_HEX with this layout. Earlier
	// pre-releases of the same minor are decoded as a guess.
	since  uint64
	groups []debugGroup
	// owners are the values of enum _frameowner: not in the struct, but
	// they change with it (Include/internal/pycore_frame.h 3.13,
	// pycore_interpframe_structs.h 3.14+).
	owners FrameOwners
	// tagMask is what must be cleared from a _PyStackRef to get the
	// PyObject* (0: f_executable is a plain PyObject*).
	tagMask uint64
}

// Groups whose field lists are the same in every minor that has them.
var (
	debugRuntime = debugGroup{"runtime_state", true, []string{"size", "finalizing", "interpreters_head"}}
	debugPyObj   = debugGroup{"pyobject", true, []string{"size", "ob_type"}}
	debugTuple   = debugGroup{"tuple_object", true, []string{"size", "ob_item", "ob_size"}}
	debugList    = debugGroup{"list_object", true, []string{"size", "ob_item", "ob_size"}}
	debugSet     = debugGroup{"set_object", true, []string{"size", "used", "table", "mask"}}
	debugDict    = debugGroup{"dict_object", true, []string{"size", "ma_keys", "ma_values"}}
	debugFloat   = debugGroup{"float_object", true, []string{"size", "ob_fval"}}
	debugLong    = debugGroup{"long_object", true, []string{"size", "lv_tag", "ob_digit"}}
	debugBytes   = debugGroup{"bytes_object", true, []string{"size", "ob_size", "ob_sval"}}
	debugGen     = debugGroup{"gen_object", true, []string{"size", "gi_name", "gi_iframe", "gi_frame_state"}}
	debugLList   = debugGroup{"llist_node", false, []string{"next", "prev"}}
	// PEP 768 remote execution: offsets into PyThreadState, PyInterpreterState
	// and _PyRemoteDebuggerSupport, plus a buffer size, so no one group size.
	debugDebugger = debugGroup{"debugger_support", false, []string{
		"eval_breaker", "remote_debugger_support", "remote_debugging_enabled",
		"debugger_pending_call", "debugger_script_path", "debugger_script_path_size"}}

	debugInterp313 = []string{"size", "id", "next", "threads_head", "gc", "imports_modules",
		"sysdict", "builtins", "ceval_gil", "gil_runtime_state", "gil_runtime_state_enabled",
		"gil_runtime_state_locked", "gil_runtime_state_holder"}
	// 3.14 adds threads_main, and the code-object and thread-local-bytecode
	// generation counters that tell a remote reader its caches went stale.
	debugInterp314 = []string{"size", "id", "next", "threads_head", "threads_main", "gc",
		"imports_modules", "sysdict", "builtins", "ceval_gil", "gil_runtime_state",
		"gil_runtime_state_enabled", "gil_runtime_state_locked", "gil_runtime_state_holder",
		"code_object_generation", "tlbc_generation"}
	debugThread313 = []string{"size", "prev", "next", "interp", "current_frame", "thread_id",
		"native_thread_id", "datastack_chunk", "status"}
	debugFrame314 = []string{"size", "previous", "executable", "instr_ptr", "localsplus",
		"owner", "stackpointer", "tlbc_index"}
	debugCode313 = []string{"size", "filename", "name", "qualname", "linetable", "firstlineno",
		"argcount", "localsplusnames", "localspluskinds", "co_code_adaptive"}
	debugCode314 = append(append([]string(nil), debugCode313...), "co_tlbc")
	debugType313 = []string{"size", "tp_name", "tp_repr", "tp_flags"}
	debugUni313  = []string{"size", "state", "length", "asciiobject_size"}
)

// debugOffsetsNotInGroup are fields of sized groups that are not offsets
// within that group's struct: the GIL's enabled flag is an offset within
// struct _gil_runtime_state, generation_stats_size is a size.
var debugOffsetsNotInGroup = map[string]bool{
	"interpreter_state.gil_runtime_state_enabled": true,
	"gc.generation_stats_size":                    true,
}

// debugSpecs lists the known layouts, oldest first; the last one is also
// tried for minors newer than any listed.
var debugSpecs = []debugSpec{
	// Include/internal/pycore_runtime.h at v3.13.0 (the struct lived there
	// in 3.13): 584 bytes. Checked against an offsetof probe compiled with
	// the installed 3.13.0 headers and the live _PyRuntime of 3.13.0.
	{
		minor: 13,
		since: 0x030d00f0, // 3.13.0 final
		groups: []debugGroup{
			debugRuntime,
			{"interpreter_state", true, debugInterp313},
			{"thread_state", true, debugThread313},
			{"interpreter_frame", true, []string{"size", "previous", "executable", "instr_ptr", "localsplus", "owner"}},
			{"code_object", true, debugCode313},
			debugPyObj,
			{"type_object", true, debugType313},
			debugTuple, debugList, debugDict, debugFloat, debugLong, debugBytes,
			{"unicode_object", true, debugUni313},
			{"gc", true, []string{"size", "collecting"}},
		},
		// pycore_frame.h v3.13.0: THREAD 0, GENERATOR 1, FRAME_OBJECT 2, CSTACK 3.
		owners:  FrameOwners{Thread: 0, Generator: 1, FrameObject: 2, Interpreter: Absent, CStack: 3},
		tagMask: 0, // _PyInterpreterFrame.f_executable is a PyObject* in 3.13
	},
	// Include/internal/pycore_debug_offsets.h of the 3.14 branch: 760
	// bytes. Checked against the .PyRuntime section of a real 3.14.6 build.
	{
		minor: 14,
		since: 0x030e00f0, // 3.14.0 final
		groups: []debugGroup{
			debugRuntime,
			{"interpreter_state", true, debugInterp314},
			{"thread_state", true, debugThread313},
			{"interpreter_frame", true, debugFrame314},
			{"code_object", true, debugCode314},
			debugPyObj,
			{"type_object", true, debugType313},
			debugTuple, debugList, debugSet, debugDict, debugFloat, debugLong, debugBytes,
			{"unicode_object", true, debugUni313},
			{"gc", true, []string{"size", "collecting"}},
			debugGen, debugLList, debugDebugger,
		},
		// pycore_interpframe_structs.h 3.14: INTERPRETER 3 was inserted
		// before CSTACK, which moved to 4.
		owners: FrameOwners{Thread: 0, Generator: 1, FrameObject: 2, Interpreter: 3, CStack: 4},
		// pycore_stackref.h 3.14: f_executable is a _PyStackRef; the low
		// two bits are tags (Py_TAG_BITS), a pointer is bits &^ 3.
		tagMask: 3,
	},
	// Include/internal/pycore_debug_offsets.h of 3.15 from 3.15.0b4 on
	// (b4 inserted thread_state.last_profiled_frame_seq; the diff
	// v3.15.0b3..v3.15.0b4 shows it as the only change): 888 bytes.
	{
		minor: 15,
		since: 0x030f00b4, // 3.15.0b4
		groups: []debugGroup{
			debugRuntime,
			{"interpreter_state", true, debugInterp314},
			{"thread_state", true, []string{"size", "prev", "next", "interp", "current_frame",
				"base_frame", "last_profiled_frame", "last_profiled_frame_seq", "thread_id",
				"native_thread_id", "datastack_chunk", "status", "holds_gil", "gil_requested",
				"current_exception", "exc_state"}},
			{"err_stackitem", false, []string{"exc_value"}},
			{"interpreter_frame", true, debugFrame314},
			{"code_object", true, debugCode314},
			debugPyObj,
			{"type_object", true, []string{"size", "tp_name", "tp_repr", "tp_flags", "tp_basicsize", "tp_dictoffset"}},
			{"heap_type_object", true, []string{"size", "ht_cached_keys"}},
			debugTuple, debugList, debugSet, debugDict, debugFloat, debugLong, debugBytes,
			{"unicode_object", true, []string{"size", "state", "length", "asciiobject_size", "compactunicodeobject_size"}},
			{"gc", true, []string{"size", "collecting", "frame", "generation_stats_size", "generation_stats"}},
			debugGen, debugLList, debugDebugger,
		},
		// pycore_interpframe_structs.h 3.15: FRAME_OWNED_BY_CSTACK is gone.
		owners: FrameOwners{Thread: 0, Generator: 1, FrameObject: 2, Interpreter: 3, CStack: Absent},
		// pycore_stackref.h 3.15: Py_TAG_BITS 3 in both builds.
		tagMask: 3,
	},
}

// size is the byte size of the struct this spec describes.
func (s *debugSpec) size() int {
	n := debugHeaderSize
	for _, g := range s.groups {
		n += 8 * len(g.fields)
	}
	return n
}
