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

func (im Image) symbol(name string) (uint64, bool) {
	a, ok := im.File.Symbol(name)
	if !ok || a == 0 {
		return 0, false
	}
	return a + im.Bias, true
}

func (im Image) section(name string) (addr, size uint64, ok bool) {
	a, s, ok := im.File.Section(name)
	if !ok {
		return 0, 0, false
	}
	return a + im.Bias, s, true
}

// ErrNotPython says no image looked like a CPython interpreter.
var ErrNotPython = errors.New("not a python process")

// ErrNotReady says the process has a CPython runtime whose interpreter is
// not initialised yet (or is already finalised); try again later.
var ErrNotReady = errors.New("python interpreter not initialised")

// Locate finds the interpreter in a process from its mapped images. The
// images are tried in order; put libpython before the executable. log
// receives each discovery step at debug level so a failure can be traced.
func Locate(r procmem.Reader, images []Image, log *slog.Logger) (*Interpreter, error) {
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

func locateIn(r procmem.Reader, im Image, log *slog.Logger) (in *Interpreter, err error) {
	runtime, hasRuntime := im.symbol("_PyRuntime")
	if !hasRuntime {
		if a, _, ok := im.section(".PyRuntime"); ok {
			runtime, hasRuntime = a, true
			log.Debug("_PyRuntime from .PyRuntime section", "path", im.Path, "addr", runtime)
		}
	}
	_, hasInterpHead := im.symbol("interp_head")
	_, hasPyVersion := im.symbol("Py_Version")
	looksPython := hasRuntime || hasInterpHead || hasPyVersion || pythonName(im.Path)
	if !looksPython {
		return nil, errors.New("no _PyRuntime or interp_head symbol, no .PyRuntime section, not named python")
	}

	dbg := readDebugOffsets(r, runtime, log)
	var v Version
	if dbg != nil {
		v = dbg.Version
	} else if v, err = detectVersion(r, im, log); err != nil {
		return nil, err
	}
	l, guessed, err := LookupLayout(v)
	switch {
	case dbg != nil && err == nil:
		// The target's own offsets win; the table fills what they lack.
		l = dbg.Merged(l)
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
	in = newInterpreter(r, v, l)
	in.Guessed = guessed
	if dbg != nil && l.Interp.GILPtr == Absent && dbg.Interp.OwnGIL != Absent {
		in.gilInline = dbg.Interp.OwnGIL
	}

	switch {
	case hasRuntime && l.Runtime.InterpretersHead != Absent:
		in.Runtime = runtime
		head, err := procmem.Ptr(r, runtime+uint64(l.Runtime.InterpretersHead))
		if err != nil {
			return nil, fmt.Errorf("_PyRuntime at %#x: interpreters.head: %w", runtime, err)
		}
		in.Head = head
	case hasInterpHead:
		a, _ := im.symbol("interp_head")
		head, err := procmem.Ptr(r, a)
		if err != nil {
			return nil, fmt.Errorf("interp_head at %#x: %w", a, err)
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
	log.Debug("interpreter found", "path", im.Path, "version", v, "head", in.Head, "runtime", in.Runtime)
	return in, nil
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
func (in *Interpreter) scanForHead(im Image) error {
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
			in.Head = p
			if l := in.Layout.Runtime.InterpretersHead; l != Absent && in.Runtime == 0 && off >= l {
				in.Runtime = addr + uint64(off-l)
			}
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
func detectVersion(r procmem.Reader, im Image, log *slog.Logger) (Version, error) {
	if a, ok := im.symbol("Py_Version"); ok {
		if x, err := procmem.U32(r, a); err == nil && x>>24 == 3 {
			v := FromHex(uint64(x))
			log.Debug("version from Py_Version", "version", v)
			return v, nil
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
				return v, nil
			}
		}
	}
	if m := regexp.MustCompile(`python(\d)\.(\d{1,2})`).FindStringSubmatch(filepath.Base(im.Path)); m != nil {
		v, err := ParseVersion(m[1] + "." + m[2])
		if err == nil {
			log.Debug("version guessed from the file name only", "path", im.Path, "version", v)
			return v, nil
		}
	}
	return Version{}, errors.New("cannot tell the python version: no _Py_DebugOffsets, Py_Version, version text or versioned file name")
}
