package query

import (
	"strings"
	"time"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
)

// parseCurrentDate parses $currentDate's operand as MongoDB does: a
// boolean or {"$type":"date"} sets the date, {"$type":"timestamp"} the
// timestamp (see currentDate).
func parseCurrentDate(arg jsondoc.Value, at string) (timestamp bool, err error) {
	switch arg.Kind() {
	case jsondoc.KindBool:
		return false, nil
	case jsondoc.KindObject:
		ms := arg.Members()
		if len(ms) != 1 || ms[0].Key != "$type" {
			return false, qerr(at, "$currentDate takes true or {\"$type\":\"date\"} or {\"$type\":\"timestamp\"}, got %s", describe(arg))
		}
		switch ms[0].Value.Str() {
		case "date":
			return false, nil
		case "timestamp":
			return true, nil
		}
		return false, qerr(join(at, "$type"), "$currentDate $type must be \"date\" or \"timestamp\", got %s", describe(ms[0].Value))
	}
	return false, qerr(at, "$currentDate takes true or {\"$type\":\"date\"} or {\"$type\":\"timestamp\"}, got %s", describe(arg))
}

// currentDate is the value $currentDate writes. JSON has no date type: a
// date is an RFC 3339 string in UTC with millisecond precision
// ("2026-12-06T13:11:32.123Z", which sorts and compares in time order), a
// timestamp the integer number of milliseconds since the Unix epoch.
func currentDate(now time.Time, timestamp bool) jsondoc.Value {
	if timestamp {
		return jsondoc.Int(now.UnixMilli())
	}
	return jsondoc.String(now.UTC().Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z07:00"))
}

// expand returns the concrete paths of a positional update path on doc:
// "$" becomes pos, the index of the element the filter matched, and "$[]"
// every index of the array there.
func (op *updateOp) expand(doc jsondoc.Value, pos int, havePos bool) ([][]string, error) {
	var out [][]string
	var rec func(v jsondoc.Value, prefix []string, rest []string) error
	rec = func(v jsondoc.Value, prefix []string, rest []string) error {
		for i, seg := range rest {
			switch seg {
			case "$":
				if !havePos {
					return qerr(op.at, "the positional operator $ in %q found no array element matched by the filter: the filter must match an element of the array %q", op.path, strings.Join(prefix, "."))
				}
				if v.Kind() != jsondoc.KindArray {
					return qerr(op.at, "the positional operator $ in %q needs %q to be an array, but it holds a %s", op.path, strings.Join(prefix, "."), jsondoc.TypeName(v))
				}
				seg = itoa(pos)
			case "$[]":
				switch v.Kind() {
				case jsondoc.KindArray:
				case jsondoc.KindMissing:
					return qerr(op.at, "$[] in %q needs the array %q to exist", op.path, strings.Join(prefix, "."))
				default:
					return qerr(op.at, "$[] in %q needs %q to be an array, but it holds a %s", op.path, strings.Join(prefix, "."), jsondoc.TypeName(v))
				}
				for j, e := range v.Elems() {
					p := append(append([]string(nil), prefix...), itoa(j))
					if err := rec(e, p, rest[i+1:]); err != nil {
						return err
					}
				}
				return nil
			}
			prefix = append(prefix, seg)
			v = v.Lookup([]string{seg})
		}
		out = append(out, append([]string(nil), prefix...))
		return nil
	}
	if err := rec(doc, nil, op.segs); err != nil {
		return nil, err
	}
	return out, nil
}

// MatchedIndex returns the index of the array element through which the
// filter matched doc, which the positional update operator $ stands for:
// {"grades":{"$gte":85}} on {"grades":[80,90]} gives 1, and
// {"items.sku":"b"} on {"items":[{"sku":"a"},{"sku":"b"}]} gives 1. As in
// MongoDB, it is the index in the first array along a condition's path,
// the last condition that reached one wins, and conditions that hold
// without an element ($ne, $not, $nor, $size, equality to a whole array)
// give none. ok is false when there is none, or when doc does not match.
func (f *Filter) MatchedIndex(doc jsondoc.Value) (idx int, ok bool) {
	if !f.Match(doc) {
		return -1, false
	}
	return f.root.elemPos(&doc)
}

func (n *node) elemPos(doc *jsondoc.Value) (int, bool) {
	pos, found := -1, false
	switch n.kind {
	case nodeAnd:
		for i := range n.subs {
			if p, ok := n.subs[i].elemPos(doc); ok {
				pos, found = p, true
			}
		}
	case nodeOr:
		for i := range n.subs {
			if n.subs[i].match(doc) {
				return n.subs[i].elemPos(doc)
			}
		}
	case nodeField:
		for i := range n.ops {
			if p, ok := opPos(&n.ops[i], doc, n.segs); ok {
				pos, found = p, true
			}
		}
	}
	return pos, found
}

func opPos(op *fieldOp, v *jsondoc.Value, path []string) (int, bool) {
	switch op.kind {
	case opNot:
		return -1, false
	case opAll:
		// The last value that reached an element wins; searching from the
		// end keeps a long $all linear.
		for i := len(op.ops) - 1; i >= 0; i-- {
			if p, ok := opPos(&op.ops[i], v, path); ok {
				return p, true
			}
		}
		return -1, false
	}
	t := &op.test
	c := v
	for k, seg := range path {
		switch c.Kind() {
		case jsondoc.KindObject:
			if c = field(c, seg); c == nil {
				return -1, false
			}
		case jsondoc.KindArray:
			elems := c.Elems()
			if idx, ok := jsondoc.ArrayIndex(seg); ok {
				// An explicit index names the element; no position here.
				if idx >= len(elems) {
					return -1, false
				}
				c = &elems[idx]
				continue
			}
			for j := range elems {
				if elems[j].Kind() != jsondoc.KindObject {
					continue
				}
				var hit bool
				if e := field(&elems[j], seg); e == nil {
					hit = t.test(&missing, false)
				} else {
					hit = walk(e, path[k+1:], true, t)
				}
				if hit {
					return j, true
				}
			}
			return -1, false
		default:
			return -1, false
		}
	}
	if c.Kind() != jsondoc.KindArray {
		return -1, false
	}
	elems := c.Elems()
	for j := range elems {
		if elemPasses(t, &elems[j]) {
			return j, true
		}
	}
	return -1, false
}

// elemPasses reports whether one element of an array at the end of a path
// satisfies t: for $elemMatch, the element itself; otherwise t's test of
// the element as a candidate.
func elemPasses(t *valueTest, e *jsondoc.Value) bool {
	switch t.kind {
	case testElemMatchValue:
		for j := range t.ops {
			if !t.ops[j].eval(e, nil, false) {
				return false
			}
		}
		return true
	case testElemMatchDoc:
		return e.Kind() == jsondoc.KindObject && t.filter.match(e)
	case testSize:
		return false
	}
	return t.test(e, true)
}
