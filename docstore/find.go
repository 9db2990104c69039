package docstore

import (
	"bytes"
	"container/heap"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
	"github.com/minidbgo/minidbgo/docstore/internal/keyenc"
	"github.com/minidbgo/minidbgo/docstore/internal/query"
	"github.com/minidbgo/minidbgo/storage"
)

// Query is a find request. Filter, Sort and Projection are JSON; Sort may
// instead be given as SortString ("a,-b") and Projection as Fields
// ("a,b" to include, "-a" to exclude).
type Query struct {
	Filter     []byte
	Sort       []byte
	SortString string
	Projection []byte
	Fields     string
	Skip       int
	Limit      int    // 0: Options.DefaultLimit; capped at Options.MaxLimit
	Cursor     string // resume token from Cursor.NextToken
}

// Cursor streams a query's results, sql.Rows style:
//
//	cur, err := db.Find("users", docstore.Query{Filter: []byte(`{"age":{"$gte":18}}`)})
//	if err != nil { ... }
//	defer cur.Close()
//	for cur.Next() {
//		fmt.Println(string(cur.Doc()))
//	}
//	if err := cur.Err(); err != nil { ... }
//	next := cur.NextToken() // "" when there is nothing more
//
// It reads from a snapshot taken by Find, so a page is consistent, and its
// memory is bounded by the page (an unindexed sort holds skip+limit
// documents). A Cursor is not safe for concurrent use.
type Cursor struct {
	db    *DB
	p     *plan
	snap  *storage.Snapshot
	src   *source
	limit int
	skip  int

	matchAll bool // the filter matches every document
	covered  bool // the index ranges match exactly the filter's documents
	started  bool
	returned int
	cur      []byte
	curID    string
	peek     *match
	more     bool
	last     *match // last returned, for the token
	err      error
	closed   bool

	sorted   []*match // in-memory sort results, ascending
	sortPos  int
	resumeAt *match // sorted resume position

	stats Explanation
}

// match is a document that passed the filter.
type match struct {
	id   string
	key  []byte // its position in the scan (doc or index key)
	doc  jsondoc.Value
	json []byte
}

// Find runs a query and returns a cursor over one page of results.
func (db *DB) Find(col string, q Query) (*Cursor, error) {
	if err := checkName("collection", col); err != nil {
		return nil, err
	}
	f, s, pr, err := db.parseQueryParts(q)
	if err != nil {
		return nil, err
	}
	if q.Skip < 0 {
		return nil, errf("bad_request", "skip must be >= 0, got %d", q.Skip)
	}
	if q.Limit < 0 {
		return nil, errf("bad_request", "limit must be >= 0, got %d", q.Limit)
	}
	limit := q.Limit
	if limit == 0 {
		limit = db.opts.DefaultLimit
	}
	limit = min(limit, db.opts.MaxLimit)
	// The snapshot comes before the plan: a document that made an index
	// multikey set the flag before it committed, so the plan sees it.
	snap := db.engine.NewSnapshot()
	c := db.getCollection(col)
	p := db.makePlan(c, col, f, s)
	p.proj = pr
	cur := &Cursor{db: db, p: p, limit: limit, skip: q.Skip, matchAll: isEmptyFilter(q.Filter), covered: coveredByIndex(p)}
	cur.stats = p.explain()
	if q.Cursor != "" {
		if err := cur.applyToken(q.Cursor); err != nil {
			snap.Close()
			return nil, err
		}
		cur.skip = 0
	}
	// Compared as skip > max-limit-1, since skip+limit+1 can overflow.
	if s != nil && !p.sortByIndex && cur.skip > db.opts.MaxSortDocs-cur.limit-1 {
		snap.Close()
		return nil, errf("bad_request", "an unindexed sort keeps skip+limit documents in memory; skip %d + limit %d is over the limit of %d (use a cursor or an index)", cur.skip, cur.limit, db.opts.MaxSortDocs)
	}
	cur.snap = snap
	cur.src = newSource(db, cur.snap, p, cur.resumeKey())
	if s == nil && pr == nil {
		cur.src.keep = filterOnly(f)
	}
	return cur, nil
}

func isEmptyFilter(f []byte) bool {
	t := bytes.TrimSpace(f)
	if len(t) == 0 {
		return true
	}
	if t[0] != '{' || t[len(t)-1] != '}' {
		return false
	}
	return len(bytes.TrimSpace(t[1:len(t)-1])) == 0
}

// token is a cursor's resume position.
type token struct {
	Sig  string          `json:"sig"`
	Key  []byte          `json:"key,omitempty"`  // streaming: last scan key
	Sort json.RawMessage `json:"sort,omitempty"` // sorted: last doc's sort fields
	ID   string          `json:"id,omitempty"`
}

func (c *Cursor) applyToken(s string) error {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return errf("invalid_cursor", "cursor is not a valid token: %v", err)
	}
	var t token
	if err := json.Unmarshal(raw, &t); err != nil {
		return errf("invalid_cursor", "cursor is not a valid token: %v", err)
	}
	if t.Sig != c.p.signature() {
		return errf("invalid_cursor", "cursor was made by a different query plan (%s, now %s); restart the query", t.Sig, c.p.signature())
	}
	if c.p.sort != nil && !c.p.sortByIndex {
		v, err := jsondoc.Parse(t.Sort, jsondoc.Limits{MaxDepth: 1 << 10})
		if err != nil || v.Kind() != jsondoc.KindObject {
			return errf("invalid_cursor", "cursor sort position is malformed")
		}
		c.resumeAt = &match{id: t.ID, doc: v}
		return nil
	}
	if len(t.Key) == 0 {
		return errf("invalid_cursor", "cursor has no position")
	}
	c.last = &match{key: t.Key}
	return nil
}

func (c *Cursor) resumeKey() []byte {
	if c.last != nil && c.resumeAt == nil {
		return c.last.key
	}
	return nil
}

// NextToken returns a token that resumes the query after the last
// document returned, or "" when no results remain. Call it after Next
// returned false.
func (c *Cursor) NextToken() string {
	if !c.more || c.last == nil {
		return ""
	}
	t := token{Sig: c.p.signature()}
	if c.p.sort != nil && !c.p.sortByIndex {
		t.Sort = sortFieldsOf(c.last.doc, c.p.sort)
		t.ID = c.last.id
	} else {
		t.Key = c.last.key
	}
	raw, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// sortFieldsOf copies the top-level fields a sort reads.
func sortFieldsOf(doc jsondoc.Value, s *query.Sort) []byte {
	var ms []jsondoc.Member
	seen := map[string]bool{}
	for _, f := range s.Fields() {
		top := f.Path
		if i := bytes.IndexByte([]byte(top), '.'); i >= 0 {
			top = top[:i]
		}
		if seen[top] {
			continue
		}
		seen[top] = true
		if v, ok := doc.Field(top); ok {
			ms = append(ms, jsondoc.Member{Key: top, Value: v})
		}
	}
	return jsondoc.AppendJSON(nil, jsondoc.Object(ms))
}

// Next advances to the next document of the page.
func (c *Cursor) Next() bool {
	if c.closed || c.err != nil {
		return false
	}
	if c.returned >= c.limit {
		return false
	}
	var m *match
	var err error
	if c.p.sort != nil && !c.p.sortByIndex {
		m, err = c.nextSorted()
	} else {
		m, err = c.nextStreaming()
	}
	if err != nil {
		c.err = err
		return false
	}
	if m == nil {
		c.more = false
		return false
	}
	c.returned++
	c.last = m
	c.stats.NReturned++
	out := m.json
	if c.p.proj != nil {
		out = jsondoc.AppendJSON(nil, c.p.proj.Apply(m.doc))
	}
	c.cur, c.curID = out, m.id
	if c.returned >= c.limit {
		// Is there more after this page?
		if c.p.sort != nil && !c.p.sortByIndex {
			c.more = c.sortPos < len(c.sorted)
		} else {
			nm, err := c.nextMatch()
			if err != nil {
				c.err = err
				return false
			}
			c.peek = nm
			c.more = nm != nil
		}
	}
	return true
}

func (c *Cursor) nextStreaming() (*match, error) {
	if !c.started {
		c.started = true
		for range c.skip {
			m, err := c.nextMatch()
			if err != nil || m == nil {
				return nil, err
			}
		}
	}
	if c.peek != nil {
		m := c.peek
		c.peek = nil
		return m, nil
	}
	return c.nextMatch()
}

// nextMatch returns the next document of the scan that passes the filter.
func (c *Cursor) nextMatch() (*match, error) {
	for {
		noFilter := c.matchAll || c.covered
		m, err := c.src.next(&c.stats, !noFilter || c.p.proj != nil || c.p.sort != nil)
		if err != nil || m == nil {
			return nil, err
		}
		if noFilter || c.p.filter.Match(m.doc) {
			return m, nil
		}
	}
}

// nextSorted reads every match once, keeping the first skip+limit+1 in
// sort order in a bounded heap, then returns them in order.
func (c *Cursor) nextSorted() (*match, error) {
	if !c.started {
		c.started = true
		k := c.skip + c.limit + 1
		h := &matchHeap{s: c.p.sort}
		for {
			m, err := c.nextMatch()
			if err != nil {
				return nil, err
			}
			if m == nil {
				break
			}
			if c.resumeAt != nil && h.cmp(m, c.resumeAt) <= 0 {
				continue
			}
			if h.Len() < k {
				heap.Push(h, m)
			} else if h.cmp(m, h.ms[0]) < 0 {
				h.ms[0] = m
				heap.Fix(h, 0)
			}
		}
		c.sorted = make([]*match, h.Len())
		for i := len(c.sorted) - 1; i >= 0; i-- {
			c.sorted[i] = heap.Pop(h).(*match)
		}
		c.sortPos = min(c.skip, len(c.sorted))
	}
	if c.sortPos >= len(c.sorted) {
		return nil, nil
	}
	m := c.sorted[c.sortPos]
	c.sortPos++
	return m, nil
}

// matchHeap is a max-heap by (sort, _id): the root is the first to evict.
type matchHeap struct {
	s  *query.Sort
	ms []*match
}

func (h *matchHeap) cmp(a, b *match) int {
	if r := h.s.Compare(a.doc, b.doc); r != 0 {
		return r
	}
	switch {
	case a.id < b.id:
		return -1
	case a.id > b.id:
		return 1
	}
	return 0
}
func (h *matchHeap) Len() int           { return len(h.ms) }
func (h *matchHeap) Less(i, j int) bool { return h.cmp(h.ms[i], h.ms[j]) > 0 }
func (h *matchHeap) Swap(i, j int)      { h.ms[i], h.ms[j] = h.ms[j], h.ms[i] }
func (h *matchHeap) Push(x any)         { h.ms = append(h.ms, x.(*match)) }
func (h *matchHeap) Pop() any {
	n := len(h.ms) - 1
	x := h.ms[n]
	h.ms = h.ms[:n]
	return x
}

// Doc returns the current document's JSON (projected).
func (c *Cursor) Doc() []byte { return c.cur }

// ID returns the current document's _id.
func (c *Cursor) ID() string { return c.curID }

// Err returns the error that stopped the cursor.
func (c *Cursor) Err() error { return c.err }

// Explain returns the plan and the work done so far.
func (c *Cursor) Explain() Explanation { return c.stats }

// Close releases the cursor's snapshot and iterators.
func (c *Cursor) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	if c.src != nil {
		if err := c.src.close(); err != nil && c.err == nil {
			c.err = err
		}
	}
	if c.snap != nil {
		_ = c.snap.Close()
	}
	return c.err
}

// source produces a plan's documents in scan order.
type source struct {
	db    *DB
	snap  *storage.Snapshot
	p     *plan
	it    *storage.Iterator
	ri    int // current range (index scans)
	after []byte
	seen  map[string]bool
	done  bool
	// keep, when set, limits parsing during a collection scan to the
	// top-level fields the filter reads: the document itself is output
	// as stored, so the other fields need not be built.
	keep func(string) bool
}

// filterOnly returns a keep function for a scan whose documents are only
// matched against f (no sort, no projection).
func filterOnly(f *query.Filter) func(string) bool {
	fields := f.TopLevelFields()
	return func(k string) bool {
		for _, x := range fields {
			if x == k {
				return true
			}
		}
		return false
	}
}

func newSource(db *DB, snap *storage.Snapshot, p *plan, after []byte) *source {
	s := &source{db: db, snap: snap, p: p, after: after, ri: -1}
	if p.index != nil {
		s.seen = make(map[string]bool)
	}
	return s
}

func (s *source) close() error {
	if s.it != nil {
		err := s.it.Close()
		s.it = nil
		return err
	}
	return nil
}

// position opens an iterator on [start, end) and seeks past s.after.
func (s *source) open(start, end []byte) bool {
	s.it = s.snap.NewIter(&storage.IterOptions{LowerBound: start, UpperBound: end})
	if s.after != nil && bytes.Compare(s.after, start) >= 0 {
		return s.it.SeekGE(append(bytes.Clone(s.after), 0))
	}
	return s.it.First()
}

func (s *source) next(st *Explanation, parse bool) (*match, error) {
	if s.done {
		return nil, nil
	}
	if s.p.index == nil {
		return s.nextDoc(st, parse)
	}
	return s.nextIndexed(st, parse)
}

// step advances to the next key of the scan, moving through ranges (past
// the resume position); false at the end or on an error.
func (s *source) step(ranges []keyRange) (bool, error) {
	ok := s.it != nil && s.it.Next()
	for !ok {
		if s.it != nil {
			if err := s.it.Err(); err != nil {
				return false, err
			}
			if err := s.it.Close(); err != nil {
				return false, err
			}
			s.it = nil
		}
		s.ri++
		if s.ri >= len(ranges) {
			s.done = true
			return false, nil
		}
		r := ranges[s.ri]
		if s.after != nil && r.end != nil && bytes.Compare(s.after, r.end) >= 0 {
			continue
		}
		ok = s.open(r.start, r.end)
	}
	return true, nil
}

func (s *source) nextDoc(st *Explanation, parse bool) (*match, error) {
	ranges := s.p.ranges
	if ranges == nil {
		pre := keyenc.DocPrefix(s.p.col)
		ranges = []keyRange{{start: pre, end: keyenc.PrefixEnd(pre)}}
	}
	for {
		if ok, err := s.step(ranges); !ok {
			return nil, err
		}
		st.DocsExamined++
		_, js, err := decodeStored(s.it.Value())
		if err != nil {
			return nil, err
		}
		var doc jsondoc.Value
		if parse && s.keep != nil {
			// Parse only what the filter reads, and copy nothing for a
			// document it rejects.
			if doc, err = jsondoc.ParseFields(js, s.keep); err != nil {
				return nil, fmt.Errorf("docstore: stored document in %q: %w", s.p.col, err)
			}
			if !s.p.filter.Match(doc) {
				continue
			}
		}
		key := bytes.Clone(s.it.Key())
		id, err := keyenc.DocIDFromKey(key, s.p.col)
		if err != nil {
			return nil, err
		}
		m := &match{id: id, key: key, json: bytes.Clone(js), doc: doc}
		if parse && s.keep == nil {
			if m.doc, err = jsondoc.Parse(m.json, jsondoc.Limits{MaxDepth: 1 << 10}); err != nil {
				return nil, fmt.Errorf("docstore: stored document %q/%q: %w", s.p.col, id, err)
			}
		}
		return m, nil
	}
}

// nextIndexed returns the document of the next index key not seen yet;
// parse false leaves match.doc empty, for a caller that needs only the
// JSON.
func (s *source) nextIndexed(st *Explanation, parse bool) (*match, error) {
	for {
		if ok, err := s.step(s.p.ranges); !ok {
			return nil, err
		}
		st.KeysExamined++
		key := s.it.Key()
		ix := s.p.index
		id, err := keyenc.DecodeIndexKeyID(key, len(ix.prefix), len(ix.paths), ix.desc)
		if err != nil {
			return nil, err
		}
		if s.seen[id] {
			continue
		}
		raw, err := s.snap.Get(keyenc.DocKey(nil, s.p.col, id))
		if err == storage.ErrNotFound {
			continue // an index entry whose document is gone: skip
		}
		if err != nil {
			return nil, err
		}
		st.DocsExamined++
		_, js, err := decodeStored(raw)
		if err != nil {
			return nil, err
		}
		var doc jsondoc.Value
		if parse {
			if doc, err = jsondoc.Parse(js, jsondoc.Limits{MaxDepth: 1 << 10}); err != nil {
				return nil, fmt.Errorf("docstore: stored document %q/%q: %w", s.p.col, id, err)
			}
		}
		if len(s.seen) < 1<<20 {
			s.seen[id] = true
		}
		return &match{id: id, key: bytes.Clone(key), doc: doc, json: js}, nil
	}
}

// Count returns the number of documents matching filter.
func (db *DB) Count(col string, filter []byte) (int64, error) {
	if err := checkName("collection", col); err != nil {
		return 0, err
	}
	c := db.getCollection(col)
	if c == nil {
		if _, _, _, err := db.parseQueryParts(Query{Filter: filter}); err != nil {
			return 0, err
		}
		return 0, nil
	}
	if isEmptyFilter(filter) {
		return c.docs.Load(), nil
	}
	f, _, _, err := db.parseQueryParts(Query{Filter: filter})
	if err != nil {
		return 0, err
	}
	snap := db.engine.NewSnapshot()
	defer snap.Close()
	p := db.makePlan(c, col, f, nil)
	if coveredByIndex(p) {
		return countKeys(snap, p.ranges)
	}
	src := newSource(db, snap, p, nil)
	src.keep = filterOnly(f)
	defer src.close()
	var st Explanation
	var n int64
	for {
		m, err := src.next(&st, true)
		if err != nil {
			return 0, err
		}
		if m == nil {
			return n, nil
		}
		if f.Match(m.doc) {
			n++
		}
	}
}

// coveredByIndex reports whether p's index ranges hold exactly one key per
// matching document: the filter is only scalar equalities, each on one of
// the leading index fields the ranges fix, and no document has an array
// along the index's paths (one key per document). A count then counts
// keys and reads no document, and a find returns the documents the keys
// name without parsing them to test the filter.
func coveredByIndex(p *plan) bool {
	if p.index == nil || p.index.multikey.Load() {
		return false
	}
	eqs, ok := p.filter.ScalarEqualities()
	if !ok || len(eqs) != p.eqFields {
		return false
	}
	for _, path := range p.index.paths[:p.eqFields] {
		if _, ok := eqs[path]; !ok {
			return false
		}
	}
	return true
}

// countKeys counts the keys of snap in ranges.
func countKeys(snap *storage.Snapshot, ranges []keyRange) (int64, error) {
	var n int64
	for _, r := range ranges {
		it := snap.NewIter(&storage.IterOptions{LowerBound: r.start, UpperBound: r.end})
		for ok := it.First(); ok; ok = it.Next() {
			n++
		}
		if err := it.Close(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// Explain runs a query to its page's end and reports its plan and cost.
func (db *DB) Explain(col string, q Query) (Explanation, error) {
	cur, err := db.Find(col, q)
	if err != nil {
		return Explanation{}, err
	}
	defer cur.Close()
	for cur.Next() {
	}
	if err := cur.Err(); err != nil {
		return Explanation{}, err
	}
	return cur.Explain(), nil
}

// ManyResult reports an UpdateMany or DeleteMany.
type ManyResult struct {
	Matched  int64 `json:"matched"`
	Modified int64 `json:"modified"`
	Deleted  int64 `json:"deleted"`
}

// UpdateMany applies an update to every document matching filter. Each
// document is updated atomically (re-checked against the filter under its
// lock); the whole set is not one transaction.
func (db *DB) UpdateMany(col string, filter, update []byte) (ManyResult, error) {
	u, repl, err := db.parseUpdate(update)
	if err != nil {
		return ManyResult{}, err
	}
	if repl != nil {
		return ManyResult{}, errf("invalid_update", "updateMany needs update operators like {\"$set\": {...}}, not a replacement document")
	}
	var res ManyResult
	err = db.forEachMatch(col, filter, func(f *query.Filter, ids []string) error {
		ops := make([]*docOp, 0, len(ids))
		for _, id := range ids {
			ops = append(ops, &docOp{id: id, needOld: true, apply: func(old *jsondoc.Value, _ bool, _ uint64) (*jsondoc.Value, error) {
				if old == nil || !f.Match(*old) {
					return nil, errSkip
				}
				res.Matched++
				nv, err := db.applyUpdateEnv(u, nil, *old, id, query.UpdateEnv{Filter: f})
				if err != nil {
					return nil, err
				}
				if jsondoc.Equal(*nv, *old) {
					return nil, errSkip
				}
				res.Modified++
				return nv, nil
			}})
		}
		return db.write(col, ops)
	})
	return res, err
}

// DeleteMany deletes every document matching filter, a chunk at a time.
func (db *DB) DeleteMany(col string, filter []byte) (ManyResult, error) {
	var res ManyResult
	err := db.forEachMatch(col, filter, func(f *query.Filter, ids []string) error {
		ops := make([]*docOp, 0, len(ids))
		for _, id := range ids {
			ops = append(ops, &docOp{id: id, needOld: true, apply: func(old *jsondoc.Value, _ bool, _ uint64) (*jsondoc.Value, error) {
				if old == nil || !f.Match(*old) {
					return nil, errSkip
				}
				res.Matched++
				res.Deleted++
				return nil, nil
			}})
		}
		return db.write(col, ops)
	})
	return res, err
}

// forEachMatch calls fn with chunks of the ids matching filter, from a
// snapshot; memory is bounded by the chunk.
func (db *DB) forEachMatch(col string, filter []byte, fn func(*query.Filter, []string) error) error {
	if err := checkName("collection", col); err != nil {
		return err
	}
	f, _, _, err := db.parseQueryParts(Query{Filter: filter})
	if err != nil {
		return err
	}
	c := db.getCollection(col)
	if c == nil {
		return nil
	}
	snap := db.engine.NewSnapshot()
	defer snap.Close()
	p := db.makePlan(c, col, f, nil)
	src := newSource(db, snap, p, nil)
	src.keep = filterOnly(f)
	defer src.close()
	var st Explanation
	ids := make([]string, 0, 256)
	for {
		m, err := src.next(&st, true)
		if err != nil {
			return err
		}
		if m != nil && f.Match(m.doc) {
			ids = append(ids, m.id)
		}
		if (m == nil && len(ids) > 0) || len(ids) == cap(ids) {
			if err := fn(f, ids); err != nil {
				return err
			}
			ids = ids[:0]
		}
		if m == nil {
			return nil
		}
	}
}
