package shell

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// A command line is words separated by spaces, where a word that starts
// with { or [ runs to its matching bracket (spaces, quotes and brackets
// inside JSON strings included) and a word that starts with " is a JSON
// string:
//
//	updateOne products {"_id": "p1"} {"$set": {"name": "Laptop Pro"}}
//	\_______/ \______/ \___________/ \_____________________________/
//	 command    word       JSON                  JSON
//
// A statement may span lines while brackets are open (see depth).

// arg is one word of a command line.
type arg struct {
	text string // as typed (a JSON string word is unquoted)
	json bool   // an object or array
}

// depth returns how many { and [ are open at the end of s, outside JSON
// strings; a statement with depth > 0 continues on the next line. A
// string left open at the end of a line does not continue it (JSON
// strings hold no newlines).
func depth(s string) int {
	d := 0
	for _, line := range strings.Split(s, "\n") {
		inStr, esc := false, false
		for i := 0; i < len(line); i++ {
			c := line[i]
			switch {
			case inStr && esc:
				esc = false
			case inStr && c == '\\':
				esc = true
			case inStr && c == '"':
				inStr = false
			case inStr:
			case c == '"':
				inStr = true
			case c == '{' || c == '[':
				d++
			case c == '}' || c == ']':
				d--
			}
		}
	}
	return d
}

// splitArgs splits a statement into words.
func splitArgs(s string) ([]arg, error) {
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
			end, err := scanJSON(s, i)
			if err != nil {
				return nil, err
			}
			i = end
			out = append(out, arg{text: s[start:i], json: true})
		case '"':
			end := scanString(s, i)
			if end < 0 {
				return nil, &cmdError{code: "invalid_json", msg: fmt.Sprintf("unterminated string starting at column %d", start+1)}
			}
			var str string
			if err := json.Unmarshal([]byte(s[start:end]), &str); err != nil {
				return nil, &cmdError{code: "invalid_json", msg: fmt.Sprintf("string at column %d: %v", start+1, err)}
			}
			i = end
			out = append(out, arg{text: str})
		default:
			for i < len(s) && !isSpace(s[i]) && s[i] != '{' && s[i] != '[' {
				i++
			}
			out = append(out, arg{text: s[start:i]})
			continue
		}
		if i < len(s) && !isSpace(s[i]) {
			return nil, &cmdError{code: "invalid_json", msg: fmt.Sprintf("unexpected %q after the JSON value ending at column %d", s[i], i)}
		}
	}
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
// It only matches brackets; validate checks the JSON itself.
func scanJSON(s string, i int) (int, error) {
	d := 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '"':
			end := scanString(s, j)
			if end < 0 {
				return 0, &cmdError{code: "invalid_json", msg: fmt.Sprintf("unterminated string at column %d", j+1)}
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
	return 0, &cmdError{code: "invalid_json", msg: fmt.Sprintf("unexpected end of input: %d unclosed bracket(s) in the JSON starting at column %d", d, i+1)}
}

// validJSON checks that an argument is one well-formed JSON value, so
// that a typo gets the same message whichever backend runs the command.
// Stricter rules (duplicate keys, depth, number range) are the database's.
func validJSON(what string, b []byte) error {
	if !utf8.Valid(b) {
		return &cmdError{code: "invalid_utf8", msg: what + " is not valid UTF-8"}
	}
	var raw json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		if se, ok := err.(*json.SyntaxError); ok {
			return &cmdError{code: "invalid_json", msg: fmt.Sprintf("%s is not valid JSON: %v (at offset %d)", what, se, se.Offset)}
		}
		return &cmdError{code: "invalid_json", msg: fmt.Sprintf("%s is not valid JSON: %v", what, err)}
	}
	return nil
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
