package docstore

import (
	"bytes"
	"slices"
	"strings"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
	"github.com/minidbgo/minidbgo/docstore/internal/keyenc"
	"github.com/minidbgo/minidbgo/docstore/internal/query"
)

// plan is how a query reads a collection: a scan of the collection's key
// range in _id order, or scans of index key ranges. The filter is always
// re-checked on every document fetched, so a plan only has to find a
// superset of the matches.
type plan struct {
	col         string
	index       *index     // nil: collection scan
	ranges      []keyRange // index key ranges (or, without an index, _id key ranges), in key order
	sortByIndex bool       // the scan order satisfies the sort
	eqFields    int        // leading index fields fixed by equality
	filter      *query.Filter
	sort        *query.Sort
	proj        *query.Projection
}

type keyRange struct{ start, end []byte }

// Explanation describes a query's plan and what running it cost.
type Explanation struct {
	Plan         string   `json:"plan"` // "COLLSCAN" or "IXSCAN"
	Index        string   `json:"index,omitempty"`
	IndexFields  []string `json:"indexFields,omitempty"`
	Ranges       int      `json:"ranges,omitempty"`
	SortByIndex  bool     `json:"sortByIndex"`
	InMemorySort bool     `json:"inMemorySort"`
	KeysExamined int64    `json:"keysExamined"`
	DocsExamined int64    `json:"docsExamined"`
	NReturned    int64    `json:"nReturned"`
}

func (p *plan) explain() Explanation {
	e := Explanation{Plan: "COLLSCAN", SortByIndex: p.sortByIndex, InMemorySort: p.sort != nil && !p.sortByIndex}
	if p.index == nil && p.ranges != nil {
		e.Plan, e.Ranges = "IDSCAN", len(p.ranges)
	}
	if p.index != nil {
		e.Plan = "IXSCAN"
		e.Index = p.index.spec.Name
		for _, f := range p.index.spec.Fields {
			if f.Desc {
				e.IndexFields = append(e.IndexFields, "-"+f.Path)
			} else {
				e.IndexFields = append(e.IndexFields, f.Path)
			}
		}
		e.Ranges = len(p.ranges)
	}
	return e
}

// signature identifies the access path and how it gives the sort, so a
// cursor is only resumed by the same plan: "_id" (a scan of the documents
// in _id order, whole or by _id ranges) or "ix:" name and fields of the
// index, then "/ixsort" when the index order is the sort or "/memsort"
// when the sort is done in memory.
func (p *plan) signature() string {
	var b strings.Builder
	if p.index == nil {
		b.WriteString("_id")
	} else {
		b.WriteString("ix:")
		b.WriteString(p.index.spec.Name)
		for i, path := range p.index.paths {
			if i == 0 {
				b.WriteByte('(')
			} else {
				b.WriteByte(',')
			}
			if p.index.desc[i] {
				b.WriteByte('-')
			}
			b.WriteString(path)
		}
		b.WriteByte(')')
	}
	switch {
	case p.sort != nil && p.sortByIndex:
		b.WriteString("/ixsort")
	case p.sort != nil:
		b.WriteString("/memsort")
	}
	return b.String()
}

// pinnedPlan is the plan with signature sig for a query, the plan a
// cursor was issued with: the best plan when it still is, else the same
// access path built again (an index created since does not move a
// cursor), or nil when that path is gone (its index was dropped or
// changed, or became multikey under a sort it gave).
func (db *DB) pinnedPlan(c *collection, col string, f *query.Filter, s *query.Sort, sig string) *plan {
	if p := db.makePlan(c, col, f, s); p.signature() == sig {
		return p
	}
	if !strings.HasPrefix(sig, "ix:") {
		// A scan of the whole collection; an _id range plan does not
		// depend on indexes, so makePlan would have found it.
		p := &plan{col: col, filter: f, sort: s}
		if p.signature() == sig {
			return p
		}
		return nil
	}
	if c == nil {
		return nil
	}
	conds := f.Conditions()
	c.mu.RLock()
	indexes := slices.Clone(c.indexes)
	c.mu.RUnlock()
	for _, ix := range indexes {
		if ix.building.Load() {
			continue
		}
		p, _ := buildRanges(col, ix, conds)
		p.sortByIndex = s != nil && !ix.multikey.Load() && sortMatches(ix, p.eqFields, s)
		p.filter, p.sort, p.col = f, s, col
		if p.signature() == sig {
			return p
		}
	}
	return nil
}

// makePlan picks the access path: the ready index that fixes the most
// leading fields by equality (then $in, then a range), or one whose order
// gives the requested sort; otherwise a collection scan.
func (db *DB) makePlan(c *collection, col string, f *query.Filter, s *query.Sort) *plan {
	p := &plan{col: col, filter: f, sort: s}
	if c == nil {
		return p
	}
	conds := f.Conditions()
	c.mu.RLock()
	indexes := slices.Clone(c.indexes)
	c.mu.RUnlock()

	// _id conditions narrow a collection scan to the matching keys.
	if cond, ok := conds["_id"]; ok {
		if r, ok := idRanges(col, cond); ok {
			p.ranges = r
			return p
		}
	}
	bestScore := 0
	for _, ix := range indexes {
		if ix.building.Load() {
			continue
		}
		cand, score := buildRanges(col, ix, conds)
		sortOK := s != nil && !ix.multikey.Load() && sortMatches(ix, cand.eqFields, s)
		if sortOK {
			score++
		}
		if score > bestScore {
			bestScore = score
			cand.sortByIndex = sortOK
			cand.filter, cand.sort, cand.col = f, s, col
			p = cand
		}
	}
	return p
}

// idRanges turns string conditions on _id into document key ranges.
func idRanges(col string, cond query.FieldCondition) ([]keyRange, bool) {
	isStr := func(v *jsondoc.Value) bool { return v == nil || v.Kind() == jsondoc.KindString }
	key := func(id string) []byte { return keyenc.DocKey(nil, col, id) }
	switch {
	case cond.Eq != nil:
		if cond.Eq.Kind() != jsondoc.KindString {
			return nil, false
		}
		k := key(cond.Eq.Str())
		return []keyRange{{start: k, end: keyenc.PrefixEnd(k)}}, true
	case len(cond.In) > 0:
		var rs []keyRange
		for _, v := range cond.In {
			if v.Kind() != jsondoc.KindString {
				return nil, false
			}
			k := key(v.Str())
			rs = append(rs, keyRange{start: k, end: keyenc.PrefixEnd(k)})
		}
		slices.SortFunc(rs, func(a, b keyRange) int { return bytes.Compare(a.start, b.start) })
		rs = slices.CompactFunc(rs, func(a, b keyRange) bool { return bytes.Equal(a.start, b.start) })
		return rs, true
	case cond.Lower != nil || cond.Upper != nil || cond.ScalarUpper != nil:
		upper, upperIncl := cond.Upper, cond.UpperInclusive
		if upper == nil {
			// _id is never an array, so a scalar upper bound applies.
			upper, upperIncl = cond.ScalarUpper, cond.ScalarUpperInclusive
		}
		if !isStr(cond.Lower) || !isStr(upper) {
			return nil, false
		}
		pre := keyenc.DocPrefix(col)
		r := keyRange{start: pre, end: keyenc.PrefixEnd(pre)}
		if cond.Lower != nil {
			r.start = key(cond.Lower.Str())
			if !cond.LowerInclusive {
				r.start = keyenc.PrefixEnd(r.start)
			}
		}
		if upper != nil {
			r.end = key(upper.Str())
			if upperIncl {
				r.end = keyenc.PrefixEnd(r.end)
			}
		}
		return []keyRange{r}, true
	}
	return nil, false
}

// buildRanges turns the filter's conditions into key ranges of ix. The
// score counts the fields the ranges constrain (0: the index is useless
// for filtering).
func buildRanges(col string, ix *index, conds map[string]query.FieldCondition) (*plan, int) {
	p := &plan{index: ix}
	prefixes := [][]byte{keyenc.IndexPrefix(col, ix.spec.Name)}
	score := 0
	for i, path := range ix.paths {
		cond, ok := conds[path]
		if !ok {
			break
		}
		enc := func(dst []byte, v jsondoc.Value) []byte {
			if ix.desc[i] {
				return keyenc.AppendValueDesc(dst, v)
			}
			return keyenc.AppendValue(dst, v)
		}
		if cond.Eq != nil {
			for j := range prefixes {
				prefixes[j] = enc(bytes.Clone(prefixes[j]), *cond.Eq)
			}
			p.eqFields++
			score += 3
			continue
		}
		if len(cond.In) > 0 && len(cond.In)*len(prefixes) <= 1000 {
			var next [][]byte
			for _, pre := range prefixes {
				for _, v := range cond.In {
					next = append(next, enc(bytes.Clone(pre), v))
				}
			}
			prefixes = next
			score += 2
			break
		}
		if cond.Upper == nil && cond.ScalarUpper != nil && !ix.multikey.Load() {
			// Both bounds apply to one value only when no document holds an
			// array along the path.
			cond.Upper, cond.UpperInclusive = cond.ScalarUpper, cond.ScalarUpperInclusive
		}
		if cond.Lower != nil || cond.Upper != nil {
			score++
			for _, pre := range prefixes {
				p.ranges = append(p.ranges, rangeFor(pre, cond, ix.desc[i]))
			}
			prefixes = nil
		}
		break
	}
	for _, pre := range prefixes {
		p.ranges = append(p.ranges, keyRange{start: pre, end: keyenc.PrefixEnd(pre)})
	}
	slices.SortFunc(p.ranges, func(a, b keyRange) int { return bytes.Compare(a.start, b.start) })
	// Merge duplicates and overlaps ($in with equal values).
	merged := p.ranges[:0]
	for _, r := range p.ranges {
		if n := len(merged); n > 0 && bytes.Compare(r.start, merged[n-1].end) <= 0 {
			if bytes.Compare(r.end, merged[n-1].end) > 0 {
				merged[n-1].end = r.end
			}
			continue
		}
		merged = append(merged, r)
	}
	p.ranges = merged
	return p, score
}

// rangeFor is the key range of values within cond's bounds, after pre.
func rangeFor(pre []byte, cond query.FieldCondition, desc bool) keyRange {
	r := keyRange{start: pre, end: keyenc.PrefixEnd(pre)}
	lo, hi := cond.Lower, cond.Upper
	loIncl, hiIncl := cond.LowerInclusive, cond.UpperInclusive
	if !desc {
		if lo != nil {
			k := keyenc.AppendValue(bytes.Clone(pre), *lo)
			if loIncl {
				r.start = k
			} else {
				r.start = keyenc.PrefixEnd(k)
			}
		}
		if hi != nil {
			k := keyenc.AppendValue(bytes.Clone(pre), *hi)
			if hiIncl {
				r.end = keyenc.PrefixEnd(k)
			} else {
				r.end = k
			}
		}
		return r
	}
	// Descending encodings reverse the order: the upper value starts.
	if hi != nil {
		k := keyenc.AppendValueDesc(bytes.Clone(pre), *hi)
		if hiIncl {
			r.start = k
		} else {
			r.start = keyenc.PrefixEnd(k)
		}
	}
	if lo != nil {
		k := keyenc.AppendValueDesc(bytes.Clone(pre), *lo)
		if loIncl {
			r.end = keyenc.PrefixEnd(k)
		} else {
			r.end = k
		}
	}
	return r
}

// sortMatches reports whether scanning ix after eq fixed leading fields
// yields documents in the sort's order.
func sortMatches(ix *index, eq int, s *query.Sort) bool {
	fields := s.Fields()
	if len(fields) == 0 || eq+len(fields) > len(ix.paths) {
		return false
	}
	for i, f := range fields {
		if ix.paths[eq+i] != f.Path || ix.desc[eq+i] != f.Desc {
			return false
		}
	}
	return true
}

// parseQueryParts parses a query's JSON parts.
func (db *DB) parseQueryParts(q Query) (*query.Filter, *query.Sort, *query.Projection, error) {
	f, s, pr, _, err := db.parseQuery(q)
	return f, s, pr, err
}

// parseQuery parses a query's JSON parts and returns their canonical
// form too.
func (db *DB) parseQuery(q Query) (*query.Filter, *query.Sort, *query.Projection, queryForm, error) {
	var form queryForm
	f, s, pr, err := db.parseParts(q, &form)
	return f, s, pr, form, err
}

func (db *DB) parseParts(q Query, form *queryForm) (*query.Filter, *query.Sort, *query.Projection, error) {
	fv := jsondoc.Object(nil)
	if len(bytes.TrimSpace(q.Filter)) > 0 {
		v, err := jsondoc.Parse(q.Filter, db.limits)
		if err != nil {
			return nil, nil, nil, jsonError(err, -1)
		}
		if v.Kind() != jsondoc.KindObject {
			return nil, nil, nil, errf(CodeInvalidQuery, "filter must be a JSON object, got %s", jsondoc.TypeName(v))
		}
		fv = v
	}
	form.filter = jsondoc.AppendJSON(nil, fv)
	f, err := query.ParseFilter(fv)
	if err != nil {
		return nil, nil, nil, queryError(CodeInvalidQuery, err)
	}
	var s *query.Sort
	switch {
	case len(bytes.TrimSpace(q.Sort)) > 0:
		v, err := jsondoc.Parse(q.Sort, db.limits)
		if err != nil {
			return nil, nil, nil, jsonError(err, -1)
		}
		if s, err = query.ParseSort(v); err != nil {
			return nil, nil, nil, queryError("invalid_sort", err)
		}
	case strings.TrimSpace(q.SortString) != "":
		if s, err = query.ParseSortString(q.SortString); err != nil {
			return nil, nil, nil, queryError("invalid_sort", err)
		}
	}
	if s != nil && len(s.Fields()) == 0 {
		s = nil
	}
	form.sort = sortForm(s)
	var pr *query.Projection
	switch {
	case len(bytes.TrimSpace(q.Projection)) > 0:
		v, err := jsondoc.Parse(q.Projection, db.limits)
		if err != nil {
			return nil, nil, nil, jsonError(err, -1)
		}
		if pr, err = query.ParseProjection(v); err != nil {
			return nil, nil, nil, queryError("invalid_projection", err)
		}
		form.proj = jsondoc.AppendJSON(nil, v)
	case strings.TrimSpace(q.Fields) != "":
		var ms []jsondoc.Member
		for _, f := range strings.Split(q.Fields, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			val := jsondoc.Int(1)
			if rest, ok := strings.CutPrefix(f, "-"); ok {
				f, val = rest, jsondoc.Int(0)
			}
			ms = append(ms, jsondoc.Member{Key: f, Value: val})
		}
		if pr, err = query.ParseProjection(jsondoc.Object(ms)); err != nil {
			return nil, nil, nil, queryError("invalid_projection", err)
		}
		form.proj = jsondoc.AppendJSON(nil, jsondoc.Object(ms))
	}
	if bytes.Equal(form.proj, []byte("{}")) {
		form.proj = nil // no projection
	}
	return f, s, pr, nil
}
