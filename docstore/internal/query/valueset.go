package query

import (
	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
	"github.com/minidbgo/minidbgo/docstore/internal/keyenc"
)

// valueSet is a set of values keyed by their order-preserving encoding
// (keyenc.AppendValue), which two values share exactly when
// jsondoc.Compare finds them equal (1 and 1.0 included): membership costs
// one encoding and one map lookup, so operators that match many values
// against many elements ($all, $addToSet, $pullAll) are linear instead of
// quadratic. It is immutable after newValueSet; lookups take the caller's
// buffer, so a set in a parsed query is safe for concurrent use.
type valueSet struct {
	idx map[string]int // encoding → index among the distinct values
	n   int            // distinct values
}

// newValueSet returns the set of vals (which must not be missing).
func newValueSet(vals []jsondoc.Value) *valueSet {
	s := &valueSet{idx: make(map[string]int, len(vals))}
	var buf []byte
	for _, v := range vals {
		buf = keyenc.AppendValue(buf[:0], v)
		if _, ok := s.idx[string(buf)]; !ok {
			s.idx[string(buf)] = s.n
			s.n++
		}
	}
	return s
}

// index returns the index of v's distinct value in the set; buf is
// scratch space, reused across calls.
func (s *valueSet) index(v *jsondoc.Value, buf *[]byte) (int, bool) {
	*buf = keyenc.AppendValue((*buf)[:0], *v)
	i, ok := s.idx[string(*buf)]
	return i, ok
}

// markState is one evaluation of $all over a valueSet: which values some
// candidate equalled so far.
type markState struct {
	set   *valueSet
	found []bool
	left  int
	buf   []byte
}

// allFound reports whether every value of the set equals some candidate
// that path reaches from v (as $all of plain values does: each value
// separately, through implicit array matching), in one walk.
func (s *valueSet) allFound(v *jsondoc.Value, path []string, expand bool) bool {
	m := &markState{set: s, found: make([]bool, s.n), left: s.n}
	t := valueTest{kind: testMark, mark: m}
	walk(v, path, expand, &t)
	return m.left == 0
}

// see marks the value c equals; true once every value is marked.
func (m *markState) see(c *jsondoc.Value) bool {
	if i, ok := m.set.index(c, &m.buf); ok && !m.found[i] {
		m.found[i] = true
		m.left--
	}
	return m.left == 0
}
