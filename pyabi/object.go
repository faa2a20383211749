package pyabi

import (
	"fmt"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// Type flags the object reader tests, from Include/object.h at each tag.
// Bits 23..28 mean different things in 2.7 and 3.x, hence two str flags.
const (
	tpflagsInlineValues   = 1 << 2  // Py_TPFLAGS_INLINE_VALUES (3.13+): values follow the object
	tpflagsManagedDict    = 1 << 4  // Py_TPFLAGS_MANAGED_DICT (3.11+): dict or values in the pre-header
	tpflagsHeapType       = 1 << 9  // Py_TPFLAGS_HEAPTYPE: a PyHeapTypeObject, ht_cached_keys exists
	tpflagsIntSubclass27  = 1 << 23 // Py_TPFLAGS_INT_SUBCLASS (2.7 only; 3.12 reuses the bit)
	tpflagsLongSubclass   = 1 << 24 // Py_TPFLAGS_LONG_SUBCLASS
	tpflagsStringSubclass = 1 << 27 // Py_TPFLAGS_STRING_SUBCLASS (2.7 str); BYTES_SUBCLASS in 3.x
	tpflagsUnicodeSub     = 1 << 28 // Py_TPFLAGS_UNICODE_SUBCLASS (3.x str)
)

// Pre-header slots of objects whose type has Py_TPFLAGS_MANAGED_DICT, in
// pointer-sized words before the object (GIL builds): 3.11 keeps the values
// pointer at -4 and the dict at -3 (_PyObject_ValuesPointer and
// _PyObject_ManagedDictPointer, Include/internal/pycore_object.h v3.11.0);
// 3.12 has one tagged PyDictOrValues at -3; 3.13 and 3.14 keep the dict at
// -3 (MANAGED_DICT_OFFSET) and the values inline after the object. A
// free-threaded build has no GC pre-header, so its dict slot is the word
// just before the object (MANAGED_DICT_OFFSET under Py_GIL_DISABLED,
// Include/internal/pycore_object.h v3.13.0).
const (
	managedDictOffset   = 3 * 8
	managedDictOffsetFT = 1 * 8
	managedValues311    = 4 * 8
)

// maxDictOffset bounds tp_dictoffset: an instance dict pointer lies inside
// the object, and no object the profiler reads is larger than this.
const maxDictOffset = 1 << 16

// attrModel is where a version keeps an instance's attributes; picked once
// per objReader so lookups do not branch on the version.
type attrModel uint8

const (
	attrDictPtr    attrModel = iota // <=3.10: a dict pointer at tp_dictoffset
	attrManaged311                  // 3.11: values pointer at -4 words, else dict at -3
	attrTagged312                   // 3.12: PyDictOrValues at -3 words, low bit set = values
	attrInline313                   // 3.13+: dict at -3 words, else values at tp_basicsize
)

// typeInfo is the part of a PyTypeObject the object reader uses.
type typeInfo struct {
	flags      uint64
	basicSize  int64
	dictOffset int64
}

// strKey caches whether the str object at addr equals want.
type strKey struct {
	addr uint64
	want string
}

// objReader looks up attributes, dict items, ints and str keys in target
// memory. It caches type objects and key comparisons, so it is meant to
// live for one walk (ThreadNames builds one per call): a cached type or an
// interned key may be freed and reused once the target runs on.
type objReader struct {
	r         procmem.Reader
	l         Layout
	dicts     dictFamily
	attrs     attrModel
	dictSlot  uint64 // bytes before the object of its managed dict pointer (3.11+)
	valuesHdr uint64 // bytes before values[0] in PyDictValues: 8 from 3.13, else 0
	py2       bool   // 2.7: str is PyStringObject, ints may be PyIntObject
	lvTag     bool   // 3.12+: PyLongObject has lv_tag instead of ob_size
	strFlag   uint64 // the tp_flags bit that marks str and its subclasses
	kindShift uint   // see unicodeKindShift

	// Caches for one walk: type facts, str comparisons, ht_cached_keys by
	// type, and a name's entry index in shared keys by (keys, name), -1
	// when absent.
	types    map[uint64]typeInfo
	strEq    map[strKey]bool
	typeKeys map[uint64]uint64
	sharedIx map[strKey]int
	// found outlives the walk where the reader is kept (ThreadNames):
	// nil where it is not.
	found map[strKey]foundKey

	// strHdrs holds the str starts prefetched for one chunk of dict keys
	// (see prefetchStrs); spans and slab back that batch read.
	strHdrs map[uint64][]byte
	spans   []procmem.Span
	slab    []byte

	bufs [][]byte // free list of entry and value chunk buffers
	hdr  []byte   // headers of single objects
	data []byte   // string data being compared
}

func newObjReader(r procmem.Reader, v Version, l Layout) *objReader {
	o := &objReader{
		r: r, l: l, py2: v.Major == 2, lvTag: v.AtLeast(3, 12),
		strFlag: tpflagsUnicodeSub, kindShift: unicodeKindShift(v),
		types: map[uint64]typeInfo{}, strEq: map[strKey]bool{}, strHdrs: map[uint64][]byte{},
		typeKeys: map[uint64]uint64{}, sharedIx: map[strKey]int{},
		dictSlot: managedDictOffset,
	}
	if v.FreeThreaded {
		o.dictSlot = managedDictOffsetFT
	}
	switch {
	case l.Dict.Table != Absent:
		o.dicts = dictOpen27
	case l.DictKeys.Log2Size != Absent:
		o.dicts = dictCompact311
	default:
		o.dicts = dictCompact36
	}
	switch {
	case v.AtLeast(3, 13):
		o.attrs = attrInline313
		// struct _dictvalues gained uint8 capacity, size, embedded and
		// valid before values[] (Include/internal/pycore_dict.h v3.13.0),
		// padded to the pointer alignment of values.
		o.valuesHdr = 8
	case v.AtLeast(3, 12):
		o.attrs = attrTagged312
	case v.AtLeast(3, 11):
		o.attrs = attrManaged311
	}
	if o.py2 {
		o.strFlag = tpflagsStringSubclass
	}
	return o
}

// header reads n bytes of the object at addr into o.hdr.
func (o *objReader) header(addr uint64, n int, what string) ([]byte, error) {
	if addr == 0 {
		return nil, fmt.Errorf("%s at NULL: %w", what, procmem.ErrFault)
	}
	if cap(o.hdr) < n {
		o.hdr = make([]byte, n)
	}
	h := o.hdr[:n]
	if err := procmem.ReadFull(o.r, h, addr); err != nil {
		return nil, fmt.Errorf("%s at %#x: %w", what, addr, err)
	}
	return h, nil
}

// typeOf returns the address and facts of obj's type.
func (o *objReader) typeOf(obj uint64) (uint64, typeInfo, error) {
	if obj == 0 {
		return 0, typeInfo{}, fmt.Errorf("object at NULL: %w", procmem.ErrFault)
	}
	typ, err := procmem.Ptr(o.r, obj+uint64(o.l.Object.Type))
	if err != nil {
		return 0, typeInfo{}, fmt.Errorf("object at %#x: ob_type: %w", obj, err)
	}
	ti, err := o.typeInfo(typ)
	return typ, ti, err
}

// typeInfo reads the type object at typ once per objReader.
func (o *objReader) typeInfo(typ uint64) (typeInfo, error) {
	if ti, ok := o.types[typ]; ok {
		return ti, nil
	}
	t := o.l.Type
	h, err := o.header(typ, maxOffset(t.Flags, t.BasicSize, t.DictOffset)+8, "type object")
	if err != nil {
		return typeInfo{}, err
	}
	ti := typeInfo{
		flags:      le64(h[t.Flags:]),
		basicSize:  int64(le64(h[t.BasicSize:])),
		dictOffset: int64(le64(h[t.DictOffset:])),
	}
	o.types[typ] = ti
	return ti, nil
}

// cachedKeys returns ht_cached_keys of a heap type: the keys its instances
// share (3.6+), which 3.11+ instances without a dict index into.
func (o *objReader) cachedKeys(typ uint64, ti typeInfo) (uint64, error) {
	if keys, ok := o.typeKeys[typ]; ok {
		return keys, nil
	}
	if ti.flags&tpflagsHeapType == 0 || o.l.HeapType.CachedKeys == Absent {
		return 0, fmt.Errorf("type %#x: instance values without a heap type's cached keys", typ)
	}
	keys, err := procmem.Ptr(o.r, typ+uint64(o.l.HeapType.CachedKeys))
	if err != nil {
		return 0, fmt.Errorf("type %#x: ht_cached_keys: %w", typ, err)
	}
	if keys == 0 {
		return 0, fmt.Errorf("type %#x: instance values but ht_cached_keys is NULL", typ)
	}
	o.typeKeys[typ] = keys
	return keys, nil
}

// attr looks up the instance attribute name of obj: what obj.__dict__[name]
// would give, without the type's descriptors. found is false when the
// object has no such attribute or no instance dict at all.
func (o *objReader) attr(obj uint64, name string) (value uint64, found bool, err error) {
	typ, ti, err := o.typeOf(obj)
	if err != nil {
		return 0, false, err
	}
	if o.attrs == attrDictPtr || ti.flags&tpflagsManagedDict == 0 {
		return o.dictPtrAttr(obj, ti, name)
	}
	switch o.attrs {
	case attrManaged311:
		values, err := procmem.Ptr(o.r, obj-managedValues311)
		if err != nil {
			return 0, false, fmt.Errorf("object at %#x: values pointer: %w", obj, err)
		}
		if values != 0 {
			return o.valuesAttr(typ, ti, values, name)
		}
	case attrTagged312:
		dorv, err := procmem.Ptr(o.r, obj-o.dictSlot)
		if err != nil {
			return 0, false, fmt.Errorf("object at %#x: dict-or-values: %w", obj, err)
		}
		// The values pointer is stored minus one so that its low bit,
		// clear in any aligned dict pointer, tags it
		// (_PyDictOrValues_SetValues, pycore_object.h v3.12.0).
		if dorv&1 != 0 {
			return o.valuesAttr(typ, ti, dorv+1, name)
		}
		return o.dictAttr(dorv, name)
	case attrInline313:
		dict, err := procmem.Ptr(o.r, obj-o.dictSlot)
		if err != nil {
			return 0, false, fmt.Errorf("object at %#x: managed dict: %w", obj, err)
		}
		if dict != 0 || ti.flags&tpflagsInlineValues == 0 {
			return o.dictAttr(dict, name)
		}
		return o.inlineAttr(obj, typ, ti, name)
	}
	return o.managedDictAttr(obj, name)
}

// dictPtrAttr reads the dict pointer at tp_dictoffset (every version's
// modules and <=3.10 instances).
func (o *objReader) dictPtrAttr(obj uint64, ti typeInfo, name string) (uint64, bool, error) {
	switch {
	case ti.dictOffset == 0:
		return 0, false, nil
	case ti.dictOffset < 0 || ti.dictOffset > maxDictOffset:
		// Negative offsets count from the end of a variable-sized object
		// (int and tuple subclasses); no object read here is one.
		return 0, false, fmt.Errorf("object at %#x: tp_dictoffset %d not supported", obj, ti.dictOffset)
	}
	dict, err := procmem.Ptr(o.r, obj+uint64(ti.dictOffset))
	if err != nil {
		return 0, false, fmt.Errorf("object at %#x: dict pointer: %w", obj, err)
	}
	return o.dictAttr(dict, name)
}

// managedDictAttr reads the dict in the pre-header slot (3.11 after the
// values were dropped).
func (o *objReader) managedDictAttr(obj uint64, name string) (uint64, bool, error) {
	dict, err := procmem.Ptr(o.r, obj-o.dictSlot)
	if err != nil {
		return 0, false, fmt.Errorf("object at %#x: managed dict: %w", obj, err)
	}
	return o.dictAttr(dict, name)
}

// dictAttr looks name up in an instance dict that may not exist yet.
func (o *objReader) dictAttr(dict uint64, name string) (uint64, bool, error) {
	if dict == 0 {
		return 0, false, nil
	}
	return o.dictGetStr(dict, name)
}

// inlineAttr reads 3.13+ values stored right after the object's fixed
// part (_PyObject_InlineValues: at tp_basicsize, which 3.13.0 asserts is
// sizeof(PyObject)). A cleared valid byte means the values moved into a
// dict, which attr has already found absent.
func (o *objReader) inlineAttr(obj, typ uint64, ti typeInfo, name string) (uint64, bool, error) {
	if ti.basicSize <= 0 || ti.basicSize > maxDictOffset {
		return 0, false, fmt.Errorf("type %#x: tp_basicsize %d out of range", typ, ti.basicSize)
	}
	values := obj + uint64(ti.basicSize)
	// valid is the fourth byte of the header (pycore_dict.h v3.13.0).
	h, err := o.header(values, 4, "inline values")
	if err != nil {
		return 0, false, err
	}
	if h[3] == 0 {
		return 0, false, nil
	}
	return o.valuesAttr(typ, ti, values, name)
}

// valuesAttr finds name in the type's shared keys and reads its value
// from the instance's values array (split table without a dict object).
// Every instance of a type shares the keys, so the name's index is looked
// up once per objReader.
func (o *objReader) valuesAttr(typ uint64, ti typeInfo, values uint64, name string) (uint64, bool, error) {
	keys, err := o.cachedKeys(typ, ti)
	if err != nil {
		return 0, false, err
	}
	ix, ok := o.sharedIx[strKey{keys, name}]
	if !ok {
		k, err := o.readKeys(keys)
		if err != nil {
			return 0, false, err
		}
		// Shared keys hold no values of their own: keysOnly.
		if ix, _, err = o.findStr(k, 0, true, name); err != nil {
			return 0, false, err
		}
		o.sharedIx[strKey{keys, name}] = ix
	}
	if ix < 0 {
		return 0, false, nil
	}
	if o.valuesHdr != 0 {
		// 3.13+: a key added to the shared keys after this instance's
		// values were sized has no slot (capacity, pycore_dict.h v3.13.0).
		h, err := o.header(values, 1, "dict values")
		if err != nil {
			return 0, false, err
		}
		if ix >= int(h[0]) {
			return 0, false, nil
		}
	}
	at := values + o.valuesHdr + uint64(ix)*8
	v, err := procmem.Ptr(o.r, at)
	if err != nil {
		return 0, false, fmt.Errorf("dict values at %#x: %w", at, err)
	}
	return v, v != 0, nil
}

// isStr reports whether obj is a str (2.7: a byte string).
func (o *objReader) isStr(obj uint64) (bool, error) {
	_, ti, err := o.typeOf(obj)
	return err == nil && ti.flags&o.strFlag != 0, err
}

// strEquals reports whether the object at addr is a str equal to want,
// which must be ASCII. Lengths are compared before any data is read, and
// answers are cached: interned keys recur across dicts.
func (o *objReader) strEquals(addr uint64, want string) (bool, error) {
	key := strKey{addr, want}
	if eq, ok := o.strEq[key]; ok {
		return eq, nil
	}
	eq, err := o.compareStr(addr, want)
	if err != nil {
		return false, err
	}
	o.strEq[key] = eq
	return eq, nil
}

// strHeaderSize is how much of a str object compareStr needs.
func (o *objReader) strHeaderSize() int {
	if o.py2 {
		return maxOffset(o.l.Object.Type, o.l.Bytes.Size) + 8
	}
	return maxOffset(o.l.Object.Type, o.l.Unicode.Length, o.l.Unicode.State) + 8
}

func (o *objReader) compareStr(addr uint64, want string) (bool, error) {
	h, prefetched := o.strHdrs[addr]
	if !prefetched {
		var err error
		if h, err = o.header(addr, o.strHeaderSize(), "str"); err != nil {
			return false, err
		}
	}
	typ := le64(h[o.l.Object.Type:])
	var n int64
	var data uint64
	if o.py2 {
		n, data = int64(le64(h[o.l.Bytes.Size:])), addr+uint64(o.l.Bytes.Data)
	} else {
		u := o.l.Unicode
		n, data = int64(le64(h[u.Length:])), addr+uint64(u.ASCIIData)
		state := le32(h[u.State:])
		// Only compact ASCII strings can equal an ASCII want: PEP 393
		// stores every all-ASCII str that way (Include/cpython/unicodeobject.h).
		compact := state>>(o.kindShift+3)&1 == 1
		ascii := state>>(o.kindShift+4)&1 == 1
		if !compact || !ascii {
			return false, nil
		}
	}
	if n != int64(len(want)) {
		return false, nil
	}
	// The type is checked last: keys of other lengths need no type read,
	// and the str type itself is read once per objReader.
	if ok, err := o.typeHas(typ, o.strFlag); !ok || err != nil {
		return false, err
	}
	if off := int(data - addr); prefetched && len(h) >= off+len(want) {
		return string(h[off:off+len(want)]) == want, nil
	}
	if cap(o.data) < len(want) {
		o.data = make([]byte, len(want))
	}
	d := o.data[:len(want)]
	if err := procmem.ReadFull(o.r, d, data); err != nil {
		return false, fmt.Errorf("str data at %#x: %w", data, err)
	}
	return string(d) == want, nil
}

// typeHas reports whether type typ has flag set.
func (o *objReader) typeHas(typ, flag uint64) (bool, error) {
	ti, err := o.typeInfo(typ)
	return err == nil && ti.flags&flag != 0, err
}

// Bounds of int decoding: a thread ident is an unsigned long, at most three
// 30-bit digits (PYLONG_BITS_IN_DIGIT is 30 on every 64-bit build here,
// 2.7 included: sys.long_info).
const (
	longShift     = 30
	longMaxDigits = 3
)

// intValue decodes an int (2.7: int or long) as the uint64 with the same
// low 64 bits, so a negative 2.7 ident (a pthread_t cast to long) maps
// back to the unsigned thread id. ok is false for objects that are not
// ints or do not fit in 64 bits.
func (o *objReader) intValue(obj uint64) (v uint64, ok bool, err error) {
	_, ti, err := o.typeOf(obj)
	if err != nil {
		return 0, false, err
	}
	lo := o.l.Long
	if o.py2 && ti.flags&tpflagsIntSubclass27 != 0 {
		v, err := procmem.U64(o.r, obj+uint64(lo.IVal))
		if err != nil {
			return 0, false, fmt.Errorf("int at %#x: ob_ival: %w", obj, err)
		}
		return v, true, nil
	}
	if ti.flags&tpflagsLongSubclass == 0 {
		return 0, false, nil
	}
	size, err := procmem.U64(o.r, obj+uint64(lo.Size))
	if err != nil {
		return 0, false, fmt.Errorf("int at %#x: size: %w", obj, err)
	}
	var ndigits uint64
	var negative bool
	if o.lvTag {
		// lv_tag: digit count above the three low bits, which hold the
		// sign as 0 positive, 1 zero, 2 negative (Include/cpython/
		// longintrepr.h v3.12.0, _PyLong_NON_SIZE_BITS).
		ndigits, negative = size>>3, size&3 == 2
		if size&3 == 1 {
			return 0, true, nil
		}
	} else {
		// ob_size: the digit count, negated for negative numbers.
		s := int64(size)
		negative = s < 0
		if negative {
			s = -s
		}
		ndigits = uint64(s)
	}
	if ndigits > longMaxDigits {
		return 0, false, nil
	}
	var digits [longMaxDigits * 4]byte
	if err := procmem.ReadFull(o.r, digits[:ndigits*4], obj+uint64(lo.Digit)); err != nil {
		return 0, false, fmt.Errorf("int at %#x: digits: %w", obj, err)
	}
	for i := int(ndigits) - 1; i >= 0; i-- {
		d := uint64(le32(digits[i*4:]))
		if d>>longShift != 0 || v>>(64-longShift) != 0 {
			return 0, false, nil // not a canonical digit, or past 64 bits
		}
		v = v<<longShift | d
	}
	if negative {
		v = -v
	}
	return v, true, nil
}
