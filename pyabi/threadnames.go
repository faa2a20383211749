package pyabi

import (
	"fmt"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// ThreadNames maps thread_id (the pthread ident, Thread.ThreadID) to the
// Python thread name, threading.Thread.name, for every thread the threading
// module knows: sys.modules["threading"]._active, a dict {ident: Thread}
// (Lib/threading.py, 2.7 to 3.14), then each Thread's _name attribute
// (2.7: _Thread__name, the mangled self.__name).
//
// A process that has not imported threading, or is still starting up, gets
// an empty map and no error. Threads whose key is not an int or whose name
// is not a str are left out. On a read error the map is nil: the target
// changed under us or the memory is not what the layout says, and the
// caller may try again later. It reads a few hundred small objects, so call
// it when the thread list changes, not per sample.
func (in *Interpreter) ThreadNames() (map[uint64]string, error) {
	if err := in.objectLayoutKnown(); err != nil {
		return nil, fmt.Errorf("interpreter %#x: thread names: %w", in.Head, err)
	}
	hr := &headReader{r: in.r}
	o := newObjReader(hr, in.Version, in.Layout)
	// sys.modules and the threading module hold hundreds of keys: where
	// the last call found its keys is tried first.
	if in.namesFound == nil {
		in.namesFound = map[strKey]foundKey{}
	}
	o.found = in.namesFound
	names := map[uint64]string{}
	modules, err := procmem.Ptr(in.r, in.Head+uint64(in.Layout.Interp.Modules))
	if err != nil {
		return nil, fmt.Errorf("interpreter %#x: sys.modules: %w", in.Head, err)
	}
	if modules == 0 {
		return names, nil // before the import system is up
	}
	mod, ok, err := o.dictGetStr(modules, "threading")
	if err != nil {
		return nil, fmt.Errorf("interpreter %#x: sys.modules: %w", in.Head, err)
	}
	if !ok {
		return names, nil
	}
	active, ok, err := o.attr(mod, "_active")
	if err != nil {
		return nil, fmt.Errorf("threading module at %#x: %w", mod, err)
	}
	if !ok {
		return names, nil
	}
	nameAttr := "_name"
	if o.py2 {
		nameAttr = "_Thread__name"
	}
	// Count entries, not names: a torn table can repeat one entry many
	// times, and each costs a few reads.
	type item struct{ key, thread, id, name uint64 }
	var items []item
	err = o.eachItem(active, func(key, thread uint64) error {
		if len(items) >= MaxThreads {
			return fmt.Errorf("more than %d threads", MaxThreads)
		}
		items = append(items, item{key: key, thread: thread})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("threading._active at %#x: %w", active, err)
	}
	// Each level of pointers is read in one batch for all threads: the
	// keys and Thread objects (with the managed dict pointer before them),
	// then the names. What a batch misses is read one by one as before.
	l := in.Layout
	exts := make([]extent, 0, 2*len(items))
	for _, it := range items {
		exts = append(exts, headExtent(it.key, 0, l.Long.Digit+12, l.Long.Digit),
			headExtent(it.thread, int(o.dictSlot), 128, l.Object.Type+8))
	}
	hr.fill(exts)
	kept := items[:0]
	for _, it := range items {
		id, ok, err := o.intValue(it.key)
		if err != nil {
			return nil, fmt.Errorf("threading._active at %#x: %w", active, err)
		}
		if !ok {
			continue
		}
		name, ok, err := o.attr(it.thread, nameAttr)
		if err != nil {
			return nil, fmt.Errorf("threading._active at %#x: %w", active, wrapThread(it.thread, err))
		}
		if ok {
			it.id, it.name = id, name
			kept = append(kept, it)
		}
	}
	exts = exts[:0]
	for _, it := range kept {
		exts = append(exts, headExtent(it.name, 0, 128, max(l.Unicode.CompactData, l.Bytes.Data)))
	}
	hr.fill(exts)
	for _, it := range kept {
		if ok, err := o.isStr(it.name); err != nil || !ok {
			if err != nil {
				return nil, fmt.Errorf("threading._active at %#x: %w", active, wrapThread(it.thread, err))
			}
			continue
		}
		s, err := in.strs.Read(hr, it.name)
		if err != nil {
			return nil, fmt.Errorf("threading._active at %#x: %w", active, wrapThread(it.thread, err))
		}
		names[it.id] = s
	}
	return names, nil
}

// wrapThread names the Thread object an error came from; nil stays nil.
func wrapThread(thread uint64, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("thread object at %#x: name: %w", thread, err)
}

// objectLayoutKnown says whether the object reader can run on this
// interpreter: every offset it indexes its buffers with must be known, or
// each lookup would index them with Absent and panic. A layout that is only
// the debug offsets (a newer minor, a free-threaded build whose header
// shifts every object field) lacks some of them and is refused here.
func (in *Interpreter) objectLayoutKnown() error {
	if in.Version.Major == 2 {
		return nil // PyStringObject and the 2.7 dict: the static table has them all
	}
	l := in.Layout
	for _, f := range []struct {
		name string
		off  int
	}{
		{"PyTypeObject.tp_flags", l.Type.Flags}, {"PyTypeObject.tp_basicsize", l.Type.BasicSize},
		{"PyTypeObject.tp_dictoffset", l.Type.DictOffset}, {"PyDictObject.ma_keys", l.Dict.Keys},
		{"PyDictObject.ma_values", l.Dict.Values}, {"PyDictKeysObject.dk_nentries", l.DictKeys.NEntries},
		{"PyDictKeysObject.dk_indices", l.DictKeys.Indices}, {"PyLongObject digits", l.Long.Digit},
	} {
		if f.off == Absent {
			return fmt.Errorf("%s of %s is not known", f.name, in.Version)
		}
	}
	return nil
}
