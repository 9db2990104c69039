package query

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
)

// Update is a parsed update document of MongoDB update operators. It is
// immutable and safe for concurrent use.
type Update struct {
	ops []*updateOp
}

type updateOp struct {
	op   string // "$set", "$inc", …
	path string
	segs []string
	at   string        // error path: update.$op.path
	arg  jsondoc.Value // the operand

	to    []string // $rename target
	toStr string

	each     []jsondoc.Value // $push, $addToSet (the single value when no $each)
	position *int            // $push
	slice    *int
	sortDir  int   // $push $sort: 1 / -1 on whole elements, 0 none
	sortBy   *Sort // $push $sort by fields of object elements

	pull func(*jsondoc.Value) bool // $pull: the elements to remove
	vals *valueSet                 // $pullAll: the values; $addToSet: each

	positional bool // segs holds "$" or "$[]"
	timestamp  bool // $currentDate: {"$type":"timestamp"}
}

// IsUpdateDoc reports whether v is an update document (some top-level key
// starts with "$") rather than a replacement document. A document mixing
// both is an update document, which ParseUpdate then rejects.
func IsUpdateDoc(v jsondoc.Value) bool {
	for _, m := range v.Members() {
		if strings.HasPrefix(m.Key, "$") {
			return true
		}
	}
	return false
}

var updateOperators = map[string]bool{
	"$set": true, "$unset": true, "$inc": true, "$mul": true, "$min": true, "$max": true,
	"$rename": true, "$push": true, "$pull": true, "$pullAll": true, "$addToSet": true, "$pop": true,
	"$setOnInsert": true, // a no-op in Apply; ApplyInsert applies it
	"$currentDate": true,
}

// ParseUpdate parses an update document such as
// {"$set":{"a.b":1},"$inc":{"n":2},"$push":{"tags":{"$each":["x","y"]}}}.
// Supported: $set $setOnInsert $unset $inc $mul $min $max $rename $push (with $each,
// $position, $slice, $sort) $pull (a value or a condition) $pullAll
// $addToSet (with $each) $pop $currentDate, on dot paths, which (but for
// $rename) may hold the positional operators $ (the element the filter
// matched, see UpdateEnv) and $[] (every element). Two operators may not
// touch the same path or a path and its prefix (as written: "a.$" and
// "a.0" are not compared), and none may touch _id. Errors are *QueryError.
func ParseUpdate(v jsondoc.Value) (*Update, error) {
	if v.Kind() != jsondoc.KindObject {
		return nil, qerr("update", "an update must be an object, got %s", jsondoc.TypeName(v))
	}
	if len(v.Members()) == 0 {
		return nil, qerr("update", "an update needs at least one operator such as $set")
	}
	u := &Update{}
	seen := &pathTrie{}
	for _, m := range v.Members() {
		at := join("update", m.Key)
		if !strings.HasPrefix(m.Key, "$") {
			return nil, qerr(at, "cannot mix update operators and plain fields (%q); use $set, or send a whole replacement document", m.Key)
		}
		if !updateOperators[m.Key] {
			return nil, qerr(at, "unknown update operator %s", m.Key)
		}
		if m.Value.Kind() != jsondoc.KindObject {
			return nil, qerr(at, "%s needs an object of field paths, got %s", m.Key, describe(m.Value))
		}
		for _, f := range m.Value.Members() {
			op, err := parseUpdateOp(m.Key, f.Key, f.Value, join(at, f.Key))
			if err != nil {
				return nil, err
			}
			if err := seen.claim(op.segs, op.op, op.at); err != nil {
				return nil, err
			}
			if op.to != nil {
				if err := seen.claim(op.to, op.op, op.at); err != nil {
					return nil, err
				}
			}
			u.ops = append(u.ops, op)
		}
	}
	return u, nil
}

// updatePath splits an update's field path. positional reports "$" (the
// array element the filter matched) or "$[]" (every element) segments,
// which may not come first; "$" may appear once.
func updatePath(p, at string) (segs []string, positional bool, err error) {
	segs, err = jsondoc.SplitPath(p)
	if err != nil {
		return nil, false, qerr(at, "invalid field path %q: empty segment", p)
	}
	dollars := 0
	for i, s := range segs {
		if !strings.HasPrefix(s, "$") {
			continue
		}
		switch {
		case s == "$" || s == "$[]":
			if i == 0 {
				return nil, false, qerr(at, "invalid field path %q: the positional operator %s must follow an array field", p, s)
			}
			if s == "$" {
				if dollars++; dollars > 1 {
					return nil, false, qerr(at, "invalid field path %q: the positional operator $ may appear only once", p)
				}
			}
			positional = true
		case strings.HasPrefix(s, "$["):
			return nil, false, qerr(at, "filtered positional operator %q is not supported (no arrayFilters); use $ or $[]", s)
		default:
			return nil, false, qerr(at, "invalid field path %q: segment %q starts with $", p, s)
		}
	}
	if segs[0] == "_id" {
		return nil, false, qerr(at, "cannot modify _id")
	}
	return segs, positional, nil
}

func parseUpdateOp(opName, path string, arg jsondoc.Value, at string) (*updateOp, error) {
	segs, positional, err := updatePath(path, at)
	if err != nil {
		return nil, err
	}
	op := &updateOp{op: opName, path: path, segs: segs, at: at, arg: arg, positional: positional}
	switch opName {
	case "$currentDate":
		if op.timestamp, err = parseCurrentDate(arg, at); err != nil {
			return nil, err
		}
	case "$inc", "$mul":
		if arg.Kind() != jsondoc.KindNumber {
			return nil, qerr(at, "%s needs a number, got %s", opName, describe(arg))
		}
	case "$rename":
		if arg.Kind() != jsondoc.KindString {
			return nil, qerr(at, "$rename needs the new field name as a string, got %s", describe(arg))
		}
		var toPositional bool
		if op.to, toPositional, err = updatePath(arg.Str(), at); err != nil {
			return nil, err
		}
		if positional || toPositional {
			return nil, qerr(at, "$rename cannot use the positional operators $ and $[]")
		}
		op.toStr = arg.Str()
		if overlaps(op.segs, op.to) {
			return nil, qerr(at, "$rename source and target %q must not be the same field or contain each other", arg.Str())
		}
	case "$pop":
		n, ok := arg.Int64()
		if !ok || (n != 1 && n != -1) {
			return nil, qerr(at, "$pop needs 1 (last element) or -1 (first), got %s", describe(arg))
		}
	case "$pullAll":
		if arg.Kind() != jsondoc.KindArray {
			return nil, qerr(at, "$pullAll needs an array, got %s", describe(arg))
		}
		op.vals = newValueSet(arg.Elems())
	case "$pull":
		if op.pull, err = parsePull(arg, at); err != nil {
			return nil, err
		}
	case "$push", "$addToSet":
		if err := op.parseEach(arg); err != nil {
			return nil, err
		}
		if opName == "$addToSet" {
			op.vals = newValueSet(op.each)
		}
	}
	return op, nil
}

// parsePull turns a $pull operand into an element predicate: operators
// ({"$gte":6}) test each element as a value, an object without operators
// is a filter that object elements must match ({"sku":"x"} removes every
// element whose sku is "x"), and anything else removes equal elements.
func parsePull(arg jsondoc.Value, at string) (func(*jsondoc.Value) bool, error) {
	switch {
	case isOperatorObject(arg) && !isLogical(arg.Members()[0].Key):
		ops, err := parseOps(arg, at, 1)
		if err != nil {
			return nil, err
		}
		return func(e *jsondoc.Value) bool {
			for i := range ops {
				if !ops[i].eval(e, nil, false) {
					return false
				}
			}
			return true
		}, nil
	case arg.Kind() == jsondoc.KindObject:
		f, err := parseFilterDoc(arg, at, 1)
		if err != nil {
			return nil, err
		}
		return func(e *jsondoc.Value) bool { return e.Kind() == jsondoc.KindObject && f.match(e) }, nil
	}
	return func(e *jsondoc.Value) bool { return jsondoc.Equal(*e, arg) }, nil
}

func isLogical(op string) bool { return op == "$and" || op == "$or" || op == "$nor" }

func (op *updateOp) parseEach(arg jsondoc.Value) error {
	if !isOperatorObject(arg) {
		op.each = []jsondoc.Value{arg}
		return nil
	}
	each, ok := arg.Field("$each")
	if !ok {
		return qerr(op.at, "%s modifiers need $each beside them", op.op)
	}
	if each.Kind() != jsondoc.KindArray {
		return qerr(join(op.at, "$each"), "$each needs an array, got %s", describe(each))
	}
	op.each = each.Elems()
	for _, m := range arg.Members() {
		mat := join(op.at, m.Key)
		if op.op == "$addToSet" && m.Key != "$each" {
			return qerr(mat, "$addToSet accepts only the $each modifier, got %s", m.Key)
		}
		switch m.Key {
		case "$each":
		case "$position", "$slice":
			n, ok := m.Value.Int64()
			if !ok || n > 1<<31 || n < -(1<<31) {
				return qerr(mat, "%s needs an integer, got %s", m.Key, describe(m.Value))
			}
			k := int(n)
			if m.Key == "$position" {
				op.position = &k
			} else {
				op.slice = &k
			}
		case "$sort":
			if n, ok := m.Value.Int64(); ok && (n == 1 || n == -1) {
				op.sortDir = int(n)
				continue
			}
			if m.Value.Kind() != jsondoc.KindObject || len(m.Value.Members()) == 0 {
				return qerr(mat, "$sort needs 1, -1 or an object such as {\"score\":-1}, got %s", describe(m.Value))
			}
			s, err := ParseSort(m.Value)
			if err != nil {
				var qe *QueryError
				if errors.As(err, &qe) {
					return qerr(mat, "%s", qe.Msg)
				}
				return err
			}
			op.sortBy = s
		default:
			return qerr(mat, "unknown $push modifier %s", m.Key)
		}
	}
	return nil
}

// Apply returns doc with the update applied; doc itself is not modified.
// It fails (with a *QueryError) when an operator meets a value it cannot
// work on, such as $inc on a string, $push on a non-array, or a path that
// would create a field inside a scalar. It is ApplyEnv without a filter
// (so the positional operator $ fails) and with the current time.
func (u *Update) Apply(doc jsondoc.Value) (jsondoc.Value, error) {
	return u.ApplyEnv(doc, UpdateEnv{})
}

// UpdateEnv is what an update may need beyond the document.
type UpdateEnv struct {
	// Filter is the filter that selected the document: the positional
	// operator $ stands for the index of the array element it matched (see
	// Filter.MatchedIndex). Nil when the document was named by _id, and
	// then an update using $ fails.
	Filter *Filter
	// Now is the time $currentDate writes; the zero Time means time.Now().
	Now time.Time
}

// ApplyEnv is Apply with the filter that selected doc and the clock.
func (u *Update) ApplyEnv(doc jsondoc.Value, env UpdateEnv) (jsondoc.Value, error) {
	if doc.Kind() != jsondoc.KindObject {
		return jsondoc.Value{}, qerr("update", "can only update an object, got %s", jsondoc.TypeName(doc))
	}
	now := env.Now
	if now.IsZero() {
		now = time.Now()
	}
	// The positional $ refers to the document as the filter saw it; it is
	// found once, when an operator first needs it.
	orig, pos, havePos, posKnown := doc, -1, false, false
	for _, op := range u.ops {
		if op.positional && !posKnown && env.Filter != nil {
			pos, havePos = env.Filter.MatchedIndex(orig)
			posKnown = true
		}
		if op.op == "$currentDate" {
			c := *op
			c.arg = currentDate(now, op.timestamp)
			op = &c
		}
		var err error
		if !op.positional {
			if doc, err = op.apply(doc); err != nil {
				return jsondoc.Value{}, err
			}
			continue
		}
		paths, err := op.expand(doc, pos, havePos)
		if err != nil {
			return jsondoc.Value{}, err
		}
		for _, segs := range paths {
			c := *op
			c.segs, c.path = segs, strings.Join(segs, ".")
			if doc, err = c.apply(doc); err != nil {
				return jsondoc.Value{}, err
			}
		}
	}
	return doc, nil
}

func (op *updateOp) set(doc jsondoc.Value, segs []string, v jsondoc.Value) (jsondoc.Value, error) {
	out, err := doc.SetPath(segs, v)
	if err != nil {
		var pe *jsondoc.PathError
		if errors.As(err, &pe) {
			return jsondoc.Value{}, qerr(op.at, "%s cannot set %q: %s", op.op, strings.Join(segs, "."), pe.Msg)
		}
		return jsondoc.Value{}, qerr(op.at, "%s: %v", op.op, err)
	}
	return out, nil
}

func (op *updateOp) apply(doc jsondoc.Value) (jsondoc.Value, error) {
	cur := doc.Lookup(op.segs)
	switch op.op {
	case "$set", "$currentDate":
		return op.set(doc, op.segs, op.arg)
	case "$unset":
		return doc.UnsetPath(op.segs), nil
	case "$setOnInsert":
		return doc, nil // only when an upsert creates the document: ApplyInsert
	case "$inc", "$mul":
		if cur.IsMissing() {
			v := op.arg
			if op.op == "$mul" {
				v = jsondoc.Int(0)
			}
			return op.set(doc, op.segs, v)
		}
		if cur.Kind() != jsondoc.KindNumber {
			return jsondoc.Value{}, qerr(op.at, "cannot apply %s to %q, which holds a %s, not a number", op.op, op.path, jsondoc.TypeName(cur))
		}
		calc := jsondoc.Add
		if op.op == "$mul" {
			calc = jsondoc.Mul
		}
		v, err := calc(cur, op.arg)
		if err != nil {
			return jsondoc.Value{}, qerr(op.at, "%s on %q: result out of range: %s", op.op, op.path, strings.TrimPrefix(err.Error(), jsondoc.ErrNumberRange.Error()+": "))
		}
		return op.set(doc, op.segs, v)
	case "$min", "$max":
		c := jsondoc.Compare(op.arg, cur)
		if cur.IsMissing() || (op.op == "$min" && c < 0) || (op.op == "$max" && c > 0) {
			return op.set(doc, op.segs, op.arg)
		}
		return doc, nil
	case "$rename":
		if throughArray(doc, op.segs) || throughArray(doc, op.to) {
			return jsondoc.Value{}, qerr(op.at, "$rename cannot move fields into or out of arrays")
		}
		if cur.IsMissing() {
			return doc, nil
		}
		return op.set(doc.UnsetPath(op.segs), op.to, cur)
	case "$push":
		return op.applyPush(doc, cur)
	case "$addToSet":
		elems, err := op.array(cur)
		if err != nil {
			return jsondoc.Value{}, err
		}
		// One pass over the array marks the values already present, then
		// the others are appended once each, in order: linear in both.
		var buf []byte
		present, left := make([]bool, op.vals.n), op.vals.n
		for i := 0; i < len(elems) && left > 0; i++ {
			if j, ok := op.vals.index(&elems[i], &buf); ok && !present[j] {
				present[j] = true
				left--
			}
		}
		var out []jsondoc.Value
		for i := range op.each {
			if j, _ := op.vals.index(&op.each[i], &buf); !present[j] {
				present[j] = true
				if out == nil {
					out = make([]jsondoc.Value, len(elems), len(elems)+left)
					copy(out, elems)
				}
				out = append(out, op.each[i])
			}
		}
		if out == nil {
			if cur.Kind() == jsondoc.KindArray {
				return doc, nil
			}
			out = slices.Clone(elems)
		}
		return op.set(doc, op.segs, arrayOf(out))
	case "$pop":
		if cur.IsMissing() {
			return doc, nil
		}
		elems, err := op.array(cur)
		if err != nil || len(elems) == 0 {
			return doc, err
		}
		if n, _ := op.arg.Int64(); n == 1 {
			elems = elems[:len(elems)-1]
		} else {
			elems = elems[1:]
		}
		return op.set(doc, op.segs, arrayOf(slices.Clone(elems)))
	case "$pull", "$pullAll":
		if cur.IsMissing() {
			return doc, nil
		}
		elems, err := op.array(cur)
		if err != nil {
			return jsondoc.Value{}, err
		}
		out := make([]jsondoc.Value, 0, len(elems))
		var buf []byte
		for i := range elems {
			var remove bool
			if op.vals != nil {
				_, remove = op.vals.index(&elems[i], &buf)
			} else {
				remove = op.pull(&elems[i])
			}
			if !remove {
				out = append(out, elems[i])
			}
		}
		if len(out) == len(elems) {
			return doc, nil
		}
		return op.set(doc, op.segs, arrayOf(out))
	}
	return jsondoc.Value{}, qerr(op.at, "unknown update operator %s", op.op)
}

// arrayOf returns an array value that encodes as [] even when empty.
func arrayOf(elems []jsondoc.Value) jsondoc.Value {
	if elems == nil {
		elems = []jsondoc.Value{}
	}
	return jsondoc.Array(elems)
}

// array returns the elements of the array field an array operator works
// on: none when the field is missing, an error when it holds a non-array.
func (op *updateOp) array(cur jsondoc.Value) ([]jsondoc.Value, error) {
	switch cur.Kind() {
	case jsondoc.KindMissing:
		return nil, nil
	case jsondoc.KindArray:
		return cur.Elems(), nil
	}
	return nil, qerr(op.at, "%s needs %q to be an array, but it holds a %s", op.op, op.path, jsondoc.TypeName(cur))
}

func (op *updateOp) applyPush(doc, cur jsondoc.Value) (jsondoc.Value, error) {
	elems, err := op.array(cur)
	if err != nil {
		return jsondoc.Value{}, err
	}
	pos := len(elems)
	if op.position != nil {
		pos = *op.position
		if pos < 0 {
			pos = max(len(elems)+pos, 0)
		}
		pos = min(pos, len(elems))
	}
	out := make([]jsondoc.Value, 0, len(elems)+len(op.each))
	out = append(out, elems[:pos]...)
	out = append(out, op.each...)
	out = append(out, elems[pos:]...)
	switch {
	case op.sortDir != 0:
		slices.SortStableFunc(out, func(a, b jsondoc.Value) int { return op.sortDir * jsondoc.Compare(a, b) })
	case op.sortBy != nil:
		slices.SortStableFunc(out, op.sortBy.Compare)
	}
	if op.slice != nil {
		n := *op.slice
		switch {
		case n >= 0 && n < len(out):
			out = out[:n]
		case n < 0 && -n < len(out):
			out = out[len(out)+n:]
		}
	}
	return op.set(doc, op.segs, arrayOf(out))
}

// throughArray reports whether an object or array along segs (before the
// last segment) is an array.
func throughArray(doc jsondoc.Value, segs []string) bool {
	v := doc
	for _, s := range segs[:len(segs)-1] {
		var ok bool
		if v, ok = v.Field(s); !ok {
			return false
		}
		if v.Kind() == jsondoc.KindArray {
			return true
		}
	}
	return false
}

// overlaps reports whether a equals b or one is a prefix of the other.
func overlaps(a, b []string) bool {
	n := min(len(a), len(b))
	return slices.Equal(a[:n], b[:n])
}

// pathTrie finds conflicting update paths: the same path twice, or a path
// and one of its prefixes.
type pathTrie struct {
	end      string // "$op on \"path\"" that claimed this exact path
	below    string // the first claim of a path through this node
	children map[string]*pathTrie
}

func (t *pathTrie) claim(segs []string, op, at string) error {
	me := fmt.Sprintf("%s on %q", op, strings.Join(segs, "."))
	n := t
	for _, s := range segs {
		if n.end != "" {
			return qerr(at, "%s conflicts with %s", me, n.end)
		}
		if n.below == "" {
			n.below = me
		}
		c := n.children[s]
		if c == nil {
			if n.children == nil {
				n.children = map[string]*pathTrie{}
			}
			c = &pathTrie{}
			n.children[s] = c
		}
		n = c
	}
	switch {
	case n.end != "":
		return qerr(at, "%s conflicts with %s", me, n.end)
	case n.below != "":
		return qerr(at, "%s conflicts with %s", me, n.below)
	}
	n.end = me
	return nil
}
