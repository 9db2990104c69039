package agg

import (
	"strings"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
)

// projNode is one level of a $project (or $unset) specification.
type projNode struct {
	keys  []string
	items []*projItem
}

type projItem struct {
	include, exclude bool
	expr             expr
	sub              *projNode
}

func (n *projNode) find(k string) *projItem {
	for i, key := range n.keys {
		if key == k {
			return n.items[i]
		}
	}
	return nil
}

func (n *projNode) hasExprs() bool {
	for _, it := range n.items {
		if it.expr != nil || (it.sub != nil && it.sub.hasExprs()) {
			return true
		}
	}
	return false
}

// add puts item at path segs, creating the levels between.
func (n *projNode) add(segs []string, item *projItem, at string) error {
	for i, s := range segs {
		if s == "" || strings.HasPrefix(s, "$") {
			return perr(at, "invalid field path %q", strings.Join(segs, "."))
		}
		cur := n.find(s)
		if i == len(segs)-1 {
			if cur != nil {
				return perr(at, "path %q is specified twice (or collides with another path)", strings.Join(segs, "."))
			}
			n.keys, n.items = append(n.keys, s), append(n.items, item)
			return nil
		}
		if cur == nil {
			cur = &projItem{sub: &projNode{}}
			n.keys, n.items = append(n.keys, s), append(n.items, cur)
		} else if cur.sub == nil {
			return perr(at, "path %q collides with %q", strings.Join(segs, "."), strings.Join(segs[:i+1], "."))
		}
		n = cur.sub
	}
	return nil
}

// projection is a compiled $project: inclusion (with computed fields) or
// exclusion.
type projection struct {
	root      *projNode
	exclusion bool
	idExclude bool // _id: 0 in an inclusion
}

func parseProject(spec jsondoc.Value, at string) (*projection, error) {
	if spec.Kind() != jsondoc.KindObject || len(spec.Members()) == 0 {
		return nil, perr(at, "$project needs a non-empty object")
	}
	p := &projection{root: &projNode{}}
	var incl, excl bool
	if err := p.parseLevel(p.root, nil, spec, at, &incl, &excl); err != nil {
		return nil, err
	}
	if incl && excl {
		return nil, perr(at, "cannot mix inclusion and exclusion in one $project (except _id: 0)")
	}
	p.exclusion = excl
	if !incl && !excl {
		// Only _id: an inclusion with _id: 1, an exclusion with _id: 0.
		p.exclusion = p.root.find("_id").exclude
	}
	if !p.exclusion {
		if it := p.root.find("_id"); it != nil && it.exclude {
			p.idExclude = true
			// drop the _id: 0 item from the inclusion tree
			for i, k := range p.root.keys {
				if k == "_id" {
					p.root.keys = append(p.root.keys[:i:i], p.root.keys[i+1:]...)
					p.root.items = append(p.root.items[:i:i], p.root.items[i+1:]...)
					break
				}
			}
		}
	}
	return p, nil
}

func (p *projection) parseLevel(n *projNode, prefix []string, spec jsondoc.Value, at string, incl, excl *bool) error {
	for _, m := range spec.Members() {
		segs := strings.Split(m.Key, ".")
		full := append(append([]string(nil), prefix...), segs...)
		where := at + "." + m.Key
		v := m.Value
		item := &projItem{}
		isID := len(full) == 1 && full[0] == "_id"
		switch v.Kind() {
		case jsondoc.KindBool, jsondoc.KindNumber:
			if truthy(v) {
				item.include = true
				if !isID {
					*incl = true
				}
			} else {
				item.exclude = true
				if !isID {
					*excl = true
				}
			}
		case jsondoc.KindObject:
			if ms := v.Members(); len(ms) > 0 && !strings.HasPrefix(ms[0].Key, "$") {
				if err := p.parseLevel(n, full, v, where, incl, excl); err != nil {
					return err
				}
				continue
			}
			fallthrough
		default:
			x, err := compileExpr(v, where)
			if err != nil {
				return err
			}
			item.expr = x
			*incl = true
		}
		if err := n.add(full, item, where); err != nil {
			return err
		}
	}
	return nil
}

func (p *projection) apply(doc jsondoc.Value) (jsondoc.Value, error) {
	if p.exclusion {
		return excludeApply(p.root, doc), nil
	}
	out, err := includeApply(p.root, doc, doc, true, !p.idExclude)
	if err != nil {
		return out, err
	}
	if out.IsMissing() {
		out = jsondoc.Object(nil)
	}
	return out, nil
}

func excludeApply(n *projNode, v jsondoc.Value) jsondoc.Value {
	switch v.Kind() {
	case jsondoc.KindArray:
		out := make([]jsondoc.Value, 0, len(v.Elems()))
		for _, e := range v.Elems() {
			out = append(out, excludeApply(n, e))
		}
		return jsondoc.Array(out)
	case jsondoc.KindObject:
		out := make([]jsondoc.Member, 0, len(v.Members()))
		for _, m := range v.Members() {
			it := n.find(m.Key)
			switch {
			case it == nil, it.include:
				out = append(out, m)
			case it.sub != nil:
				out = append(out, jsondoc.Member{Key: m.Key, Value: excludeApply(it.sub, m.Value)})
			}
		}
		return jsondoc.Object(out)
	}
	return v
}

// includeApply builds the included fields of v (in v's order), then adds
// the computed ones (in the specification's order). withID keeps _id at
// the top level.
func includeApply(n *projNode, v, root jsondoc.Value, top, withID bool) (jsondoc.Value, error) {
	if v.Kind() == jsondoc.KindArray && !top {
		out := make([]jsondoc.Value, 0, len(v.Elems()))
		for _, e := range v.Elems() {
			if e.Kind() != jsondoc.KindObject && e.Kind() != jsondoc.KindArray && !n.hasExprs() {
				continue
			}
			r, err := includeApply(n, e, root, false, false)
			if err != nil {
				return r, err
			}
			if !r.IsMissing() {
				out = append(out, r)
			}
		}
		return jsondoc.Array(out), nil
	}
	if v.Kind() != jsondoc.KindObject {
		if !n.hasExprs() {
			return jsondoc.Missing(), nil
		}
		v = jsondoc.Object(nil)
	}
	var out []jsondoc.Member
	if top && withID {
		if it := n.find("_id"); it == nil || it.include {
			if id, ok := v.Field("_id"); ok {
				out = append(out, jsondoc.Member{Key: "_id", Value: id})
			}
		}
	}
	for _, m := range v.Members() {
		if top && m.Key == "_id" {
			continue
		}
		it := n.find(m.Key)
		switch {
		case it == nil || it.expr != nil:
		case it.include:
			out = append(out, m)
		case it.sub != nil:
			r, err := includeApply(it.sub, m.Value, root, false, false)
			if err != nil {
				return r, err
			}
			if !r.IsMissing() {
				out = append(out, jsondoc.Member{Key: m.Key, Value: r})
			}
		}
	}
	for i, k := range n.keys {
		it := n.items[i]
		switch {
		case it.expr != nil:
			r, err := it.expr.eval(root)
			if err != nil {
				return r, err
			}
			if !r.IsMissing() {
				out = setMember(out, k, r)
			}
		case it.sub != nil && it.sub.hasExprs():
			if _, ok := v.Field(k); ok {
				continue // done with the included fields
			}
			r, err := includeApply(it.sub, jsondoc.Object(nil), root, false, false)
			if err != nil {
				return r, err
			}
			out = setMember(out, k, r)
		}
	}
	return jsondoc.Object(out), nil
}

// setMember sets key in ms, in place if present, else at the end.
func setMember(ms []jsondoc.Member, key string, v jsondoc.Value) []jsondoc.Member {
	for i := range ms {
		if ms[i].Key == key {
			ms[i].Value = v
			return ms
		}
	}
	return append(ms, jsondoc.Member{Key: key, Value: v})
}

func removeMember(ms []jsondoc.Member, key string) []jsondoc.Member {
	for i := range ms {
		if ms[i].Key == key {
			return append(ms[:i:i], ms[i+1:]...)
		}
	}
	return ms
}

// addField is one field of $addFields: a path and its expression.
type addField struct {
	segs []string
	expr expr
}

func parseAddFields(spec jsondoc.Value, at, name string) ([]addField, error) {
	if spec.Kind() != jsondoc.KindObject || len(spec.Members()) == 0 {
		return nil, perr(at, "%s needs a non-empty object", name)
	}
	var out []addField
	var walk func(prefix []string, spec jsondoc.Value, at string) error
	walk = func(prefix []string, spec jsondoc.Value, at string) error {
		for _, m := range spec.Members() {
			where := at + "." + m.Key
			segs := append(append([]string(nil), prefix...), strings.Split(m.Key, ".")...)
			for _, s := range segs {
				if s == "" || strings.HasPrefix(s, "$") {
					return perr(where, "invalid field path %q", strings.Join(segs, "."))
				}
			}
			if m.Value.Kind() == jsondoc.KindObject && len(m.Value.Members()) > 0 && !strings.HasPrefix(m.Value.Members()[0].Key, "$") {
				if err := walk(segs, m.Value, where); err != nil {
					return err
				}
				continue
			}
			x, err := compileExpr(m.Value, where)
			if err != nil {
				return err
			}
			out = append(out, addField{segs: segs, expr: x})
		}
		return nil
	}
	if err := walk(nil, spec, at); err != nil {
		return nil, err
	}
	return out, nil
}

func applyAddFields(fields []addField, doc jsondoc.Value) (jsondoc.Value, error) {
	vals := make([]jsondoc.Value, len(fields))
	for i, f := range fields {
		v, err := f.expr.eval(doc)
		if err != nil {
			return v, err
		}
		vals[i] = v
	}
	out := doc
	for i, f := range fields {
		out = setPathAgg(out, f.segs, vals[i])
	}
	return out, nil
}

// setPathAgg sets (or, for a missing value, removes) the field at segs
// with $addFields' rules: through an array it sets the field in each
// element, and a non-object on the way is replaced by an object.
func setPathAgg(v jsondoc.Value, segs []string, val jsondoc.Value) jsondoc.Value {
	if v.Kind() == jsondoc.KindArray {
		out := make([]jsondoc.Value, len(v.Elems()))
		for i, e := range v.Elems() {
			out[i] = setPathAgg(e, segs, val)
		}
		return jsondoc.Array(out)
	}
	var ms []jsondoc.Member
	if v.Kind() == jsondoc.KindObject {
		ms = append([]jsondoc.Member(nil), v.Members()...)
	}
	if len(segs) == 1 {
		if val.IsMissing() {
			return jsondoc.Object(removeMember(ms, segs[0]))
		}
		return jsondoc.Object(setMember(ms, segs[0], val))
	}
	cur, _ := jsondoc.Object(ms).Field(segs[0])
	return jsondoc.Object(setMember(ms, segs[0], setPathAgg(cur, segs[1:], val)))
}
