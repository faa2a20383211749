package pyabi

// Line tables map a position in the bytecode to a source line. CPython has
// used three encodings; each decoder here is pure, bounded by the table
// length, and returns -1 when the position has no line.

// LineCodec picks the encoding of co_lnotab/co_linetable for a version.
type LineCodec uint8

const (
	// LnotabUnsigned: 2.7 co_lnotab, (byte offset delta, line delta) pairs, both unsigned.
	LnotabUnsigned LineCodec = iota
	// LnotabSigned: 3.6-3.9 co_lnotab, the line delta is a signed byte
	// (Objects/lnotab_notes.txt, v3.6.0).
	LnotabSigned
	// Linetable310: 3.10 co_linetable, (byte range length, signed line delta)
	// pairs with -128 for "no line" (Objects/lnotab_notes.txt, v3.10.0).
	Linetable310
	// Locations311: 3.11+ location table of variable-length entries in code
	// units (Objects/locations.md, v3.11.0).
	Locations311
)

func codecFor(v Version) LineCodec {
	switch {
	case v.Major == 2:
		return LnotabUnsigned
	case !v.AtLeast(3, 10):
		return LnotabSigned
	case !v.AtLeast(3, 11):
		return Linetable310
	}
	return Locations311
}

// Line returns the source line of the instruction at pos. pos is a byte
// offset for the lnotab codecs and Linetable310, and a code unit index for
// Locations311.
func (c LineCodec) Line(table []byte, firstLine, pos int) int {
	switch c {
	case LnotabUnsigned, LnotabSigned:
		return lnotabLine(table, firstLine, pos, c == LnotabSigned)
	case Linetable310:
		return linetable310Line(table, firstLine, pos)
	default:
		return locationsLine(table, firstLine, pos)
	}
}

func lnotabLine(t []byte, line, pos int, signed bool) int {
	addr := 0
	for i := 0; i+1 < len(t); i += 2 {
		addr += int(t[i])
		if addr > pos {
			break
		}
		if signed {
			line += int(int8(t[i+1]))
		} else {
			line += int(t[i+1])
		}
	}
	return line
}

func linetable310Line(t []byte, line, pos int) int {
	if pos < 0 {
		// f_lasti is -1 before the first instruction runs.
		return line
	}
	end, cur := 0, -1
	for i := 0; i+1 < len(t) && end <= pos; i += 2 {
		end += int(t[i])
		if d := int8(t[i+1]); d == -128 {
			cur = -1
		} else {
			line += int(d)
			cur = line
		}
	}
	return cur
}

// locationsLine walks 3.11+ entries: the first byte has bit 7 set, the code
// in bits 3-6 and the length in code units minus one in bits 0-2.
func locationsLine(t []byte, line, pos int) int {
	if pos < 0 {
		return line
	}
	addr := 0
	for i := 0; i < len(t); {
		b := t[i]
		i++
		code := int(b>>3) & 15
		length := int(b&7) + 1
		delta := 0
		switch {
		case code == 15: // no location
		case code == 14: // long form: line delta, end line, column, end column
			delta, i = signedVarint(t, i)
			_, i = varint(t, i)
			_, i = varint(t, i)
			_, i = varint(t, i)
		case code == 13: // no column info
			delta, i = signedVarint(t, i)
		case code >= 10: // one-line form: delta in the code, two column bytes
			delta = code - 10
			i += 2
		default: // short form: same line, one column byte
			i++
		}
		line += delta
		if pos < addr+length {
			if code == 15 {
				return -1
			}
			return line
		}
		addr += length
	}
	return -1
}

// varint reads 6-bit groups, low first, while bit 6 is set.
func varint(t []byte, i int) (int, int) {
	v, shift := 0, 0
	for i < len(t) && shift < 32 {
		b := t[i]
		i++
		v |= int(b&63) << shift
		shift += 6
		if b&64 == 0 {
			break
		}
	}
	return v, i
}

func signedVarint(t []byte, i int) (int, int) {
	u, i := varint(t, i)
	if u&1 != 0 {
		return -(u >> 1), i
	}
	return u >> 1, i
}
