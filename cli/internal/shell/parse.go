package shell

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// A command line is words separated by spaces, where a word that starts
// with { or [ runs to its matching bracket (spaces, quotes and brackets
// inside strings included) and a word that starts with " or ' is a
// string:
//
//	updateOne products {_id: 'p1'} {$set: {name: "Laptop Pro"}}
//	\_______/ \______/ \_________/ \_________________________/
//	 command    word       JSON                JSON
//
// JSON arguments are relaxed JSON (see relaxJSON). A statement may also
// be written as mongosh's db.<collection>.<method>(...) (see dbcall.go).
// A statement may span lines while brackets or parentheses are open (see
// depth).

// arg is one word of a command line.
type arg struct {
	text string // as typed (a string word is unquoted)
	json bool   // an object or array
	// at locates the bytes of text in the user's statement, for errors;
	// nil for text that was not typed (standard input).
	at locator
}

// depth returns how many {, [ and ( are open at the end of s, outside
// strings; a statement with depth > 0 continues on the next line. A
// string left open at the end of a line does not continue it (strings
// hold no newlines). ' starts a string inside brackets or at the start of
// a word, so that a word such as o'clock is read as typed.
func depth(s string) int {
	d := 0
	for _, line := range strings.Split(s, "\n") {
		var quote byte
		esc := false
		for i := 0; i < len(line); i++ {
			c := line[i]
			switch {
			case quote != 0 && esc:
				esc = false
			case quote != 0 && c == '\\':
				esc = true
			case quote != 0 && c == quote:
				quote = 0
			case quote != 0:
			case c == '"':
				quote = c
			case c == '\'' && (d > 0 || i == 0 || isSpace(line[i-1])):
				quote = c
			case c == '{' || c == '[' || c == '(':
				d++
			case c == '}' || c == ']' || c == ')':
				d--
			}
		}
	}
	return d
}

// splitArgs splits a statement into words; locate(i) is the locator of
// the text starting at s[i].
func splitArgs(s string, locate func(i int) locator) ([]arg, error) {
	var out []arg
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return out, nil
		}
		start := i
		switch s[i] {
		case '{', '[':
			end, err := scanJSON(s, i, locate(0))
			if err != nil {
				return nil, err
			}
			i = end
			out = append(out, arg{text: s[start:i], json: true, at: locate(start)})
		case '"', '\'':
			str, end, err := quotedWord(s, i, locate(0))
			if err != nil {
				return nil, err
			}
			i = end
			out = append(out, arg{text: str, at: locate(start)})
		default:
			for i < len(s) && !isSpace(s[i]) && s[i] != '{' && s[i] != '[' {
				i++
			}
			out = append(out, arg{text: s[start:i], at: locate(start)})
			continue
		}
		if i < len(s) && !isSpace(s[i]) {
			return nil, &cmdError{code: "invalid_json", msg: fmt.Sprintf("unexpected %q at %s: a JSON value or a quoted string ends a word", s[i], locate(0)(i))}
		}
	}
}

// quotedWord reads the string word at s[i], quoted with " (JSON's rules)
// or ' (relaxJSON's), returning its value and the index after it.
func quotedWord(s string, i int, at locator) (string, int, error) {
	if s[i] == '\'' {
		str, end, err := singleQuoted(s, i)
		if err != nil {
			return "", 0, &cmdError{code: "invalid_json", msg: fmt.Sprintf("string at %s: %v", at(i), err)}
		}
		return str, end, nil
	}
	end := scanString(s, i)
	if end < 0 {
		return "", 0, &cmdError{code: "invalid_json", msg: fmt.Sprintf("unterminated string starting at %s", at(i))}
	}
	var str string
	if err := json.Unmarshal([]byte(s[i:end]), &str); err != nil {
		return "", 0, &cmdError{code: "invalid_json", msg: fmt.Sprintf("string at %s: %v", at(i), stringErr(err))}
	}
	return str, end, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// scanString returns the index after the JSON string starting at s[i],
// or -1 if it is not closed.
func scanString(s string, i int) int {
	esc := false
	for j := i + 1; j < len(s); j++ {
		switch {
		case esc:
			esc = false
		case s[j] == '\\':
			esc = true
		case s[j] == '"':
			return j + 1
		case s[j] == '\n':
			return -1
		}
	}
	return -1
}

// scanJSON returns the index after the bracketed value starting at s[i].
// It only matches brackets, skipping strings; relaxJSON checks the value.
func scanJSON(s string, i int, at locator) (int, error) {
	d := 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '"', '\'':
			end := scanQuoted(s, j)
			if end < 0 {
				return 0, &cmdError{code: "invalid_json", msg: fmt.Sprintf("unterminated string at %s", at(j))}
			}
			j = end - 1
		case '{', '[':
			d++
		case '}', ']':
			d--
			if d == 0 {
				return j + 1, nil
			}
		}
	}
	return 0, &cmdError{code: "invalid_json", msg: fmt.Sprintf("unexpected end of input: %d unclosed bracket(s) in the JSON starting at %s", d, at(i))}
}

// idFilter returns the _id of a filter of the form {"_id": "<string>"}.
func idFilter(filter []byte) (string, bool) {
	t := bytes.TrimSpace(filter)
	if len(t) < 2 || t[0] != '{' {
		return "", false
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	var m map[string]json.RawMessage
	if err := dec.Decode(&m); err != nil || len(m) != 1 {
		return "", false
	}
	raw, ok := m["_id"]
	if !ok || len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var id string
	if json.Unmarshal(raw, &id) != nil {
		return "", false
	}
	// A duplicate "_id" key would have been folded by the decoder; let
	// the database reject it instead of guessing.
	if bytes.Count(t, []byte(`"_id"`)) != 1 {
		return "", false
	}
	return id, true
}

// isUpdateDoc reports whether an update holds operators ($set, ...)
// rather than being a replacement document.
func isUpdateDoc(update []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(update))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	t, err := dec.Token()
	if err != nil {
		return false
	}
	k, ok := t.(string)
	return ok && strings.HasPrefix(k, "$")
}
