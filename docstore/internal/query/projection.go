package query

import (
	"strings"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
)

// Projection selects the fields of returned documents. It is immutable and
// safe for concurrent use.
type Projection struct {
	include bool      // include mode: keep only the listed paths
	tree    *projNode // the listed paths other than _id
	idOut   bool      // _id removed ("_id":0)
	slices  []projSlice
}

// projSlice is a {"path":{"$slice":…}} projection: the array at segs keeps
// limit elements from skip; a negative skip counts from the end.
type projSlice struct {
	segs  []string
	skip  int
	limit int
}

// projNode is a trie of projected path segments; leaf marks a listed path.
type projNode struct {
	leaf     bool
	children map[string]*projNode
	order    []string // children keys in the order listed
}

// ParseProjection parses {"a":1,"b.c":1} (include: only these fields and
// _id) or {"a":0,"b.c":0} (exclude these fields). _id is kept unless
// {"_id":0}. 1/true/any non-zero number includes, 0/false excludes;
// {"$slice":n} trims an array to its first n elements (the last -n for a
// negative n) and {"$slice":[skip,limit]} to limit elements from skip
// (counted from the end when negative), as MongoDB does: a sliced field is
// included in an inclusion projection, and otherwise every field is kept
// (but excluded ones) with the array sliced. Other values and projection
// operators are errors, as are mixing inclusion and exclusion of fields
// other than _id, and overlapping paths ("a" and "a.b"). An empty
// projection returns documents unchanged.
func ParseProjection(v jsondoc.Value) (*Projection, error) {
	if v.Kind() != jsondoc.KindObject {
		return nil, qerr("projection", "a projection must be an object, got %s", jsondoc.TypeName(v))
	}
	p := &Projection{tree: &projNode{}}
	mode := 0 // 1 include, -1 exclude, 0 not yet known
	var idMode int
	paths := &projNode{} // every path, for collisions between kinds
	for _, m := range v.Members() {
		at := join("projection", m.Key)
		var incl bool
		switch m.Value.Kind() {
		case jsondoc.KindObject:
			if m.Key == "_id" {
				return nil, qerr(at, "_id cannot take a projection operator")
			}
			sl, err := parseSlice(m.Value, at)
			if err != nil {
				return nil, err
			}
			if sl.segs, err = splitPath(m.Key, at); err != nil {
				return nil, err
			}
			if err := paths.add(sl.segs, at); err != nil {
				return nil, err
			}
			p.slices = append(p.slices, sl)
			continue
		case jsondoc.KindBool:
			incl = m.Value.BoolValue()
		case jsondoc.KindNumber:
			f, _ := m.Value.Float64()
			incl = f != 0
		default:
			return nil, qerr(at, "projection values must be 1, 0, true or false, got %s", describe(m.Value))
		}
		if m.Key == "_id" {
			idMode = 1
			if !incl {
				idMode = -1
			}
			continue
		}
		segs, err := splitPath(m.Key, at)
		if err != nil {
			return nil, err
		}
		want := 1
		if !incl {
			want = -1
		}
		switch {
		case mode == 0:
			mode = want
		case mode != want:
			return nil, qerr(at, "cannot mix inclusion and exclusion in one projection (only _id may differ)")
		}
		if err := paths.add(segs, at); err != nil {
			return nil, err
		}
		if err := p.tree.add(segs, at); err != nil {
			return nil, err
		}
	}
	switch {
	case mode == 1:
		p.include = true
		p.idOut = idMode == -1
	case mode == -1:
		p.idOut = idMode == -1
	case idMode == 1: // {"_id":1}: only _id
		p.include = true
	case idMode == -1: // {"_id":0}: everything but _id
		p.idOut = true
	}
	if p.include {
		for _, sl := range p.slices {
			if err := p.tree.add(sl.segs, "projection"); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// parseSlice parses a projection operator object, of which only $slice is
// supported.
func parseSlice(v jsondoc.Value, at string) (projSlice, error) {
	ms := v.Members()
	if len(ms) != 1 || ms[0].Key != "$slice" {
		if len(ms) > 0 && strings.HasPrefix(ms[0].Key, "$") && ms[0].Key != "$slice" {
			return projSlice{}, qerr(join(at, ms[0].Key), "projection operator %s is not supported (only $slice)", ms[0].Key)
		}
		return projSlice{}, qerr(at, "projection values must be 1, 0, true, false or {\"$slice\":…}, got %s", describe(v))
	}
	arg, sat := ms[0].Value, join(at, "$slice")
	integer := func(e jsondoc.Value, what string) (int, error) {
		n, ok := e.Int64()
		if !ok || n > 1<<31 || n < -(1<<31) {
			return 0, qerr(sat, "$slice %s must be an integer, got %s", what, describe(e))
		}
		return int(n), nil
	}
	switch arg.Kind() {
	case jsondoc.KindNumber:
		n, err := integer(arg, "count")
		if err != nil {
			return projSlice{}, err
		}
		if n < 0 {
			return projSlice{skip: n, limit: -n}, nil
		}
		return projSlice{limit: n}, nil
	case jsondoc.KindArray:
		es := arg.Elems()
		if len(es) != 2 {
			return projSlice{}, qerr(sat, "$slice needs a count or [skip, limit], got an array of %d elements", len(es))
		}
		skip, err := integer(es[0], "skip")
		if err != nil {
			return projSlice{}, err
		}
		limit, err := integer(es[1], "limit")
		if err != nil {
			return projSlice{}, err
		}
		if limit <= 0 {
			return projSlice{}, qerr(sat, "$slice limit must be positive, got %d", limit)
		}
		return projSlice{skip: skip, limit: limit}, nil
	}
	return projSlice{}, qerr(sat, "$slice needs a count or [skip, limit], got %s", describe(arg))
}

// apply slices the array at sl.segs in v: through objects, and through
// arrays to each object element; a non-array there is left as it is.
func (sl *projSlice) apply(v jsondoc.Value, segs []string) jsondoc.Value {
	switch v.Kind() {
	case jsondoc.KindArray:
		es := v.Elems()
		if len(segs) == 0 {
			start := sl.skip
			if start < 0 {
				start = max(len(es)+start, 0)
			}
			start = min(start, len(es))
			end := start + min(sl.limit, len(es)-start)
			return arrayOf(es[start:end:end])
		}
		out := make([]jsondoc.Value, len(es))
		for i, e := range es {
			out[i] = e
			if e.Kind() == jsondoc.KindObject {
				out[i] = sl.apply(e, segs)
			}
		}
		return jsondoc.Array(out)
	case jsondoc.KindObject:
		if len(segs) == 0 {
			return v
		}
		ms := v.Members()
		for i := range ms {
			if ms[i].Key == segs[0] {
				out := make([]jsondoc.Member, len(ms))
				copy(out, ms)
				out[i].Value = sl.apply(ms[i].Value, segs[1:])
				return jsondoc.Object(out)
			}
		}
	}
	return v
}

func (n *projNode) add(segs []string, at string) error {
	for i, s := range segs {
		if n.leaf {
			return qerr(at, "path collision: %q overlaps a shorter projected path", strings.Join(segs, "."))
		}
		c := n.children[s]
		if c == nil {
			if n.children == nil {
				n.children = map[string]*projNode{}
			}
			c = &projNode{}
			n.children[s] = c
			n.order = append(n.order, s)
		} else if i == len(segs)-1 {
			return qerr(at, "path collision: %q overlaps another projected path", strings.Join(segs, "."))
		}
		n = c
	}
	n.leaf = true
	return nil
}

// Apply returns doc projected. Paths through arrays apply to each object
// element (as in MongoDB: {"items.sku":1} keeps only sku in every element
// of items, and drops elements that are not objects). A nil Projection
// returns doc unchanged.
func (p *Projection) Apply(doc jsondoc.Value) jsondoc.Value {
	if p == nil || doc.Kind() != jsondoc.KindObject {
		return doc
	}
	out := p.fields(doc)
	for i := range p.slices {
		out = p.slices[i].apply(out, p.slices[i].segs)
	}
	return out
}

// fields applies the inclusions and exclusions.
func (p *Projection) fields(doc jsondoc.Value) jsondoc.Value {
	if p.include {
		var out []jsondoc.Member
		if id, ok := doc.Field("_id"); ok && !p.idOut {
			out = append(out, jsondoc.Member{Key: "_id", Value: id})
		}
		for _, m := range doc.Members() {
			if m.Key == "_id" {
				continue
			}
			if c := p.tree.children[m.Key]; c != nil {
				if v, ok := c.include(m.Value); ok {
					out = append(out, jsondoc.Member{Key: m.Key, Value: v})
				}
			}
		}
		return jsondoc.Object(out)
	}
	out := make([]jsondoc.Member, 0, len(doc.Members()))
	for _, m := range doc.Members() {
		if m.Key == "_id" && p.idOut {
			continue
		}
		c := p.tree.children[m.Key]
		switch {
		case c == nil || m.Key == "_id":
			out = append(out, m)
		case c.leaf:
		default:
			out = append(out, jsondoc.Member{Key: m.Key, Value: c.exclude(m.Value)})
		}
	}
	return jsondoc.Object(out)
}

// include keeps what the node selects in v; ok is false when nothing is
// kept.
func (n *projNode) include(v jsondoc.Value) (jsondoc.Value, bool) {
	if n.leaf {
		return v, true
	}
	switch v.Kind() {
	case jsondoc.KindObject:
		var out []jsondoc.Member
		for _, m := range v.Members() {
			if c := n.children[m.Key]; c != nil {
				if cv, ok := c.include(m.Value); ok {
					out = append(out, jsondoc.Member{Key: m.Key, Value: cv})
				}
			}
		}
		return jsondoc.Object(out), true
	case jsondoc.KindArray:
		out := []jsondoc.Value{}
		for _, e := range v.Elems() {
			if e.Kind() != jsondoc.KindObject && e.Kind() != jsondoc.KindArray {
				continue
			}
			if ev, ok := n.include(e); ok {
				out = append(out, ev)
			}
		}
		return jsondoc.Array(out), true
	}
	return jsondoc.Value{}, false
}

// exclude removes what the node selects from v.
func (n *projNode) exclude(v jsondoc.Value) jsondoc.Value {
	switch v.Kind() {
	case jsondoc.KindObject:
		out := make([]jsondoc.Member, 0, len(v.Members()))
		for _, m := range v.Members() {
			c := n.children[m.Key]
			switch {
			case c == nil:
				out = append(out, m)
			case c.leaf:
			default:
				out = append(out, jsondoc.Member{Key: m.Key, Value: c.exclude(m.Value)})
			}
		}
		return jsondoc.Object(out)
	case jsondoc.KindArray:
		out := make([]jsondoc.Value, len(v.Elems()))
		for i, e := range v.Elems() {
			out[i] = n.exclude(e)
		}
		return jsondoc.Array(out)
	}
	return v
}
