package jsondoc

import (
	"fmt"
	"math"
	"strconv"
	"sync"
	"unicode/utf8"
)

// The machine-readable codes carried by SyntaxError.Code. The HTTP layer
// returns them verbatim in the "code" field of a 400 response.
const (
	CodeInvalidJSON          = "invalid_json"            // not JSON: bad token, truncated input, NaN, 01, …
	CodeEmptyBody            = "empty_body"              // nothing but whitespace
	CodeTrailingData         = "trailing_data"           // more than one value
	CodeDuplicateKey         = "duplicate_key"           // a key repeated within one object
	CodeInvalidUTF8          = "invalid_utf8"            // raw invalid UTF-8 or a lone surrogate escape
	CodeTooDeep              = "too_deep"                // nesting deeper than Limits.MaxDepth
	CodeNumberOutOfRange     = "number_out_of_range"     // a number whose magnitude overflows float64
	CodeDocumentMustBeObject = "document_must_be_object" // ParseDocument on a non-object
	CodeKeyTooLong           = "key_too_long"            // an object key longer than Limits.MaxKeyBytes
	CodeTooManyFields        = "too_many_fields"         // an object with more than Limits.MaxMembers members
)

// DefaultMaxDepth is the nesting depth a zero Limits allows.
const DefaultMaxDepth = 64

// Limits bound what Parse accepts. The zero Limits selects the defaults.
type Limits struct {
	// MaxDepth is the deepest nesting of arrays and objects allowed: {} is
	// depth 1, {"a":[]} depth 2. Zero or negative selects DefaultMaxDepth.
	MaxDepth int
	// MaxKeyBytes bounds the length of an object key; zero means no bound.
	MaxKeyBytes int
	// MaxMembers bounds the members of one object; zero means no bound.
	MaxMembers int
}

// SyntaxError reports input that Parse rejected: Code is one of the Code…
// constants, Offset the byte offset of the problem in the input and Msg a
// human-readable description.
type SyntaxError struct {
	Code   string
	Offset int64
	Msg    string
}

// Error implements error, e.g. "invalid JSON at byte 5: unexpected end of input".
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
}

// Parse parses one strict JSON value (RFC 8259 plus the rules in the package
// comment) followed only by whitespace.
//
// Strings in the result that contained no escapes share memory with one copy
// of data, so data may be reused by the caller once Parse returns, but a
// retained substring keeps that copy alive.
func Parse(data []byte, lim Limits) (Value, error) {
	v, _, err := parse(data, lim)
	return v, err
}

// ParseDocument is Parse for a document: the top-level value must be an
// object, otherwise the error has code CodeDocumentMustBeObject.
func ParseDocument(data []byte, lim Limits) (Value, error) {
	v, start, err := parse(data, lim)
	if err != nil {
		return Value{}, err
	}
	if v.kind != KindObject {
		return Value{}, &SyntaxError{Code: CodeDocumentMustBeObject, Offset: int64(start),
			Msg: "document must be a JSON object, got " + TypeName(v)}
	}
	return v, nil
}

func parse(data []byte, lim Limits) (Value, int, error) {
	maxDepth := lim.MaxDepth
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	p := parser{data: data, maxDepth: maxDepth, maxKey: lim.MaxKeyBytes, maxMembers: lim.MaxMembers}
	p.skipWS()
	if p.pos == len(data) {
		return Value{}, 0, &SyntaxError{Code: CodeEmptyBody, Offset: int64(p.pos), Msg: "empty body"}
	}
	start := p.pos
	p.src = string(data)
	p.sc = scratchPool.Get().(*scratch)
	v, err := p.value()
	p.sc.release()
	p.sc = nil
	if err != nil {
		return Value{}, start, err
	}
	p.skipWS()
	if p.pos != len(data) {
		return Value{}, start, p.errf(CodeTrailingData, p.pos, "unexpected data after the top-level value")
	}
	return v, start, nil
}

// scratch holds the stacks on which members and elements accumulate until
// their container closes and they are copied into one exact-size slab.
type scratch struct {
	members []Member
	values  []Value
	buf     []byte
	hwmM    int // high-water marks: the used prefix to clear on release
	hwmV    int
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

const maxPooledScratch = 4096

func (s *scratch) release() {
	clear(s.members[:s.hwmM]) // drop references into the parsed input
	clear(s.values[:s.hwmV])
	s.members, s.values = s.members[:0], s.values[:0]
	s.hwmM, s.hwmV = 0, 0
	if cap(s.members) > maxPooledScratch || cap(s.values) > maxPooledScratch || cap(s.buf) > 1<<16 {
		return // let an oversized scratch go rather than pin it
	}
	scratchPool.Put(s)
}

type parser struct {
	data       []byte
	src        string // one string copy of data; unescaped strings are substrings
	pos        int
	depth      int
	maxDepth   int
	maxKey     int
	maxMembers int
	sc         *scratch
}

func (p *parser) errf(code string, off int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Code: code, Offset: int64(off), Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) eof() *SyntaxError {
	return p.errf(CodeInvalidJSON, len(p.data), "unexpected end of input")
}

// unexpected describes the byte at off, which the grammar does not allow.
func (p *parser) unexpected(off int, context string) *SyntaxError {
	if off >= len(p.data) {
		return p.eof()
	}
	c := p.data[off]
	if c >= utf8.RuneSelf {
		r, size := utf8.DecodeRune(p.data[off:])
		if r == utf8.RuneError && size <= 1 {
			return p.errf(CodeInvalidUTF8, off, "invalid UTF-8 byte 0x%02x", c)
		}
		return p.errf(CodeInvalidJSON, off, "invalid character %q (U+%04X) %s", r, r, context)
	}
	return p.errf(CodeInvalidJSON, off, "invalid character %q %s", rune(c), context)
}

func (p *parser) skipWS() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value() (Value, error) {
	if p.pos >= len(p.data) {
		return Value{}, p.eof()
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		s, err := p.string()
		return Value{kind: KindString, s: s}, err
	case c == '-' || (c >= '0' && c <= '9'):
		end, err := scanNumber(p.data, p.pos)
		if err != nil {
			return Value{}, err
		}
		v := Value{kind: KindNumber, s: p.src[p.pos:end]}
		p.pos = end
		return v, nil
	case c == 't':
		return Value{kind: KindBool, b: true}, p.literal("true")
	case c == 'f':
		return Value{kind: KindBool}, p.literal("false")
	case c == 'n':
		return Value{kind: KindNull}, p.literal("null")
	default:
		return Value{}, p.unexpected(p.pos, "looking for beginning of value")
	}
}

func (p *parser) literal(lit string) error {
	for i := 0; i < len(lit); i++ {
		off := p.pos + i
		if off >= len(p.data) {
			return p.eof()
		}
		if p.data[off] != lit[i] {
			return p.unexpected(off, "in literal "+lit)
		}
	}
	p.pos += len(lit)
	return nil
}

func (p *parser) enter() error {
	if p.depth >= p.maxDepth {
		return p.errf(CodeTooDeep, p.pos, "nesting depth exceeds the limit of %d", p.maxDepth)
	}
	p.depth++
	p.pos++
	return nil
}

// linearKeyCheck is the member count up to which duplicate keys are found
// by scanning; larger objects use a set.
const linearKeyCheck = 16

func (p *parser) object() (Value, error) {
	if err := p.enter(); err != nil {
		return Value{}, err
	}
	sc := p.sc
	base := len(sc.members)
	var keys map[string]struct{} // only for objects with many members
	p.skipWS()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		p.depth--
		return Value{kind: KindObject}, nil
	}
	for {
		p.skipWS()
		if p.pos >= len(p.data) {
			return Value{}, p.eof()
		}
		if p.data[p.pos] != '"' {
			return Value{}, p.unexpected(p.pos, "looking for beginning of object key string")
		}
		keyOff := p.pos
		key, err := p.string()
		if err != nil {
			return Value{}, err
		}
		n := len(sc.members) - base
		if p.maxKey > 0 && len(key) > p.maxKey {
			return Value{}, p.errf(CodeKeyTooLong, keyOff, "object key of %d bytes is longer than the limit of %d", len(key), p.maxKey)
		}
		if p.maxMembers > 0 && n >= p.maxMembers {
			return Value{}, p.errf(CodeTooManyFields, keyOff, "object has more than %d members", p.maxMembers)
		}
		switch {
		case n < linearKeyCheck:
			for i := base; i < len(sc.members); i++ {
				if sc.members[i].Key == key {
					return Value{}, p.errf(CodeDuplicateKey, keyOff, "duplicate key %q", key)
				}
			}
		default:
			if keys == nil {
				keys = make(map[string]struct{}, 2*n)
				for i := base; i < len(sc.members); i++ {
					keys[sc.members[i].Key] = struct{}{}
				}
			}
			if _, dup := keys[key]; dup {
				return Value{}, p.errf(CodeDuplicateKey, keyOff, "duplicate key %q", key)
			}
			keys[key] = struct{}{}
		}
		p.skipWS()
		if p.pos >= len(p.data) {
			return Value{}, p.eof()
		}
		if p.data[p.pos] != ':' {
			return Value{}, p.unexpected(p.pos, "after object key")
		}
		p.pos++
		p.skipWS()
		v, err := p.value()
		if err != nil {
			return Value{}, err
		}
		sc.members = append(sc.members, Member{Key: key, Value: v})
		if len(sc.members) > sc.hwmM {
			sc.hwmM = len(sc.members)
		}
		p.skipWS()
		if p.pos >= len(p.data) {
			return Value{}, p.eof()
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
			continue
		case '}':
			p.pos++
		default:
			return Value{}, p.unexpected(p.pos, "after object key:value pair")
		}
		break
	}
	ms := make([]Member, len(sc.members)-base)
	copy(ms, sc.members[base:])
	sc.members = sc.members[:base]
	p.depth--
	return Value{kind: KindObject, obj: ms}, nil
}

func (p *parser) array() (Value, error) {
	if err := p.enter(); err != nil {
		return Value{}, err
	}
	sc := p.sc
	base := len(sc.values)
	p.skipWS()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		p.depth--
		return Value{kind: KindArray}, nil
	}
	for {
		p.skipWS()
		v, err := p.value()
		if err != nil {
			return Value{}, err
		}
		sc.values = append(sc.values, v)
		if len(sc.values) > sc.hwmV {
			sc.hwmV = len(sc.values)
		}
		p.skipWS()
		if p.pos >= len(p.data) {
			return Value{}, p.eof()
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
			continue
		case ']':
			p.pos++
		default:
			return Value{}, p.unexpected(p.pos, "after array element")
		}
		break
	}
	vs := make([]Value, len(sc.values)-base)
	copy(vs, sc.values[base:])
	sc.values = sc.values[:base]
	p.depth--
	return Value{kind: KindArray, arr: vs}, nil
}

// string parses the string starting at the opening quote at p.pos.
func (p *parser) string() (string, error) {
	data := p.data
	start := p.pos + 1
	for i := start; i < len(data); {
		c := data[i]
		switch {
		case c == '"':
			p.pos = i + 1
			return p.src[start:i], nil
		case c == '\\':
			return p.unescape(start, i)
		case c < 0x20:
			return "", p.errf(CodeInvalidJSON, i, "invalid control character 0x%02x in string", c)
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size <= 1 {
				return "", p.errf(CodeInvalidUTF8, i, "invalid UTF-8 byte 0x%02x in string", c)
			}
			i += size
		}
	}
	return "", p.eof()
}

// unescape continues a string whose first escape is at i.
func (p *parser) unescape(start, i int) (string, error) {
	data := p.data
	buf := append(p.sc.buf[:0], data[start:i]...)
	defer func() { p.sc.buf = buf[:0] }()
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			p.pos = i + 1
			return string(buf), nil
		case c < 0x20:
			return "", p.errf(CodeInvalidJSON, i, "invalid control character 0x%02x in string", c)
		case c < utf8.RuneSelf && c != '\\':
			buf = append(buf, c)
			i++
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size <= 1 {
				return "", p.errf(CodeInvalidUTF8, i, "invalid UTF-8 byte 0x%02x in string", c)
			}
			buf = append(buf, data[i:i+size]...)
			i += size
		default: // backslash
			if i+1 >= len(data) {
				return "", p.eof()
			}
			esc := data[i+1]
			switch esc {
			case '"', '\\', '/':
				buf = append(buf, esc)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, err := p.hex4(i)
				if err != nil {
					return "", err
				}
				switch {
				case r >= 0xDC00 && r <= 0xDFFF:
					return "", p.errf(CodeInvalidUTF8, i, "lone surrogate \\u%04x in string", r)
				case r >= 0xD800 && r <= 0xDBFF:
					switch {
					case i+6 >= len(data) || (data[i+6] == '\\' && i+7 >= len(data)):
						return "", p.eof()
					case data[i+6] != '\\' || data[i+7] != 'u':
						return "", p.errf(CodeInvalidUTF8, i, "lone surrogate \\u%04x in string", r)
					}
					lo, err := p.hex4(i + 6)
					if err != nil {
						return "", err
					}
					if lo < 0xDC00 || lo > 0xDFFF {
						return "", p.errf(CodeInvalidUTF8, i, "lone surrogate \\u%04x in string", r)
					}
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					i += 6
				}
				buf = utf8.AppendRune(buf, r)
				i += 6
				continue
			default:
				return "", p.unexpected(i+1, "in string escape code")
			}
			i += 2
		}
	}
	return "", p.eof()
}

// hex4 decodes the four hex digits of the \u escape whose backslash is at i.
func (p *parser) hex4(i int) (rune, error) {
	var r rune
	for k := i + 2; k < i+6; k++ {
		if k >= len(p.data) {
			return 0, p.eof()
		}
		c := p.data[k]
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, p.unexpected(k, "in \\u hexadecimal character escape")
		}
	}
	return r, nil
}

// scanNumber checks the JSON number grammar
//
//	-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
//
// for the literal starting at data[start] and returns its end. A literal
// whose magnitude overflows float64 is CodeNumberOutOfRange; one that
// underflows is kept (its exact literal is still stored).
func scanNumber(data []byte, start int) (int, error) {
	i := start
	bad := func(off int, msg string) (int, error) {
		if off >= len(data) {
			return 0, &SyntaxError{Code: CodeInvalidJSON, Offset: int64(len(data)), Msg: "unexpected end of input"}
		}
		return 0, &SyntaxError{Code: CodeInvalidJSON, Offset: int64(off), Msg: msg}
	}
	if data[i] == '-' {
		i++
	}
	switch {
	case i >= len(data):
		return bad(i, "")
	case data[i] == '0':
		i++
		if i < len(data) && isDigit(data[i]) {
			return bad(i, "invalid number: leading zero")
		}
	case data[i] >= '1' && data[i] <= '9':
		for i++; i < len(data) && isDigit(data[i]); i++ {
		}
	default:
		return bad(i, fmt.Sprintf("invalid character %s in number", quoteByte(data, i)))
	}
	intDigits := i - start
	hasExp := false
	if i < len(data) && data[i] == '.' {
		i++
		if i >= len(data) || !isDigit(data[i]) {
			return bad(i, fmt.Sprintf("invalid character %s after decimal point in number", quoteByte(data, i)))
		}
		for ; i < len(data) && isDigit(data[i]); i++ {
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		hasExp = true
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || !isDigit(data[i]) {
			return bad(i, fmt.Sprintf("invalid character %s in exponent of number", quoteByte(data, i)))
		}
		for ; i < len(data) && isDigit(data[i]); i++ {
		}
	}
	// Without an exponent, only a literal of 309+ integer digits can overflow.
	if hasExp || intDigits > 300 {
		// ParseFloat returns ±Inf with ErrRange on overflow, ±0 on underflow.
		if f, err := strconv.ParseFloat(string(data[start:i]), 64); err != nil && math.IsInf(f, 0) {
			return 0, &SyntaxError{Code: CodeNumberOutOfRange, Offset: int64(start),
				Msg: fmt.Sprintf("number %s overflows a 64-bit float", truncateLit(data[start:i]))}
		}
	}
	return i, nil
}

func truncateLit(lit []byte) string {
	if len(lit) > 40 {
		return string(lit[:37]) + "..."
	}
	return string(lit)
}

func quoteByte(data []byte, i int) string {
	if i >= len(data) {
		return "end of input"
	}
	if data[i] < utf8.RuneSelf {
		return strconv.QuoteRune(rune(data[i]))
	}
	return fmt.Sprintf("byte 0x%02x", data[i])
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
