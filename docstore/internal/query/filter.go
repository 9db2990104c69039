package query

import (
	"math/big"
	"slices"
	"strings"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
)

// Filter is a parsed MongoDB query filter. It is immutable and safe for
// concurrent use.
type Filter struct {
	root  node
	conds map[string]FieldCondition
}

// ParseFilter parses a filter document such as
// {"age":{"$gte":18},"tags":"go","$or":[{"a":1},{"b":{"$exists":true}}]}.
// An empty object matches every document. Errors are *QueryError.
func ParseFilter(v jsondoc.Value) (*Filter, error) {
	if v.Kind() != jsondoc.KindObject {
		return nil, qerr("filter", "a filter must be an object, got %s", jsondoc.TypeName(v))
	}
	root, err := parseFilterDoc(v, "filter", 0)
	if err != nil {
		return nil, err
	}
	f := &Filter{root: *root}
	f.conds = conditions(root)
	return f, nil
}

// Match reports whether doc satisfies the filter.
func (f *Filter) Match(doc jsondoc.Value) bool { return f.root.match(&doc) }

func parseFilterDoc(v jsondoc.Value, where string, depth int) (*node, error) {
	if depth > maxNesting {
		return nil, qerr(where, "filter nests more than %d levels deep", maxNesting)
	}
	out := &node{kind: nodeAnd}
	for _, m := range v.Members() {
		key, val := m.Key, m.Value
		at := join(where, key)
		if strings.HasPrefix(key, "$") {
			var list []node
			switch key {
			case "$and", "$or", "$nor":
				subs, err := parseFilterList(val, at, depth+1)
				if err != nil {
					return nil, err
				}
				list = subs
			case "$comment":
				continue
			default:
				return nil, qerr(at, "unknown top-level operator %s", key)
			}
			kind := map[string]nodeKind{"$and": nodeAnd, "$or": nodeOr, "$nor": nodeNor}[key]
			out.subs = append(out.subs, node{kind: kind, subs: list})
			continue
		}
		segs, err := splitPath(key, at)
		if err != nil {
			return nil, err
		}
		ops, err := parseFieldValue(val, at, depth+1)
		if err != nil {
			return nil, err
		}
		out.subs = append(out.subs, node{kind: nodeField, path: key, segs: segs, ops: ops})
	}
	return out, nil
}

func parseFilterList(v jsondoc.Value, at string, depth int) ([]node, error) {
	op := at[strings.LastIndexByte(at, '.')+1:]
	if v.Kind() != jsondoc.KindArray || len(v.Elems()) == 0 {
		return nil, qerr(at, "%s needs a non-empty array of filters, got %s", op, describe(v))
	}
	var out []node
	for i, e := range v.Elems() {
		eat := at + "." + itoa(i)
		if e.Kind() != jsondoc.KindObject {
			return nil, qerr(eat, "%s elements must be filter objects, got %s", op, jsondoc.TypeName(e))
		}
		sub, err := parseFilterDoc(e, eat, depth)
		if err != nil {
			return nil, err
		}
		out = append(out, *sub)
	}
	return out, nil
}

func splitPath(p, at string) ([]string, error) {
	segs, err := jsondoc.SplitPath(p)
	if err != nil {
		return nil, qerr(at, "invalid field path %q: empty segment", p)
	}
	for _, s := range segs {
		if strings.HasPrefix(s, "$") {
			return nil, qerr(at, "invalid field path %q: segment %q starts with $", p, s)
		}
	}
	return segs, nil
}

// isOperatorObject reports whether v is an object of operators such as
// {"$gt":1} rather than a literal object to compare with.
func isOperatorObject(v jsondoc.Value) bool {
	ms := v.Members()
	return v.Kind() == jsondoc.KindObject && len(ms) > 0 && strings.HasPrefix(ms[0].Key, "$")
}

// parseFieldValue parses what a filter gives a field: an operator object,
// or a value for implicit equality.
func parseFieldValue(v jsondoc.Value, at string, depth int) ([]fieldOp, error) {
	if !isOperatorObject(v) {
		return []fieldOp{anyOf(eqTest(v))}, nil
	}
	return parseOps(v, at, depth)
}

// parseOps parses an operator object: {"$gt":1,"$lt":5}.
func parseOps(v jsondoc.Value, at string, depth int) ([]fieldOp, error) {
	if depth > maxNesting {
		return nil, qerr(at, "filter nests more than %d levels deep", maxNesting)
	}
	ms := v.Members()
	var ops []fieldOp
	var regex, options *jsondoc.Value
	for i := range ms {
		key, arg := ms[i].Key, ms[i].Value
		oat := join(at, key)
		switch key {
		case "$eq":
			ops = append(ops, anyOf(eqTest(arg)))
		case "$ne":
			ops = append(ops, notOf(anyOf(eqTest(arg))))
		case "$gt", "$gte", "$lt", "$lte":
			ops = append(ops, anyOf(cmpTest(cmpOps[key], arg)))
		case "$in", "$nin":
			t, err := parseIn(arg, oat, key)
			if err != nil {
				return nil, err
			}
			if key == "$in" {
				ops = append(ops, anyOf(t))
			} else {
				ops = append(ops, notOf(anyOf(t)))
			}
		case "$exists":
			op := anyOf(existsTest())
			if !truthy(arg) {
				op = notOf(op)
			}
			ops = append(ops, op)
		case "$type":
			t, err := parseType(arg, oat)
			if err != nil {
				return nil, err
			}
			ops = append(ops, anyOf(t))
		case "$regex":
			if arg.Kind() != jsondoc.KindString {
				return nil, qerr(oat, "$regex needs a string pattern, got %s", describe(arg))
			}
			regex = &ms[i].Value
		case "$options":
			if arg.Kind() != jsondoc.KindString {
				return nil, qerr(oat, "$options needs a string, got %s", describe(arg))
			}
			options = &ms[i].Value
		case "$not":
			if !isOperatorObject(arg) {
				return nil, qerr(oat, "$not needs an object of operators such as {\"$gt\":5}, got %s", describe(arg))
			}
			sub, err := parseOps(arg, oat, depth+1)
			if err != nil {
				return nil, err
			}
			ops = append(ops, notOf(sub...))
		case "$size":
			n, ok := arg.Int64()
			if !ok || n < 0 || n > 1<<31 {
				return nil, qerr(oat, "$size needs a non-negative integer, got %s", describe(arg))
			}
			ops = append(ops, anyOf(sizeTest(int(n))))
		case "$mod":
			t, err := parseMod(arg, oat)
			if err != nil {
				return nil, err
			}
			ops = append(ops, anyOf(t))
		case "$all":
			op, err := parseAll(arg, oat, depth+1)
			if err != nil {
				return nil, err
			}
			ops = append(ops, op)
		case "$elemMatch":
			t, err := parseElemMatch(arg, oat, depth+1)
			if err != nil {
				return nil, err
			}
			ops = append(ops, anyOf(t))
		case "$comment":
		default:
			if strings.HasPrefix(key, "$") {
				return nil, qerr(oat, "unknown operator %s", key)
			}
			return nil, qerr(oat, "cannot mix operators and the field %q in one object (use a dotted path, or $eq for a literal object)", key)
		}
	}
	if options != nil && regex == nil {
		return nil, qerr(join(at, "$options"), "$options needs $regex beside it")
	}
	if regex != nil {
		opts := ""
		if options != nil {
			opts = options.Str()
		}
		re, err := compileRegex(regex.Str(), opts, join(at, "$regex"))
		if err != nil {
			return nil, err
		}
		ops = append(ops, anyOf(regexTest(re)))
	}
	return ops, nil
}

var cmpOps = map[string]cmpOp{"$gt": opGT, "$gte": opGTE, "$lt": opLT, "$lte": opLTE}

func parseIn(arg jsondoc.Value, at, op string) (valueTest, error) {
	if arg.Kind() != jsondoc.KindArray {
		return valueTest{}, qerr(at, "%s needs an array, got %s", op, describe(arg))
	}
	vals := slices.Clone(arg.Elems())
	for i, e := range vals {
		if isOperatorObject(e) {
			return valueTest{}, qerr(at+"."+itoa(i), "%s elements cannot be operator objects", op)
		}
	}
	// Sorted by Compare so that a long list is searched in O(log n);
	// Compare's ties are exactly the values $in considers equal.
	slices.SortFunc(vals, jsondoc.Compare)
	return inTest(vals), nil
}

// parseMod parses $mod's [divisor, remainder]. As in MongoDB, both are
// numbers truncated toward zero, the divisor may not be 0, and a value
// matches when its own truncation leaves that remainder (the sign of the
// remainder follows the value: -7 mod 4 is -3).
func parseMod(arg jsondoc.Value, at string) (valueTest, error) {
	if arg.Kind() != jsondoc.KindArray {
		return valueTest{}, qerr(at, "$mod needs an array [divisor, remainder], got %s", describe(arg))
	}
	if n := len(arg.Elems()); n != 2 {
		return valueTest{}, qerr(at, "$mod needs exactly 2 elements [divisor, remainder], got %d", n)
	}
	var parts [2]*big.Int
	for i, name := range []string{"divisor", "remainder"} {
		e := arg.Elems()[i]
		n, ok := jsondoc.IntegerPart(e)
		if !ok {
			return valueTest{}, qerr(at+"."+itoa(i), "$mod %s must be a number, got %s", name, describe(e))
		}
		parts[i] = n
	}
	if parts[0].Sign() == 0 {
		return valueTest{}, qerr(at+".0", "$mod divisor cannot be 0")
	}
	return modTest(parts[0], parts[1]), nil
}

// allSetMin is the number of $all values above which they are matched
// through a valueSet.
const allSetMin = 8

func parseAll(arg jsondoc.Value, at string, depth int) (fieldOp, error) {
	if arg.Kind() != jsondoc.KindArray {
		return fieldOp{}, qerr(at, "$all needs an array, got %s", describe(arg))
	}
	var ops []fieldOp
	plain := true
	for i, e := range arg.Elems() {
		if ms := e.Members(); isOperatorObject(e) {
			plain = false
			if len(ms) != 1 || ms[0].Key != "$elemMatch" {
				return fieldOp{}, qerr(at+"."+itoa(i), "$all elements may be values or {\"$elemMatch\":…} only")
			}
			t, err := parseElemMatch(ms[0].Value, at+"."+itoa(i)+".$elemMatch", depth)
			if err != nil {
				return fieldOp{}, err
			}
			ops = append(ops, anyOf(t))
			continue
		}
		ops = append(ops, anyOf(eqTest(e)))
	}
	op := allOf(ops)
	if plain && len(ops) > allSetMin {
		// One walk over the candidates, each looked up in a hash set,
		// instead of one walk per value.
		op.set = newValueSet(arg.Elems())
	}
	return op, nil
}

func parseElemMatch(arg jsondoc.Value, at string, depth int) (valueTest, error) {
	if arg.Kind() != jsondoc.KindObject {
		return valueTest{}, qerr(at, "$elemMatch needs an object, got %s", describe(arg))
	}
	if isOperatorObject(arg) {
		switch arg.Members()[0].Key {
		case "$and", "$or", "$nor":
		default:
			ops, err := parseOps(arg, at, depth)
			if err != nil {
				return valueTest{}, err
			}
			return elemMatchValue(ops), nil
		}
	}
	sub, err := parseFilterDoc(arg, at, depth)
	if err != nil {
		return valueTest{}, err
	}
	return elemMatchDoc(sub), nil
}

// truthy follows MongoDB's $exists: false, 0 and null are false.
func truthy(v jsondoc.Value) bool {
	switch v.Kind() {
	case jsondoc.KindBool:
		return v.BoolValue()
	case jsondoc.KindNull, jsondoc.KindMissing:
		return false
	case jsondoc.KindNumber:
		f, _ := v.Float64()
		return f != 0
	}
	return true
}

// describe names a bad operand in an error: its type and, when short, the
// JSON.
func describe(v jsondoc.Value) string {
	if v.Kind() == jsondoc.KindNull {
		return "null"
	}
	s := v.String()
	if len(s) > 40 {
		return jsondoc.TypeName(v)
	}
	return jsondoc.TypeName(v) + " " + s
}

func itoa(i int) string { return jsondoc.Int(int64(i)).NumberLiteral() }

// TopLevelFields returns the first path segment of every field the filter
// reads, so a caller may build only those members of a document before
// calling Match (see jsondoc.ParseFields).
func (f *Filter) TopLevelFields() []string {
	seen := map[string]bool{}
	var out []string
	var walk func(n *node)
	walk = func(n *node) {
		if n.kind == nodeField {
			if len(n.segs) > 0 && !seen[n.segs[0]] {
				seen[n.segs[0]] = true
				out = append(out, n.segs[0])
			}
			return
		}
		for i := range n.subs {
			walk(&n.subs[i])
		}
	}
	walk(&f.root)
	return out
}
