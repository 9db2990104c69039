package query

import (
	"math"
	"math/big"
	"regexp"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
)

// The evaluation tree uses concrete structs switched on a kind rather than
// interfaces: a pointer passed through an interface (or func value) call
// escapes, which would cost Match an allocation per document.

type nodeKind uint8

const (
	nodeAnd nodeKind = iota
	nodeOr
	nodeNor
	nodeField
)

// node is one clause of a filter, evaluated against a document (or, inside
// $elemMatch, an array element): a conjunction, disjunction or negated
// disjunction of sub-clauses, or the operators on one path (all must hold).
type node struct {
	kind nodeKind
	subs []node // nodeAnd, nodeOr, nodeNor
	path string // nodeField
	segs []string
	ops  []fieldOp
}

func (n *node) match(doc *jsondoc.Value) bool {
	switch n.kind {
	case nodeAnd:
		for i := range n.subs {
			if !n.subs[i].match(doc) {
				return false
			}
		}
		return true
	case nodeOr, nodeNor:
		for i := range n.subs {
			if n.subs[i].match(doc) {
				return n.kind == nodeOr
			}
		}
		return n.kind == nodeNor
	}
	for i := range n.ops {
		if !n.ops[i].eval(doc, n.segs, true) {
			return false
		}
	}
	return true
}

type opKind uint8

const (
	opAny opKind = iota // some candidate passes test: implicit array matching
	opNot               // not all of ops hold ($ne, $nin, $not, $exists:false); matches missing
	opAll               // all of ops hold, each possibly through another element ($all); none: false
)

// fieldOp is one operator applied to the values a path reaches. expand
// says whether an array at the end of the path also offers its elements
// (false inside $elemMatch, which tests each element as is).
type fieldOp struct {
	kind opKind
	test valueTest
	ops  []fieldOp
	set  *valueSet // opAll of plain values only: the values, for one walk
}

func anyOf(t valueTest) fieldOp    { return fieldOp{kind: opAny, test: t} }
func notOf(ops ...fieldOp) fieldOp { return fieldOp{kind: opNot, ops: ops} }
func allOf(ops []fieldOp) fieldOp  { return fieldOp{kind: opAll, ops: ops} }

func (o *fieldOp) eval(v *jsondoc.Value, path []string, expand bool) bool {
	switch o.kind {
	case opNot:
		for i := range o.ops {
			if !o.ops[i].eval(v, path, expand) {
				return true
			}
		}
		return false
	case opAll:
		if o.set != nil {
			return o.set.allFound(v, path, expand)
		}
		for i := range o.ops {
			if !o.ops[i].eval(v, path, expand) {
				return false
			}
		}
		return len(o.ops) > 0
	}
	// Fast path: objects all the way down and a non-array at the end.
	c := v
	for _, seg := range path {
		if c.Kind() != jsondoc.KindObject {
			return walk(v, path, expand, &o.test)
		}
		if c = field(c, seg); c == nil {
			return o.test.test(&missing, false)
		}
	}
	if c.Kind() != jsondoc.KindArray {
		return o.test.test(c, false)
	}
	return walk(v, path, expand, &o.test)
}

type testKind uint8

const (
	testEq             testKind = iota // val; missing equals null
	testCmp                            // cmp against val, same type bracket only
	testIn                             // vals, sorted by jsondoc.Compare
	testExists                         // not missing
	testRegex                          // re on strings
	testSize                           // the array itself (not an element) has n elements
	testElemMatchValue                 // one element satisfies all of ops
	testElemMatchDoc                   // one object element matches filter
	testType                           // one of types
	testMod                            // numbers whose integer part leaves remainder mod divisor
	testMark                           // marks the values of an $all set that candidates equal
	testCollect                        // appends candidates to sink (Lookup)
	testSortKey                        // folds candidates into sink (Sort)
)

type cmpOp uint8

const (
	opGT cmpOp = iota
	opGTE
	opLT
	opLTE
)

// valueTest tests one candidate value reached through a path.
type valueTest struct {
	kind   testKind
	cmp    cmpOp
	n      int
	val    jsondoc.Value
	vals   []jsondoc.Value
	re     *regexp.Regexp
	types  []int
	ops    []fieldOp
	filter *node
	sink   *sink
	mod    *modSpec
	mark   *markState
}

// modSpec is $mod's operand, truncated to integers; div64 and rem64 are set
// when both fit an int64, for the common case.
type modSpec struct {
	div, rem     *big.Int
	div64, rem64 int64
	small        bool
}

// sink accumulates what testCollect and testSortKey see.
type sink struct {
	out      []jsondoc.Value
	best     key
	found    bool
	sawEmpty bool
	desc     bool
}

func eqTest(v jsondoc.Value) valueTest            { return valueTest{kind: testEq, val: v} }
func cmpTest(op cmpOp, v jsondoc.Value) valueTest { return valueTest{kind: testCmp, cmp: op, val: v} }
func existsTest() valueTest                       { return valueTest{kind: testExists} }
func regexTest(re *regexp.Regexp) valueTest       { return valueTest{kind: testRegex, re: re} }
func sizeTest(n int) valueTest                    { return valueTest{kind: testSize, n: n} }
func elemMatchValue(ops []fieldOp) valueTest      { return valueTest{kind: testElemMatchValue, ops: ops} }
func elemMatchDoc(f *node) valueTest              { return valueTest{kind: testElemMatchDoc, filter: f} }
func inTest(sorted []jsondoc.Value) valueTest     { return valueTest{kind: testIn, vals: sorted} }
func typeTestOf(types []int) valueTest            { return valueTest{kind: testType, types: types} }

func modTest(div, rem *big.Int) valueTest {
	m := &modSpec{div: div, rem: rem}
	if div.IsInt64() && rem.IsInt64() {
		m.div64, m.rem64, m.small = div.Int64(), rem.Int64(), true
	}
	return valueTest{kind: testMod, mod: m}
}

// test reports whether v passes. elem is true for an element of an array
// at the end of the path (see walk).
func (t *valueTest) test(v *jsondoc.Value, elem bool) bool {
	switch t.kind {
	case testEq:
		if v.Kind() == jsondoc.KindString && t.val.Kind() == jsondoc.KindString {
			return v.Str() == t.val.Str()
		}
		return jsondoc.Compare(*v, t.val) == 0
	case testCmp:
		if jsondoc.Bracket(*v) != jsondoc.Bracket(t.val) {
			return false
		}
		c := jsondoc.Compare(*v, t.val)
		switch t.cmp {
		case opGT:
			return c > 0
		case opGTE:
			return c >= 0
		case opLT:
			return c < 0
		}
		return c <= 0
	case testIn:
		if len(t.vals) <= 8 {
			for i := range t.vals {
				if jsondoc.Compare(*v, t.vals[i]) == 0 {
					return true
				}
			}
			return false
		}
		lo, hi := 0, len(t.vals)
		for lo < hi {
			mid := int(uint(lo+hi) >> 1)
			if jsondoc.Compare(t.vals[mid], *v) < 0 {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		return lo < len(t.vals) && jsondoc.Compare(t.vals[lo], *v) == 0
	case testExists:
		return !v.IsMissing()
	case testRegex:
		return v.Kind() == jsondoc.KindString && t.re.MatchString(v.Str())
	case testSize:
		return !elem && v.Kind() == jsondoc.KindArray && len(v.Elems()) == t.n
	case testElemMatchValue:
		if elem || v.Kind() != jsondoc.KindArray {
			return false
		}
		elems := v.Elems()
	next:
		for i := range elems {
			for j := range t.ops {
				if !t.ops[j].eval(&elems[i], nil, false) {
					continue next
				}
			}
			return true
		}
		return false
	case testElemMatchDoc:
		if elem || v.Kind() != jsondoc.KindArray {
			return false
		}
		elems := v.Elems()
		for i := range elems {
			if elems[i].Kind() == jsondoc.KindObject && t.filter.match(&elems[i]) {
				return true
			}
		}
		return false
	case testType:
		for _, code := range t.types {
			if typeMatches(v, code) {
				return true
			}
		}
		return false
	case testMod:
		if v.Kind() != jsondoc.KindNumber {
			return false
		}
		m := t.mod
		if x, ok := v.Int64(); ok && m.small {
			return x%m.div64 == m.rem64
		}
		x, _ := jsondoc.IntegerPart(*v)
		return new(big.Int).Rem(x, m.div).Cmp(m.rem) == 0
	case testMark:
		return t.mark.see(v)
	case testCollect:
		if !v.IsMissing() && (elem || v.Kind() != jsondoc.KindArray) {
			t.sink.out = append(t.sink.out, *v)
		}
		return false
	case testSortKey:
		t.sink.fold(v, elem)
		return false
	}
	return false
}

// BSON type codes that $type understands; typeNumber is the alias
// "number" (any of double, int, long).
const (
	typeDouble  = 1
	typeString  = 2
	typeObject  = 3
	typeArray   = 4
	typeBool    = 8
	typeNull    = 10
	typeInt     = 16
	typeLong    = 18
	typeNumber  = -100
	typeNoMatch = -200 // a BSON type with no JSON values (date, objectId…)
)

var typeNames = map[string]int{
	"double": typeDouble, "string": typeString, "object": typeObject, "array": typeArray,
	"bool": typeBool, "null": typeNull, "int": typeInt, "long": typeLong, "number": typeNumber,
	"binData": typeNoMatch, "undefined": typeNoMatch, "objectId": typeNoMatch, "date": typeNoMatch,
	"regex": typeNoMatch, "dbPointer": typeNoMatch, "javascript": typeNoMatch, "symbol": typeNoMatch,
	"javascriptWithScope": typeNoMatch, "timestamp": typeNoMatch, "decimal": typeNoMatch,
	"minKey": typeNoMatch, "maxKey": typeNoMatch,
}

var typeCodes = map[int64]int{
	1: typeDouble, 2: typeString, 3: typeObject, 4: typeArray, 8: typeBool, 10: typeNull,
	16: typeInt, 18: typeLong, 5: typeNoMatch, 6: typeNoMatch, 7: typeNoMatch, 9: typeNoMatch,
	11: typeNoMatch, 12: typeNoMatch, 13: typeNoMatch, 14: typeNoMatch, 15: typeNoMatch,
	17: typeNoMatch, 19: typeNoMatch, -1: typeNoMatch, 127: typeNoMatch,
}

func parseType(arg jsondoc.Value, at string) (valueTest, error) {
	args := []jsondoc.Value{arg}
	if arg.Kind() == jsondoc.KindArray {
		args = arg.Elems()
		if len(args) == 0 {
			return valueTest{}, qerr(at, "$type needs at least one type")
		}
	}
	var types []int
	for _, a := range args {
		code, ok := 0, false
		switch a.Kind() {
		case jsondoc.KindString:
			code, ok = typeNames[a.Str()]
		case jsondoc.KindNumber:
			if n, isInt := a.Int64(); isInt {
				code, ok = typeCodes[n]
			}
		}
		if !ok {
			return valueTest{}, qerr(at, "unknown $type %s (use a name such as \"string\" or \"number\", or a BSON type code)", describe(a))
		}
		types = append(types, code)
	}
	return typeTestOf(types), nil
}

// typeMatches maps JSON values to BSON types as a driver would decode
// them: an integer literal that fits 32 bits is an int, one that fits 64
// bits a long, and every other number a double.
func typeMatches(v *jsondoc.Value, code int) bool {
	switch code {
	case typeString:
		return v.Kind() == jsondoc.KindString
	case typeObject:
		return v.Kind() == jsondoc.KindObject
	case typeArray:
		return v.Kind() == jsondoc.KindArray
	case typeBool:
		return v.Kind() == jsondoc.KindBool
	case typeNull:
		return v.Kind() == jsondoc.KindNull
	case typeNumber:
		return v.Kind() == jsondoc.KindNumber
	case typeInt, typeLong, typeDouble:
		if v.Kind() != jsondoc.KindNumber {
			return false
		}
		n, ok := v.Int64()
		switch {
		case !ok || !jsondoc.IsIntegerLiteral(*v):
			return code == typeDouble
		case n >= math.MinInt32 && n <= math.MaxInt32:
			return code == typeInt
		}
		return code == typeLong
	}
	return false
}
