package query

import (
	"strings"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
)

// visitFunc receives one candidate value reached through a path. elem is
// true for the elements of an array found at the end of the path (the
// array itself is visited first with elem false). Returning true stops
// the walk.
type visitFunc func(v jsondoc.Value, elem bool) bool

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
// It reports whether fn stopped the walk.
func walk(v jsondoc.Value, path []string, expand bool, fn visitFunc) bool {
	for i, seg := range path {
		switch v.Kind() {
		case jsondoc.KindObject:
			c, ok := v.Field(seg)
			if !ok {
				return fn(jsondoc.Value{}, false)
			}
			v = c
		case jsondoc.KindArray:
			return walkArray(v, path[i:], expand, fn)
		default:
			return fn(jsondoc.Value{}, false)
		}
	}
	if fn(v, false) {
		return true
	}
	if expand && v.Kind() == jsondoc.KindArray {
		for _, e := range v.Elems() {
			if fn(e, true) {
				return true
			}
		}
	}
	return false
}

func walkArray(arr jsondoc.Value, path []string, expand bool, fn visitFunc) bool {
	seg, rest := path[0], path[1:]
	elems := arr.Elems()
	if idx, ok := jsondoc.ArrayIndex(seg); ok {
		if idx < len(elems) && walk(elems[idx], rest, expand, fn) {
			return true
		}
		for _, e := range elems {
			if e.Kind() != jsondoc.KindObject {
				continue
			}
			if c, ok := e.Field(seg); ok && walk(c, rest, expand, fn) {
				return true
			}
		}
		return false
	}
	for _, e := range elems {
		if e.Kind() != jsondoc.KindObject {
			continue
		}
		c, ok := e.Field(seg)
		if !ok {
			if fn(jsondoc.Value{}, false) {
				return true
			}
			continue
		}
		if walk(c, rest, expand, fn) {
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
	var out []jsondoc.Value
	walk(doc, strings.Split(path, "."), true, func(v jsondoc.Value, elem bool) bool {
		switch {
		case v.IsMissing():
		case v.Kind() == jsondoc.KindArray && !elem:
			// The array itself: its elements follow.
		default:
			out = append(out, v)
		}
		return false
	})
	return out
}
