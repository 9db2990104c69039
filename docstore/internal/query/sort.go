package query

import (
	"strings"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
)

// SortField is one key of a sort: a dot path and its direction.
type SortField struct {
	Path string
	Desc bool
}

// Sort orders documents by one or more fields. It is immutable and safe
// for concurrent use.
type Sort struct {
	fields []SortField
	segs   [][]string
}

// ParseSort parses {"a":1,"b":-1}: each value is 1 (ascending) or -1
// (descending). An empty object gives a Sort with no fields.
func ParseSort(v jsondoc.Value) (*Sort, error) {
	if v.Kind() != jsondoc.KindObject {
		return nil, qerr("sort", "a sort must be an object such as {\"age\":-1}, got %s", jsondoc.TypeName(v))
	}
	s := &Sort{}
	for _, m := range v.Members() {
		at := join("sort", m.Key)
		n, ok := m.Value.Int64()
		if !ok || (n != 1 && n != -1) {
			return nil, qerr(at, "sort direction must be 1 or -1, got %s", describe(m.Value))
		}
		if err := s.add(m.Key, n == -1, at); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// ParseSortString parses the compact form used in URLs: "a,-b" sorts by a
// ascending then b descending ("+a" is also ascending), and "a:1,b:-1" or
// "a:asc,b:desc" are accepted too. Spaces around fields are ignored.
func ParseSortString(str string) (*Sort, error) {
	s := &Sort{}
	if strings.TrimSpace(str) == "" {
		return s, nil
	}
	for _, part := range strings.Split(str, ",") {
		f := strings.TrimSpace(part)
		at := "sort"
		desc := false
		if rest, dir, ok := strings.Cut(f, ":"); ok {
			f = strings.TrimSpace(rest)
			switch strings.ToLower(strings.TrimSpace(dir)) {
			case "1", "asc":
			case "-1", "desc":
				desc = true
			default:
				return nil, qerr(join(at, f), "sort direction must be 1, -1, asc or desc, got %q", dir)
			}
		} else if rest, ok := strings.CutPrefix(f, "-"); ok {
			f, desc = rest, true
		} else {
			f = strings.TrimPrefix(f, "+")
		}
		if f == "" {
			return nil, qerr(at, "empty field in sort %q", str)
		}
		if err := s.add(f, desc, join(at, f)); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Sort) add(path string, desc bool, at string) error {
	segs, err := splitPath(path, at)
	if err != nil {
		return err
	}
	for _, f := range s.fields {
		if f.Path == path {
			return qerr(at, "field %q appears twice in the sort", path)
		}
	}
	s.fields = append(s.fields, SortField{Path: path, Desc: desc})
	s.segs = append(s.segs, segs)
	return nil
}

// Fields returns the sort keys in order. Do not modify the result.
func (s *Sort) Fields() []SortField { return s.fields }

// Compare returns -1, 0 or +1 as a sorts before, with or after b, with
// MongoDB's semantics: values compare in jsondoc.Compare order (the BSON
// type order), a missing field sorts as null, and when a path reaches
// several values (an array, or a path through an array of objects) an
// ascending key uses the smallest of them and a descending key the
// largest. An empty array sorts before null. Equal documents compare 0;
// callers break ties (by _id).
func (s *Sort) Compare(a, b jsondoc.Value) int {
	for i, f := range s.fields {
		ka, kb := sortKey(a, s.segs[i], f.Desc), sortKey(b, s.segs[i], f.Desc)
		c := ka.compare(kb)
		if f.Desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// key is a document's sort key for one field: a value, or "empty array",
// which sorts before every value.
type key struct {
	v     jsondoc.Value
	empty bool
}

func (k key) compare(o key) int {
	switch {
	case k.empty && o.empty:
		return 0
	case k.empty:
		return -1
	case o.empty:
		return 1
	}
	return jsondoc.Compare(k.v, o.v)
}

// sortKey picks the smallest (or, for desc, largest) value the path
// reaches; arrays at the end of the path contribute their elements.
func sortKey(doc jsondoc.Value, segs []string, desc bool) key {
	// Fast path, without allocation: objects down to a non-array.
	c := &doc
	for _, seg := range segs {
		if c.Kind() != jsondoc.KindObject {
			return sortKeyWalk(doc, segs, desc)
		}
		if c = field(c, seg); c == nil {
			return key{}
		}
	}
	if c.Kind() != jsondoc.KindArray {
		return key{v: *c}
	}
	return sortKeyWalk(doc, segs, desc)
}

// sortKeyWalk is sortKey for paths that meet arrays.
func sortKeyWalk(doc jsondoc.Value, segs []string, desc bool) key {
	sk := sink{desc: desc}
	t := valueTest{kind: testSortKey, sink: &sk}
	walk(&doc, segs, true, &t)
	switch {
	case !sk.found && sk.sawEmpty:
		return key{empty: true}
	case !sk.found:
		return key{} // missing: sorts as null
	case sk.sawEmpty && !desc:
		return key{empty: true}
	}
	return sk.best
}

// fold takes one candidate into the sort key.
func (sk *sink) fold(v *jsondoc.Value, elem bool) {
	if v.Kind() == jsondoc.KindArray && !elem {
		if len(v.Elems()) == 0 {
			sk.sawEmpty = true
		}
		return // its elements follow
	}
	k := key{v: *v}
	if !sk.found {
		sk.best, sk.found = k, true
		return
	}
	if c := k.compare(sk.best); (!sk.desc && c < 0) || (sk.desc && c > 0) {
		sk.best = k
	}
}
