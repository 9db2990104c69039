package agg

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
)

// expr is a compiled aggregation expression.
type expr interface {
	eval(root jsondoc.Value) (jsondoc.Value, error)
}

type literal struct{ v jsondoc.Value }

func (e literal) eval(jsondoc.Value) (jsondoc.Value, error) { return e.v, nil }

// fieldPath is "$a.b" (from the current document) or "$$ROOT.a".
type fieldPath struct{ segs []string }

func (e fieldPath) eval(root jsondoc.Value) (jsondoc.Value, error) {
	return getPath(root, e.segs), nil
}

// getPath reads a field path with the aggregation rules: a path through
// an array of objects gives the array of the values found in its
// elements (missing ones left out); numeric segments are field names,
// never array positions.
func getPath(v jsondoc.Value, segs []string) jsondoc.Value {
	for i, s := range segs {
		switch v.Kind() {
		case jsondoc.KindObject:
			f, _ := v.Field(s)
			v = f
		case jsondoc.KindArray:
			var out []jsondoc.Value
			for _, e := range v.Elems() {
				if e.Kind() != jsondoc.KindObject && e.Kind() != jsondoc.KindArray {
					continue
				}
				if r := getPath(e, segs[i:]); !r.IsMissing() {
					out = append(out, r)
				}
			}
			return jsondoc.Array(out)
		default:
			return jsondoc.Missing()
		}
	}
	return v
}

// objectExpr is {"k": expr, ...}: members whose value is missing are
// left out.
type objectExpr struct {
	keys  []string
	exprs []expr
}

func (e *objectExpr) eval(root jsondoc.Value) (jsondoc.Value, error) {
	ms := make([]jsondoc.Member, 0, len(e.keys))
	for i, x := range e.exprs {
		v, err := x.eval(root)
		if err != nil {
			return v, err
		}
		if !v.IsMissing() {
			ms = append(ms, jsondoc.Member{Key: e.keys[i], Value: v})
		}
	}
	return jsondoc.Object(ms), nil
}

// arrayExpr is [expr, ...]: missing elements become null.
type arrayExpr struct{ exprs []expr }

func (e *arrayExpr) eval(root jsondoc.Value) (jsondoc.Value, error) {
	out := make([]jsondoc.Value, len(e.exprs))
	for i, x := range e.exprs {
		v, err := x.eval(root)
		if err != nil {
			return v, err
		}
		if v.IsMissing() {
			v = jsondoc.Null()
		}
		out[i] = v
	}
	return jsondoc.Array(out), nil
}

// opExpr is an operator applied to its arguments.
type opExpr struct {
	name string
	args []expr
	fn   func(name string, args []jsondoc.Value) (jsondoc.Value, error)
	lazy func(e *opExpr, root jsondoc.Value) (jsondoc.Value, error) // $and $or $cond $ifNull
}

func (e *opExpr) eval(root jsondoc.Value) (jsondoc.Value, error) {
	if e.lazy != nil {
		return e.lazy(e, root)
	}
	vals := make([]jsondoc.Value, len(e.args))
	for i, a := range e.args {
		v, err := a.eval(root)
		if err != nil {
			return v, err
		}
		vals[i] = v
	}
	return e.fn(e.name, vals)
}

// arity is an operator's argument count: min, max (-1: any).
type opDef struct {
	min, max int
	fn       func(name string, args []jsondoc.Value) (jsondoc.Value, error)
	lazy     func(e *opExpr, root jsondoc.Value) (jsondoc.Value, error)
}

var operators map[string]opDef

func init() {
	operators = map[string]opDef{
		"$add":        {0, -1, arith, nil},
		"$multiply":   {0, -1, arith, nil},
		"$subtract":   {2, 2, arith, nil},
		"$divide":     {2, 2, arith, nil},
		"$mod":        {2, 2, arith, nil},
		"$eq":         {2, 2, compareOp, nil},
		"$ne":         {2, 2, compareOp, nil},
		"$gt":         {2, 2, compareOp, nil},
		"$gte":        {2, 2, compareOp, nil},
		"$lt":         {2, 2, compareOp, nil},
		"$lte":        {2, 2, compareOp, nil},
		"$cmp":        {2, 2, compareOp, nil},
		"$and":        {0, -1, nil, andOr},
		"$or":         {0, -1, nil, andOr},
		"$not":        {1, 1, notOp, nil},
		"$cond":       {3, 3, nil, condOp},
		"$ifNull":     {2, -1, nil, ifNull},
		"$concat":     {0, -1, concat, nil},
		"$toLower":    {1, 1, caseOp, nil},
		"$toUpper":    {1, 1, caseOp, nil},
		"$size":       {1, 1, sizeOp, nil},
		"$year":       {1, 1, datePart, nil},
		"$month":      {1, 1, datePart, nil},
		"$dayOfMonth": {1, 1, datePart, nil},
	}
}

// Operators lists the supported expression operators (and $literal).
func Operators() []string {
	out := []string{"$literal"}
	for k := range operators {
		out = append(out, k)
	}
	return out
}

// compileExpr compiles an expression; at names where it is, for errors.
func compileExpr(v jsondoc.Value, at string) (expr, error) {
	switch v.Kind() {
	case jsondoc.KindString:
		s := v.Str()
		if strings.HasPrefix(s, "$$") {
			name, rest, _ := strings.Cut(s[2:], ".")
			if name != "ROOT" && name != "CURRENT" {
				return nil, perr(at, "unknown variable %q: only $$ROOT and $$CURRENT are supported", s)
			}
			var segs []string
			if rest != "" {
				segs = strings.Split(rest, ".")
			}
			return fieldPath{segs: segs}, nil
		}
		if strings.HasPrefix(s, "$") {
			if len(s) == 1 {
				return nil, perr(at, "%q is not a field path", s)
			}
			segs := strings.Split(s[1:], ".")
			for _, g := range segs {
				if g == "" || strings.HasPrefix(g, "$") {
					return nil, perr(at, "invalid field path %q", s)
				}
			}
			return fieldPath{segs: segs}, nil
		}
		return literal{v}, nil
	case jsondoc.KindArray:
		a := &arrayExpr{}
		for i, e := range v.Elems() {
			x, err := compileExpr(e, at+"."+strconv.Itoa(i))
			if err != nil {
				return nil, err
			}
			a.exprs = append(a.exprs, x)
		}
		return a, nil
	case jsondoc.KindObject:
		ms := v.Members()
		if len(ms) > 0 && strings.HasPrefix(ms[0].Key, "$") {
			if len(ms) != 1 {
				return nil, perr(at, "an expression object must have exactly one operator, got %d fields", len(ms))
			}
			return compileOp(ms[0].Key, ms[0].Value, at)
		}
		o := &objectExpr{}
		for _, m := range ms {
			if strings.HasPrefix(m.Key, "$") {
				return nil, perr(at, "field %q: an operator must be the only field of its object", m.Key)
			}
			if m.Key == "" || strings.Contains(m.Key, ".") {
				return nil, perr(at, "field name %q in an expression object must be non-empty and contain no '.'", m.Key)
			}
			x, err := compileExpr(m.Value, at+"."+m.Key)
			if err != nil {
				return nil, err
			}
			o.keys = append(o.keys, m.Key)
			o.exprs = append(o.exprs, x)
		}
		return o, nil
	}
	return literal{v}, nil
}

func compileOp(name string, arg jsondoc.Value, at string) (expr, error) {
	at = at + "." + name
	if name == "$literal" {
		return literal{arg}, nil
	}
	def, ok := operators[name]
	if !ok {
		return nil, perr(at, "unsupported expression operator %s", name)
	}
	var argv []jsondoc.Value
	switch {
	case name == "$cond" && arg.Kind() == jsondoc.KindObject:
		var ifv, thenv, elsev jsondoc.Value
		for _, m := range arg.Members() {
			switch m.Key {
			case "if":
				ifv = m.Value
			case "then":
				thenv = m.Value
			case "else":
				elsev = m.Value
			default:
				return nil, perr(at, "unknown argument %q: $cond takes if, then and else", m.Key)
			}
		}
		if ifv.IsMissing() || thenv.IsMissing() || elsev.IsMissing() {
			return nil, perr(at, "$cond needs if, then and else")
		}
		argv = []jsondoc.Value{ifv, thenv, elsev}
	case arg.Kind() == jsondoc.KindArray:
		argv = arg.Elems()
	default:
		argv = []jsondoc.Value{arg}
	}
	if len(argv) < def.min || (def.max >= 0 && len(argv) > def.max) {
		want := strconv.Itoa(def.min)
		switch {
		case def.max < 0:
			want = "at least " + want
		case def.max != def.min:
			want += " to " + strconv.Itoa(def.max)
		}
		return nil, perr(at, "%s takes %s arguments, got %d", name, want, len(argv))
	}
	e := &opExpr{name: name, fn: def.fn, lazy: def.lazy}
	for i, a := range argv {
		x, err := compileExpr(a, at+"."+strconv.Itoa(i))
		if err != nil {
			return nil, err
		}
		e.args = append(e.args, x)
	}
	return e, nil
}

// truthy is the aggregation truth value: false, null, missing and 0 are
// false, everything else (including "" and []) true.
func truthy(v jsondoc.Value) bool {
	switch v.Kind() {
	case jsondoc.KindMissing, jsondoc.KindNull:
		return false
	case jsondoc.KindBool:
		return v.BoolValue()
	case jsondoc.KindNumber:
		f, _ := v.Float64()
		return f != 0
	}
	return true
}

func isNullish(v jsondoc.Value) bool {
	return v.Kind() == jsondoc.KindMissing || v.Kind() == jsondoc.KindNull
}

// num is a number in aggregation arithmetic: an int64 while every
// operand is an integer and nothing overflows, else a float64 (MongoDB's
// int/long promotion to double).
type num struct {
	isInt bool
	i     int64
	f     float64
}

func numOf(v jsondoc.Value) (num, bool) {
	if v.Kind() != jsondoc.KindNumber {
		return num{}, false
	}
	if jsondoc.IsIntegerLiteral(v) {
		if i, ok := v.Int64(); ok {
			return num{isInt: true, i: i, f: float64(i)}, true
		}
	}
	f, ok := v.Float64()
	return num{f: f}, ok
}

func (n num) value() (jsondoc.Value, error) {
	if n.isInt {
		return jsondoc.Int(n.i), nil
	}
	return jsondoc.Float(n.f)
}

func addNum(a, b num) num {
	if a.isInt && b.isInt {
		s := a.i + b.i
		if (s > a.i) == (b.i > 0) {
			return num{isInt: true, i: s, f: float64(s)}
		}
	}
	return num{f: a.f + b.f}
}

func mulNum(a, b num) num {
	if a.isInt && b.isInt {
		if a.i == 0 || b.i == 0 {
			return num{isInt: true}
		}
		p := a.i * b.i
		if p/b.i == a.i && !(a.i == -1 && b.i == math.MinInt64) && !(b.i == -1 && a.i == math.MinInt64) {
			return num{isInt: true, i: p, f: float64(p)}
		}
	}
	return num{f: a.f * b.f}
}

func arith(name string, args []jsondoc.Value) (jsondoc.Value, error) {
	ns := make([]num, len(args))
	for i, a := range args {
		if isNullish(a) {
			return jsondoc.Null(), nil
		}
		n, ok := numOf(a)
		if !ok {
			return jsondoc.Value{}, eerr("%s only supports numbers, got %s", name, jsondoc.TypeName(a))
		}
		ns[i] = n
	}
	var r num
	switch name {
	case "$add":
		r = num{isInt: true}
		for _, n := range ns {
			r = addNum(r, n)
		}
	case "$multiply":
		r = num{isInt: true, i: 1, f: 1}
		for _, n := range ns {
			r = mulNum(r, n)
		}
	case "$subtract":
		b := ns[1]
		if b.isInt && b.i != math.MinInt64 {
			b = num{isInt: true, i: -b.i, f: -b.f}
		} else {
			b = num{f: -b.f}
		}
		r = addNum(ns[0], b)
	case "$divide":
		if ns[1].f == 0 {
			return jsondoc.Value{}, eerr("$divide by zero")
		}
		r = num{f: ns[0].f / ns[1].f}
	case "$mod":
		if ns[1].f == 0 {
			return jsondoc.Value{}, eerr("$mod by zero")
		}
		if ns[0].isInt && ns[1].isInt {
			if ns[1].i == -1 {
				r = num{isInt: true}
			} else {
				m := ns[0].i % ns[1].i
				r = num{isInt: true, i: m, f: float64(m)}
			}
		} else {
			r = num{f: math.Mod(ns[0].f, ns[1].f)}
		}
	}
	v, err := r.value()
	if err != nil {
		return v, eerr("%s: result out of range", name)
	}
	return v, nil
}

// cmpValues compares with the aggregation rules: MongoDB's type order,
// with missing below null (an expression sees them as different).
func cmpValues(a, b jsondoc.Value) int {
	am, bm := a.IsMissing(), b.IsMissing()
	switch {
	case am && bm:
		return 0
	case am:
		return -1
	case bm:
		return 1
	}
	return jsondoc.Compare(a, b)
}

func compareOp(name string, args []jsondoc.Value) (jsondoc.Value, error) {
	c := cmpValues(args[0], args[1])
	switch name {
	case "$eq":
		return jsondoc.Bool(c == 0), nil
	case "$ne":
		return jsondoc.Bool(c != 0), nil
	case "$gt":
		return jsondoc.Bool(c > 0), nil
	case "$gte":
		return jsondoc.Bool(c >= 0), nil
	case "$lt":
		return jsondoc.Bool(c < 0), nil
	case "$lte":
		return jsondoc.Bool(c <= 0), nil
	}
	return jsondoc.Int(int64(c)), nil
}

func andOr(e *opExpr, root jsondoc.Value) (jsondoc.Value, error) {
	and := e.name == "$and"
	for _, a := range e.args {
		v, err := a.eval(root)
		if err != nil {
			return v, err
		}
		if truthy(v) != and {
			return jsondoc.Bool(!and), nil
		}
	}
	return jsondoc.Bool(and), nil
}

func notOp(_ string, args []jsondoc.Value) (jsondoc.Value, error) {
	return jsondoc.Bool(!truthy(args[0])), nil
}

func condOp(e *opExpr, root jsondoc.Value) (jsondoc.Value, error) {
	c, err := e.args[0].eval(root)
	if err != nil {
		return c, err
	}
	if truthy(c) {
		return e.args[1].eval(root)
	}
	return e.args[2].eval(root)
}

func ifNull(e *opExpr, root jsondoc.Value) (jsondoc.Value, error) {
	for _, a := range e.args[:len(e.args)-1] {
		v, err := a.eval(root)
		if err != nil {
			return v, err
		}
		if !isNullish(v) {
			return v, nil
		}
	}
	return e.args[len(e.args)-1].eval(root)
}

func concat(_ string, args []jsondoc.Value) (jsondoc.Value, error) {
	var b strings.Builder
	for _, a := range args {
		if isNullish(a) {
			return jsondoc.Null(), nil
		}
		if a.Kind() != jsondoc.KindString {
			return jsondoc.Value{}, eerr("$concat only supports strings, got %s", jsondoc.TypeName(a))
		}
		b.WriteString(a.Str())
	}
	return jsondoc.String(b.String()), nil
}

func caseOp(name string, args []jsondoc.Value) (jsondoc.Value, error) {
	a := args[0]
	var s string
	switch a.Kind() {
	case jsondoc.KindMissing, jsondoc.KindNull:
		return jsondoc.String(""), nil
	case jsondoc.KindString:
		s = a.Str()
	case jsondoc.KindNumber:
		s = a.NumberLiteral()
	default:
		return jsondoc.Value{}, eerr("%s cannot convert %s to a string", name, jsondoc.TypeName(a))
	}
	if name == "$toLower" {
		return jsondoc.String(strings.ToLower(s)), nil
	}
	return jsondoc.String(strings.ToUpper(s)), nil
}

func sizeOp(_ string, args []jsondoc.Value) (jsondoc.Value, error) {
	if args[0].Kind() != jsondoc.KindArray {
		return jsondoc.Value{}, eerr("the argument to $size must be an array, got %s", jsondoc.TypeName(args[0]))
	}
	return jsondoc.Int(int64(len(args[0].Elems()))), nil
}

// datePart reads a date as an RFC 3339 string (converted to UTC) or a
// number of milliseconds since the Unix epoch.
func datePart(name string, args []jsondoc.Value) (jsondoc.Value, error) {
	a := args[0]
	var t time.Time
	switch a.Kind() {
	case jsondoc.KindMissing, jsondoc.KindNull:
		return jsondoc.Null(), nil
	case jsondoc.KindString:
		var err error
		t, err = time.Parse(time.RFC3339Nano, a.Str())
		if err != nil {
			return jsondoc.Value{}, eerr("%s needs an RFC 3339 date string or epoch milliseconds, got the string %q", name, truncate(a.Str()))
		}
	case jsondoc.KindNumber:
		f, _ := a.Float64()
		if math.Abs(f) > 8.64e15 {
			return jsondoc.Value{}, eerr("%s: %s milliseconds is outside the range of dates", name, a.NumberLiteral())
		}
		ms := int64(math.Floor(f))
		t = time.UnixMilli(ms)
	default:
		return jsondoc.Value{}, eerr("%s needs an RFC 3339 date string or epoch milliseconds, got %s", name, jsondoc.TypeName(a))
	}
	t = t.UTC()
	switch name {
	case "$year":
		return jsondoc.Int(int64(t.Year())), nil
	case "$month":
		return jsondoc.Int(int64(t.Month())), nil
	}
	return jsondoc.Int(int64(t.Day())), nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
