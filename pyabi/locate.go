package pyabi

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/pyspyglass/pyspyglass/procmem"
)

// ELF is what Locate needs of a binary file: link-time symbol and section
// addresses and section contents. *procmem.Binary implements it.
type ELF interface {
	Symbol(name string) (uint64, bool)
	Section(name string) (addr, size uint64, ok bool)
	SectionData(name string) ([]byte, error)
}

// Image is one ELF file mapped into the target: the executable or a
// shared library. Bias is added to link-time addresses.
type Image struct {
	Path string // as the target maps it
	File ELF
	Bias uint64
}

// ErrNotPython says no image looked like a CPython interpreter.
var ErrNotPython = errors.New("not a python process")

// ErrNotReady says the process has a CPython runtime whose interpreter is
// not initialised yet (or is already finalised); try again later.
var ErrNotReady = errors.New("python interpreter not initialised")

// Locate finds the interpreter in a process from its mapped images, each
// read afresh (LocateMapped reuses what is known of a build). The images
// are tried in order; put libpython before the executable. log receives
// each discovery step at debug level so a failure can be traced.
func Locate(r procmem.Reader, images []Image, log *slog.Logger) (*Interpreter, error) {
	mapped := make([]Mapped, len(images))
	for i, im := range images {
		mapped[i] = Mapped{Binary: newBinary(im.Path, im.File), Bias: im.Bias}
	}
	return LocateMapped(r, mapped, log)
}

// LocateMapped finds the interpreter in a process that maps the given
// binaries, tried in order (libpython before the executable). A binary
// identified by an earlier process is not identified again: finding the
// interpreter then takes a few reads.
func LocateMapped(r procmem.Reader, images []Mapped, log *slog.Logger) (*Interpreter, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var why []string
	for _, im := range images {
		in, err := locateIn(r, im, log)
		if err == nil {
			return in, nil
		}
		var unsup *UnsupportedVersionError
		if errors.As(err, &unsup) || errors.Is(err, ErrNotReady) {
			return nil, err
		}
		log.Debug("no interpreter in image", "path", im.Path, "err", err)
		why = append(why, fmt.Sprintf("%s: %v", filepath.Base(im.Path), err))
	}
	if len(why) == 0 {
		return nil, fmt.Errorf("%w: no executable images mapped", ErrNotPython)
	}
	return nil, fmt.Errorf("%w (%s)", ErrNotPython, strings.Join(why, "; "))
}

// looksPython says whether a binary may hold an interpreter at all.
func (b *Binary) looksPython() bool {
	_, hasRuntime := b.syms["_PyRuntime"]
	_, hasRuntimeSec := b.sections[".PyRuntime"]
	_, hasInterpHead := b.syms["interp_head"]
	_, hasPyVersion := b.syms["Py_Version"]
	return hasRuntime || hasRuntimeSec || hasInterpHead || hasPyVersion || pythonName(b.Path)
}

// runtime is where _PyRuntime is: its symbol, else the .PyRuntime section
// (a stripped 3.x keeps the section).
func (im Mapped) runtime(log *slog.Logger) (uint64, bool) {
	if a, ok := im.symbol("_PyRuntime"); ok {
		return a, true
	}
	if a, _, ok := im.section(".PyRuntime"); ok {
		log.Debug("_PyRuntime from .PyRuntime section", "path", im.Path, "addr", a)
		return a, true
	}
	return 0, false
}

// identify returns the build of the binary, found from the memory of a
// process running it the first time. A version known only from the file
// name is used for this process but not kept: a later process may show
// the exact release.
func (im Mapped) identify(r procmem.Reader, log *slog.Logger) (*Build, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.build != nil {
		return im.build, nil
	}
	runtime, _ := im.runtime(log)
	dbg := readDebugOffsets(r, runtime, log)
	var v Version
	exact := true
	var err error
	if dbg != nil {
		v = dbg.Version
	} else if v, exact, err = detectVersion(r, im, log); err != nil {
		return nil, err
	}
	l, guessed, err := LookupLayout(v)
	switch {
	case dbg != nil && err == nil:
		// The target's own offsets win; the table fills what they lack
		// (object reader fields), and they say how sure the layout is.
		if guessed {
			log.Debug("fields _Py_DebugOffsets lacks come from the nearest measured table", "version", v)
		}
		l, guessed = dbg.Merged(l), dbg.Guessed
	case dbg != nil:
		// A version without a static table (3.14+, free-threaded): the
		// debug offsets alone, with the one size they do not carry.
		l, guessed = dbg.Layout, dbg.Guessed
		fillDebugGaps(&l, v)
	case err != nil:
		return nil, err
	}
	if guessed {
		log.Warn("no offset table for this exact release; using the nearest", "version", v)
	}
	b := newBuild(v, l)
	b.Guessed = guessed
	if dbg != nil {
		b.useDebugOffsets(dbg)
	}
	if exact {
		im.build = b
	}
	return b, nil
}

func locateIn(r procmem.Reader, im Mapped, log *slog.Logger) (in *Interpreter, err error) {
	if !im.looksPython() {
		return nil, errors.New("no _PyRuntime or interp_head symbol, no .PyRuntime section, not named python")
	}
	b, err := im.identify(r, log)
	if err != nil {
		return nil, err
	}
	l := b.Layout
	in = newProcess(r, b)
	runtime, hasRuntime := im.runtime(log)
	interpHead, hasInterpHead := im.symbol("interp_head")
	switch {
	case hasRuntime && l.Runtime.InterpretersHead != Absent:
		in.Runtime = runtime
		in.headSlot = runtime + uint64(l.Runtime.InterpretersHead)
		head, err := procmem.Ptr(r, in.headSlot)
		if err != nil {
			return nil, fmt.Errorf("_PyRuntime at %#x: interpreters.head: %w", runtime, err)
		}
		in.Head = head
	case hasInterpHead:
		in.headSlot = interpHead
		head, err := procmem.Ptr(r, interpHead)
		if err != nil {
			return nil, fmt.Errorf("interp_head at %#x: %w", interpHead, err)
		}
		in.Head = head
	}
	switch {
	case in.Head != 0 && in.validHead(in.Head):
	case hasRuntime || hasInterpHead:
		// The symbols are there but the interpreter is not (yet): a
		// process still starting up. A scan now could only find a stale
		// or false match.
		return nil, ErrNotReady
	case in.fromHeadSlot(im):
		log.Debug("interpreter where an earlier process of this build had it", "path", im.Path)
	default:
		log.Debug("no interpreter from symbols; scanning .data and .bss", "path", im.Path)
		if err := in.scanForHead(im); err != nil {
			return nil, err
		}
	}
	if l.Runtime.TstateCurrent != Absent && in.Runtime != 0 {
		in.tstateCurrent = in.Runtime + uint64(l.Runtime.TstateCurrent)
	} else if a, ok := im.symbol("_PyThreadState_Current"); ok {
		in.tstateCurrent = a
	}
	log.Debug("interpreter found", "path", im.Path, "version", in.Version, "head", in.Head, "runtime", in.Runtime)
	return in, nil
}

// fromHeadSlot tries the word through which a scan found the interpreter
// in an earlier process of the same binary.
func (in *Interpreter) fromHeadSlot(im Mapped) bool {
	im.mu.Lock()
	slot, runtime := im.headSlot, im.runtimeSlot
	im.mu.Unlock()
	if slot == 0 {
		return false
	}
	head, err := procmem.Ptr(in.r, slot+im.Bias)
	if err != nil || !in.validHead(head) {
		return false
	}
	in.Head, in.headSlot = head, slot+im.Bias
	if runtime != 0 {
		in.Runtime = runtime + im.Bias
	}
	return true
}

func pythonName(path string) bool {
	b := filepath.Base(path)
	return strings.HasPrefix(b, "libpython") || strings.HasPrefix(b, "python")
}

// validHead checks that interp looks like a PyInterpreterState: its first
// thread state points back to it.
func (in *Interpreter) validHead(interp uint64) bool {
	if interp == 0 || interp%8 != 0 {
		return false
	}
	ts, err := procmem.Ptr(in.r, interp+uint64(in.Layout.Interp.ThreadsHead))
	if err != nil || ts == 0 || ts%8 != 0 {
		return false
	}
	back, err := procmem.Ptr(in.r, ts+uint64(in.Layout.Thread.Interp))
	return err == nil && back == interp
}

// trialWalk accepts a candidate interpreter only if every thread state
// points back to it and each thread's stack reads (or has no frames).
func (in *Interpreter) trialWalk(interp uint64) bool {
	saved := in.Head
	in.Head = interp
	defer func() { in.Head = saved }()
	threads, err := in.Threads(nil)
	if err != nil || len(threads) == 0 {
		return false
	}
	for i := range threads {
		back, err := procmem.Ptr(in.r, threads[i].Addr+uint64(in.Layout.Thread.Interp))
		if err != nil || back != interp {
			return false
		}
		if _, err := in.Stack(&threads[i], nil); err != nil && !errors.Is(err, ErrNoFrames) {
			return false
		}
	}
	return true
}

// scanForHead looks through the image's writable data for a pointer to a
// valid interpreter state (stripped binaries without symbols). On 3.7+ the
// word may be _PyRuntime.interpreters.head inside the data itself.
func (in *Interpreter) scanForHead(im Mapped) error {
	for _, sec := range []string{".data", ".bss", ".PyRuntime"} {
		addr, size, ok := im.section(sec)
		if !ok || size == 0 || size > 64<<20 {
			continue
		}
		buf := make([]byte, size)
		if err := procmem.ReadFull(in.r, buf, addr); err != nil {
			continue
		}
		for off := 0; off+8 <= len(buf); off += 8 {
			p := le64(buf[off:])
			if p == 0 || p%8 != 0 || !in.validHead(p) || !in.trialWalk(p) {
				continue
			}
			in.Head, in.headSlot = p, addr+uint64(off)
			if l := in.Layout.Runtime.InterpretersHead; l != Absent && in.Runtime == 0 && off >= l {
				in.Runtime = addr + uint64(off-l)
			}
			im.mu.Lock()
			im.headSlot = addr + uint64(off) - im.Bias
			if in.Runtime != 0 {
				im.runtimeSlot = in.Runtime - im.Bias
			}
			im.mu.Unlock()
			im.saveDisk() // the next run skips the scan too
			return nil
		}
	}
	return errors.New("no valid interpreter state found by symbol or by scanning .data/.bss")
}

// versionRE matches the text of sys.version as Py_GetVersion leaves it in
// a static buffer: "3.9.18 (main, ...". The bare PY_VERSION literal is not
// reliable in the file: linkers merge it into longer strings.
var versionRE = regexp.MustCompile(`([23])\.(\d{1,2})\.(\d{1,2})(?:(?:a|b|rc|c)\d{1,2})?\+? \(`)

// readDebugOffsets decodes the _Py_DebugOffsets at the start of a 3.13+
// _PyRuntime; nil when there are none (older versions) or they do not
// decode, in which case the static tables are used.
func readDebugOffsets(r procmem.Reader, runtime uint64, log *slog.Logger) *DebugOffsets {
	if runtime == 0 {
		return nil
	}
	buf := make([]byte, DebugOffsetsReadSize)
	if err := procmem.ReadFull(r, buf[:len(DebugOffsetsCookie)], runtime); err != nil ||
		!bytes.Equal(buf[:len(DebugOffsetsCookie)], []byte(DebugOffsetsCookie)) {
		return nil
	}
	if err := procmem.ReadFull(r, buf, runtime); err != nil {
		log.Debug("cannot read _Py_DebugOffsets", "addr", runtime, "err", err)
		return nil
	}
	d, err := DecodeDebugOffsets(buf)
	if err != nil {
		log.Warn("cannot decode _Py_DebugOffsets; using static tables", "err", err)
		return nil
	}
	log.Debug("layout from _Py_DebugOffsets", "version", d.Version, "free_threaded", d.FreeThreaded, "guessed", d.Guessed)
	return d
}

// detectVersion tries, in order: Py_Version (3.11+), sys.version's text in
// the image's data, the file name.
func detectVersion(r procmem.Reader, im Mapped, log *slog.Logger) (v Version, exact bool, err error) {
	if a, ok := im.symbol("Py_Version"); ok {
		if x, err := procmem.U32(r, a); err == nil && x>>24 == 3 {
			v := FromHex(uint64(x))
			log.Debug("version from Py_Version", "version", v)
			return v, true, nil
		}
	}
	for _, sec := range []string{".bss", ".data"} {
		addr, size, ok := im.section(sec)
		if !ok || size == 0 || size > 64<<20 {
			continue
		}
		buf := make([]byte, size)
		if err := procmem.ReadFull(r, buf, addr); err != nil {
			log.Debug("cannot read section for version text", "section", sec, "err", err)
			continue
		}
		if m := versionRE.FindSubmatch(buf); m != nil {
			v, err := ParseVersion(fmt.Sprintf("%s.%s.%s", m[1], m[2], m[3]))
			if err == nil {
				log.Debug("version from sys.version text", "section", sec, "version", v)
				return v, true, nil
			}
		}
	}
	if m := regexp.MustCompile(`python(\d)\.(\d{1,2})`).FindStringSubmatch(filepath.Base(im.Path)); m != nil {
		v, err := ParseVersion(m[1] + "." + m[2])
		if err == nil {
			log.Debug("version guessed from the file name only", "path", im.Path, "version", v)
			return v, false, nil
		}
	}
	return Version{}, false, errors.New("cannot tell the python version: no _Py_DebugOffsets, Py_Version, version text or versioned file name")
}
