package query

import (
	"strings"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
)

// missing is the candidate for an absent field. Never modified.
var missing jsondoc.Value

// field returns a pointer to an object's member value, or nil.
func field(v *jsondoc.Value, key string) *jsondoc.Value {
	ms := v.Members()
	for i := range ms {
		if ms[i].Key == key {
			return &ms[i].Value
		}
	}
	return nil
}

// walk visits every value that path reaches from v under MongoDB's rules:
//
//   - On an object, a segment selects the member; if there is none the
//     candidate is missing.
//   - On an array, a non-numeric segment applies to each element that is an
//     object (an element without the field is a missing candidate); scalar
//     and nested-array elements contribute nothing.
//   - On an array, a numeric segment selects that element (nothing if out
//     of range) and also applies as a field name to object elements that
//     have such a field.
//   - On a scalar (or null) before the path ends, the candidate is missing.
//   - An array at the end of the path is visited itself and then, when
//     expand is set, each of its elements (one level only).
//
// It calls t.test on each candidate (elem is true for the elements of an
// array at the end of the path, after the array itself) and reports whether
// a test returned true, which stops the walk.
func walk(v *jsondoc.Value, path []string, expand bool, t *valueTest) bool {
	for i, seg := range path {
		switch v.Kind() {
		case jsondoc.KindObject:
			if v = field(v, seg); v == nil {
				return t.test(&missing, false)
			}
		case jsondoc.KindArray:
			return walkArray(v, path[i:], expand, t)
		default:
			return t.test(&missing, false)
		}
	}
	if t.test(v, false) {
		return true
	}
	if expand && v.Kind() == jsondoc.KindArray {
		elems := v.Elems()
		for i := range elems {
			if t.test(&elems[i], true) {
				return true
			}
		}
	}
	return false
}

func walkArray(arr *jsondoc.Value, path []string, expand bool, t *valueTest) bool {
	seg, rest := path[0], path[1:]
	elems := arr.Elems()
	if idx, ok := jsondoc.ArrayIndex(seg); ok {
		if idx < len(elems) && walk(&elems[idx], rest, expand, t) {
			return true
		}
		for i := range elems {
			if elems[i].Kind() != jsondoc.KindObject {
				continue
			}
			if c := field(&elems[i], seg); c != nil && walk(c, rest, expand, t) {
				return true
			}
		}
		return false
	}
	for i := range elems {
		if elems[i].Kind() != jsondoc.KindObject {
			continue
		}
		c := field(&elems[i], seg)
		if c == nil {
			if t.test(&missing, false) {
				return true
			}
			continue
		}
		if walk(c, rest, expand, t) {
			return true
		}
	}
	return false
}

// Lookup returns the values that the dot path reaches in doc, expanding
// arrays as filters do: "items.sku" over an array of objects gives each
// element's sku, and an array at the end of the path gives its elements
// (not the array itself, as MongoDB's multikey indexes store elements).
// Missing values are left out, so a document without the field gives no
// values; an empty array at the end of the path gives none either.
//
// An index built from Lookup serves every condition that Filter.Conditions
// reports, because Match considers exactly these values (plus the whole
// arrays, which Conditions never describe).
func Lookup(doc jsondoc.Value, path string) []jsondoc.Value {
	var sk sink
	t := valueTest{kind: testCollect, sink: &sk}
	walk(&doc, strings.Split(path, "."), true, &t)
	return sk.out
}
