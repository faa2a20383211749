package pyabi

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
)

// _Py_DebugOffsets (CPython 3.13+) is the first member of _PyRuntime, and
// so also the start of the .PyRuntime ELF section: a cookie, the version,
// a free-threaded flag, then uint64 offsets of the fields an out-of-process
// reader needs, filled in by the compiler for the exact build. It is the
// primary source of offsets for 3.13+; the static tables are the fallback
// for what it lacks and a cross-check for what it has.

// DebugOffsetsCookie opens _Py_DebugOffsets (_Py_Debug_Cookie).
const DebugOffsetsCookie = "xdebugpy"

// DebugOffsetsReadSize is how many bytes from the start of _PyRuntime a
// caller must read for DecodeDebugOffsets: the largest known layout (3.15).
// _PyRuntime is hundreds of KiB, so reading this much never runs off it.
const DebugOffsetsReadSize = 888

// debugHeaderSize covers cookie[8], version and free_threaded.
const debugHeaderSize = 24

// Sanity bounds. An offset within one of these structs beyond 64 KiB, or a
// struct beyond 4 MiB, means the bytes are not a _Py_DebugOffsets of the
// layout we assumed (the largest real values are PyInterpreterState fields
// near 17 KiB in free-threaded 3.14 and a _PyRuntimeState of ~350 KiB).
const (
	debugMaxOffset     = 64 << 10
	debugMaxStructSize = 4 << 20
)

var (
	// ErrNoDebugOffsets means the bytes do not start with the cookie:
	// not a 3.13+ _PyRuntime, or the wrong address.
	ErrNoDebugOffsets = errors.New("no _Py_DebugOffsets cookie")
	// ErrDebugOffsetsLayout means the version's layout is not known and
	// the nearest known one did not fit.
	ErrDebugOffsetsLayout = errors.New("layout unknown")
	// ErrDebugOffsetsInvalid means the bytes are too short or hold values
	// no real build has (a corrupted or torn read).
	ErrDebugOffsetsInvalid = errors.New("implausible _Py_DebugOffsets")
)

// FrameOwners are the values of _PyInterpreterFrame.owner (enum
// _frameowner); Absent where the version has no such owner.
type FrameOwners struct {
	Thread      int // FRAME_OWNED_BY_THREAD
	Generator   int // FRAME_OWNED_BY_GENERATOR
	FrameObject int // FRAME_OWNED_BY_FRAME_OBJECT
	Interpreter int // FRAME_OWNED_BY_INTERPRETER (3.14+): the entry frame of an eval loop, no Python code
	CStack      int // FRAME_OWNED_BY_CSTACK (3.13, 3.14): a shim frame on the C stack, no Python code
}

// DebugOffsets is a decoded _Py_DebugOffsets. Layout holds every Layout
// field the struct provides; the others are Absent and must come from the
// static table (see Merged). The remaining groups hold facts the walker
// may need that Layout has no place for; Absent where the version lacks
// them.
type DebugOffsets struct {
	Version      Version // from the version word; FreeThreaded from the flag
	VersionHex   uint64  // PY_VERSION_HEX, release level and serial included
	FreeThreaded bool    // free_threaded: a Py_GIL_DISABLED build
	// Guessed is set when the version's own layout is not known (a newer
	// minor, or a pre-release before the known layout) and the nearest
	// known one was used because every sanity check passed.
	Guessed bool
	// Size is the byte size of the struct as decoded.
	Size   int
	Layout Layout

	// Sizes of the C structs (the size fields): a reader can fetch a whole
	// struct in one read.
	Sizes struct {
		Runtime, Interp, Thread, Frame, Code, Object, Type int
		Tuple, List, Dict, Float, Long, Bytes, Unicode     int
		Gen                                                int // 3.14+
	}
	Runtime struct {
		Finalizing int // _finalizing: PyThreadState* finalizing, or NULL
	}
	Interp struct {
		ID          int // id: int64
		ThreadsMain int // threads.main (3.14+): the main thread's PyThreadState
		// OwnGIL is _gil, the interpreter's own _gil_runtime_state, where
		// the GIL lives for the main interpreter; GIL.LastHolder and
		// GIL.Locked in Layout are relative to it.
		OwnGIL int
		// GILEnabled is offsetof(_gil_runtime_state, enabled), only in
		// free-threaded builds (where it is 0, the first field); Absent
		// in default builds.
		GILEnabled int
		// CodeObjectGeneration (3.14+) is bumped when code objects are
		// freed: a remote code-object cache keyed by address is stale when
		// it changes.
		CodeObjectGeneration int
		// TLBCGeneration (free-threaded 3.14+) is the same for the
		// thread-local bytecode index pool.
		TLBCGeneration int
	}
	Thread struct {
		Prev           int // prev
		DatastackChunk int // datastack_chunk
		Status         int // _status: bit field (initialized, bound, ...)
		// 3.15+: the thread's embedded sentinel frame at the bottom of
		// its stack (a walk that reaches it saw the whole stack), the
		// last frame a profiler marked, and the GIL flags of this thread.
		BaseFrame         int
		LastProfiledFrame int
		HoldsGIL          int // holds_gil: int, non-zero while this thread holds the GIL
		GILRequested      int
	}
	Frame struct {
		LocalsPlus   int // localsplus
		StackPointer int // stackpointer (3.14+)
		// TLBCIndex (free-threaded 3.14+): which thread-local copy of
		// the bytecode instr_ptr points into (see Code.TLBC).
		TLBCIndex int
		Owners    FrameOwners
		// TagMask is cleared from f_executable to get the code object
		// (3.14+ _PyStackRef: bits &^ 3; a value with both bits set is a
		// tagged int, not an object). 0 in 3.13, a plain PyObject*.
		TagMask uint64
	}
	Code struct {
		ArgCount        int // co_argcount: int
		LocalsPlusNames int // co_localsplusnames
		LocalsPlusKinds int // co_localspluskinds
		// TLBC (free-threaded 3.14+): co_tlbc, the array of thread-local
		// bytecode copies; instr_ptr may point into one of them.
		TLBC int
	}
	Tuple struct{ Item int }  // ob_item
	List  struct{ Item int }  // ob_item: PyObject**
	Float struct{ Value int } // ob_fval
	Gen   struct {
		Name       int // gi_name
		IFrame     int // gi_iframe: the inline _PyInterpreterFrame
		FrameState int // gi_frame_state: int8
	}

	// Raw holds every field as "group.field" -> value, for what the named
	// fields above leave out (set_object, gc, debugger_support, ...).
	Raw map[string]uint64
}

// DecodeDebugOffsets decodes b, the first bytes of _PyRuntime (at least
// DebugOffsetsReadSize when the target may be 3.15 or newer; a 3.13 struct
// needs 584). It checks the cookie, picks the layout by version, and
// rejects values no real build has.
func DecodeDebugOffsets(b []byte) (*DebugOffsets, error) {
	if len(b) < debugHeaderSize {
		return nil, fmt.Errorf("_Py_DebugOffsets header: %d of %d bytes: %w", len(b), debugHeaderSize, ErrDebugOffsetsInvalid)
	}
	if !bytes.Equal(b[:8], []byte(DebugOffsetsCookie)) {
		return nil, fmt.Errorf("cookie %q: %w", b[:8], ErrNoDebugOffsets)
	}
	hex := binary.LittleEndian.Uint64(b[8:])
	ft := binary.LittleEndian.Uint64(b[16:])
	v := FromHex(hex)
	name := debugVersionName(hex)
	if v.Major != 3 || v.Minor < 13 {
		return nil, fmt.Errorf("_Py_DebugOffsets of CPython %s: the struct exists only since 3.13: %w", name, ErrDebugOffsetsInvalid)
	}
	if ft > 1 {
		return nil, fmt.Errorf("_Py_DebugOffsets of CPython %s: free_threaded is %d, want 0 or 1: %w", name, ft, ErrDebugOffsetsInvalid)
	}
	v.FreeThreaded = ft == 1

	spec, guessed := pickDebugSpec(v.Minor, hex)
	d, err := decodeWithSpec(b, spec, v, hex)
	if err != nil {
		if guessed {
			// The borrowed layout does not fit: say so, not that the
			// bytes are bad, since they may be fine for their own layout.
			return nil, fmt.Errorf("_Py_DebugOffsets of CPython %s: %w (tried the %d.%d layout: %v)", name, ErrDebugOffsetsLayout, 3, spec.minor, err)
		}
		return nil, fmt.Errorf("_Py_DebugOffsets of CPython %s: %w", name, err)
	}
	d.Guessed = guessed
	return d, nil
}

// pickDebugSpec returns the layout for minor at hex, and whether it is a
// guess: the newest known layout for newer minors, the minor's own for its
// early pre-releases.
func pickDebugSpec(minor int, hex uint64) (*debugSpec, bool) {
	for i := range debugSpecs {
		s := &debugSpecs[i]
		if s.minor == minor {
			return s, hex < s.since
		}
	}
	return &debugSpecs[len(debugSpecs)-1], true
}

func decodeWithSpec(b []byte, spec *debugSpec, v Version, hex uint64) (*DebugOffsets, error) {
	size := spec.size()
	if len(b) < size {
		return nil, fmt.Errorf("have %d of %d bytes: %w", len(b), size, ErrDebugOffsetsInvalid)
	}
	raw := make(map[string]uint64, (size-debugHeaderSize)/8)
	pos := debugHeaderSize
	for _, g := range spec.groups {
		for _, f := range g.fields {
			raw[g.name+"."+f] = binary.LittleEndian.Uint64(b[pos:])
			pos += 8
		}
	}
	if err := checkDebugOffsets(spec, raw, v.FreeThreaded); err != nil {
		return nil, err
	}
	d := &DebugOffsets{Version: v, VersionHex: hex, FreeThreaded: v.FreeThreaded, Size: size, Raw: raw}
	d.fill(spec)
	return d, nil
}

// checkDebugOffsets rejects values that no real build has. Besides bounds,
// it checks relations that hold in every 3.13-3.15 build, default and
// free-threaded: the fields right after PyObject_HEAD sit at
// sizeof(PyObject). They also catch a borrowed layout that is off by a
// field, since then every value lands in its neighbour's place.
func checkDebugOffsets(spec *debugSpec, raw map[string]uint64, ft bool) error {
	for _, g := range spec.groups {
		var gsize uint64
		if g.sized {
			gsize = raw[g.name+".size"]
			if gsize == 0 || gsize > debugMaxStructSize {
				return fmt.Errorf("%s.size %d: %w", g.name, gsize, ErrDebugOffsetsInvalid)
			}
		}
		for _, f := range g.fields {
			key := g.name + "." + f
			val := raw[key]
			switch {
			case f == "size":
			case val > debugMaxOffset:
				return fmt.Errorf("%s %d beyond %d: %w", key, val, debugMaxOffset, ErrDebugOffsetsInvalid)
			case g.sized && !debugOffsetsNotInGroup[key] && val >= gsize:
				return fmt.Errorf("%s %d outside the struct's %d bytes: %w", key, val, gsize, ErrDebugOffsetsInvalid)
			}
		}
	}
	// PyObject is 16 bytes, or 32 with the free-threaded header (ob_tid,
	// ob_flags, ob_mutex, ob_gc_bits, ob_ref_local, ob_ref_shared before
	// ob_type): Include/object.h 3.13+.
	obj := raw["pyobject.size"]
	wantObj := uint64(16)
	if ft {
		wantObj = 32
	}
	if obj != wantObj {
		return fmt.Errorf("pyobject.size %d, want %d for free_threaded=%t: %w", obj, wantObj, ft, ErrDebugOffsetsInvalid)
	}
	for _, key := range []string{"long_object.lv_tag", "bytes_object.ob_size", "tuple_object.ob_size",
		"list_object.ob_size", "unicode_object.length"} {
		if raw[key] != obj {
			return fmt.Errorf("%s %d, want sizeof(PyObject) %d: %w", key, raw[key], obj, ErrDebugOffsetsInvalid)
		}
	}
	if raw["pyobject.ob_type"] != obj-8 {
		return fmt.Errorf("pyobject.ob_type %d, want %d: %w", raw["pyobject.ob_type"], obj-8, ErrDebugOffsetsInvalid)
	}
	// The GIL fields are offsets within the interpreter of fields of its
	// inline _gil (struct _gil_runtime_state is a few dozen bytes).
	gil := raw["interpreter_state.gil_runtime_state"]
	for _, key := range []string{"interpreter_state.gil_runtime_state_locked", "interpreter_state.gil_runtime_state_holder"} {
		if raw[key] <= gil || raw[key]-gil > 256 {
			return fmt.Errorf("%s %d not within _gil at %d: %w", key, raw[key], gil, ErrDebugOffsetsInvalid)
		}
	}
	return nil
}

// debugVarFields are the Layout fields dump reads of frames and
// containers that _Py_DebugOffsets gives, by the raw field giving each.
var debugVarFields = map[string]string{
	"CodeVars.ArgCount":        "code_object.argcount",
	"CodeVars.LocalsPlusNames": "code_object.localsplusnames",
	"CodeVars.LocalsPlusKinds": "code_object.localspluskinds",
	"FrameVars.LocalsPlus":     "interpreter_frame.localsplus",
	"VarObject.Size":           "tuple_object.ob_size",
	"Tuple.Item":               "tuple_object.ob_item",
	"List.Item":                "list_object.ob_item",
	"Float.Value":              "float_object.ob_fval",
	"Set.Used":                 "set_object.used",
	"Set.Mask":                 "set_object.mask",
	"Set.Table":                "set_object.table",
}

// fill maps the raw fields into Layout and the named groups.
func (d *DebugOffsets) fill(spec *debugSpec) {
	get := func(key string) int {
		v, ok := d.Raw[key]
		if !ok {
			return Absent
		}
		return int(v)
	}
	// ftOnly reads a field that default builds set to 0 for "not in this
	// build" (the tlbc fields, gil enabled).
	ftOnly := func(key string) int {
		if !d.FreeThreaded {
			return Absent
		}
		return get(key)
	}
	l := debugAbsentLayout()

	l.Runtime.InterpretersHead = get("runtime_state.interpreters_head")
	l.Interp.Next = get("interpreter_state.next")
	l.Interp.ID = get("interpreter_state.id")
	l.Interp.ThreadsHead = get("interpreter_state.threads_head")
	l.Interp.Modules = get("interpreter_state.imports_modules")
	l.Interp.GILPtr = get("interpreter_state.ceval_gil")
	// The struct gives the GIL fields as offsets within the interpreter
	// (offsetof(PyInterpreterState, _gil.last_holder)); Layout wants them
	// within _gil_runtime_state, reached through ceval.gil.
	gil := get("interpreter_state.gil_runtime_state")
	l.GIL.LastHolder = get("interpreter_state.gil_runtime_state_holder") - gil
	l.GIL.Locked = get("interpreter_state.gil_runtime_state_locked") - gil

	// interpreter_state.gc is where struct _gc_runtime_state starts.
	if gc, col := get("interpreter_state.gc"), get("gc.collecting"); gc != Absent && col != Absent {
		l.Interp.GCCollecting = gc + col
	}

	l.Thread.Next = get("thread_state.next")
	l.Thread.Interp = get("thread_state.interp")
	l.Thread.CurrentFrame = get("thread_state.current_frame")
	l.Thread.ThreadID = get("thread_state.thread_id")
	l.Thread.NativeThreadID = get("thread_state.native_thread_id")

	l.Frame.Previous = get("interpreter_frame.previous")
	l.Frame.Code = get("interpreter_frame.executable")
	l.Frame.InstrPtr = get("interpreter_frame.instr_ptr")
	l.Frame.Owner = get("interpreter_frame.owner")

	l.Code.Filename = get("code_object.filename")
	l.Code.Name = get("code_object.name")
	l.Code.QualName = get("code_object.qualname")
	l.Code.FirstLineNo = get("code_object.firstlineno")
	l.Code.LineTable = get("code_object.linetable")
	l.Code.CodeAdaptive = get("code_object.co_code_adaptive")

	l.Object.Type = get("pyobject.ob_type")
	l.Type.Name = get("type_object.tp_name")
	l.Type.Flags = get("type_object.tp_flags")
	l.Type.BasicSize = get("type_object.tp_basicsize")   // 3.15+
	l.Type.DictOffset = get("type_object.tp_dictoffset") // 3.15+
	l.HeapType.CachedKeys = get("heap_type_object.ht_cached_keys")

	l.Dict.Keys = get("dict_object.ma_keys")
	l.Dict.Values = get("dict_object.ma_values")
	l.Long.Size = get("long_object.lv_tag")
	l.Long.Digit = get("long_object.ob_digit")
	l.Unicode.Length = get("unicode_object.length")
	l.Unicode.State = get("unicode_object.state")
	l.Unicode.ASCIIData = get("unicode_object.asciiobject_size")
	l.Unicode.CompactData = get("unicode_object.compactunicodeobject_size") // 3.15+
	l.Bytes.Size = get("bytes_object.ob_size")
	l.Bytes.Data = get("bytes_object.ob_sval")
	for _, f := range debugLayoutFields(&l) {
		if key, ok := debugVarFields[f.path]; ok {
			*f.ptr = get(key)
		}
	}
	d.Layout = l

	s := &d.Sizes
	s.Runtime, s.Interp = get("runtime_state.size"), get("interpreter_state.size")
	s.Thread, s.Frame = get("thread_state.size"), get("interpreter_frame.size")
	s.Code, s.Object, s.Type = get("code_object.size"), get("pyobject.size"), get("type_object.size")
	s.Tuple, s.List, s.Dict = get("tuple_object.size"), get("list_object.size"), get("dict_object.size")
	s.Float, s.Long, s.Bytes = get("float_object.size"), get("long_object.size"), get("bytes_object.size")
	s.Unicode, s.Gen = get("unicode_object.size"), get("gen_object.size")

	d.Runtime.Finalizing = get("runtime_state.finalizing")
	d.Interp.ID = get("interpreter_state.id")
	d.Interp.ThreadsMain = get("interpreter_state.threads_main")
	d.Interp.OwnGIL = gil
	d.Interp.GILEnabled = ftOnly("interpreter_state.gil_runtime_state_enabled")
	d.Interp.CodeObjectGeneration = get("interpreter_state.code_object_generation")
	d.Interp.TLBCGeneration = ftOnly("interpreter_state.tlbc_generation")
	if d.Interp.TLBCGeneration == 0 {
		d.Interp.TLBCGeneration = Absent // not in this build or minor
	}

	d.Thread.Prev = get("thread_state.prev")
	d.Thread.DatastackChunk = get("thread_state.datastack_chunk")
	d.Thread.Status = get("thread_state.status")
	d.Thread.BaseFrame = get("thread_state.base_frame")
	d.Thread.LastProfiledFrame = get("thread_state.last_profiled_frame")
	d.Thread.HoldsGIL = get("thread_state.holds_gil")
	d.Thread.GILRequested = get("thread_state.gil_requested")

	d.Frame.LocalsPlus = get("interpreter_frame.localsplus")
	d.Frame.StackPointer = get("interpreter_frame.stackpointer")
	d.Frame.TLBCIndex = ftOnly("interpreter_frame.tlbc_index")
	d.Frame.Owners = spec.owners
	d.Frame.TagMask = spec.tagMask

	d.Code.ArgCount = get("code_object.argcount")
	d.Code.LocalsPlusNames = get("code_object.localsplusnames")
	d.Code.LocalsPlusKinds = get("code_object.localspluskinds")
	d.Code.TLBC = ftOnly("code_object.co_tlbc")
	// A free-threaded 3.13 has no thread-local bytecode: the fields are
	// not in its struct at all, and get already said Absent.
	if d.Code.TLBC == 0 {
		d.Code.TLBC = Absent
	}
	if d.Frame.TLBCIndex == 0 {
		d.Frame.TLBCIndex = Absent
	}

	d.Tuple.Item = get("tuple_object.ob_item")
	d.List.Item = get("list_object.ob_item")
	d.Float.Value = get("float_object.ob_fval")
	d.Gen.Name = get("gen_object.gi_name")
	d.Gen.IFrame = get("gen_object.gi_iframe")
	d.Gen.FrameState = get("gen_object.gi_frame_state")
}

// debugVersionName prints PY_VERSION_HEX with its release level, so an
// error about 3.15.0b3 does not read as one about 3.15.0.
func debugVersionName(hex uint64) string {
	v := FromHex(hex)
	s := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	switch level, serial := (hex>>4)&0xf, hex&0xf; level {
	case 0xa:
		s += fmt.Sprintf("a%d", serial)
	case 0xb:
		s += fmt.Sprintf("b%d", serial)
	case 0xc:
		s += fmt.Sprintf("rc%d", serial)
	}
	return s
}

// Merged returns d.Layout with every Absent field taken from fallback,
// the static table of the same version (and build: a default-build table
// is wrong for every object field of a free-threaded one). Fields that
// _Py_DebugOffsets provides always win.
func (d *DebugOffsets) Merged(fallback Layout) Layout {
	out := d.Layout
	fb := debugLayoutFields(&fallback)
	for i, f := range debugLayoutFields(&out) {
		if *f.ptr == Absent {
			*f.ptr = *fb[i].ptr
		}
	}
	return out
}

// debugLayoutField is one int of a Layout, named by its Go path
// ("Thread.CurrentFrame").
type debugLayoutField struct {
	path string
	ptr  *int
}

// debugLayoutFields lists every offset in l, in declaration order, so
// Layouts can be merged and compared field by field without naming each.
func debugLayoutFields(l *Layout) []debugLayoutField {
	var out []debugLayoutField
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		switch v.Kind() {
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				name := v.Type().Field(i).Name
				if path != "" {
					name = path + "." + name
				}
				walk(v.Field(i), name)
			}
		case reflect.Int:
			out = append(out, debugLayoutField{path, v.Addr().Interface().(*int)})
		}
	}
	walk(reflect.ValueOf(l).Elem(), "")
	return out
}

// debugAbsentLayout is a Layout with every field Absent.
func debugAbsentLayout() Layout {
	var l Layout
	for _, f := range debugLayoutFields(&l) {
		*f.ptr = Absent
	}
	return l
}
