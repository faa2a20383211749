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

// eachEntry calls fn with every live (key, value) of table k, in table
// order (insertion order from 3.6). values, if not 0, is a split table's
// values array: value i belongs to entry i. fn returns errStop to end the
// scan early; its other errors are returned as they are.
func (o *objReader) eachEntry(k keysTable, values uint64, fn func(key, value uint64) error) error {
	n := k.n
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
	chunk := min(n, dictChunk)
	// fn may scan another dict (an attribute of a value), so each scan
	// takes its own buffer from the free list and returns it after.
	buf := o.takeBuf(chunk * (k.size + 8))
	defer o.putBuf(buf)
	for start := 0; start < n; start += chunk {
		m := min(chunk, n-start)
		ents := buf[:m*k.size]
		at := k.entries + uint64(start*k.size)
		if err := procmem.ReadFull(o.r, ents, at); err != nil {
			return fmt.Errorf("dict entries at %#x: %w", at, err)
		}
		var vals []byte
		if values != 0 {
			vals = buf[chunk*k.size : chunk*k.size+m*8]
			at := values + uint64(start*8)
			if err := procmem.ReadFull(o.r, vals, at); err != nil {
				return fmt.Errorf("dict values at %#x: %w", at, err)
			}
		}
		for i := range m {
			e := ents[i*k.size:]
			key, value := le64(e[k.keyOff:]), le64(e[k.valOff:])
			if vals != nil {
				value = le64(vals[i*8:])
			}
			// Deleted entries have a NULL key (3.x) or value (2.7 dummy).
			if key == 0 || value == 0 {
				continue
			}
			if err := fn(key, value); err != nil {
				return err
			}
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
	if err := o.eachEntry(k, values, fn); err != nil && err != errStop {
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
	return o.lookupStr(k, values, key)
}

// lookupStr scans table k for the str key. Without the target's hash
// secret the probe sequence cannot be followed, so this compares keys in
// turn; strEquals reads only length-matching keys' data.
func (o *objReader) lookupStr(k keysTable, values uint64, key string) (uint64, bool, error) {
	var found uint64
	err := o.eachEntry(k, values, func(kaddr, v uint64) error {
		eq, err := o.strEquals(kaddr, key)
		if err != nil {
			return err
		}
		if eq {
			found = v
			return errStop
		}
		return nil
	})
	if err == errStop {
		return found, true, nil
	}
	return 0, false, err
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
