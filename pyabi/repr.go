package pyabi

import (
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// objKind is what the repr code knows how to show.
type objKind uint8

const (
	kindOther objKind = iota
	kindNone
	kindBool
	kindInt
	kindInt27 // 2.7's PyIntObject
	kindFloat
	kindStr   // 3.x str
	kindStr27 // 2.7 str: bytes
	kindBytes
	kindTuple
	kindList
	kindDict
	kindSet
	kindFrozenSet
	kindCell
	kindMethod
	kindCFunction
	kindModule
	kindLock
	kindRLock
)

// typeDesc is what the inspector knows of one type object.
type typeDesc struct {
	name string
	kind objKind
	heap bool
}

// kindOf classifies a type by name. Only static (non-heap) types are taken
// for the builtins, so a Python subclass of int shows as an instance; the
// thread module's types became heap types in 3.12 (PyType_FromSpec) and
// are recognised either way.
func kindOf(name string, heap, py2 bool) objKind {
	switch name {
	case "_thread.lock", "thread.lock":
		return kindLock
	case "_thread.RLock":
		return kindRLock
	}
	if heap {
		return kindOther
	}
	switch name {
	case "NoneType":
		return kindNone
	case "bool":
		return kindBool
	case "int":
		if py2 {
			return kindInt27
		}
		return kindInt
	case "long":
		return kindInt
	case "float":
		return kindFloat
	case "str":
		if py2 {
			return kindStr27
		}
		return kindStr
	case "bytes":
		return kindBytes
	case "tuple":
		return kindTuple
	case "list":
		return kindList
	case "dict":
		return kindDict
	case "set":
		return kindSet
	case "frozenset":
		return kindFrozenSet
	case "cell":
		return kindCell
	case "method", "instancemethod":
		return kindMethod
	case "builtin_function_or_method":
		return kindCFunction
	case "module":
		return kindModule
	}
	return kindOther
}

// Limits bound one repr: items shown per container, nesting depth,
// characters of a str or bytes, the whole repr's length, and the objects
// read for it.
type Limits struct {
	Items, Depth, Str, Total, Objects int
}

// ReprDefault is dump --locals; ReprAll is --locals-all: the item limits
// lifted, within hard bounds that keep one repr readable in memory.
var (
	ReprDefault = Limits{Items: 8, Depth: 2, Str: 64, Total: 200, Objects: 100}
	ReprAll     = Limits{Items: 1000, Depth: 8, Str: 4096, Total: 64 << 10, Objects: 20000}
)

// maxIntDigits bounds the int digits decoded (30 bits each): ~900 decimal
// digits. Bigger ints are shown by size.
const maxIntDigits = 100

// Repr returns a short, bounded repr of the object at addr, read without
// running any code in the target. A part that cannot be read shows as
// <unreadable ...>; the repr never fails as a whole.
func (x *Inspector) Repr(addr uint64, lim Limits) string {
	r := reprState{x: x, lim: lim}
	r.obj(addr, 0)
	s := r.b.String()
	if len(s) > lim.Total {
		cut := lim.Total
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

type reprState struct {
	x     *Inspector
	lim   Limits
	b     strings.Builder
	reads int
}

func (r *reprState) full() bool { return r.b.Len() > r.lim.Total || r.reads > r.lim.Objects }

func (r *reprState) obj(addr uint64, depth int) {
	if r.full() {
		r.b.WriteString("...")
		return
	}
	r.reads++
	if addr == 0 {
		r.b.WriteString("<NULL>")
		return
	}
	d, err := r.x.typeDesc(addr)
	if err != nil {
		fmt.Fprintf(&r.b, "<unreadable object at %#x>", addr)
		return
	}
	if err := r.value(addr, d, depth); err != nil {
		fmt.Fprintf(&r.b, "<%s object at %#x, unreadable>", d.name, addr)
	}
}

func (r *reprState) value(addr uint64, d *typeDesc, depth int) error {
	x, l := r.x, r.x.in.Layout
	switch d.kind {
	case kindNone:
		r.b.WriteString("None")
	case kindBool:
		v, err := x.intString(addr, d.kind)
		if err != nil {
			return err
		}
		r.b.WriteString(map[bool]string{true: "True", false: "False"}[v != "0"])
	case kindInt, kindInt27:
		v, err := x.intString(addr, d.kind)
		if err != nil {
			return err
		}
		r.b.WriteString(v)
	case kindFloat:
		bits, err := procmem.U64(x.in.r, addr+uint64(l.Float.Value))
		if err != nil {
			return err
		}
		r.b.WriteString(pyFloat(math.Float64frombits(bits)))
	case kindStr:
		s, n, err := x.strPrefix(addr, r.lim.Str)
		if err != nil {
			return err
		}
		r.b.WriteString(pyQuote(s, n > len([]rune(s)), quoteStr))
	case kindStr27, kindBytes:
		s, n, err := x.bytesPrefix(addr, r.lim.Str)
		if err != nil {
			return err
		}
		q := quoteBytes
		if d.kind == kindStr27 {
			q = quoteStr27
		}
		r.b.WriteString(pyQuote(s, n > len(s), q))
	case kindTuple, kindList:
		if depth >= r.lim.Depth {
			fmt.Fprintf(&r.b, "<%s of %d>", d.name, x.lenOf(addr))
			return nil
		}
		items, n, err := x.seqItems(addr, r.lim.Items)
		if err != nil {
			return err
		}
		open, close := "[", "]"
		if d.kind == kindTuple {
			open, close = "(", ")"
		}
		r.b.WriteString(open)
		for i, it := range items {
			if i > 0 {
				r.b.WriteString(", ")
			}
			r.obj(it, depth+1)
		}
		if d.kind == kindTuple && n == 1 {
			r.b.WriteString(",")
		}
		r.more(len(items), n)
		r.b.WriteString(close)
	case kindDict:
		return r.dict(addr, depth)
	case kindSet, kindFrozenSet:
		return r.set(addr, d, depth)
	case kindModule:
		name, ok, err := x.Attr(addr, "__name__")
		if err == nil && ok {
			if s, _, err := x.strPrefix(name, maxTypeName); err == nil {
				fmt.Fprintf(&r.b, "<module '%s'>", s)
				return nil
			}
		}
		fmt.Fprintf(&r.b, "<module at %#x>", addr)
	case kindLock, kindRLock:
		li, err := x.Lock(addr)
		if err != nil {
			return err
		}
		state := "unlocked"
		if li.Locked {
			state = "locked"
		}
		fmt.Fprintf(&r.b, "<%s %s object", state, d.name)
		if d.kind == kindRLock && li.Locked {
			fmt.Fprintf(&r.b, " owner=%d count=%d", li.Owner, li.Count)
		}
		fmt.Fprintf(&r.b, " at %#x>", addr)
	default:
		name, err := x.TypeName(addr)
		if err != nil {
			return err
		}
		fmt.Fprintf(&r.b, "<%s object at %#x>", name, addr)
	}
	return nil
}

// more notes items left out of a container: ", ... (1000 items)".
func (r *reprState) more(shown, n int) {
	if shown < n {
		if shown > 0 {
			r.b.WriteString(", ")
		}
		fmt.Fprintf(&r.b, "... (%d items)", n)
	}
}

func (r *reprState) dict(addr uint64, depth int) error {
	x := r.x
	n := x.lenOf(addr)
	if depth >= r.lim.Depth {
		fmt.Fprintf(&r.b, "<dict of %d>", n)
		return nil
	}
	r.b.WriteString("{")
	shown := 0
	err := x.o.eachItem(addr, func(k, v uint64) error {
		if shown >= r.lim.Items || r.full() {
			return errStop
		}
		if shown > 0 {
			r.b.WriteString(", ")
		}
		r.obj(k, depth+1)
		r.b.WriteString(": ")
		r.obj(v, depth+1)
		shown++
		return nil
	})
	if err != nil {
		return err
	}
	r.more(shown, n)
	r.b.WriteString("}")
	return nil
}

func (r *reprState) set(addr uint64, d *typeDesc, depth int) error {
	x, s := r.x, r.x.in.Layout.Set
	h, err := x.o.header(addr, maxOffset(s.Used, s.Mask, s.Table)+8, "set")
	if err != nil {
		return err
	}
	used, mask, table := int64(le64(h[s.Used:])), int64(le64(h[s.Mask:])), le64(h[s.Table:])
	if used < 0 || used > maxContainer || mask < 0 || mask >= maxSetTable || used > mask+1 {
		return fmt.Errorf("set at %#x: used %d, mask %d", addr, used, mask)
	}
	if depth >= r.lim.Depth {
		fmt.Fprintf(&r.b, "<%s of %d>", d.name, used)
		return nil
	}
	if used == 0 {
		r.b.WriteString(d.name + "()")
		return nil
	}
	r.b.WriteString("{")
	shown := 0
	// setentry {key, hash} (2.7: {hash, key}); free slots have a NULL
	// key, deleted ones the dummy key with hash -1 (Include/setobject.h).
	keyOff, hashOff := int64(0), int64(8)
	if x.o.py2 {
		keyOff, hashOff = 8, 0
	}
	const chunk = 256
	buf := make([]byte, chunk*16)
	for start := int64(0); start <= mask && shown < r.lim.Items && !r.full(); start += chunk {
		m := min(chunk, mask+1-start)
		if err := procmem.ReadFull(x.in.r, buf[:m*16], table+uint64(start*16)); err != nil {
			return err
		}
		for i := range m {
			key, hash := le64(buf[i*16+keyOff:]), int64(le64(buf[i*16+hashOff:]))
			if key == 0 || hash == -1 || shown >= r.lim.Items {
				continue
			}
			if shown > 0 {
				r.b.WriteString(", ")
			}
			r.obj(key, depth+1)
			shown++
		}
	}
	r.more(shown, int(used))
	r.b.WriteString("}")
	return nil
}

// lenOf is the item count of a tuple, list or dict, -1 if unreadable.
func (x *Inspector) lenOf(addr uint64) int {
	d, err := x.typeDesc(addr)
	if err != nil {
		return -1
	}
	off := x.in.Layout.VarObject.Size
	if d.kind == kindDict {
		off = x.in.Layout.Dict.Used
	}
	v, err := procmem.U64(x.in.r, addr+uint64(off))
	if err != nil || int64(v) < 0 || int64(v) > maxContainer {
		return -1
	}
	return int(v)
}

// intString decodes an int (2.7: int or long, bool) in decimal; ints of
// more than maxIntDigits digits are shown by their size.
func (x *Inspector) intString(addr uint64, kind objKind) (string, error) {
	lo := x.in.Layout.Long
	if kind == kindInt27 || (kind == kindBool && x.o.py2) {
		v, err := procmem.U64(x.in.r, addr+uint64(lo.IVal))
		return strconv.FormatInt(int64(v), 10), err
	}
	size, err := procmem.U64(x.in.r, addr+uint64(lo.Size))
	if err != nil {
		return "", err
	}
	var ndigits uint64
	negative := false
	if x.o.lvTag {
		// lv_tag: digits << 3 | sign (0 positive, 1 zero, 2 negative),
		// Include/cpython/longintrepr.h v3.12.0.
		ndigits, negative = size>>3, size&3 == 2
		if size&3 == 1 {
			return "0", nil
		}
	} else {
		s := int64(size)
		if negative = s < 0; negative {
			s = -s
		}
		ndigits = uint64(s)
	}
	if ndigits > maxIntDigits {
		// Too long to show (Python itself refuses to print an int of more
		// than 4300 digits): its exact size in bits, from the top digit.
		if ndigits > 1<<40 {
			return "", fmt.Errorf("int at %#x: %d digits", addr, ndigits)
		}
		top, err := procmem.U32(x.in.r, addr+uint64(lo.Digit)+(ndigits-1)*4)
		if err != nil || top == 0 || top>>longShift != 0 {
			return "", fmt.Errorf("int at %#x: top digit not canonical", addr)
		}
		return fmt.Sprintf("<int of %d bits>", (ndigits-1)*longShift+uint64(bits.Len32(top))), nil
	}
	raw := make([]byte, ndigits*4)
	if err := procmem.ReadFull(x.in.r, raw, addr+uint64(lo.Digit)); err != nil {
		return "", err
	}
	v := new(big.Int)
	for i := int(ndigits) - 1; i >= 0; i-- {
		d := le32(raw[i*4:])
		if d>>longShift != 0 {
			return "", fmt.Errorf("int at %#x: digit %d not canonical", addr, i)
		}
		v.Lsh(v, longShift).Or(v, big.NewInt(int64(d)))
	}
	if negative {
		v.Neg(v)
	}
	return v.String(), nil
}

// strPrefix reads at most max code points of a 3.x str and its length.
func (x *Inspector) strPrefix(addr uint64, max int) (string, int, error) {
	u := x.in.Layout.Unicode
	h, err := x.o.header(addr, u.CompactData, "str")
	if err != nil {
		return "", 0, err
	}
	n := int64(le64(h[u.Length:]))
	state := le32(h[u.State:])
	kind := int(state>>x.o.kindShift) & 7
	compact := state>>(x.o.kindShift+3)&1 == 1
	ascii := state>>(x.o.kindShift+4)&1 == 1
	if !compact || n < 0 || n > 1<<40 {
		return "", 0, fmt.Errorf("str at %#x: not a compact str", addr)
	}
	data := uint64(u.CompactData)
	if ascii {
		data, kind = uint64(u.ASCIIData), 1
	}
	if kind != 1 && kind != 2 && kind != 4 {
		return "", 0, fmt.Errorf("str at %#x: bad kind %d", addr, kind)
	}
	m := min(int(n), max)
	raw := make([]byte, m*kind)
	if err := procmem.ReadFull(x.in.r, raw, addr+data); err != nil {
		return "", 0, err
	}
	return decodeKind(raw, kind, ascii), int(n), nil
}

// bytesPrefix reads at most max bytes of a bytes (2.7: str) object.
func (x *Inspector) bytesPrefix(addr uint64, max int) (string, int, error) {
	b := x.in.Layout.Bytes
	size, err := procmem.U64(x.in.r, addr+uint64(b.Size))
	if err != nil {
		return "", 0, err
	}
	n := int64(size)
	if n < 0 || n > 1<<40 {
		return "", 0, fmt.Errorf("bytes at %#x: size %d", addr, n)
	}
	raw := make([]byte, min(int(n), max))
	if err := procmem.ReadFull(x.in.r, raw, addr+uint64(b.Data)); err != nil {
		return "", 0, err
	}
	return string(raw), int(n), nil
}

// quoteKind is what pyQuote quotes.
type quoteKind uint8

const (
	quoteStr   quoteKind = iota // 3.x str: printable Unicode kept
	quoteBytes                  // bytes: b'...', every non-ASCII byte escaped
	quoteStr27                  // 2.7 str: bytes without the b
)

// pyQuote quotes s as Python's repr would (single quotes unless s holds
// one and no double quote), escaping what is not printable; bytes escape
// every non-ASCII byte. truncated adds "..." inside the quotes.
func pyQuote(s string, truncated bool, kind quoteKind) string {
	isBytes := kind != quoteStr
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	var b strings.Builder
	if kind == quoteBytes {
		b.WriteByte('b')
	}
	b.WriteByte(q)
	esc := func(c rune) {
		switch c {
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			switch {
			case c < 0x100:
				fmt.Fprintf(&b, `\x%02x`, c)
			case c < 0x10000:
				fmt.Fprintf(&b, `\u%04x`, c)
			default:
				fmt.Fprintf(&b, `\U%08x`, c)
			}
		}
	}
	if isBytes {
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case c == q:
				b.WriteByte('\\')
				b.WriteByte(c)
			case c >= 0x20 && c < 0x7f && c != '\\':
				b.WriteByte(c)
			default:
				esc(rune(c))
			}
		}
	} else {
		for _, c := range s {
			switch {
			case c == rune(q):
				b.WriteByte('\\')
				b.WriteByte(q)
			case c == '\\' || !unicode.IsPrint(c) || c == utf8.RuneError:
				esc(c)
			default:
				b.WriteRune(c)
			}
		}
	}
	if truncated {
		b.WriteString("...")
	}
	b.WriteByte(q)
	return b.String()
}

// pyFloat formats f as Python's repr does: the shortest digits that read
// back the same, in exponent form below 1e-4 and from 1e16.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if f != 0 && (exp < -4 || exp >= 16) {
		return e
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// LockInfo is the state of a _thread.lock or _thread.RLock.
type LockInfo struct {
	RLock  bool
	Locked bool
	Owner  uint64 // RLock: the owning thread's ident (threading.get_ident())
	Count  uint64 // RLock: recursion count
	// Sem is the address of the sem_t a waiter's futex sleeps on (the
	// PyThread_type_lock, <=3.12 and 3.13's RLock); Mutex the address of
	// a 3.13+ PyMutex, which waiters park on instead. 0 when not used.
	Sem, Mutex uint64
}

// Lock reads a lock object. Their structs are private to
// Modules/_threadmodule.c (threadmodule.c in 2.7), so the offsets are
// from there: every version starts with PyObject_HEAD (16 bytes) and then
//
//	lock  2.7-3.13.x: PyThread_type_lock lock_lock; in_weakreflist; char locked (3.x)
//	lock  later 3.13.x, 3.14: PyMutex lock (a byte, bit 0 set while locked)
//	RLock 3.x-3.13:   PyThread_type_lock rlock_lock; unsigned long rlock_owner, rlock_count
//	RLock 3.14:       _PyRecursiveMutex {PyMutex mutex; unsigned long long thread; size_t level}
//
// The lock changed within 3.13's patch releases (3.13.0 has lock_lock,
// 3.13.15 the PyMutex), so its form is told by its size: 24 bytes for a
// PyMutex, 32 (2.7, no locked byte) or 40 otherwise. 2.7's
// threading.RLock is Python code, not this type.
func (x *Inspector) Lock(obj uint64) (LockInfo, error) {
	d, err := x.typeDesc(obj)
	if err != nil {
		return LockInfo{}, err
	}
	if d.kind != kindLock && d.kind != kindRLock {
		return LockInfo{}, fmt.Errorf("object at %#x is a %s, not a lock", obj, d.name)
	}
	_, ti, err := x.o.typeOf(obj)
	if err != nil {
		return LockInfo{}, err
	}
	h, err := x.o.header(obj, 40, "lock")
	if err != nil {
		return LockInfo{}, err
	}
	li := LockInfo{RLock: d.kind == kindRLock}
	switch {
	case li.RLock && x.in.Version.AtLeast(3, 14):
		li.Mutex, li.Owner, li.Count = obj+16, le64(h[24:]), le64(h[32:])
		li.Locked = h[16]&1 != 0
	case li.RLock:
		li.Sem, li.Owner, li.Count = le64(h[16:]), le64(h[24:]), le64(h[32:])
		li.Locked = li.Count > 0
	case ti.basicSize == 24:
		li.Mutex, li.Locked = obj+16, h[16]&1 != 0
	case ti.basicSize == 32:
		// 2.7: no locked byte; a waiter proves it locked.
		li.Sem, li.Locked = le64(h[16:]), true
	case ti.basicSize >= 33:
		li.Sem, li.Locked = le64(h[16:]), h[32] != 0
	default:
		return LockInfo{}, fmt.Errorf("lock at %#x: unknown layout of %d bytes", obj, ti.basicSize)
	}
	return li, nil
}

// LockFromParked returns the lock a 3.13+ thread parked on futex address
// futex waits for. Such a thread sleeps on the semaphore of a struct
// wait_entry on its own stack, {void *park_arg; uintptr_t addr;
// _PySemaphore sema; ...} (Python/parking_lot.c v3.13.0), whose addr is the
// PyMutex, 16 bytes into the lock object.
func (x *Inspector) LockFromParked(futex uint64) (uint64, bool) {
	if !x.in.Version.AtLeast(3, 13) || futex < 16 {
		return 0, false
	}
	addr, err := procmem.Ptr(x.in.r, futex-8)
	if err != nil || addr < 16 {
		return 0, false
	}
	obj := addr - 16
	if li, err := x.Lock(obj); err != nil || li.Mutex != addr {
		return 0, false
	}
	return obj, true
}

// BoundSelf returns the object a bound method is bound to (a method's
// __self__, a C method's m_self), or 0 when obj is not a bound method.
func (x *Inspector) BoundSelf(obj uint64) uint64 {
	d, err := x.typeDesc(obj)
	if err != nil {
		return 0
	}
	off := Absent
	switch d.kind {
	case kindMethod:
		off = x.in.Layout.Method.Self
	case kindCFunction:
		off = x.in.Layout.CFunction.Self
	}
	if off == Absent {
		return 0
	}
	self, err := procmem.Ptr(x.in.r, obj+uint64(off))
	if err != nil {
		return 0
	}
	return self
}

// IsLock reports whether obj is a _thread.lock or _thread.RLock.
func (x *Inspector) IsLock(obj uint64) bool {
	d, err := x.typeDesc(obj)
	return err == nil && (d.kind == kindLock || d.kind == kindRLock)
}

// Int returns the value of an int object that fits in 64 bits (a thread
// ident), as the thread-name reader decodes it.
func (x *Inspector) Int(obj uint64) (uint64, bool) {
	v, ok, err := x.o.intValue(obj)
	return v, ok && err == nil
}
