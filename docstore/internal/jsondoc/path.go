package jsondoc

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidPath is wrapped by errors about malformed dot paths.
var ErrInvalidPath = errors.New("jsondoc: invalid path")

// PathError reports a SetPath that cannot be carried out, such as creating
// a field inside a string. Path is the dotted path, At the index of the
// segment that failed.
type PathError struct {
	Path string
	At   int
	Msg  string
}

// Error implements error.
func (e *PathError) Error() string { return fmt.Sprintf("path %q: %s", e.Path, e.Msg) }

// MaxArrayPad bounds how far past an array's end SetPath may write: MongoDB
// pads with nulls, and an unbounded index would let one update allocate
// without limit.
const MaxArrayPad = 1 << 16

// SplitPath splits a dot path such as "items.0.sku" into its segments. It
// rejects the empty path and empty segments ("a..b", ".a", "a.").
func SplitPath(p string) ([]string, error) {
	if p == "" {
		return nil, fmt.Errorf("%w: empty path", ErrInvalidPath)
	}
	segs := strings.Split(p, ".")
	for _, s := range segs {
		if s == "" {
			return nil, fmt.Errorf("%w %q: empty segment", ErrInvalidPath, p)
		}
	}
	return segs, nil
}

// ArrayIndex parses a path segment that indexes an array: one or more ASCII
// digits whose value fits an int (MongoDB also accepts leading zeros).
func ArrayIndex(seg string) (int, bool) {
	if seg == "" || len(seg) > 9 {
		return 0, false // 9 digits keep the value far below any int
	}
	n := 0
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// Len returns the number of elements of an array or members of an object.
func (v Value) Len() int {
	switch v.kind {
	case KindArray:
		return len(v.arr)
	case KindObject:
		return len(v.obj)
	}
	return 0
}

// Lookup follows path through nested objects, with numeric segments
// indexing arrays, and returns the value there or missing. It does not
// expand arrays: "items.sku" on {"items":[{"sku":1}]} is missing (the query
// package implements MongoDB's array traversal).
func (v Value) Lookup(path []string) Value {
	for _, seg := range path {
		switch v.kind {
		case KindObject:
			var ok bool
			if v, ok = v.Field(seg); !ok {
				return Value{}
			}
		case KindArray:
			i, ok := ArrayIndex(seg)
			if !ok || i >= len(v.arr) {
				return Value{}
			}
			v = v.arr[i]
		default:
			return Value{}
		}
	}
	return v
}

// SetPath returns a copy of v with the value at path set to val, as
// MongoDB's $set does: missing intermediate fields become empty objects,
// a numeric segment on an array sets that element (padding with nulls up to
// MaxArrayPad past the end), and a non-numeric segment on an array or any
// segment on a scalar is a *PathError. Only the objects and arrays along
// the path are copied; v itself is unchanged. A missing v is treated as an
// empty object.
func (v Value) SetPath(path []string, val Value) (Value, error) {
	if len(path) == 0 {
		return Value{}, &PathError{Msg: "empty path"}
	}
	return setPath(v, path, 0, val)
}

func setPath(c Value, path []string, at int, val Value) (Value, error) {
	seg := path[at]
	last := at == len(path)-1
	switch c.kind {
	case KindMissing, KindObject:
		ms := c.obj
		for i := range ms {
			if ms[i].Key != seg {
				continue
			}
			nv := val
			if !last {
				var err error
				if nv, err = setPath(ms[i].Value, path, at+1, val); err != nil {
					return Value{}, err
				}
			}
			out := make([]Member, len(ms))
			copy(out, ms)
			out[i].Value = nv
			return Object(out), nil
		}
		nv := val
		if !last {
			var err error
			if nv, err = setPath(Value{}, path, at+1, val); err != nil {
				return Value{}, err
			}
		}
		out := make([]Member, len(ms), len(ms)+1)
		copy(out, ms)
		return Object(append(out, Member{Key: seg, Value: nv})), nil
	case KindArray:
		i, ok := ArrayIndex(seg)
		if !ok {
			return Value{}, &PathError{Path: strings.Join(path, "."), At: at,
				Msg: fmt.Sprintf("cannot create field %q in an array", seg)}
		}
		if i-len(c.arr) > MaxArrayPad {
			return Value{}, &PathError{Path: strings.Join(path, "."), At: at,
				Msg: fmt.Sprintf("index %d is more than %d past the end of the array", i, MaxArrayPad)}
		}
		var old Value
		if i < len(c.arr) {
			old = c.arr[i]
		}
		nv := val
		if !last {
			var err error
			if nv, err = setPath(old, path, at+1, val); err != nil {
				return Value{}, err
			}
		}
		n := max(len(c.arr), i+1)
		out := make([]Value, n)
		copy(out, c.arr)
		for k := len(c.arr); k < i; k++ {
			out[k] = Null()
		}
		out[i] = nv
		return Array(out), nil
	default:
		return Value{}, &PathError{Path: strings.Join(path, "."), At: at,
			Msg: fmt.Sprintf("cannot create field %q in a %s", seg, TypeName(c))}
	}
}

// UnsetPath returns a copy of v without the value at path, as MongoDB's
// $unset does: an object member is removed, an array element is replaced by
// null (so the other elements keep their positions). When nothing is at
// path, v is returned unchanged. Only the spine along path is copied.
func (v Value) UnsetPath(path []string) Value {
	if len(path) == 0 {
		return v
	}
	nv, _ := unsetPath(v, path)
	return nv
}

func unsetPath(c Value, path []string) (Value, bool) {
	seg := path[0]
	switch c.kind {
	case KindObject:
		for i := range c.obj {
			if c.obj[i].Key != seg {
				continue
			}
			if len(path) == 1 {
				out := make([]Member, 0, len(c.obj)-1)
				out = append(out, c.obj[:i]...)
				out = append(out, c.obj[i+1:]...)
				return Object(out), true
			}
			child, changed := unsetPath(c.obj[i].Value, path[1:])
			if !changed {
				return c, false
			}
			out := make([]Member, len(c.obj))
			copy(out, c.obj)
			out[i].Value = child
			return Object(out), true
		}
	case KindArray:
		i, ok := ArrayIndex(seg)
		if !ok || i >= len(c.arr) {
			return c, false
		}
		child := Null()
		if len(path) > 1 {
			var changed bool
			if child, changed = unsetPath(c.arr[i], path[1:]); !changed {
				return c, false
			}
		}
		out := make([]Value, len(c.arr))
		copy(out, c.arr)
		out[i] = child
		return Array(out), true
	}
	return c, false
}

// TypeName returns the name of v's kind: "missing", "null", "bool",
// "number", "string", "object" or "array".
func TypeName(v Value) string {
	switch v.kind {
	case KindNull:
		return "null"
	case KindBool:
		return "bool"
	case KindNumber:
		return "number"
	case KindString:
		return "string"
	case KindArray:
		return "array"
	case KindObject:
		return "object"
	}
	return "missing"
}

// String returns the kind's name, as TypeName does.
func (k Kind) String() string { return TypeName(Value{kind: k}) }
