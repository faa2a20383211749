package pyabi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// objImage lays out CPython objects of one version in a byte image, with
// the offsets of that version's table, so the decoders can be tested
// without a process.
type objImage struct {
	t    testing.TB
	v    Version
	l    Layout
	base uint64
	data []byte

	strType, intType, longType, moduleType uint64
}

const imageBase = 0x10000

func newObjImage(t testing.TB, v Version) *objImage {
	t.Helper()
	l, _, err := LookupLayout(v)
	if err != nil {
		t.Fatal(err)
	}
	m := &objImage{t: t, v: v, l: l, base: imageBase}
	m.alloc(64) // keep address 0x10000 free: no object sits at the base
	strFlag := uint64(tpflagsUnicodeSub)
	if v.Major == 2 {
		strFlag = tpflagsStringSubclass
		m.intType = m.typ(tpflagsIntSubclass27, 24, 0)
	}
	m.strType = m.typ(strFlag, 0, 0)
	m.longType = m.typ(tpflagsLongSubclass, 0, 0)
	// PyModule_Type: tp_dictoffset is offsetof(PyModuleObject, md_dict).
	m.moduleType = m.typ(0, 48, 16)
	return m
}

// reader sees the image as it grows: objects may be added after a reader
// was made.
func (m *objImage) reader() procmem.Reader { return m }

// ReadAt and ReadBatch read through procmem.Bytes, the image reader of
// the real code.
func (m *objImage) ReadAt(p []byte, addr uint64) (int, error) {
	return procmem.Bytes{Base: m.base, Data: m.data}.ReadAt(p, addr)
}

func (m *objImage) ReadBatch(spans []procmem.Span) error {
	return procmem.Bytes{Base: m.base, Data: m.data}.ReadBatch(spans)
}

// plainReader hides ReadBatch, for the path without batched reads.
type plainReader struct{ r procmem.Reader }

func (p plainReader) ReadAt(b []byte, addr uint64) (int, error) { return p.r.ReadAt(b, addr) }

// alloc returns n zeroed bytes, 16-aligned like CPython's allocator.
func (m *objImage) alloc(n int) uint64 {
	for len(m.data)%16 != 0 {
		m.data = append(m.data, 0)
	}
	addr := m.base + uint64(len(m.data))
	m.data = append(m.data, make([]byte, n)...)
	return addr
}

func (m *objImage) put64(addr, v uint64) {
	binary.LittleEndian.PutUint64(m.data[addr-m.base:], v)
}

func (m *objImage) put8(addr uint64, v byte) { m.data[addr-m.base] = v }

// object allocates n bytes of object with ob_type set; pre is the size of
// the pre-header before the returned address.
func (m *objImage) object(typ uint64, n, pre int) uint64 {
	addr := m.alloc(pre+n) + uint64(pre)
	m.put64(addr+uint64(m.l.Object.Type), typ)
	return addr
}

// typ allocates a heap type object big enough for ht_cached_keys.
func (m *objImage) typ(flags uint64, basic, dictOffset int64) uint64 {
	a := m.alloc(max(m.l.HeapType.CachedKeys, m.l.Type.DictOffset, m.l.Type.Flags) + 8)
	m.put64(a+uint64(m.l.Type.Flags), flags)
	m.put64(a+uint64(m.l.Type.BasicSize), uint64(basic))
	m.put64(a+uint64(m.l.Type.DictOffset), uint64(dictOffset))
	return a
}

// str allocates a compact ASCII str (2.7: a PyStringObject).
func (m *objImage) str(s string) uint64 {
	if m.v.Major == 2 {
		b := m.l.Bytes
		a := m.object(m.strType, b.Data+len(s)+1, 0)
		m.put64(a+uint64(b.Size), uint64(len(s)))
		copy(m.data[a-m.base+uint64(b.Data):], s)
		return a
	}
	u := m.l.Unicode
	a := m.object(m.strType, u.ASCIIData+len(s)+1, 0)
	m.put64(a+uint64(u.Length), uint64(len(s)))
	// state: kind 1 (bits 2-4), compact (bit 5), ascii (bit 6).
	m.put64(a+uint64(u.State), 1<<2|1<<5|1<<6)
	copy(m.data[a-m.base+uint64(u.ASCIIData):], s)
	return a
}

// int allocates an int holding v (2.7: a PyIntObject).
func (m *objImage) int(v uint64) uint64 {
	if m.v.Major == 2 {
		a := m.object(m.intType, 24, 0)
		m.put64(a+uint64(m.l.Long.IVal), v)
		return a
	}
	var digits []uint32
	for x := v; x != 0; x >>= longShift {
		digits = append(digits, uint32(x&(1<<longShift-1)))
	}
	return m.long(digits, false)
}

// long allocates a PyLongObject from its 30-bit digits, least significant
// first.
func (m *objImage) long(digits []uint32, negative bool) uint64 {
	lo := m.l.Long
	a := m.object(m.longType, lo.Digit+4*max(len(digits), 1), 0)
	var size uint64
	switch {
	case m.v.AtLeast(3, 12):
		size = uint64(len(digits)) << 3
		if len(digits) == 0 {
			size |= 1
		} else if negative {
			size |= 2
		}
	case negative:
		size = uint64(-int64(len(digits)))
	default:
		size = uint64(len(digits))
	}
	m.put64(a+uint64(lo.Size), size)
	for i, d := range digits {
		binary.LittleEndian.PutUint32(m.data[a-m.base+uint64(lo.Digit)+uint64(4*i):], d)
	}
	return a
}

// item is one dict entry; a zero key marks a deleted entry.
type item struct{ key, value uint64 }

// tableSize is the smallest power of two >= 8 that fits n entries at
// CPython's 2/3 load.
func tableSize(n int) int {
	size := 8
	for size*2/3 < n {
		size *= 2
	}
	return size
}

// dict allocates a combined-table dict holding items in order. unicode
// selects DICT_KEYS_UNICODE entries on 3.11+.
func (m *objImage) dict(items []item, unicode bool) uint64 {
	d := m.l.Dict
	if m.v.Major == 2 {
		size := tableSize(len(items))
		table := m.alloc(24 * size)
		for i, it := range items {
			// Spread the slots; a deleted entry is a dummy key with no value.
			slot := table + uint64(24*((i*5+1)%size))
			m.put64(slot, uint64(i))
			if it.key == 0 {
				m.put64(slot+8, m.str("<dummy key>"))
				continue
			}
			m.put64(slot+8, it.key)
			m.put64(slot+16, it.value)
		}
		a := m.object(0, d.Table+8+8*24, 0)
		m.put64(a+uint64(d.Used), uint64(len(items)))
		m.put64(a+uint64(d.Mask), uint64(size-1))
		m.put64(a+uint64(d.Table), table)
		return a
	}
	kind := byte(dictKeysGeneral)
	if unicode {
		kind = dictKeysUnicode
	}
	keys := m.keys(items, kind)
	a := m.object(0, d.Values+8, 0)
	m.put64(a+uint64(d.Used), uint64(len(items)))
	m.put64(a+uint64(d.Keys), keys)
	return a
}

// splitDict allocates a dict sharing keys, with its values array.
func (m *objImage) splitDict(keys uint64, values []uint64) uint64 {
	d := m.l.Dict
	a := m.object(0, d.Values+8, 0)
	m.put64(a+uint64(d.Keys), keys)
	m.put64(a+uint64(d.Values), m.values(values))
	return a
}

// values allocates a split table's values; 3.13+ puts a header in front.
func (m *objImage) values(values []uint64) uint64 {
	hdr := 0
	if m.v.AtLeast(3, 13) {
		hdr = 8
	}
	a := m.alloc(hdr + 8*len(values))
	m.fillValues(a, values)
	return a
}

func (m *objImage) fillValues(a uint64, values []uint64) {
	if m.v.AtLeast(3, 13) {
		m.put8(a, byte(len(values))) // capacity
		m.put8(a+1, byte(len(values)))
		m.put8(a+3, 1) // valid
		a += 8
	}
	for i, v := range values {
		m.put64(a+uint64(8*i), v)
	}
}

// keys allocates a PyDictKeysObject (3.6+) with the items as entries; the
// index array is left empty, as the decoder never reads it.
func (m *objImage) keys(items []item, kind byte) uint64 {
	dk := m.l.DictKeys
	size := tableSize(len(items))
	ix := 1
	switch {
	case size > 0xffff:
		ix = 4
	case size > 0xff:
		ix = 2
	}
	esize, koff := 24, 8
	if kind != dictKeysGeneral {
		esize, koff = 16, 0
	}
	a := m.alloc(dk.Indices + size*ix + esize*len(items))
	if dk.Size != Absent {
		m.put64(a+uint64(dk.Size), uint64(size))
	} else {
		log2 := 0
		for 1<<log2 < size {
			log2++
		}
		m.put8(a+uint64(dk.Log2Size), byte(log2))
		m.put8(a+uint64(dk.Log2IndexBytes), byte(log2+[]int{0, 0, 1, 0, 2}[ix]))
		m.put8(a+uint64(dk.Kind), kind)
	}
	m.put64(a+uint64(dk.NEntries), uint64(len(items)))
	e := a + uint64(dk.Indices+size*ix)
	for i, it := range items {
		ent := e + uint64(esize*i)
		if koff == 8 {
			m.put64(ent, uint64(i)*0x9e3779b9) // a hash; never compared
		}
		m.put64(ent+uint64(koff), it.key)
		m.put64(ent+uint64(koff)+8, it.value)
	}
	return a
}

// instance allocates an object of a heap type with the given attributes,
// stored the way version v stores a plain class's instance attributes.
// materialised asks for a dict object even where the version could keep
// bare values (3.11+); it is ignored where a dict is the only way.
func (m *objImage) instance(attrs []item, materialised bool) uint64 {
	switch {
	case !m.v.AtLeast(3, 11):
		// tp_dictoffset 16: the dict pointer right after the header.
		typ := m.typ(tpflagsHeapType, 32, 16)
		obj := m.object(typ, 32, 0)
		m.put64(obj+16, m.dict(attrs, false))
		return obj
	case m.v.AtLeast(3, 13):
		typ := m.typ(tpflagsHeapType|tpflagsManagedDict|tpflagsInlineValues, 16, -1)
		keys := m.sharedKeys(typ, attrs)
		obj := m.object(typ, 16+8+8*len(attrs), managedDictOffset+8)
		m.fillValues(obj+16, itemValues(attrs))
		if materialised {
			d := m.object(0, m.l.Dict.Values+8, 0)
			m.put64(d+uint64(m.l.Dict.Keys), keys)
			m.put64(d+uint64(m.l.Dict.Values), obj+16)
			m.put64(obj-managedDictOffset, d)
		}
		return obj
	default:
		typ := m.typ(tpflagsHeapType|tpflagsManagedDict, 16, -1)
		keys := m.sharedKeys(typ, attrs)
		obj := m.object(typ, 16, managedValues311)
		var slot, vals uint64
		switch {
		case materialised:
			slot, vals = obj-managedDictOffset, m.splitDict(keys, itemValues(attrs))
		case m.v.AtLeast(3, 12):
			slot, vals = obj-managedDictOffset, m.values(itemValues(attrs))-1
		default:
			slot, vals = obj-managedValues311, m.values(itemValues(attrs))
		}
		m.put64(slot, vals)
		return obj
	}
}

// sharedKeys gives type typ split keys holding the attribute names.
func (m *objImage) sharedKeys(typ uint64, attrs []item) uint64 {
	names := make([]item, len(attrs))
	for i, a := range attrs {
		names[i] = item{key: a.key, value: 0}
	}
	keys := m.keys(names, dictKeysSplit)
	m.put64(typ+uint64(m.l.HeapType.CachedKeys), keys)
	return keys
}

func itemValues(items []item) []uint64 {
	out := make([]uint64, len(items))
	for i, it := range items {
		out[i] = it.value
	}
	return out
}

// imageVersions are the versions with a table: every dict family and
// attribute model.
func imageVersions() []Version { return SupportedVersions() }

func TestDictImage(t *testing.T) {
	for _, v := range imageVersions() {
		for _, c := range []struct{ unicode, batch bool }{{false, true}, {false, false}, {true, true}, {true, false}} {
			unicode := c.unicode
			if unicode && !v.AtLeast(3, 11) {
				continue
			}
			t.Run(fmt.Sprintf("%v/unicode=%v/batch=%v", v, unicode, c.batch), func(t *testing.T) {
				m := newObjImage(t, v)
				alpha, beta, gamma := m.str("alpha"), m.str("beta"), m.str("gamma")
				items := []item{
					{alpha, 0x1111},
					{0, 0}, // deleted
					{beta, 0x2222},
					{m.str("alph"), 0x3333}, // a prefix, same first bytes
					{gamma, 0x4444},
				}
				if !unicode {
					items = append(items, item{m.int(7), 0x5555}) // a non-str key
				}
				d := m.dict(items, unicode)
				r := m.reader()
				if !c.batch {
					r = plainReader{r}
				}
				o := newObjReader(r, v, m.l)

				var got []item
				err := o.eachItem(d, func(k, v uint64) error {
					got = append(got, item{k, v})
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				var want []item
				for _, it := range items {
					if it.key != 0 {
						want = append(want, it)
					}
				}
				if v.Major == 2 {
					// 2.7 iterates in slot order, not insertion order.
					slices.SortFunc(got, func(a, b item) int { return int(a.value) - int(b.value) })
				}
				if !slices.Equal(got, want) {
					t.Errorf("items = %x, want %x", got, want)
				}
				for key, want := range map[string]uint64{"alpha": 0x1111, "beta": 0x2222, "alph": 0x3333, "gamma": 0x4444} {
					got, ok, err := o.dictGetStr(d, key)
					if err != nil || !ok || got != want {
						t.Errorf("dict[%q] = %#x, %v, %v; want %#x", key, got, ok, err, want)
					}
				}
				for _, key := range []string{"delta", "alphaa", ""} {
					if got, ok, err := o.dictGetStr(d, key); err != nil || ok {
						t.Errorf("dict[%q] = %#x, %v, %v; want missing", key, got, ok, err)
					}
				}
			})
		}
	}
}

// TestDictImageLarge crosses the chunk size and the one-byte index limit.
func TestDictImageLarge(t *testing.T) {
	for _, v := range imageVersions() {
		t.Run(v.String(), func(t *testing.T) {
			m := newObjImage(t, v)
			var items []item
			for i := range 3*dictChunk + 7 {
				items = append(items, item{m.str(fmt.Sprintf("key%d", i)), uint64(i + 1)})
			}
			d := m.dict(items, false)
			o := newObjReader(m.reader(), v, m.l)
			n := 0
			if err := o.eachItem(d, func(k, v uint64) error { n++; return nil }); err != nil {
				t.Fatal(err)
			}
			if n != len(items) {
				t.Errorf("%d items, want %d", n, len(items))
			}
			last := len(items) - 1
			if got, ok, err := o.dictGetStr(d, fmt.Sprintf("key%d", last)); err != nil || !ok || got != uint64(last+1) {
				t.Errorf("last key = %d, %v, %v", got, ok, err)
			}
		})
	}
}

func TestInstanceAttrImage(t *testing.T) {
	for _, v := range imageVersions() {
		for _, materialised := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/dict=%v", v, materialised), func(t *testing.T) {
				m := newObjImage(t, v)
				name := m.str("busy")
				obj := m.instance([]item{
					{m.str("_target"), 0x10},
					{m.str("_name"), name},
					{m.str("_ident"), m.int(1234)},
				}, materialised)
				o := newObjReader(m.reader(), v, m.l)
				got, ok, err := o.attr(obj, "_name")
				if err != nil || !ok || got != name {
					t.Fatalf("_name = %#x, %v, %v; want %#x", got, ok, err, name)
				}
				if _, ok, err := o.attr(obj, "_nope"); ok || err != nil {
					t.Errorf("_nope found (%v, %v)", ok, err)
				}
				if ok, err := o.isStr(got); !ok || err != nil {
					t.Errorf("isStr(_name) = %v, %v", ok, err)
				}
			})
		}
	}
}

func TestIntValueImage(t *testing.T) {
	for _, v := range imageVersions() {
		t.Run(v.String(), func(t *testing.T) {
			m := newObjImage(t, v)
			o := newObjReader(m.reader(), v, m.l)
			cases := []struct {
				name string
				obj  uint64
				want uint64
				ok   bool
			}{
				{"zero", m.long(nil, false), 0, true},
				{"small", m.long([]uint32{5}, false), 5, true},
				{"pthread", m.long([]uint32{0x3ffff000, 0x7f12}, false), 0x7f12<<30 | 0x3ffff000, true},
				{"max", m.long([]uint32{1<<30 - 1, 1<<30 - 1, 0xf}, false), ^uint64(0), true},
				{"too big", m.long([]uint32{0, 0, 0x10}, false), 0, false},
				{"four digits", m.long([]uint32{1, 0, 0, 1}, false), 0, false},
				{"bad digit", m.long([]uint32{1 << 30}, false), 0, false},
				{"negative", m.long([]uint32{1}, true), ^uint64(0), true},
				{"str", m.str("x"), 0, false},
				{"int helper", m.int(140234567890123), 140234567890123, true},
			}
			for _, c := range cases {
				got, ok, err := o.intValue(c.obj)
				if err != nil || ok != c.ok || got != c.want {
					t.Errorf("%s: %#x, %v, %v; want %#x, %v", c.name, got, ok, err, c.want, c.ok)
				}
			}
		})
	}
}

// threadsImage builds an interpreter whose sys.modules holds a threading
// module with _active = {ident: Thread} for the given names.
func threadsImage(t testing.TB, v Version, threads map[uint64]string, materialised bool) (*objImage, *Interpreter) {
	m := newObjImage(t, v)
	nameAttr := "_name"
	if v.Major == 2 {
		nameAttr = "_Thread__name"
	}
	var active []item
	for _, id := range slices.Sorted(maps.Keys(threads)) {
		th := m.instance([]item{
			{m.str("_target"), 0x10},
			{m.str(nameAttr), m.str(threads[id])},
		}, materialised)
		active = append(active, item{m.int(id), th})
	}
	mod := m.object(m.moduleType, 48, 0)
	m.put64(mod+16, m.dict([]item{
		{m.str("__name__"), m.str("threading")},
		{m.str("_active"), m.dict(active, false)},
	}, v.AtLeast(3, 11)))
	modules := m.dict([]item{
		{m.str("sys"), 0x20},
		{m.str("threadinX"), 0x30},
		{m.str("threading"), mod},
	}, v.AtLeast(3, 11))
	interp := m.alloc(m.l.Interp.Modules + 8)
	m.put64(interp+uint64(m.l.Interp.Modules), modules)
	in := newInterpreter(m.reader(), v, m.l)
	in.Head = interp
	return m, in
}

func TestThreadNamesImage(t *testing.T) {
	want := map[uint64]string{0x7f0000001000: "MainThread", 0x7f0000802000: "busy-worker", 3: "idle-worker"}
	for _, v := range imageVersions() {
		for _, materialised := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/dict=%v", v, materialised), func(t *testing.T) {
				_, in := threadsImage(t, v, want, materialised)
				got, err := in.ThreadNames()
				if err != nil {
					t.Fatal(err)
				}
				if !mapsEqual(got, want) {
					t.Errorf("ThreadNames = %v, want %v", got, want)
				}
				if len(in.namesFound) == 0 {
					t.Fatal("no key was remembered")
				}
				// A remembered place that no longer holds the key (the
				// table changed) falls back to a scan.
				for k, f := range in.namesFound {
					in.namesFound[k] = foundKey{ix: f.ix + 1, addr: f.addr + 8}
				}
				if got, err := in.ThreadNames(); err != nil || !mapsEqual(got, want) {
					t.Errorf("ThreadNames with stale places = %v, %v, want %v", got, err, want)
				}
				if got, err := in.ThreadNames(); err != nil || !mapsEqual(got, want) {
					t.Errorf("ThreadNames again = %v, %v, want %v", got, err, want)
				}
			})
		}
	}
}

func TestThreadNamesNoThreading(t *testing.T) {
	for _, v := range imageVersions() {
		t.Run(v.String(), func(t *testing.T) {
			m := newObjImage(t, v)
			modules := m.dict([]item{{m.str("sys"), 0x20}}, false)
			interp := m.alloc(m.l.Interp.Modules + 8)
			m.put64(interp+uint64(m.l.Interp.Modules), modules)
			in := newInterpreter(m.reader(), v, m.l)
			in.Head = interp
			got, err := in.ThreadNames()
			if err != nil || got == nil || len(got) != 0 {
				t.Errorf("ThreadNames = %v, %v; want an empty map", got, err)
			}
			// No sys.modules yet (interpreter starting).
			m.put64(interp+uint64(m.l.Interp.Modules), 0)
			if got, err := in.ThreadNames(); err != nil || len(got) != 0 {
				t.Errorf("no sys.modules: ThreadNames = %v, %v", got, err)
			}
		})
	}
}

// TestDictImageCorrupt checks that bad headers are errors naming the
// address, not panics or huge reads.
func TestDictImageCorrupt(t *testing.T) {
	for _, v := range imageVersions() {
		t.Run(v.String(), func(t *testing.T) {
			m := newObjImage(t, v)
			d := m.dict([]item{{m.str("a"), 1}}, false)
			o := newObjReader(m.reader(), v, m.l)
			keys := binary.LittleEndian.Uint64(m.data[d-m.base+uint64(m.l.Dict.Keys):])
			var field uint64
			var bad []uint64
			switch {
			case v.Major == 2:
				// ma_mask+1 not a power of two, too large, zero.
				field, bad = d+uint64(m.l.Dict.Mask), []uint64{6, 1 << 40, ^uint64(0)}
			case m.l.DictKeys.Size != Absent:
				field, bad = keys+uint64(m.l.DictKeys.Size), []uint64{7, 1 << 40, 0}
			default:
				// Log2Size, Log2IndexBytes, Kind as one little-endian word:
				// size 2^21; index bytes below the size; kind 3.
				field = keys + uint64(m.l.DictKeys.Log2Size)
				bad = []uint64{0x0015, 0x0305, 0x030303}
			}
			for _, b := range bad {
				m.put64(field, b)
				if _, _, err := o.dictGetStr(d, "a"); err == nil {
					t.Errorf("field at %#x = %#x: no error", field, b)
				}
			}
			if _, _, err := o.dictGetStr(0x10, "a"); !errors.Is(err, procmem.ErrFault) {
				t.Errorf("dict outside the image: %v, want ErrFault", err)
			}
		})
	}
}
