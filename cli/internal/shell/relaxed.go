package shell

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The shell reads JSON arguments the way mongosh does, relaxed: keys may
// go unquoted ({price: {$gt: 10}}, dot paths included), strings may be
// single-quoted ('Laptop'), and a comma may follow the last element of an
// object or array. relaxJSON turns such a value into strict JSON before it
// reaches the database, whose own parser stays strict. Errors name the
// column in the user's line.

// locator describes position i of an argument's text for an error
// message: "column 12", or "line 2, column 3" in a statement of several
// lines.
type locator func(i int) string

// statementLocator returns the locator of the text that starts at byte
// start of stmt. Columns count characters from 1.
func statementLocator(stmt string, start int) locator {
	multi := strings.Contains(stmt, "\n")
	return func(i int) string {
		p := min(max(start+i, 0), len(stmt))
		lineStart := strings.LastIndexByte(stmt[:p], '\n') + 1
		col := utf8.RuneCountInString(stmt[lineStart:p]) + 1
		if !multi {
			return fmt.Sprintf("column %d", col)
		}
		return fmt.Sprintf("line %d, column %d", strings.Count(stmt[:p], "\n")+1, col)
	}
}

// relaxFrame is an object or array being read.
type relaxFrame struct {
	obj       bool
	expectKey bool
	keys      map[string]bool
}

// relaxJSON converts what, a relaxed JSON value, to strict JSON; at
// locates its bytes for errors. The result is checked with encoding/json,
// so it is one well-formed value. Duplicate keys are refused here, where
// the column can be named.
func relaxJSON(what, src string, at locator) (string, error) {
	if !utf8.ValidString(src) {
		return "", &cmdError{code: "invalid_utf8", msg: what + " is not valid UTF-8"}
	}
	bad := func(i int, format string, args ...any) error {
		return &cmdError{code: "invalid_json", msg: fmt.Sprintf("%s is not valid JSON: %s at %s", what, fmt.Sprintf(format, args...), at(i))}
	}
	var (
		out strings.Builder
		// anchors map out's bytes back to src's: from anchor a on, out's
		// byte a.out+k came from src's byte a.src+k (until the next).
		anchors []struct{ out, src int }
		stack   []relaxFrame
	)
	out.Grow(len(src) + 16)
	emit := func(s string, from int) {
		if n := len(anchors); n == 0 || anchors[n-1].out-anchors[n-1].src != out.Len()-from {
			anchors = append(anchors, struct{ out, src int }{out.Len(), from})
		}
		out.WriteString(s)
	}
	srcIndex := func(k int) int {
		i := 0
		for j, a := range anchors {
			if a.out <= k {
				i = j
			}
		}
		if len(anchors) == 0 {
			return k
		}
		return min(anchors[i].src+k-anchors[i].out, len(src)-1)
	}
	top := func() *relaxFrame {
		if len(stack) == 0 {
			return nil
		}
		return &stack[len(stack)-1]
	}
	// key records an object key, refusing a duplicate.
	key := func(k string, i int) error {
		f := top()
		if f == nil || !f.obj || !f.expectKey {
			return nil
		}
		if f.keys[k] {
			return &cmdError{code: "duplicate_key", msg: fmt.Sprintf("%s has the key %q twice (the second at %s)", what, k, at(i))}
		}
		f.keys[k] = true
		return nil
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case isSpace(c):
			emit(src[i:i+1], i)
			i++
		case c == '{' || c == '[':
			stack = append(stack, relaxFrame{obj: c == '{', expectKey: c == '{'})
			if c == '{' {
				stack[len(stack)-1].keys = map[string]bool{}
			}
			emit(src[i:i+1], i)
			i++
		case c == '}' || c == ']':
			if f := top(); f == nil || f.obj != (c == '}') {
				return "", bad(i, "unexpected %q", c)
			}
			stack = stack[:len(stack)-1]
			emit(src[i:i+1], i)
			i++
		case c == ',':
			j := i + 1
			for j < len(src) && isSpace(src[j]) {
				j++
			}
			if j < len(src) && (src[j] == '}' || src[j] == ']') {
				// A trailing comma: dropped, as mongosh does. {,} and [,]
				// stay errors.
				k := i - 1
				for k >= 0 && isSpace(src[k]) {
					k--
				}
				if k >= 0 && src[k] != '{' && src[k] != '[' && src[k] != ',' {
					i++
					continue
				}
			}
			if f := top(); f != nil && f.obj {
				f.expectKey = true
			}
			emit(",", i)
			i++
		case c == ':':
			if f := top(); f != nil && f.obj {
				f.expectKey = false
			}
			emit(":", i)
			i++
		case c == '"':
			end := scanString(src, i)
			if end < 0 {
				return "", bad(i, "unterminated string")
			}
			var k string
			if err := json.Unmarshal([]byte(src[i:end]), &k); err != nil {
				return "", bad(i, "bad string: %v", stringErr(err))
			}
			if err := key(k, i); err != nil {
				return "", err
			}
			emit(src[i:end], i)
			i = end
		case c == '\'':
			s, end, err := singleQuoted(src, i)
			if err != nil {
				return "", bad(i, "%v", err)
			}
			if err := key(s, i); err != nil {
				return "", err
			}
			b, _ := json.Marshal(s)
			emit(string(b), i)
			i = end
		case isWordByte(c):
			j := i
			for j < len(src) && (isWordByte(src[j]) || src[j] == '.' || (src[j] >= '0' && src[j] <= '9')) {
				j++
			}
			w := src[i:j]
			if f := top(); f != nil && f.obj && f.expectKey {
				if err := key(w, i); err != nil {
					return "", err
				}
				emit(`"`+w+`"`, i)
			} else if w == "true" || w == "false" || w == "null" {
				emit(w, i)
			} else if j < len(src) && src[j] == '(' {
				return "", bad(i, "%s(...) is JavaScript, which the shell does not run (an _id is a string: '...'; a date, an ISO string)", w)
			} else {
				return "", bad(i, "unquoted value %s (quote strings: '%s' or \"%s\")", w, w, w)
			}
			i = j
		case c >= '0' && c <= '9' && top() != nil && top().obj && top().expectKey:
			// {1: "a"}: a numeric key, as JavaScript reads it.
			j := i
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			if err := key(src[i:j], i); err != nil {
				return "", err
			}
			emit(`"`+src[i:j]+`"`, i)
			i = j
		default:
			j := i + 1
			for j < len(src) && !isSpace(src[j]) && !strings.ContainsRune(",:{}[]\"'", rune(src[j])) {
				j++
			}
			// The database refuses a number beyond float64's range; say
			// where it is.
			if f, err := strconv.ParseFloat(src[i:j], 64); err != nil && math.IsInf(f, 0) && json.Valid([]byte(src[i:j])) {
				return "", &cmdError{code: "number_out_of_range", msg: fmt.Sprintf("%s has the number %s, which overflows a 64-bit float, at %s", what, truncate(src[i:j]), at(i))}
			}
			emit(src[i:j], i)
			i = j
		}
	}
	strict := out.String()
	var raw json.RawMessage
	if err := json.Unmarshal([]byte(strict), &raw); err != nil {
		if se, ok := err.(*json.SyntaxError); ok {
			k := int(se.Offset) - 1
			msg := se.Error()
			if k >= len(strict) || k < 0 {
				return "", bad(len(src), "unexpected end of input")
			}
			return "", bad(srcIndex(k), "%s", msg)
		}
		return "", &cmdError{code: "invalid_json", msg: fmt.Sprintf("%s is not valid JSON: %v", what, err)}
	}
	return strict, nil
}

// stringErr shortens encoding/json's message about a bad string.
func stringErr(err error) string {
	if se, ok := err.(*json.SyntaxError); ok {
		return se.Error()
	}
	return err.Error()
}

// isWordByte reports whether c may start an unquoted key: a letter, _ or
// $ (as in $gt).
func isWordByte(c byte) bool {
	return c == '_' || c == '$' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// singleQuoted reads the single-quoted string at s[i] ('it\'s'), with
// JSON's escapes plus \', and returns its value and the index after it.
func singleQuoted(s string, i int) (string, int, error) {
	var b strings.Builder
	b.WriteByte('"')
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; c {
		case '\'':
			b.WriteByte('"')
			var v string
			if err := json.Unmarshal([]byte(b.String()), &v); err != nil {
				return "", 0, fmt.Errorf("bad string: %s", stringErr(err))
			}
			return v, j + 1, nil
		case '\n':
			return "", 0, fmt.Errorf("unterminated string")
		case '"':
			b.WriteString(`\"`)
		case '\\':
			if j+1 < len(s) && s[j+1] == '\'' {
				b.WriteByte('\'')
				j++
				continue
			}
			b.WriteByte('\\')
			if j+1 < len(s) {
				b.WriteByte(s[j+1])
				j++
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, fmt.Errorf("unterminated string")
}

// scanQuoted returns the index after the string starting at s[i], quoted
// with " or ', or -1 if it is not closed on its line.
func scanQuoted(s string, i int) int {
	q := s[i]
	esc := false
	for j := i + 1; j < len(s); j++ {
		switch {
		case esc:
			esc = false
		case s[j] == '\\':
			esc = true
		case s[j] == q:
			return j + 1
		case s[j] == '\n':
			return -1
		}
	}
	return -1
}

// truncate cuts a long literal for a message.
func truncate(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}
