package pyabi

import (
	"errors"
	"fmt"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// MaxDictSize bounds the hash table of any dict read from the target (slots
// in 2.7, dk_size in 3.x): sys.modules of a large application has a few
// thousand entries; a million means a torn read or garbage.
const MaxDictSize = 1 << 20

// dictChunk is how many entries are read per system call while scanning,
// so a garbage entry count costs one failed read, not a huge allocation.
const dictChunk = 256

// errStop ends a dict scan early without an error.
var errStop = errors.New("stop")

// dictFamily is how a version lays out PyDictObject and its keys.
type dictFamily uint8

const (
	// dictOpen27: 2.7's open-addressing table, ma_mask+1 slots of
	// {me_hash, me_key, me_value} at ma_table (Include/dictobject.h v2.7.18).
	dictOpen27 dictFamily = iota
	// dictCompact36: 3.6-3.10 compact dicts: dk_size index slots of 1, 2,
	// 4 or 8 bytes (by dk_size), then {me_hash, me_key, me_value} entries
	// in insertion order (DK_IXSIZE, DK_ENTRIES in Objects/dictobject.c
	// v3.6.0 and Objects/dict-common.h v3.7.0-v3.10.0).
	dictCompact36
	// dictCompact311: 3.11+ keys with dk_log2_size and dk_log2_index_bytes;
	// entries are {me_hash, me_key, me_value} for DICT_KEYS_GENERAL and
	// {me_key, me_value} for DICT_KEYS_UNICODE and DICT_KEYS_SPLIT
	// (DK_ENTRIES, DK_UNICODE_ENTRIES in Include/internal/pycore_dict.h
	// v3.11.0).
	dictCompact311
)

// dk_kind values (enum dictkeyskind, pycore_dict.h v3.11.0 to v3.14.0).
const (
	dictKeysGeneral = 0
	dictKeysUnicode = 1
	dictKeysSplit   = 2
)

// keysTable is where a dict's entries are and how one entry is laid out.
type keysTable struct {
	addr    uint64 // the PyDictKeysObject (2.7: the dict itself)
	entries uint64 // entry 0
	n       int    // entries to scan: dk_nentries, or 2.7's slot count
	size    int    // bytes per entry
	keyOff  int    // me_key within an entry
	valOff  int    // me_value within an entry
}

// Entry layouts: PyDictKeyEntry {me_hash, me_key, me_value} in every
// version, and 3.11+'s PyDictUnicodeEntry {me_key, me_value}.
var (
	hashedEntry  = keysTable{size: 24, keyOff: 8, valOff: 16}
	unicodeEntry = keysTable{size: 16, keyOff: 0, valOff: 8}
)

// readDict returns the table of the dict at addr and its split-table
// values array (0 for a combined table, and always for 2.7).
func (o *objReader) readDict(addr uint64) (keysTable, uint64, error) {
	d := o.l.Dict
	if o.dicts == dictOpen27 {
		h, err := o.header(addr, maxOffset(d.Mask, d.Table)+8, "dict")
		if err != nil {
			return keysTable{}, 0, err
		}
		slots := le64(h[d.Mask:]) + 1
		if slots == 0 || slots > MaxDictSize || slots&(slots-1) != 0 {
			return keysTable{}, 0, fmt.Errorf("dict at %#x: ma_mask %#x is not a table size", addr, slots-1)
		}
		k := hashedEntry
		k.addr, k.entries, k.n = addr, le64(h[d.Table:]), int(slots)
		return k, 0, nil
	}
	h, err := o.header(addr, maxOffset(d.Keys, d.Values)+8, "dict")
	if err != nil {
		return keysTable{}, 0, err
	}
	keys, values := le64(h[d.Keys:]), le64(h[d.Values:])
	k, err := o.readKeys(keys)
	if err != nil {
		return keysTable{}, 0, fmt.Errorf("dict at %#x: %w", addr, err)
	}
	return k, values, nil
}

// readKeys decodes the header of a PyDictKeysObject (3.6+).
func (o *objReader) readKeys(addr uint64) (keysTable, error) {
	dk := o.l.DictKeys
	h, err := o.header(addr, dk.Indices, "dict keys")
	if err != nil {
		return keysTable{}, err
	}
	nentries := int64(le64(h[dk.NEntries:]))
	var size, ixBytes uint64
	k := hashedEntry
	if o.dicts == dictCompact36 {
		size = le64(h[dk.Size:])
		// DK_IXSIZE: the narrowest signed index that holds every slot.
		switch {
		case size <= 0xff:
			ixBytes = 1
		case size <= 0xffff:
			ixBytes = 2
		default:
			ixBytes = 4
		}
	} else {
		log2, log2ix, kind := uint64(h[dk.Log2Size]), uint64(h[dk.Log2IndexBytes]), h[dk.Kind]
		if log2 > 20 || log2ix < log2 || log2ix > log2+3 {
			return keysTable{}, fmt.Errorf("dict keys at %#x: dk_log2_size %d, dk_log2_index_bytes %d out of range", addr, log2, log2ix)
		}
		size, ixBytes = 1<<log2, (uint64(1)<<log2ix)>>log2
		switch kind {
		case dictKeysGeneral:
		case dictKeysUnicode, dictKeysSplit:
			k = unicodeEntry
		default:
			return keysTable{}, fmt.Errorf("dict keys at %#x: dk_kind %d unknown", addr, kind)
		}
	}
	if size == 0 || size > MaxDictSize || size&(size-1) != 0 {
		return keysTable{}, fmt.Errorf("dict keys at %#x: dk_size %d is not a table size", addr, size)
	}
	if nentries < 0 || uint64(nentries) > size {
		return keysTable{}, fmt.Errorf("dict keys at %#x: dk_nentries %d out of range for size %d", addr, nentries, size)
	}
	k.addr, k.n = addr, int(nentries)
	k.entries = addr + uint64(dk.Indices) + size*ixBytes
	return k, nil
}

// entryChunk is one chunk of a table's live entries: entry ix[i] has key
// keys[i] and value vals[i].
type entryChunk struct {
	ix         []int
	keys, vals []uint64
}

// eachEntry calls fn with the live entries of table k, in table order
// (insertion order from 3.6), one chunk at a time. values, if not 0, is a
// split table's values array: value i belongs to entry i. keysOnly keeps
// entries without a value, for scanning shared keys by themselves. fn
// returns errStop to end the scan early; its other errors are returned as
// they are. The chunk is reused after fn returns.
func (o *objReader) eachEntry(k keysTable, values uint64, keysOnly bool, fn func(c *entryChunk) error) error {
	return o.entriesFrom(k, values, keysOnly, 0, k.n, fn)
}

// entriesFrom is eachEntry over entries [from, to) only.
func (o *objReader) entriesFrom(k keysTable, values uint64, keysOnly bool, from, to int, fn func(c *entryChunk) error) error {
	n := min(to, k.n)
	if values != 0 && o.valuesHdr != 0 {
		// 3.13+: the header's first byte is the values' capacity; entries
		// past it (added to the shared keys later) have no value here.
		h, err := o.header(values, 1, "dict values")
		if err != nil {
			return err
		}
		n = min(n, int(h[0]))
		values += o.valuesHdr
	}
	if from >= n {
		return nil
	}
	chunk := min(n-from, dictChunk)
	// fn may scan another dict (an attribute of a value), so each scan
	// takes its own buffer from the free list and returns it after.
	buf := o.takeBuf(chunk * (k.size + 8))
	defer o.putBuf(buf)
	c := &entryChunk{ix: make([]int, 0, chunk), keys: make([]uint64, 0, chunk), vals: make([]uint64, 0, chunk)}
	for start := from; start < n; start += chunk {
		m := min(chunk, n-start)
		ents := buf[:m*k.size]
		at := k.entries + uint64(start*k.size)
		if err := procmem.ReadFull(o.r, ents, at); err != nil {
			return fmt.Errorf("dict entries at %#x: %w", at, err)
		}
		var split []byte
		if values != 0 {
			split = buf[chunk*k.size : chunk*k.size+m*8]
			at := values + uint64(start*8)
			if err := procmem.ReadFull(o.r, split, at); err != nil {
				return fmt.Errorf("dict values at %#x: %w", at, err)
			}
		}
		c.ix, c.keys, c.vals = c.ix[:0], c.keys[:0], c.vals[:0]
		for i := range m {
			e := ents[i*k.size:]
			key, value := le64(e[k.keyOff:]), le64(e[k.valOff:])
			if split != nil {
				value = le64(split[i*8:])
			}
			// Deleted entries have a NULL key (3.x) or value (2.7 dummy).
			if key == 0 || value == 0 && !keysOnly {
				continue
			}
			c.ix, c.keys, c.vals = append(c.ix, start+i), append(c.keys, key), append(c.vals, value)
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

// eachItem calls fn with every live item of the dict at addr.
func (o *objReader) eachItem(addr uint64, fn func(key, value uint64) error) error {
	k, values, err := o.readDict(addr)
	if err != nil {
		return err
	}
	err = o.eachEntry(k, values, false, func(c *entryChunk) error {
		for i, key := range c.keys {
			if err := fn(key, c.vals[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && err != errStop {
		return err
	}
	return nil
}

// dictGetStr returns dict[key] for an ASCII str key.
func (o *objReader) dictGetStr(addr uint64, key string) (uint64, bool, error) {
	k, values, err := o.readDict(addr)
	if err != nil {
		return 0, false, err
	}
	_, v, err := o.findStr(k, values, false, key)
	return v, v != 0, err
}

// findStr scans table k for the str key and returns its entry index and
// value; ix is -1 when the key is absent (and value is then 0). Without
// the target's hash secret the probe sequence cannot be followed, so this
// compares keys in turn, fetching each chunk's key headers in one batch
// where the reader can; only length-matching keys cost a further read.
func (o *objReader) findStr(k keysTable, values uint64, keysOnly bool, key string) (ix int, value uint64, err error) {
	if ix, value, ok := o.remembered(k, values, keysOnly, key); ok {
		return ix, value, nil
	}
	ix = -1
	var kaddr uint64
	err = o.eachEntry(k, values, keysOnly, func(c *entryChunk) error {
		o.prefetchStrs(c.keys, key)
		defer clear(o.strHdrs)
		for i, a := range c.keys {
			eq, err := o.strEquals(a, key)
			if err != nil {
				return err
			}
			if eq {
				ix, value, kaddr = c.ix[i], c.vals[i], a
				return errStop
			}
		}
		return nil
	})
	if err == errStop {
		err = nil
	}
	if err != nil {
		return -1, 0, err
	}
	if ix >= 0 && o.found != nil {
		if len(o.found) >= maxFound {
			clear(o.found)
		}
		o.found[strKey{k.addr, key}] = foundKey{ix, kaddr}
	}
	return ix, value, nil
}

// foundKey is where findStr last found a key in a table: its entry index
// and the key object.
type foundKey struct {
	ix   int
	addr uint64
}

// maxFound bounds objReader.found: a table per thread object at most.
const maxFound = 4 * MaxThreads

// remembered looks key up at the entry where it was found last time in
// table k (objReader.found): a table rarely moves its entries, and the
// same key object at that entry, still equal to key, is the key (dict
// keys are unique), so one entry and one str are read instead of the
// whole table.
func (o *objReader) remembered(k keysTable, values uint64, keysOnly bool, key string) (ix int, value uint64, ok bool) {
	f, known := o.found[strKey{k.addr, key}]
	if !known {
		return 0, 0, false
	}
	err := o.entriesFrom(k, values, keysOnly, f.ix, f.ix+1, func(c *entryChunk) error {
		if len(c.keys) == 1 && c.keys[0] == f.addr {
			value, ok = c.vals[0], true
		}
		return nil
	})
	if err != nil || !ok {
		return 0, 0, false
	}
	if eq, err := o.compareStr(f.addr, key); err != nil || !eq {
		return 0, 0, false
	}
	return f.ix, value, true
}

// prefetchStrs reads the start of each key not yet compared with want in
// one batch into o.strHdrs. It is only an optimisation: when the reader
// cannot batch or one span fails, nothing is kept and strEquals reads each
// key itself, reporting the failing address.
func (o *objReader) prefetchStrs(keys []uint64, want string) {
	br, ok := o.r.(procmem.BatchReader)
	if !ok || len(keys) < 2 {
		return
	}
	// The header and the bytes a matching key would hold: most keys are
	// then decided without another read. A key shorter than want near
	// the end of a mapping fails the batch; strEquals then reads alone.
	n := o.strHeaderSize() + len(want)
	if !o.py2 {
		n = max(n, o.l.Unicode.ASCIIData+len(want))
	} else {
		n = max(n, o.l.Bytes.Data+len(want))
	}
	o.spans = o.spans[:0]
	for _, a := range keys {
		if _, done := o.strEq[strKey{a, want}]; !done && a != 0 {
			o.spans = append(o.spans, procmem.Span{Addr: a})
		}
	}
	if need := len(o.spans) * n; cap(o.slab) < need {
		o.slab = make([]byte, need)
	}
	for i := range o.spans {
		o.spans[i].Buf = o.slab[i*n : (i+1)*n]
	}
	if br.ReadBatch(o.spans) != nil {
		return
	}
	for _, s := range o.spans {
		o.strHdrs[s.Addr] = s.Buf
	}
}

func (o *objReader) takeBuf(n int) []byte {
	if last := len(o.bufs) - 1; last >= 0 && cap(o.bufs[last]) >= n {
		b := o.bufs[last]
		o.bufs = o.bufs[:last]
		return b[:n]
	}
	return make([]byte, n)
}

func (o *objReader) putBuf(b []byte) { o.bufs = append(o.bufs, b) }
