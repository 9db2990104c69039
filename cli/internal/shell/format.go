package shell

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sync"
)

// ANSI colours of JSON output on a terminal (jq's choices, roughly).
const (
	colorKey    = "\x1b[34;1m"
	colorString = "\x1b[32m"
	colorNumber = "\x1b[33m"
	colorBool   = "\x1b[35m"
	colorNull   = "\x1b[90m"
	colorName   = "\x1b[36m"
	colorReset  = "\x1b[0m"
)

// printer writes command results: JSON indented and coloured on a
// terminal, compact otherwise, plain text lines as they are.
type printer struct {
	w      io.Writer
	pretty bool // indent JSON
	color  bool // ANSI colours
	// seen, when set, is told about every document printed (the
	// completer collects field names from it).
	seen func(doc []byte)

	mu  sync.Mutex
	buf bytes.Buffer
}

// json prints one JSON value (which must be valid) and a newline.
func (p *printer) json(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf.Reset()
	formatJSON(&p.buf, b, p.pretty, p.color)
	p.buf.WriteByte('\n')
	_, _ = p.w.Write(p.buf.Bytes())
}

// doc prints a document.
func (p *printer) doc(b []byte) {
	if p.seen != nil {
		p.seen(b)
	}
	p.json(b)
}

// value prints v encoded as JSON.
func (p *printer) value(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	p.json(b)
	return nil
}

// line prints a line of text.
func (p *printer) line(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format+"\n", args...)
}

// tagged prints "name <document>" on one line: the collection name, then
// the document compact (coloured on a terminal). dumpAll's format.
func (p *printer) tagged(name string, b []byte) {
	if p.seen != nil {
		p.seen(b)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf.Reset()
	if p.color {
		p.buf.WriteString(colorName + name + colorReset)
	} else {
		p.buf.WriteString(name)
	}
	p.buf.WriteByte(' ')
	formatJSON(&p.buf, b, false, p.color)
	p.buf.WriteByte('\n')
	_, _ = p.w.Write(p.buf.Bytes())
}

// formatJSON appends src, a valid JSON value, to dst: indented by two
// spaces when pretty, else compact; with ANSI colours when color. Strings
// and numbers are copied byte for byte, so nothing is re-encoded or
// rounded and keys keep their order.
func formatJSON(dst *bytes.Buffer, src []byte, pretty, color bool) {
	type frame struct{ obj, expectKey bool }
	var stack []frame
	newline := func() {
		if pretty {
			dst.WriteByte('\n')
			for range stack {
				dst.WriteString("  ")
			}
		}
	}
	paint := func(c string, b []byte) {
		if color {
			dst.WriteString(c)
			dst.Write(b)
			dst.WriteString(colorReset)
		} else {
			dst.Write(b)
		}
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case isSpace(c):
			i++
		case c == '"':
			end := scanStringBytes(src, i)
			if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].expectKey {
				paint(colorKey, src[i:end])
			} else {
				paint(colorString, src[i:end])
			}
			i = end
		case c == '{' || c == '[':
			closer := byte('}')
			if c == '[' {
				closer = ']'
			}
			j := i + 1
			for j < len(src) && isSpace(src[j]) {
				j++
			}
			if j < len(src) && src[j] == closer {
				dst.WriteByte(c)
				dst.WriteByte(closer)
				i = j + 1
				continue
			}
			dst.WriteByte(c)
			stack = append(stack, frame{obj: c == '{', expectKey: c == '{'})
			newline()
			i++
		case c == '}' || c == ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			newline()
			dst.WriteByte(c)
			i++
		case c == ',':
			dst.WriteByte(',')
			if n := len(stack); n > 0 && stack[n-1].obj {
				stack[n-1].expectKey = true
			}
			newline()
			i++
		case c == ':':
			dst.WriteByte(':')
			if pretty {
				dst.WriteByte(' ')
			}
			if n := len(stack); n > 0 {
				stack[n-1].expectKey = false
			}
			i++
		default:
			j := i
			for j < len(src) && !isSpace(src[j]) && !bytes.ContainsRune([]byte(",:]}"), rune(src[j])) {
				j++
			}
			lit := src[i:j]
			switch c {
			case 't', 'f':
				paint(colorBool, lit)
			case 'n':
				paint(colorNull, lit)
			default:
				paint(colorNumber, lit)
			}
			if j == i {
				j++ // never stall on unexpected input
			}
			i = j
		}
	}
}

// scanStringBytes returns the index after the JSON string at src[i].
func scanStringBytes(src []byte, i int) int {
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(src)
}

// fieldPaths calls add with every field path of doc (a JSON object) down
// to maxDepth levels: "name", "address", "address.city". Objects inside
// arrays are looked into, without indexes in the path.
func fieldPaths(doc []byte, maxDepth int, add func(string)) {
	walkFields(doc, "", maxDepth, add)
}

func walkFields(v []byte, prefix string, depth int, add func(string)) {
	v = bytes.TrimSpace(v)
	if depth <= 0 || len(v) == 0 {
		return
	}
	switch v[0] {
	case '{':
		var m map[string]json.RawMessage
		if json.Unmarshal(v, &m) != nil {
			return
		}
		for k, sub := range m {
			add(prefix + k)
			walkFields(sub, prefix+k+".", depth-1, add)
		}
	case '[':
		var a []json.RawMessage
		if json.Unmarshal(v, &a) != nil {
			return
		}
		for _, sub := range a {
			walkFields(sub, prefix, depth, add)
		}
	}
}
