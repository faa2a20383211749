package procmem

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Mapping is one line of /proc/PID/maps.
type Mapping struct {
	Start, End uint64 // [Start, End) in the target's address space
	Offset     uint64 // file offset of Start, for file-backed mappings
	Perms      string // four characters, e.g. "r-xp"
	DevMajor   uint32 // the file's device, to tell it from another file of the same name
	DevMinor   uint32
	Inode      uint64
	// Path is the file, a pseudo-path such as "[heap]" or "[stack]", or
	// empty for anonymous memory. The kernel's " (deleted)" suffix is
	// removed and reported in Deleted instead, so paths compare equal
	// before and after the file is replaced on disk.
	Path    string
	Deleted bool
}

// Readable reports whether the mapping can be read.
func (m Mapping) Readable() bool { return len(m.Perms) > 0 && m.Perms[0] == 'r' }

// Writable reports whether the mapping can be written (.data, .bss, heap).
func (m Mapping) Writable() bool { return len(m.Perms) > 1 && m.Perms[1] == 'w' }

// Exec reports whether the mapping is executable (a binary's text).
func (m Mapping) Exec() bool { return len(m.Perms) > 2 && m.Perms[2] == 'x' }

// FileBacked reports whether the mapping comes from a file: pseudo-paths
// start with '[' and anonymous mappings have no path.
func (m Mapping) FileBacked() bool { return strings.HasPrefix(m.Path, "/") }

// Size is the length of the mapping in bytes.
func (m Mapping) Size() uint64 { return m.End - m.Start }

// Contains reports whether addr lies inside the mapping.
func (m Mapping) Contains(addr uint64) bool { return addr >= m.Start && addr < m.End }

// String formats m as a maps line.
func (m Mapping) String() string {
	s := fmt.Sprintf("%08x-%08x %s %08x %02x:%02x %d", m.Start, m.End, m.Perms, m.Offset, m.DevMajor, m.DevMinor, m.Inode)
	if m.Path != "" {
		s += " " + m.Path
	}
	if m.Deleted {
		s += " (deleted)"
	}
	return s
}

const deletedSuffix = " (deleted)"

// ParseMaps parses the text of /proc/PID/maps. A malformed line is an error
// naming its number: a half-understood address space is worse than none.
func ParseMaps(r io.Reader) ([]Mapping, error) {
	sc := bufio.NewScanner(r)
	// Paths can be up to PATH_MAX (4096) after ~75 bytes of fields.
	sc.Buffer(make([]byte, 0, 8192), 64<<10)
	sc.Split(splitLF)
	var maps []Mapping
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		m, err := parseMapsLine(line)
		if err != nil {
			return nil, fmt.Errorf("maps line %d %q: %w", n, line, err)
		}
		maps = append(maps, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading maps: %w", err)
	}
	return maps, nil
}

// splitLF splits at '\n' only: bufio.ScanLines would also eat a '\r' that
// belongs to a file name.
func splitLF(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// parseMapsLine parses "start-end perms offset dev inode [path]". The path
// is everything after the inode's padding, so spaces inside it survive.
func parseMapsLine(line string) (Mapping, error) {
	var m Mapping
	var f [5]string
	rest := line
	for i := range f {
		rest = strings.TrimLeft(rest, " \t")
		end := strings.IndexAny(rest, " \t")
		if end < 0 {
			end = len(rest)
		}
		f[i], rest = rest[:end], rest[end:]
		if f[i] == "" {
			return m, fmt.Errorf("want at least 5 fields, got %d", i)
		}
	}
	lo, hi, ok := strings.Cut(f[0], "-")
	if !ok {
		return m, fmt.Errorf("bad address range %q", f[0])
	}
	var err error
	if m.Start, err = strconv.ParseUint(lo, 16, 64); err != nil {
		return m, fmt.Errorf("bad start address %q", lo)
	}
	if m.End, err = strconv.ParseUint(hi, 16, 64); err != nil {
		return m, fmt.Errorf("bad end address %q", hi)
	}
	if m.End < m.Start {
		return m, fmt.Errorf("end %#x before start %#x", m.End, m.Start)
	}
	if !validPerms(f[1]) {
		return m, fmt.Errorf("bad permissions %q", f[1])
	}
	m.Perms = f[1]
	if m.Offset, err = strconv.ParseUint(f[2], 16, 64); err != nil {
		return m, fmt.Errorf("bad offset %q", f[2])
	}
	// The device is "major:minor" in hex.
	maj, min, ok := strings.Cut(f[3], ":")
	dmaj, err1 := strconv.ParseUint(maj, 16, 32)
	dmin, err2 := strconv.ParseUint(min, 16, 32)
	if !ok || !isHex(maj) || !isHex(min) || err1 != nil || err2 != nil {
		return m, fmt.Errorf("bad device %q", f[3])
	}
	m.DevMajor, m.DevMinor = uint32(dmaj), uint32(dmin)
	if m.Inode, err = strconv.ParseUint(f[4], 10, 64); err != nil {
		return m, fmt.Errorf("bad inode %q", f[4])
	}
	m.Path = strings.TrimLeft(rest, " \t")
	if p, ok := strings.CutSuffix(m.Path, deletedSuffix); ok {
		m.Path, m.Deleted = p, true
	}
	return m, nil
}

// validPerms accepts the kernel's four flags: r, w, x in place or '-', then
// 'p' (private) or 's' (shared).
func validPerms(s string) bool {
	return len(s) == 4 &&
		(s[0] == 'r' || s[0] == '-') &&
		(s[1] == 'w' || s[1] == '-') &&
		(s[2] == 'x' || s[2] == '-') &&
		(s[3] == 'p' || s[3] == 's')
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
