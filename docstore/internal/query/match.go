package query

import (
	"math"
	"regexp"
	"sort"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
)

// fieldOp is one operator applied to the values a path reaches in v.
// expand says whether an array at the end of the path also offers its
// elements (false inside $elemMatch, which tests each element as is).
type fieldOp interface {
	eval(v jsondoc.Value, path []string, expand bool) bool
}

// valueTest tests one candidate value. elem is true for an element of an
// array at the end of the path (see walk).
type valueTest interface {
	test(v jsondoc.Value, elem bool) bool
}

// anyOp holds when some candidate passes its test: MongoDB's implicit
// array matching.
type anyOp struct{ t valueTest }

func (o anyOp) eval(v jsondoc.Value, path []string, expand bool) bool {
	// Fast path: objects all the way down and a scalar at the end.
	c := v
	for _, seg := range path {
		if c.Kind() != jsondoc.KindObject {
			goto slow
		}
		var ok bool
		if c, ok = c.Field(seg); !ok {
			return o.t.test(jsondoc.Value{}, false)
		}
	}
	if c.Kind() != jsondoc.KindArray {
		return o.t.test(c, false)
	}
slow:
	return walk(v, path, expand, o.t.test)
}

// notOp negates the conjunction of its operators ($ne, $nin, $not,
// $exists:false): it holds when no candidate satisfies them, so it matches
// missing fields.
type notOp struct{ ops []fieldOp }

func (o notOp) eval(v jsondoc.Value, path []string, expand bool) bool {
	for _, op := range o.ops {
		if !op.eval(v, path, expand) {
			return true
		}
	}
	return false
}

// allOp is $all: every operator holds (each possibly through a different
// element). An empty $all matches nothing, as in MongoDB.
type allOp []fieldOp

func (o allOp) eval(v jsondoc.Value, path []string, expand bool) bool {
	if len(o) == 0 {
		return false
	}
	for _, op := range o {
		if !op.eval(v, path, expand) {
			return false
		}
	}
	return true
}

type eqTest struct{ val jsondoc.Value }

// test compares in MongoDB's order, where missing equals null: {"a":null}
// matches a missing a.
func (t eqTest) test(v jsondoc.Value, _ bool) bool {
	if v.Kind() == jsondoc.KindString && t.val.Kind() == jsondoc.KindString {
		return v.Str() == t.val.Str()
	}
	return jsondoc.Compare(v, t.val) == 0
}

type cmpOp uint8

const (
	opGT cmpOp = iota
	opGTE
	opLT
	opLTE
)

var cmpNames = [...]string{opGT: "$gt", opGTE: "$gte", opLT: "$lt", opLTE: "$lte"}

// cmpTest is $gt/$gte/$lt/$lte: only values of the operand's type bracket
// compare (so {"$gt":5} never matches a string).
type cmpTest struct {
	op  cmpOp
	val jsondoc.Value
}

func (t cmpTest) test(v jsondoc.Value, _ bool) bool {
	if jsondoc.Bracket(v) != jsondoc.Bracket(t.val) {
		return false
	}
	c := jsondoc.Compare(v, t.val)
	switch t.op {
	case opGT:
		return c > 0
	case opGTE:
		return c >= 0
	case opLT:
		return c < 0
	}
	return c <= 0
}

// inTest is $in; vals are sorted by jsondoc.Compare.
type inTest struct{ vals []jsondoc.Value }

func (t inTest) test(v jsondoc.Value, _ bool) bool {
	if len(t.vals) <= 8 {
		for _, x := range t.vals {
			if jsondoc.Compare(v, x) == 0 {
				return true
			}
		}
		return false
	}
	i := sort.Search(len(t.vals), func(i int) bool { return jsondoc.Compare(t.vals[i], v) >= 0 })
	return i < len(t.vals) && jsondoc.Compare(t.vals[i], v) == 0
}

type existsTest struct{}

func (existsTest) test(v jsondoc.Value, _ bool) bool { return !v.IsMissing() }

type regexTest struct{ re *regexp.Regexp }

func (t regexTest) test(v jsondoc.Value, _ bool) bool {
	return v.Kind() == jsondoc.KindString && t.re.MatchString(v.Str())
}

// sizeTest is $size: the array itself (not an element) has n elements.
type sizeTest struct{ n int }

func (t sizeTest) test(v jsondoc.Value, elem bool) bool {
	return !elem && v.Kind() == jsondoc.KindArray && len(v.Elems()) == t.n
}

// elemMatchValue is $elemMatch with operators: one element satisfies all.
type elemMatchValue struct{ ops []fieldOp }

func (t elemMatchValue) test(v jsondoc.Value, elem bool) bool {
	if elem || v.Kind() != jsondoc.KindArray {
		return false
	}
next:
	for _, e := range v.Elems() {
		for _, op := range t.ops {
			if !op.eval(e, nil, false) {
				continue next
			}
		}
		return true
	}
	return false
}

// elemMatchDoc is $elemMatch with a filter: one object element matches it.
type elemMatchDoc struct{ f andNode }

func (t elemMatchDoc) test(v jsondoc.Value, elem bool) bool {
	if elem || v.Kind() != jsondoc.KindArray {
		return false
	}
	for _, e := range v.Elems() {
		if e.Kind() == jsondoc.KindObject && t.f.match(e) {
			return true
		}
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

type typeTest struct{ types []int }

func parseType(arg jsondoc.Value, at string) (typeTest, error) {
	args := []jsondoc.Value{arg}
	if arg.Kind() == jsondoc.KindArray {
		args = arg.Elems()
		if len(args) == 0 {
			return typeTest{}, qerr(at, "$type needs at least one type")
		}
	}
	var t typeTest
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
			return typeTest{}, qerr(at, "unknown $type %s (use a name such as \"string\" or \"number\", or a BSON type code)", describe(a))
		}
		t.types = append(t.types, code)
	}
	return t, nil
}

func (t typeTest) test(v jsondoc.Value, _ bool) bool {
	for _, code := range t.types {
		if typeMatches(v, code) {
			return true
		}
	}
	return false
}

// typeMatches maps JSON values to BSON types as a driver would decode
// them: an integer literal that fits 32 bits is an int, one that fits 64
// bits a long, and every other number a double.
func typeMatches(v jsondoc.Value, code int) bool {
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
		case !ok || !jsondoc.IsIntegerLiteral(v):
			return code == typeDouble
		case n >= math.MinInt32 && n <= math.MaxInt32:
			return code == typeInt
		}
		return code == typeLong
	}
	return false
}
