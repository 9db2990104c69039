package shell

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf8"
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

// outFormat is how a printer shows JSON results.
type outFormat int

const (
	// outJSON is compact JSON, one value per line (scripts, --json).
	outJSON outFormat = iota
	// outPretty is indented JSON, coloured on a terminal, with short
	// arrays of scalars on one line (mongosh's look).
	outPretty
	// outTable shows documents as rows of a text table, a table per
	// page; a result that is an object a field a line; other results as
	// compact JSON.
	outTable
)

var formatNames = []string{outJSON: "json", outPretty: "pretty", outTable: "table"}

func (f outFormat) String() string { return formatNames[f] }

// parseFormat reads a format's name.
func parseFormat(s string) (outFormat, error) {
	for i, n := range formatNames {
		if strings.EqualFold(s, n) {
			return outFormat(i), nil
		}
	}
	return 0, fmt.Errorf("unknown format %q: want table, json or pretty", s)
}

// printer writes command results in its format, plain text lines as they
// are.
type printer struct {
	w      io.Writer
	format outFormat
	color  bool // ANSI colours, in the pretty format
	// seen, when set, is told about every document printed (the
	// completer collects field names from it).
	seen func(doc []byte)

	mu  sync.Mutex
	buf bytes.Buffer
}

// setFormat changes the printer's format.
func (p *printer) setFormat(f outFormat) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.format = f
}

// getFormat returns the printer's format.
func (p *printer) getFormat() outFormat {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.format
}

// json prints one JSON value (which must be valid) and a newline; in the
// table format an object is a field a line and an array of objects a
// table.
func (p *printer) json(b []byte) {
	p.print(b, false)
}

// print prints b; asRow shows an object in the table format as a table of
// one row (a document) rather than a field a line (a result).
func (p *printer) print(b []byte, asRow bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf.Reset()
	if p.format == outTable {
		if rows, ok := tableRows(b); ok {
			if !asRow && bytes.TrimSpace(b)[0] == '{' {
				formatFields(&p.buf, rows[0])
			} else {
				formatTable(&p.buf, rows)
			}
			_, _ = p.w.Write(p.buf.Bytes())
			return
		}
	}
	formatJSON(&p.buf, b, p.format == outPretty, p.color && p.format == outPretty)
	p.buf.WriteByte('\n')
	_, _ = p.w.Write(p.buf.Bytes())
}

// doc prints a document.
func (p *printer) doc(b []byte) {
	if p.seen != nil {
		p.seen(b)
	}
	p.print(b, true)
}

// docs prints a page of documents: one table in the table format, else
// one document after the other.
func (p *printer) docs(docs []json.RawMessage) {
	if len(docs) == 0 {
		return
	}
	if p.seen != nil {
		for _, d := range docs {
			p.seen(d)
		}
	}
	if p.getFormat() != outTable {
		for _, d := range docs {
			p.json(d)
		}
		return
	}
	rows := make([][]byte, len(docs))
	for i, d := range docs {
		rows[i] = d
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf.Reset()
	formatTable(&p.buf, rows)
	_, _ = p.w.Write(p.buf.Bytes())
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

// outJSON appends src, a valid JSON value, to dst: indented by two
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
			if c == '[' && pretty {
				if elems, end, ok := scalarArray(src, i); ok {
					writeScalarArray(dst, elems, len(stack), paint)
					i = end
					continue
				}
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

// arrayWidth is how wide a line of an array of scalars may grow in the
// pretty format before it wraps.
const arrayWidth = 72

// scalarArray reports whether the array at src[i] holds only scalars
// (no object, no array), and returns its elements, compact, and the index
// after it.
func scalarArray(src []byte, i int) (elems [][]byte, end int, ok bool) {
	j := i + 1
	for {
		for j < len(src) && isSpace(src[j]) {
			j++
		}
		if j >= len(src) {
			return nil, 0, false
		}
		switch src[j] {
		case '{', '[':
			return nil, 0, false
		case ']':
			return elems, j + 1, true
		case ',':
			j++
			continue
		case '"':
			k := scanStringBytes(src, j)
			elems = append(elems, src[j:k])
			j = k
		default:
			k := j
			for k < len(src) && !isSpace(src[k]) && src[k] != ',' && src[k] != ']' {
				k++
			}
			if k == j {
				return nil, 0, false
			}
			elems = append(elems, src[j:k])
			j = k
		}
	}
}

// writeScalarArray writes an array of scalars on one line when it fits in
// arrayWidth, else several elements a line, at nesting level.
func writeScalarArray(dst *bytes.Buffer, elems [][]byte, level int, paint func(string, []byte)) {
	color := func(e []byte) string {
		switch e[0] {
		case '"':
			return colorString
		case 't', 'f':
			return colorBool
		case 'n':
			return colorNull
		}
		return colorNumber
	}
	total := 0
	for _, e := range elems {
		total += len(e) + 2
	}
	if total <= arrayWidth {
		dst.WriteByte('[')
		for k, e := range elems {
			if k > 0 {
				dst.WriteString(", ")
			}
			paint(color(e), e)
		}
		dst.WriteByte(']')
		return
	}
	indent := strings.Repeat("  ", level+1)
	dst.WriteString("[\n" + indent)
	width := 0
	for k, e := range elems {
		if k > 0 {
			dst.WriteByte(',')
			if width+len(e)+2 > arrayWidth {
				dst.WriteString("\n" + indent)
				width = 0
			} else {
				dst.WriteByte(' ')
				width++
			}
		}
		paint(color(e), e)
		width += len(e) + 1
	}
	dst.WriteString("\n" + strings.Repeat("  ", level) + "]")
}

// Table cells are cut to maxCell characters, the values of a result
// shown a field a line to maxField.
const (
	maxCell  = 32
	maxField = 100
)

// tableRows returns the rows of a value the table format shows as a
// table: an object (one row) or a non-empty array of objects.
func tableRows(b []byte) ([][]byte, bool) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		return nil, false
	}
	if t[0] == '{' {
		return [][]byte{t}, true
	}
	if t[0] != '[' {
		return nil, false
	}
	var a []json.RawMessage
	if json.Unmarshal(t, &a) != nil || len(a) == 0 {
		return nil, false
	}
	rows := make([][]byte, len(a))
	for i, r := range a {
		r = bytes.TrimSpace(r)
		if len(r) == 0 || r[0] != '{' {
			return nil, false
		}
		rows[i] = r
	}
	return rows, true
}

// objectFields returns the keys and values of a JSON object, in order.
func objectFields(b []byte) (keys []string, vals []json.RawMessage) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return keys, vals
		}
		k, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return keys, vals
		}
		keys = append(keys, k)
		vals = append(vals, v)
	}
	return keys, vals
}

// cellText is a value as a table shows it: a string without its quotes
// (unless it holds escapes), anything else compact JSON, cut to n
// characters.
func cellText(v json.RawMessage, n int) string {
	var s string
	plain := len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil && !strings.ContainsAny(s, "\n\r\t\x1b")
	if !plain {
		var b bytes.Buffer
		formatJSON(&b, v, false, false)
		s = b.String()
	}
	if utf8.RuneCountInString(s) > n {
		r := []rune(s)
		s = string(r[:n-1]) + "…"
	}
	return s
}

// outTable appends rows, JSON objects, as a table: a column per
// top-level field in the order they first appear, a header, a rule, and
// a line per row; a missing field is an empty cell.
func formatTable(dst *bytes.Buffer, rows [][]byte) {
	var cols []string
	index := map[string]int{}
	cells := make([]map[int]string, len(rows))
	for r, row := range rows {
		keys, vals := objectFields(row)
		cells[r] = make(map[int]string, len(keys))
		for k, key := range keys {
			c, ok := index[key]
			if !ok {
				c = len(cols)
				index[key] = c
				cols = append(cols, key)
			}
			cells[r][c] = cellText(vals[k], maxCell)
		}
	}
	widths := make([]int, len(cols))
	for c, name := range cols {
		widths[c] = utf8.RuneCountInString(name)
	}
	for _, row := range cells {
		for c, v := range row {
			widths[c] = max(widths[c], utf8.RuneCountInString(v))
		}
	}
	line := func(cell func(c int) string) {
		var l strings.Builder
		for c := range cols {
			v := cell(c)
			l.WriteString(v)
			if c < len(cols)-1 {
				l.WriteString(strings.Repeat(" ", widths[c]-utf8.RuneCountInString(v)+2))
			}
		}
		dst.WriteString(strings.TrimRight(l.String(), " "))
		dst.WriteByte('\n')
	}
	line(func(c int) string { return cols[c] })
	line(func(c int) string { return strings.Repeat("-", widths[c]) })
	for _, row := range cells {
		line(func(c int) string { return row[c] })
	}
}

// formatFields appends an object as lines of "field  value", the fields
// aligned: how the table format shows a result that is one object
// (stats, metrics, counts of a write).
func formatFields(dst *bytes.Buffer, obj []byte) {
	keys, vals := objectFields(obj)
	width := 0
	for _, k := range keys {
		width = max(width, utf8.RuneCountInString(k))
	}
	for i, k := range keys {
		dst.WriteString(k)
		dst.WriteString(strings.Repeat(" ", width-utf8.RuneCountInString(k)+2))
		dst.WriteString(strings.TrimRight(cellText(vals[i], maxField), " "))
		dst.WriteByte('\n')
	}
}
