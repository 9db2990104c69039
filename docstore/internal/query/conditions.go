package query

import "github.com/minidbgo/minidbgo/docstore/internal/jsondoc"

// FieldCondition describes, for an index planner, what a filter requires
// of one field path. It is a superset description: every document that
// Match accepts has, among the values Lookup returns for the path, one
// that satisfies each field set here. The planner must still run Match on
// every document it fetches. Unset fields constrain nothing.
//
// Only scalar operands (numbers, strings, booleans) appear: conditions on
// null, arrays and objects are left out, because null also matches missing
// fields and arrays match as a whole as well as element-wise.
type FieldCondition struct {
	// Eq is a value the path must hold ({"a":5}, {"a":{"$eq":5}}, an $all
	// element, or $eq inside $elemMatch).
	Eq *jsondoc.Value
	// In lists values one of which the path must hold ($in), sorted in
	// jsondoc.Compare order.
	In []jsondoc.Value
	// Lower and Upper bound the path's value in jsondoc.Compare order
	// ($gt, $gte, $lt, $lte); the bounds are in the operand's type bracket,
	// and the comparison operators match nothing outside it, so a planner
	// may also stop at the bracket's end.
	//
	// Both are set only when they come from one $elemMatch, which applies
	// them to the same element. Otherwise a filter such as
	// {"a":{"$gt":5,"$lt":10}} matches {"a":[1,20]} (one element is above 5,
	// another below 10) although no value lies between the bounds, so only
	// Lower is given and the upper bound moves to ScalarUpper.
	Lower, Upper                   *jsondoc.Value
	LowerInclusive, UpperInclusive bool
	// ScalarUpper is an upper bound that also holds when Lower is set, for
	// a planner that knows no document has an array along the path (a
	// non-multikey index); otherwise ignore it.
	ScalarUpper          *jsondoc.Value
	ScalarUpperInclusive bool
}

// Conditions returns a FieldCondition per dot path constrained by the
// filter's top-level conjunction (its fields and nested $and). $or, $nor,
// $not, $ne, $nin, $exists, $type, $regex, $size and conditions on null,
// arrays or objects contribute nothing. The map must not be modified.
func (f *Filter) Conditions() map[string]FieldCondition { return f.conds }

type bound struct {
	val  jsondoc.Value
	incl bool
}

// tighter reports whether a lower (or, with upper set, upper) bound b
// admits fewer values than c.
func (b bound) tighter(c bound, upper bool) bool {
	cmp := jsondoc.Compare(b.val, c.val)
	if upper {
		cmp = -cmp
	}
	return cmp > 0 || (cmp == 0 && !b.incl && c.incl)
}

type condBuilder struct {
	eq           *jsondoc.Value
	in           []jsondoc.Value
	lower, upper *bound
	pairLo       *bound // from one $elemMatch
	pairHi       *bound
}

func (b *condBuilder) addLower(x bound) {
	if b.lower == nil || x.tighter(*b.lower, false) {
		b.lower = &x
	}
}

func (b *condBuilder) addUpper(x bound) {
	if b.upper == nil || x.tighter(*b.upper, true) {
		b.upper = &x
	}
}

func conditions(root *node) map[string]FieldCondition {
	builders := map[string]*condBuilder{}
	collectConds(root, builders)
	if len(builders) == 0 {
		return nil
	}
	out := make(map[string]FieldCondition, len(builders))
	for path, b := range builders {
		var fc FieldCondition
		fc.Eq, fc.In = b.eq, b.in
		switch {
		case b.pairLo != nil && b.pairHi != nil:
			fc.Lower, fc.LowerInclusive = &b.pairLo.val, b.pairLo.incl
			fc.Upper, fc.UpperInclusive = &b.pairHi.val, b.pairHi.incl
		case b.lower != nil:
			fc.Lower, fc.LowerInclusive = &b.lower.val, b.lower.incl
			if b.upper != nil && jsondoc.Bracket(b.upper.val) == jsondoc.Bracket(b.lower.val) {
				fc.ScalarUpper, fc.ScalarUpperInclusive = &b.upper.val, b.upper.incl
			}
		case b.upper != nil:
			fc.Upper, fc.UpperInclusive = &b.upper.val, b.upper.incl
		}
		if fc.Eq != nil || fc.In != nil || fc.Lower != nil || fc.Upper != nil {
			out[path] = fc
		}
	}
	return out
}

func collectConds(n *node, builders map[string]*condBuilder) {
	for i := range n.subs {
		c := &n.subs[i]
		switch c.kind {
		case nodeAnd:
			collectConds(c, builders)
		case nodeField:
			b := builders[c.path]
			if b == nil {
				b = &condBuilder{}
				builders[c.path] = b
			}
			for j := range c.ops {
				collectOp(&c.ops[j], b, false)
			}
		}
	}
}

// collectOp adds what op requires to b. inElem is set for the operators of
// an $elemMatch, which apply to one element: a nested $elemMatch there
// constrains elements of that element, which the index does not hold.
func collectOp(op *fieldOp, b *condBuilder, inElem bool) {
	switch op.kind {
	case opAll:
		for i := range op.ops {
			collectOp(&op.ops[i], b, inElem)
		}
		return
	case opNot:
		return
	}
	t := &op.test
	switch t.kind {
	case testEq:
		if isScalar(t.val) && b.eq == nil {
			v := t.val
			b.eq = &v
		}
	case testIn:
		for _, v := range t.vals {
			if !isScalar(v) {
				return
			}
		}
		if b.in == nil || len(t.vals) < len(b.in) {
			b.in = t.vals
		}
	case testCmp:
		if !isScalar(t.val) {
			return
		}
		switch t.cmp {
		case opGT, opGTE:
			b.addLower(bound{t.val, t.cmp == opGTE})
		default:
			b.addUpper(bound{t.val, t.cmp == opLTE})
		}
	case testElemMatchValue:
		if inElem {
			return
		}
		// The operators apply to one element, so both bounds hold.
		var sub condBuilder
		for i := range t.ops {
			collectOp(&t.ops[i], &sub, true)
		}
		if sub.eq != nil && b.eq == nil {
			b.eq = sub.eq
		}
		if sub.in != nil && b.in == nil {
			b.in = sub.in
		}
		if sub.lower != nil {
			b.addLower(*sub.lower)
		}
		if sub.upper != nil {
			b.addUpper(*sub.upper)
		}
		if sub.lower != nil && sub.upper != nil && b.pairLo == nil &&
			jsondoc.Bracket(sub.lower.val) == jsondoc.Bracket(sub.upper.val) {
			b.pairLo, b.pairHi = sub.lower, sub.upper
		}
	}
}

func isScalar(v jsondoc.Value) bool {
	switch v.Kind() {
	case jsondoc.KindNumber, jsondoc.KindString, jsondoc.KindBool:
		return true
	}
	return false
}

// ScalarEqualities returns, keyed by path, the values of a filter that is
// nothing but equalities of paths to strings, numbers or booleans
// ({"a":1,"b.c":"x"}, with $eq and $and of such allowed), each path once;
// ok is false for any other filter. Where no document holds an array
// along those paths, such a filter matches exactly the documents whose
// value at each path compares equal to the given one, so an index on the
// paths can count them without reading a document.
func (f *Filter) ScalarEqualities() (map[string]jsondoc.Value, bool) {
	eqs := map[string]jsondoc.Value{}
	var walk func(n *node) bool
	walk = func(n *node) bool {
		switch n.kind {
		case nodeAnd:
			for i := range n.subs {
				if !walk(&n.subs[i]) {
					return false
				}
			}
			return true
		case nodeField:
			if len(n.ops) != 1 || n.ops[0].kind != opAny || n.ops[0].test.kind != testEq {
				return false
			}
			v := n.ops[0].test.val
			switch v.Kind() {
			case jsondoc.KindString, jsondoc.KindNumber, jsondoc.KindBool:
			default:
				return false // null also matches a missing path; arrays and objects match whole
			}
			if _, dup := eqs[n.path]; dup {
				return false
			}
			eqs[n.path] = v
			return true
		}
		return false
	}
	if !walk(&f.root) || len(eqs) == 0 {
		return nil, false
	}
	return eqs, true
}
