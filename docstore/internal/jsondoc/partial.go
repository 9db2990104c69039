package jsondoc

// ParseFields parses a JSON object, building only the top-level members
// whose key keep accepts; the values of the others are skipped without
// being built or fully validated. It is for documents that passed Parse
// before (stored documents), when only a few fields are needed, such as
// evaluating a filter during a collection scan. Malformed input gives an
// error or a partial result, never a panic.
func ParseFields(data []byte, keep func(key string) bool) (Value, error) {
	p := parser{data: data, maxDepth: 1 << 10}
	p.skipWS()
	if p.pos >= len(data) || data[p.pos] != '{' {
		return Value{}, p.errf(CodeDocumentMustBeObject, p.pos, "expected an object")
	}
	p.src = string(data)
	p.sc = scratchPool.Get().(*scratch)
	defer func() {
		p.sc.release()
		p.sc = nil
	}()
	p.pos++
	p.depth = 1
	var ms []Member
	for {
		p.skipWS()
		if p.pos >= len(data) {
			return Value{}, p.eof()
		}
		if data[p.pos] == '}' {
			break
		}
		if data[p.pos] != '"' {
			return Value{}, p.unexpected(p.pos, "looking for beginning of object key string")
		}
		key, err := p.string()
		if err != nil {
			return Value{}, err
		}
		p.skipWS()
		if p.pos >= len(data) || data[p.pos] != ':' {
			return Value{}, p.unexpected(p.pos, "after object key")
		}
		p.pos++
		p.skipWS()
		if keep(key) {
			v, err := p.value()
			if err != nil {
				return Value{}, err
			}
			ms = append(ms, Member{Key: key, Value: v})
		} else if err := p.skipValue(); err != nil {
			return Value{}, err
		}
		p.skipWS()
		if p.pos >= len(data) {
			return Value{}, p.eof()
		}
		if data[p.pos] == ',' {
			p.pos++
			continue
		}
		if data[p.pos] != '}' {
			return Value{}, p.unexpected(p.pos, "after object member")
		}
		break
	}
	return Value{kind: KindObject, obj: ms}, nil
}

// skipValue moves past one value, tracking only strings and nesting.
func (p *parser) skipValue() error {
	data := p.data
	depth := 0
	for p.pos < len(data) {
		c := data[p.pos]
		switch c {
		case '"':
			i := p.pos + 1
			for i < len(data) && data[i] != '"' {
				if data[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(data) {
				return p.eof()
			}
			p.pos = i + 1
		case '{', '[':
			depth++
			p.pos++
		case '}', ']':
			if depth == 0 {
				return nil // the end of the enclosing object
			}
			depth--
			p.pos++
		case ',':
			if depth == 0 {
				return nil
			}
			p.pos++
		default:
			p.pos++
		}
		if depth == 0 && (c == '"' || c == '}' || c == ']') {
			return nil
		}
	}
	return p.eof()
}
