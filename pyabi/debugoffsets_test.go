package pyabi

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// debugImage lays out a _Py_DebugOffsets: cookie, version word,
// free_threaded, then the values in header order. The tests write every
// value out by hand, in the header's field order, so they check the
// decoder's field lists rather than repeat them.
func debugImage(hex, ft uint64, vals ...uint64) []byte {
	b := make([]byte, 0, debugHeaderSize+8*len(vals))
	b = append(b, DebugOffsetsCookie...)
	b = binary.LittleEndian.AppendUint64(b, hex)
	b = binary.LittleEndian.AppendUint64(b, ft)
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

// 3.13.0, default build. Field order: Include/internal/pycore_runtime.h at
// v3.13.0. Values: the .PyRuntime section of the libpython3.13.so of a
// 3.13.0 build, which the live test
// (TestDebugOffsetsLive313) reads again from a running process.
func debugImage313() []byte {
	return debugImage(0x030d00f0, 0,
		283320, 608, 632, // runtime_state: size, finalizing, interpreters_head
		194968, 7272, 7264, 7344, 7400, 7656, 7640, 7648, 16, 7752, 0, 7768, 7760, // interpreter_state: size, id, next, threads_head, gc, imports_modules, sysdict, builtins, ceval_gil, gil_runtime_state, _enabled, _locked, _holder
		304, 0, 8, 16, 72, 152, 160, 232, 32, // thread_state: size, prev, next, interp, current_frame, thread_id, native_thread_id, datastack_chunk, status
		80, 8, 0, 56, 72, 70, // interpreter_frame: size, previous, executable, instr_ptr, localsplus, owner
		208, 112, 120, 128, 136, 68, 52, 96, 104, 200, // code_object: size, filename, name, qualname, linetable, firstlineno, argcount, localsplusnames, localspluskinds, co_code_adaptive
		16, 8, // pyobject: size, ob_type
		416, 24, 88, 168, // type_object: size, tp_name, tp_repr, tp_flags
		32, 24, 16, // tuple_object: size, ob_item, ob_size
		40, 24, 16, // list_object
		48, 32, 40, // dict_object: size, ma_keys, ma_values
		24, 16, // float_object: size, ob_fval
		32, 16, 24, // long_object: size, lv_tag, ob_digit
		40, 16, 32, // bytes_object: size, ob_size, ob_sval
		64, 32, 16, 40, // unicode_object: size, state, length, asciiobject_size
		240, 200, // gc: size, collecting
	)
}

// 3.13.0 free-threaded. Same field order; values from _PyRuntimeState_INIT
// compiled with the installed 3.13.0 headers and -DPy_GIL_DISABLED (the
// probe in TestDebugOffsetsProbe313 does it again). The free-threaded
// PyObject header (Include/object.h v3.13.0: ob_tid 0, ob_flags 8,
// ob_mutex 10, ob_gc_bits 11, ob_ref_local 12, ob_ref_shared 16, ob_type
// 24) moves every object field 16 bytes on.
func debugImage313t() []byte {
	return debugImage(0x030d00f0, 1,
		328256, 608, 632,
		215616, 7272, 7264, 7344, 7400, 7664, 7648, 7656, 16, 7760, 0, 7784, 7776,
		304, 0, 8, 16, 72, 152, 160, 232, 32,
		80, 8, 0, 56, 72, 70,
		224, 128, 136, 144, 152, 84, 68, 112, 120, 216,
		32, 24,
		432, 40, 104, 184,
		48, 40, 32,
		56, 40, 32,
		64, 48, 56,
		40, 32,
		48, 32, 40,
		56, 32, 48,
		80, 48, 32, 56,
		248, 200,
	)
}

// 3.14.6, default build. Field order: Include/internal/pycore_debug_offsets.h
// of the 3.14 branch. Values: the .PyRuntime section of the 3.14.6
// python-build-standalone binary shipped in go-embed-python, which
// TestDebugOffsets314Binary reads again.
func debugImage314() []byte {
	return debugImage(0x030e06f0, 0,
		316616, 784, 808, // runtime_state
		225864, 7280, 7272, 7344, 7360, 7408, 7688, 7672, 7680, 16, 7784, 0, 7800, 7792, 7992, 0, // interpreter_state (+threads_main, code_object_generation, tlbc_generation)
		832, 0, 8, 16, 72, 152, 160, 232, 32, // thread_state
		88, 8, 0, 56, 80, 74, 64, 0, // interpreter_frame (+stackpointer, tlbc_index)
		216, 112, 120, 128, 136, 68, 52, 96, 104, 208, 0, // code_object (+co_tlbc)
		16, 8, // pyobject
		416, 24, 88, 168, // type_object
		40, 32, 16, // tuple_object (3.14 caches the hash: ob_item moved to 32)
		40, 24, 16, // list_object
		200, 24, 40, 32, // set_object: size, used, table, mask
		48, 32, 40, // dict_object
		24, 16, // float_object
		32, 16, 24, // long_object
		40, 16, 32, // bytes_object
		64, 32, 16, 40, // unicode_object
		264, 192, // gc
		160, 24, 72, 67, // gen_object: size, gi_name, gi_iframe, gi_frame_state
		0, 8, // llist_node: next, prev
		24, 304, 8076, 0, 4, 512, // debugger_support
	)
}

// 3.14.6 free-threaded. Same field order; values: a real python3.14t
// (3.14.6, x86-64) _PyRuntime as recorded in microsoft/PTVS's debugger
// tests (PyDebugOffsetsTests RawV314T).
func debugImage314t() []byte {
	return debugImage(0x030e06f0, 1,
		361408, 784, 808,
		246528, 7280, 7272, 7336, 7352, 7400, 7704, 7688, 7696, 16, 7792, 0, 7808, 7800, 7848, 17436,
		824, 0, 8, 16, 72, 152, 156, 224, 32,
		88, 8, 0, 56, 80, 78, 64, 72,
		240, 128, 136, 144, 152, 84, 68, 112, 120, 232, 224,
		32, 24,
		432, 40, 104, 184,
		56, 48, 32,
		56, 40, 32,
		216, 40, 56, 48,
		64, 48, 56,
		40, 32,
		48, 32, 40,
		56, 32, 48,
		80, 48, 32, 56,
		288, 192,
		176, 40, 88, 83,
		0, 8,
		24, 296, 7928, 0, 4, 512,
	)
}

// 3.15.0rc1, default build. Field order: Include/internal/pycore_debug_offsets.h
// of 3.15 from v3.15.0b4 on (thread_state grew base_frame,
// last_profiled_frame, last_profiled_frame_seq, holds_gil, gil_requested,
// current_exception, exc_state; new err_stackitem and heap_type_object
// groups; type_object, unicode_object and gc grew). Values: a real
// 3.15.0rc1 x86-64 _PyRuntime as recorded in microsoft/PTVS's debugger
// tests (RawV315).
func debugImage315() []byte {
	return debugImage(0x030f00c1, 0,
		345248, 912, 936, // runtime_state
		226040, 7272, 7264, 7328, 7344, 7392, 7584, 7568, 7576, 16, 7720, 0, 7736, 7728, 7776, 0, // interpreter_state
		880, 0, 8, 16, 72, 80, 88, 96, 176, 180, 248, 32, 36, 40, 136, 280, // thread_state
		0,                           // err_stackitem: exc_value
		88, 8, 0, 56, 80, 74, 64, 0, // interpreter_frame
		216, 112, 120, 128, 136, 68, 52, 96, 104, 208, 0, // code_object
		16, 8, // pyobject
		424, 24, 88, 168, 32, 288, // type_object: size, tp_name, tp_repr, tp_flags, tp_basicsize, tp_dictoffset
		944, 888, // heap_type_object: size, ht_cached_keys
		40, 32, 16, // tuple_object
		40, 24, 16, // list_object
		200, 24, 40, 32, // set_object
		48, 32, 40, // dict_object
		24, 16, // float_object
		32, 16, 24, // long_object
		40, 16, 32, // bytes_object
		64, 32, 16, 40, 56, // unicode_object: ..., compactunicodeobject_size
		176, 112, 120, 1112, 104, // gc: size, collecting, frame, generation_stats_size, generation_stats
		160, 24, 72, 67, // gen_object
		0, 8, // llist_node
		24, 336, 7856, 0, 4, 512, // debugger_support
	)
}

// 3.15.0rc1 free-threaded, recorded as above (RawV315T).
func debugImage315t() []byte {
	return debugImage(0x030f00c1, 1,
		404736, 912, 936,
		246912, 7272, 7264, 7328, 7344, 7392, 7584, 7568, 7576, 16, 7728, 0, 7744, 7736, 7784, 17436,
		880, 0, 8, 16, 72, 80, 88, 96, 176, 180, 248, 32, 36, 40, 136, 280,
		0,
		88, 8, 0, 56, 80, 78, 64, 72,
		240, 128, 136, 144, 152, 84, 68, 112, 120, 232, 224,
		32, 24,
		440, 40, 104, 184, 48, 304,
		968, 904,
		56, 48, 32,
		56, 40, 32,
		216, 40, 56, 48,
		64, 48, 56,
		40, 32,
		48, 32, 40,
		56, 32, 48,
		80, 48, 32, 56, 72,
		176, 112, 120, 216, 104,
		176, 40, 88, 83,
		0, 8,
		24, 336, 7864, 0, 4, 512,
	)
}

// debugProvided313 is what the 3.13 and 3.14 structs give, by Layout path;
// every other Layout field must be Absent.
func debugProvided(interpHead, next, threads, modules, gilPtr, lastHolder, locked,
	tNext, tInterp, curFrame, tid, ntid,
	fPrev, fCode, fInstr, fOwner,
	coFile, coName, coQual, coFirst, coLine, coAdaptive,
	obType, tpName, tpFlags, maKeys, maValues, lvTag, digit, uLen, uState, uASCII, bSize, bData int) map[string]int {
	return map[string]int{
		"Runtime.InterpretersHead": interpHead,
		"Interp.Next":              next, "Interp.ThreadsHead": threads, "Interp.Modules": modules, "Interp.GILPtr": gilPtr,
		"GIL.LastHolder": lastHolder, "GIL.Locked": locked,
		"Thread.Next": tNext, "Thread.Interp": tInterp, "Thread.CurrentFrame": curFrame,
		"Thread.ThreadID": tid, "Thread.NativeThreadID": ntid,
		"Frame.Previous": fPrev, "Frame.Code": fCode, "Frame.InstrPtr": fInstr, "Frame.Owner": fOwner,
		"Code.Filename": coFile, "Code.Name": coName, "Code.QualName": coQual,
		"Code.FirstLineNo": coFirst, "Code.LineTable": coLine, "Code.CodeAdaptive": coAdaptive,
		"Object.Type": obType, "Type.Name": tpName, "Type.Flags": tpFlags,
		"Dict.Keys": maKeys, "Dict.Values": maValues, "Long.Size": lvTag, "Long.Digit": digit,
		"Unicode.Length": uLen, "Unicode.State": uState, "Unicode.ASCIIData": uASCII,
		"Bytes.Size": bSize, "Bytes.Data": bData,
	}
}

func TestDecodeDebugOffsets(t *testing.T) {
	with315 := func(m map[string]int, basic, dictOff, cached, compact int) map[string]int {
		m["Type.BasicSize"], m["Type.DictOffset"] = basic, dictOff
		m["HeapType.CachedKeys"], m["Unicode.CompactData"] = cached, compact
		return m
	}
	tests := []struct {
		name        string
		img         []byte
		version     string
		size        int
		layout      map[string]int // every Layout field not listed must be Absent
		owners      FrameOwners
		tagMask     uint64
		codeGen     int
		tlbcIndex   int
		coTLBC      int
		holdsGIL    int
		threadsMain int
		gc          int // offsetof(PyInterpreterState, gc.collecting)
		id          int // offsetof(PyInterpreterState, id)
	}{
		{
			name: "3.13.0", img: debugImage313(), version: "3.13.0", size: 584,
			layout: debugProvided(632, 7264, 7344, 7656, 16, 8, 16,
				8, 16, 72, 152, 160,
				8, 0, 56, 70,
				112, 120, 128, 68, 136, 200,
				8, 24, 168, 32, 40, 16, 24, 16, 32, 40, 16, 32),
			owners: FrameOwners{0, 1, 2, Absent, 3}, codeGen: Absent, tlbcIndex: Absent, coTLBC: Absent,
			holdsGIL: Absent, threadsMain: Absent, gc: 7600, id: 7272,
		},
		{
			name: "3.13.0t", img: debugImage313t(), version: "3.13.0t", size: 584,
			layout: debugProvided(632, 7264, 7344, 7664, 16, 16, 24,
				8, 16, 72, 152, 160,
				8, 0, 56, 70,
				128, 136, 144, 84, 152, 216,
				24, 40, 184, 48, 56, 32, 40, 32, 48, 56, 32, 48),
			owners: FrameOwners{0, 1, 2, Absent, 3}, codeGen: Absent, tlbcIndex: Absent, coTLBC: Absent,
			holdsGIL: Absent, threadsMain: Absent, gc: 7600, id: 7272,
		},
		{
			name: "3.14.6", img: debugImage314(), version: "3.14.6", size: 760,
			layout: debugProvided(808, 7272, 7344, 7688, 16, 8, 16,
				8, 16, 72, 152, 160,
				8, 0, 56, 74,
				112, 120, 128, 68, 136, 208,
				8, 24, 168, 32, 40, 16, 24, 16, 32, 40, 16, 32),
			owners: FrameOwners{0, 1, 2, 3, 4}, tagMask: 3, codeGen: 7992, tlbcIndex: Absent, coTLBC: Absent,
			holdsGIL: Absent, threadsMain: 7360, gc: 7600, id: 7280,
		},
		{
			name: "3.14.6t", img: debugImage314t(), version: "3.14.6t", size: 760,
			layout: debugProvided(808, 7272, 7336, 7704, 16, 8, 16,
				8, 16, 72, 152, 156,
				8, 0, 56, 78,
				128, 136, 144, 84, 152, 232,
				24, 40, 184, 48, 56, 32, 40, 32, 48, 56, 32, 48),
			owners: FrameOwners{0, 1, 2, 3, 4}, tagMask: 3, codeGen: 7848, tlbcIndex: 72, coTLBC: 224,
			holdsGIL: Absent, threadsMain: 7352, gc: 7592, id: 7280,
		},
		{
			name: "3.15.0rc1", img: debugImage315(), version: "3.15.0", size: 888,
			layout: with315(debugProvided(936, 7264, 7328, 7584, 16, 8, 16,
				8, 16, 72, 176, 180,
				8, 0, 56, 74,
				112, 120, 128, 68, 136, 208,
				8, 24, 168, 32, 40, 16, 24, 16, 32, 40, 16, 32), 32, 288, 888, 56),
			owners: FrameOwners{0, 1, 2, 3, Absent}, tagMask: 3, codeGen: 7776, tlbcIndex: Absent, coTLBC: Absent,
			holdsGIL: 36, threadsMain: 7344, gc: 7504, id: 7272,
		},
		{
			name: "3.15.0rc1t", img: debugImage315t(), version: "3.15.0t", size: 888,
			layout: with315(debugProvided(936, 7264, 7328, 7584, 16, 8, 16,
				8, 16, 72, 176, 180,
				8, 0, 56, 78,
				128, 136, 144, 84, 152, 232,
				24, 40, 184, 48, 56, 32, 40, 32, 48, 56, 32, 48), 48, 304, 904, 72),
			owners: FrameOwners{0, 1, 2, 3, Absent}, tagMask: 3, codeGen: 7784, tlbcIndex: 72, coTLBC: 224,
			holdsGIL: 36, threadsMain: 7344, gc: 7504, id: 7272,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Callers read DebugOffsetsReadSize bytes whatever the version:
			// pad as the rest of _PyRuntime would.
			buf := append(append([]byte(nil), tt.img...), make([]byte, DebugOffsetsReadSize)...)
			d, err := DecodeDebugOffsets(buf)
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Version.String(); got != tt.version {
				t.Errorf("version %s, want %s", got, tt.version)
			}
			if d.Guessed {
				t.Error("Guessed set for a known layout")
			}
			if d.Size != tt.size || len(tt.img) != tt.size {
				t.Errorf("size %d (image %d), want %d", d.Size, len(tt.img), tt.size)
			}
			for path, key := range debugVarFields {
				if v, ok := d.Raw[key]; ok {
					tt.layout[path] = int(v)
				}
			}
			tt.layout["Interp.GCCollecting"] = tt.gc
			tt.layout["Interp.ID"] = tt.id
			checkDebugLayout(t, d.Layout, tt.layout)
			if d.Frame.Owners != tt.owners {
				t.Errorf("owners %+v, want %+v", d.Frame.Owners, tt.owners)
			}
			if d.Frame.TagMask != tt.tagMask {
				t.Errorf("tag mask %d, want %d", d.Frame.TagMask, tt.tagMask)
			}
			if d.Interp.CodeObjectGeneration != tt.codeGen || d.Frame.TLBCIndex != tt.tlbcIndex ||
				d.Code.TLBC != tt.coTLBC || d.Thread.HoldsGIL != tt.holdsGIL || d.Interp.ThreadsMain != tt.threadsMain {
				t.Errorf("code generation %d, tlbc_index %d, co_tlbc %d, holds_gil %d, threads_main %d; want %d %d %d %d %d",
					d.Interp.CodeObjectGeneration, d.Frame.TLBCIndex, d.Code.TLBC, d.Thread.HoldsGIL, d.Interp.ThreadsMain,
					tt.codeGen, tt.tlbcIndex, tt.coTLBC, tt.holdsGIL, tt.threadsMain)
			}
			wantObj := 16
			if d.FreeThreaded {
				wantObj = 32
			}
			if d.Sizes.Object != wantObj || d.Version.FreeThreaded != d.FreeThreaded {
				t.Errorf("sizeof(PyObject) %d, free-threaded %t/%t", d.Sizes.Object, d.FreeThreaded, d.Version.FreeThreaded)
			}
		})
	}
}

// checkDebugLayout compares l with want field by field; fields not in
// want must be Absent.
func checkDebugLayout(t *testing.T, l Layout, want map[string]int) {
	t.Helper()
	seen := 0
	for _, f := range debugLayoutFields(&l) {
		w, ok := want[f.path]
		if !ok {
			w = Absent
		} else {
			seen++
		}
		if *f.ptr != w {
			t.Errorf("Layout.%s = %d, want %d", f.path, *f.ptr, w)
		}
	}
	if seen != len(want) {
		t.Errorf("want names %d fields, only %d exist in Layout", len(want), seen)
	}
}

func TestDebugOffsetsReadSize(t *testing.T) {
	largest := 0
	for i := range debugSpecs {
		largest = max(largest, debugSpecs[i].size())
	}
	if largest != DebugOffsetsReadSize {
		t.Errorf("largest layout %d bytes, DebugOffsetsReadSize %d", largest, DebugOffsetsReadSize)
	}
	for _, tt := range []struct {
		minor, size int
	}{{13, 584}, {14, 760}, {15, 888}} {
		s, _ := pickDebugSpec(tt.minor, 0x03000000|uint64(tt.minor)<<16|0xf0)
		if s.size() != tt.size {
			t.Errorf("3.%d layout %d bytes, want %d (sizeof(_Py_DebugOffsets))", tt.minor, s.size(), tt.size)
		}
	}
}

// setDebugWord overwrites the uint64 at byte offset off of a copy of img.
func setDebugWord(img []byte, off int, v uint64) []byte {
	b := append([]byte(nil), img...)
	binary.LittleEndian.PutUint64(b[off:], v)
	return b
}

func TestDecodeDebugOffsetsNewerMinor(t *testing.T) {
	// A 3.16 whose struct did not change decodes with the 3.15 layout,
	// flagged as a guess.
	img := setDebugWord(debugImage315(), 8, 0x031000f0)
	d, err := DecodeDebugOffsets(img)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Guessed || d.Version.String() != "3.16.0" || d.Layout.Thread.CurrentFrame != 72 {
		t.Errorf("guessed %t, version %s, current_frame %d", d.Guessed, d.Version, d.Layout.Thread.CurrentFrame)
	}

	// A 3.16 that inserted one field early: everything after it lands in
	// its neighbour's place and the sanity checks refuse it.
	shifted := debugImage315()
	shifted = append(shifted[:debugHeaderSize+8*5:debugHeaderSize+8*5], append(make([]byte, 8), shifted[debugHeaderSize+8*5:]...)...)
	shifted = setDebugWord(shifted, 8, 0x031000f0)
	_, err = DecodeDebugOffsets(shifted)
	if !errors.Is(err, ErrDebugOffsetsLayout) {
		t.Fatalf("error %v, want ErrDebugOffsetsLayout", err)
	}
	if !strings.Contains(err.Error(), "_Py_DebugOffsets of CPython 3.16.0: layout unknown") {
		t.Errorf("error %q does not name the version", err)
	}

	// A 3.15 beta before b4 has one field fewer in thread_state: the b4+
	// layout is tried as a guess and refused.
	b3 := debugImage315()
	seqAt := debugHeaderSize + 8*(3+16+7) // runtime_state, interpreter_state, thread_state up to last_profiled_frame_seq
	b3 = append(b3[:seqAt:seqAt], b3[seqAt+8:]...)
	b3 = setDebugWord(b3, 8, 0x030f00b3)
	b3 = append(b3, make([]byte, 8)...) // what follows the struct in _PyRuntime
	_, err = DecodeDebugOffsets(b3)
	if !errors.Is(err, ErrDebugOffsetsLayout) || !strings.Contains(err.Error(), "3.15.0b3") {
		t.Errorf("3.15.0b3: error %v, want layout unknown naming 3.15.0b3", err)
	}
}

func TestDecodeDebugOffsetsErrors(t *testing.T) {
	img := debugImage314()
	tests := []struct {
		name string
		b    []byte
		want error
		text string
	}{
		{"empty", nil, ErrDebugOffsetsInvalid, "header"},
		{"bad cookie", append([]byte("xdebugpz"), img[8:]...), ErrNoDebugOffsets, "cookie"},
		{"truncated", img[:len(img)-1], ErrDebugOffsetsInvalid, "759 of 760 bytes"},
		{"header only", img[:debugHeaderSize], ErrDebugOffsetsInvalid, "24 of 760 bytes"},
		{"3.12", setDebugWord(img, 8, 0x030c01f0), ErrDebugOffsetsInvalid, "since 3.13"},
		{"python 4", setDebugWord(img, 8, 0x040000f0), ErrDebugOffsetsInvalid, "4.0.0"},
		{"free_threaded 2", setDebugWord(img, 16, 2), ErrDebugOffsetsInvalid, "free_threaded is 2"},
		// Flag says free-threaded, objects say default build.
		{"free_threaded lies", setDebugWord(img, 16, 1), ErrDebugOffsetsInvalid, "pyobject.size 16, want 32"},
		// thread_state.current_frame (word 2+3+16+4) far beyond any real offset.
		{"absurd offset", setDebugWord(img, debugHeaderSize+8*(3+16+4), 1<<20), ErrDebugOffsetsInvalid, "thread_state.current_frame 1048576 beyond 65536"},
		{"offset past struct", setDebugWord(img, debugHeaderSize+8*(3+16+4), 832), ErrDebugOffsetsInvalid, "outside the struct's 832 bytes"},
		{"zero size", setDebugWord(img, debugHeaderSize+8*(3+16), 0), ErrDebugOffsetsInvalid, "thread_state.size 0"},
		{"huge size", setDebugWord(img, debugHeaderSize, 1<<40), ErrDebugOffsetsInvalid, "runtime_state.size"},
		{"gil holder outside _gil", setDebugWord(img, debugHeaderSize+8*(3+13), 7000), ErrDebugOffsetsInvalid, "gil_runtime_state_holder"},
		{"3.13 rc guessed but shifted", setDebugWord(debugImage314(), 8, 0x030d00c1), ErrDebugOffsetsLayout, "3.13.0rc1: layout unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := DecodeDebugOffsets(tt.b)
			if err == nil {
				t.Fatalf("decoded %+v, want an error", d.Version)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %q lacks %q", err, tt.text)
			}
		})
	}
}

func TestDebugOffsetsMerged(t *testing.T) {
	d, err := DecodeDebugOffsets(debugImage314())
	if err != nil {
		t.Fatal(err)
	}
	static := debugAbsentLayout()
	static.Dict.Used = 16
	static.DictKeys.Log2Size = 8
	static.Thread.CurrentFrame = 1 // a wrong static value must lose
	m := d.Merged(static)
	if m.Dict.Used != 16 || m.DictKeys.Log2Size != 8 || m.Thread.CurrentFrame != 72 || m.Thread.CFrame != Absent {
		t.Errorf("merged Dict.Used %d, DictKeys.Log2Size %d, Thread.CurrentFrame %d, Thread.CFrame %d",
			m.Dict.Used, m.DictKeys.Log2Size, m.Thread.CurrentFrame, m.Thread.CFrame)
	}
	if d.Layout.Dict.Used != Absent {
		t.Error("Merged changed the receiver")
	}
}

func FuzzDecodeDebugOffsets(f *testing.F) {
	for _, img := range [][]byte{debugImage313(), debugImage313t(), debugImage314(), debugImage314t(), debugImage315(), debugImage315t()} {
		f.Add(img)
	}
	f.Add([]byte("xdebugpy"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeDebugOffsets(b)
		if err != nil {
			return
		}
		// Whatever was accepted is bounded: the walker adds these to
		// addresses and reads that many bytes.
		for _, fl := range debugLayoutFields(&d.Layout) {
			if *fl.ptr < Absent || *fl.ptr > debugMaxOffset {
				t.Fatalf("Layout.%s = %d accepted", fl.path, *fl.ptr)
			}
		}
		if d.Sizes.Frame <= 0 || d.Sizes.Frame > debugMaxStructSize {
			t.Fatalf("frame size %d accepted", d.Sizes.Frame)
		}
	})
}
