package keyenc

import (
	"bytes"
	"math"
	"math/bits"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
)

// Type tags, in MongoDB's bracket order; tagEnd closes arrays and objects.
const (
	tagEnd    = 0x00
	tagNull   = 0x05
	tagNumber = 0x10
	tagString = 0x20
	tagObject = 0x30
	tagArray  = 0x40
	tagBool   = 0x50
)

// Number signs, the first byte of a number's body.
const (
	numNeg  = 0x01
	numZero = 0x02
	numPos  = 0x03
)

// MaxDecodeDepth bounds the nesting of arrays and objects DecodeValue
// accepts, so that hostile input cannot exhaust the stack.
const MaxDecodeDepth = 10000

// AppendValue appends v's ascending, self-delimiting encoding to dst (see
// the package comment). bytes.Compare on two encodings agrees with
// jsondoc.Compare on the values; equal values (1 and 1.0, missing and
// null) encode identically.
func AppendValue(dst []byte, v jsondoc.Value) []byte {
	dst = append(dst, tag(v))
	return appendBody(dst, v)
}

// AppendValueDesc appends v's descending encoding to dst: every byte of
// AppendValue's inverted. It is self-delimiting too, and bytes.Compare on
// two descending encodings is the reverse of jsondoc.Compare.
func AppendValueDesc(dst []byte, v jsondoc.Value) []byte {
	n := len(dst)
	dst = AppendValue(dst, v)
	invert(dst[n:])
	return dst
}

func invert(b []byte) {
	for i := range b {
		b[i] = ^b[i]
	}
}

func tag(v jsondoc.Value) byte {
	switch v.Kind() {
	case jsondoc.KindMissing, jsondoc.KindNull:
		return tagNull
	case jsondoc.KindNumber:
		return tagNumber
	case jsondoc.KindString:
		return tagString
	case jsondoc.KindObject:
		return tagObject
	case jsondoc.KindArray:
		return tagArray
	case jsondoc.KindBool:
		return tagBool
	}
	panic("keyenc: invalid value kind")
}

func appendBody(dst []byte, v jsondoc.Value) []byte {
	switch v.Kind() {
	case jsondoc.KindNumber:
		return appendNumber(dst, v.NumberLiteral())
	case jsondoc.KindString:
		return AppendString(dst, v.Str())
	case jsondoc.KindBool:
		if v.BoolValue() {
			return append(dst, 1)
		}
		return append(dst, 0)
	case jsondoc.KindArray:
		for _, e := range v.Elems() {
			dst = AppendValue(dst, e)
		}
		return append(dst, tagEnd)
	case jsondoc.KindObject:
		for _, m := range v.Members() {
			if m.Value.IsMissing() {
				continue
			}
			dst = append(dst, tag(m.Value))
			dst = AppendString(dst, m.Key)
			dst = appendBody(dst, m.Value)
		}
		return append(dst, tagEnd)
	}
	return dst // null and missing have no body
}

func appendNumber(dst []byte, lit string) []byte {
	neg, digits, exp := jsondoc.NormalizeNumber(lit)
	if digits == "" {
		return append(dst, numZero)
	}
	if neg {
		dst = append(dst, numNeg)
	} else {
		dst = append(dst, numPos)
	}
	start := len(dst)
	dst = appendExp(dst, int64(exp))
	for i := 0; i < len(digits); i += 2 {
		p := 10 * (digits[i] - '0')
		if i+1 < len(digits) {
			p += digits[i+1] - '0'
		}
		dst = append(dst, 1+p)
	}
	dst = append(dst, 0)
	if neg {
		invert(dst[start:])
	}
	return dst
}

// appendExp appends x as an order-preserving variable-length integer.
func appendExp(dst []byte, x int64) []byte {
	switch {
	case x >= -64 && x < 64:
		return append(dst, byte(0x80+x))
	case x >= 64:
		n := (bits.Len64(uint64(x)) + 7) / 8
		dst = append(dst, byte(0xBF+n))
		for i := n - 1; i >= 0; i-- {
			dst = append(dst, byte(x>>(8*i)))
		}
		return dst
	default:
		n := (bits.Len64(uint64(^x)) + 7) / 8
		dst = append(dst, byte(0x40-n))
		for i := n - 1; i >= 0; i-- {
			dst = append(dst, byte(x>>(8*i)))
		}
		return dst
	}
}

// decodeExp reads appendExp's form from bytes XORed with mask.
func decodeExp(b []byte, mask byte) (int64, []byte, error) {
	if len(b) == 0 {
		return 0, nil, malformed("truncated number exponent")
	}
	t := b[0] ^ mask
	var n int
	switch {
	case t >= 0x40 && t <= 0xBF:
		return int64(t) - 0x80, b[1:], nil
	case t >= 0xC0 && t <= 0xC7:
		n = int(t) - 0xBF
	case t >= 0x38 && t <= 0x3F:
		n = 0x40 - int(t)
	default:
		return 0, nil, malformed("invalid number exponent tag 0x%02x", t)
	}
	if len(b) < 1+n {
		return 0, nil, malformed("truncated number exponent")
	}
	var u uint64
	for _, c := range b[1 : 1+n] {
		u = u<<8 | uint64(c^mask)
	}
	if t < 0x40 {
		u = ^u
		if n < 8 {
			u &= 1<<(8*n) - 1
		}
	}
	// u is x, or ^x when negative: canonical means fewest bytes, outside
	// the one-byte range, and within int64.
	if u>>(8*(n-1)) == 0 || u < 64 || u > math.MaxInt64 {
		return 0, nil, malformed("non-canonical number exponent")
	}
	if t < 0x40 {
		return ^int64(u), b[1+n:], nil
	}
	return int64(u), b[1+n:], nil
}

// DecodeValue decodes an AppendValue form at the start of b and returns
// the value and the bytes after it. Numbers decode to a canonical literal
// (jsondoc.NumberFromDecimal) and missing decodes as null, so the result
// is Compare-equal to the encoded value and re-encodes to the same bytes.
// Malformed input is an error wrapping ErrMalformed, never a panic.
func DecodeValue(b []byte) (v jsondoc.Value, rest []byte, err error) {
	return decodeValue(b, 0, true, 0)
}

// DecodeValueDesc is DecodeValue for an AppendValueDesc form.
func DecodeValueDesc(b []byte) (v jsondoc.Value, rest []byte, err error) {
	return decodeValue(b, 0xFF, true, 0)
}

// SkipValue returns the bytes after the encoded value at the start of b,
// ascending (desc false) or descending, validating it as DecodeValue does
// without building it.
func SkipValue(b []byte, desc bool) (rest []byte, err error) {
	mask := byte(0)
	if desc {
		mask = 0xFF
	}
	_, rest, err = decodeValue(b, mask, false, 0)
	return rest, err
}

// decodeValue decodes a value whose bytes are XORed with mask. Without
// build it validates and skips, allocating nothing.
func decodeValue(b []byte, mask byte, build bool, depth int) (jsondoc.Value, []byte, error) {
	if len(b) == 0 {
		return jsondoc.Value{}, nil, malformed("truncated value")
	}
	return decodeBody(b[0]^mask, b[1:], mask, build, depth)
}

func decodeBody(t byte, b []byte, mask byte, build bool, depth int) (jsondoc.Value, []byte, error) {
	switch t {
	case tagNull:
		return jsondoc.Null(), b, nil
	case tagNumber:
		return decodeNumber(b, mask, build)
	case tagString:
		s, rest, err := decodeString(b, mask, build)
		if err != nil {
			return jsondoc.Value{}, nil, err
		}
		return jsondoc.String(s), rest, nil
	case tagBool:
		if len(b) == 0 {
			return jsondoc.Value{}, nil, malformed("truncated boolean")
		}
		switch b[0] ^ mask {
		case 0:
			return jsondoc.Bool(false), b[1:], nil
		case 1:
			return jsondoc.Bool(true), b[1:], nil
		}
		return jsondoc.Value{}, nil, malformed("invalid boolean 0x%02x", b[0]^mask)
	case tagArray:
		if depth >= MaxDecodeDepth {
			return jsondoc.Value{}, nil, malformed("nesting deeper than %d", MaxDecodeDepth)
		}
		var elems []jsondoc.Value
		for {
			if len(b) == 0 {
				return jsondoc.Value{}, nil, malformed("unterminated array")
			}
			if b[0]^mask == tagEnd {
				if !build {
					return jsondoc.Value{}, b[1:], nil
				}
				if elems == nil {
					elems = []jsondoc.Value{}
				}
				return jsondoc.Array(elems), b[1:], nil
			}
			e, rest, err := decodeValue(b, mask, build, depth+1)
			if err != nil {
				return jsondoc.Value{}, nil, err
			}
			if build {
				elems = append(elems, e)
			}
			b = rest
		}
	case tagObject:
		if depth >= MaxDecodeDepth {
			return jsondoc.Value{}, nil, malformed("nesting deeper than %d", MaxDecodeDepth)
		}
		var members []jsondoc.Member
		var keys keySet
		for {
			if len(b) == 0 {
				return jsondoc.Value{}, nil, malformed("unterminated object")
			}
			vt := b[0] ^ mask
			if vt == tagEnd {
				if !build {
					return jsondoc.Value{}, b[1:], nil
				}
				if members == nil {
					members = []jsondoc.Member{}
				}
				return jsondoc.Object(members), b[1:], nil
			}
			key, rest, err := decodeString(b[1:], mask, build)
			if err != nil {
				return jsondoc.Value{}, nil, err
			}
			if keys.add(b[1 : len(b)-len(rest)]) {
				return jsondoc.Value{}, nil, malformed("duplicate object key %q", key)
			}
			v, rest, err := decodeBody(vt, rest, mask, build, depth+1)
			if err != nil {
				return jsondoc.Value{}, nil, err
			}
			if build {
				members = append(members, jsondoc.Member{Key: key, Value: v})
			}
			b = rest
		}
	}
	return jsondoc.Value{}, nil, malformed("invalid type tag 0x%02x", t)
}

// keySet detects duplicate object keys by their encoded bytes (equal
// keys have equal encodings), linearly for small objects and with a map
// for large ones.
type keySet struct {
	small [8][]byte
	n     int
	large map[string]struct{}
}

// add records key and reports whether it was already present.
func (s *keySet) add(key []byte) bool {
	if s.large == nil {
		for _, k := range s.small[:s.n] {
			if bytes.Equal(k, key) {
				return true
			}
		}
		if s.n < len(s.small) {
			s.small[s.n] = key
			s.n++
			return false
		}
		s.large = make(map[string]struct{}, 2*len(s.small))
		for _, k := range s.small {
			s.large[string(k)] = struct{}{}
		}
	}
	if _, ok := s.large[string(key)]; ok {
		return true
	}
	s.large[string(key)] = struct{}{}
	return false
}

func decodeNumber(b []byte, mask byte, build bool) (jsondoc.Value, []byte, error) {
	if len(b) == 0 {
		return jsondoc.Value{}, nil, malformed("truncated number")
	}
	var neg bool
	switch b[0] ^ mask {
	case numZero:
		if !build {
			return jsondoc.Value{}, b[1:], nil
		}
		v, err := jsondoc.NumberFromDecimal(false, "", 0)
		return v, b[1:], err
	case numPos:
	case numNeg:
		neg = true
		mask = ^mask
	default:
		return jsondoc.Value{}, nil, malformed("invalid number sign 0x%02x", b[0]^mask)
	}
	exp, b, err := decodeExp(b[1:], mask)
	if err != nil {
		return jsondoc.Value{}, nil, err
	}
	if exp > jsondoc.MaxExponent || exp < -jsondoc.MaxExponent {
		return jsondoc.Value{}, nil, malformed("number exponent out of range")
	}
	var digits []byte
	for i := 0; ; i++ {
		if i >= len(b) {
			return jsondoc.Value{}, nil, malformed("unterminated number")
		}
		c := b[i] ^ mask
		if c == 0 {
			if i == 0 {
				return jsondoc.Value{}, nil, malformed("number without digits")
			}
			// A final pair ending in 0 is one digit padded with 0; that
			// digit must not be 0 itself (trailing zeros are normalized
			// away), so only the pair 00 is invalid here.
			last := b[i-1] ^ mask - 1
			if last == 0 {
				return jsondoc.Value{}, nil, malformed("number digits end in zero")
			}
			if !build {
				return jsondoc.Value{}, b[i+1:], nil
			}
			if last%10 == 0 {
				digits = digits[:len(digits)-1] // padding
			}
			v, err := jsondoc.NumberFromDecimal(neg, string(digits), int(exp))
			if err != nil {
				return jsondoc.Value{}, nil, malformed("%v", err)
			}
			return v, b[i+1:], nil
		}
		if c > 100 {
			return jsondoc.Value{}, nil, malformed("invalid number digit pair 0x%02x", c)
		}
		p := c - 1
		if i == 0 && p < 10 {
			return jsondoc.Value{}, nil, malformed("number digits start with zero")
		}
		if build {
			digits = append(digits, '0'+p/10, '0'+p%10)
		}
	}
}
