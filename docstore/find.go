package docstore

import (
	"bytes"
	"container/heap"
	"context"
	"fmt"
	"slices"

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
	Limit      int    // 0: the cursor's page size, else Options.DefaultLimit; capped at Options.MaxLimit
	Cursor     string // resume token from Cursor.NextToken; alone it continues its query (see Find)

	// MaxSortBytes bounds the memory an unindexed sort of this query may
	// hold (its skip+limit documents, at their estimated in-memory size);
	// 0 selects Options.MaxSortBytes (a server sets its own per query).
	// A sort that needs more fails with code sort_too_large.
	MaxSortBytes int64
	// Memory, when set, lends an unindexed sort its memory: the cursor
	// reserves bytes from it as its buffer grows (in steps of
	// sortReserveStep) and releases them at Close. An error from Reserve
	// ends the query with that error.
	Memory MemoryBudget
}

// MemoryBudget is memory shared by concurrent queries (the server's
// in-flight budget). Implementations are safe for concurrent use.
type MemoryBudget interface {
	// Reserve takes n more bytes, or returns the error that ends the
	// query.
	Reserve(n int64) error
	// Release returns n bytes taken by Reserve.
	Release(n int64)
}

// sortReserveStep is the granularity of reservations from a
// MemoryBudget, so that a sort does not take the budget's lock for each
// document.
const sortReserveStep = 256 << 10

// Cursor streams a query's results, sql.Rows style:
//
//	cur, err := db.Find(ctx, "users", docstore.Query{Filter: []byte(`{"age":{"$gte":18}}`)})
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
// documents, up to Options.MaxSortBytes of them, and fails with
// sort_too_large beyond). A Cursor is not safe for concurrent use. Its
// scan stops, and Err returns the context's error, once the context given
// to Find is done.
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
	form     queryForm // the query's canonical parts, for the token
	peek     *match
	more     bool
	last     *match // last returned, for the token
	prev     *match // returned before last (EndPageBefore)
	ended    bool   // EndPageBefore ended the page
	err      error
	closed   bool

	sorted   []*match // in-memory sort results, ascending
	sortPos  int
	resumeAt *match // sorted resume position

	sortMax      int64        // bytes the sort may hold
	sortBytes    int64        // estimated bytes the sort holds
	sortMem      MemoryBudget // where sortReserved comes from, or nil
	sortReserved int64        // bytes reserved from sortMem

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
//
// With q.Cursor, Find continues the query that returned the cursor: q may
// give nothing but the cursor (and a limit; without one a page is as long
// as the first), or the same filter, sort and projection again; any other
// query, or a token that is not intact, is invalid_cursor. Skip applies
// to the first page only.
//
// ctx bounds the cursor's whole life: its scan stops with ctx's error
// (Err) once ctx is done.
func (db *DB) Find(ctx context.Context, col string, q Query) (*Cursor, error) {
	if err := checkName("collection", col); err != nil {
		return nil, err
	}
	if err := ctxErr(ctx, "find"); err != nil {
		return nil, err
	}
	var st *cursorState
	if q.Cursor != "" {
		var err error
		if st, err = db.openCursor(col, q.Cursor); err != nil {
			return nil, err
		}
		if cursorAlone(q) {
			q.Filter, q.Sort, q.Projection = st.Filter, st.Sort, st.Proj
		}
	}
	f, s, pr, form, err := db.parseQuery(q)
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
	if limit == 0 && st != nil {
		limit = st.Limit
	}
	if limit <= 0 {
		limit = db.opts.DefaultLimit
	}
	limit = min(limit, db.opts.MaxLimit)
	// The snapshot comes before the plan: a document that made an index
	// multikey set the flag before it committed, so the plan sees it.
	snap := db.engine.NewSnapshot()
	c := db.getCollection(col)
	var p *plan
	if st == nil {
		p = db.makePlan(c, col, f, s)
	} else {
		if !form.equal(queryForm{filter: st.Filter, sort: st.Sort, proj: st.Proj}) {
			snap.Close()
			return nil, errf("invalid_cursor", "cursor was issued for another query: its filter, sort and fields must be the ones that returned it (or send the cursor alone)")
		}
		if p = db.pinnedPlan(c, col, f, s, st.Plan); p == nil {
			snap.Close()
			return nil, errf("invalid_cursor", "the index this cursor reads was dropped or changed since its first page; restart the query without a cursor")
		}
	}
	p.proj = pr
	cur := &Cursor{db: db, p: p, form: form, limit: limit, skip: q.Skip, matchAll: isEmptyFilter(q.Filter), covered: coveredByIndex(p)}
	cur.sortMax = db.opts.MaxSortBytes
	if q.MaxSortBytes > 0 {
		cur.sortMax = q.MaxSortBytes
	}
	cur.sortMem = q.Memory
	cur.stats = p.explain()
	if st != nil {
		if err := cur.resume(st); err != nil {
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
	cur.src = newSource(ctx, db, cur.snap, p, cur.resumeKey())
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

// resume positions the cursor after the last document of the page that
// issued st (authenticated, for the same query and plan).
func (c *Cursor) resume(st *cursorState) error {
	if c.p.sort != nil && !c.p.sortByIndex {
		v, err := jsondoc.Parse(st.SortAt, jsondoc.Limits{MaxDepth: 1 << 10})
		if err != nil || v.Kind() != jsondoc.KindObject || st.ID == "" {
			return errBadCursor()
		}
		c.resumeAt = &match{id: st.ID, doc: v}
		return nil
	}
	if len(st.Key) == 0 {
		return errBadCursor()
	}
	c.last = &match{key: st.Key}
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
// returned false. The token carries the query (see cursorState): it alone
// continues the query.
func (c *Cursor) NextToken() string {
	if !c.more || c.last == nil {
		return ""
	}
	st := cursorState{Col: c.p.col, Filter: c.form.filter, Sort: c.form.sort, Proj: c.form.proj, Limit: c.limit, Plan: c.p.signature()}
	if c.p.sort != nil && !c.p.sortByIndex {
		st.SortAt = sortFieldsOf(c.last.doc, c.p.sort)
		st.ID = c.last.id
	} else {
		st.Key = c.last.key
	}
	return c.db.sealCursor(&st)
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
	if c.closed || c.err != nil || c.ended {
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
	c.prev, c.last = c.last, m
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
// sort order in a bounded heap, then returns them in order. The heap is
// bounded in bytes too (sortMax, at the documents' estimated in-memory
// size): a sort that needs more fails with sort_too_large rather than
// holding whatever skip+limit documents add up to.
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
				if err := c.holdSorted(matchCost(m)); err != nil {
					return nil, err
				}
				heap.Push(h, m)
			} else if h.cmp(m, h.ms[0]) < 0 {
				if err := c.holdSorted(matchCost(m) - matchCost(h.ms[0])); err != nil {
					return nil, err
				}
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

// holdSorted accounts for delta more bytes held by the sort (negative:
// fewer), reserving from sortMem as the total grows.
func (c *Cursor) holdSorted(delta int64) error {
	c.sortBytes += delta
	if c.sortBytes > c.sortMax {
		return errf("sort_too_large",
			"the sort is not served by an index and needs more than its memory limit of %d bytes to hold skip %d + limit %d documents; create an index on the sort fields, page with the cursor instead of skip, or narrow the filter",
			c.sortMax, c.skip, c.limit)
	}
	if c.sortMem != nil && c.sortBytes > c.sortReserved {
		step := max(int64(sortReserveStep), c.sortBytes-c.sortReserved)
		if err := c.sortMem.Reserve(step); err != nil {
			return err
		}
		c.sortReserved += step
	}
	return nil
}

// matchCost estimates the memory a match holds: its JSON, keys and
// parsed tree (about one Value per JSON token, bounded here by a
// per-byte factor).
func matchCost(m *match) int64 {
	return int64(len(m.json))*sortCostPerByte + int64(len(m.key)+len(m.id)) + sortCostPerMatch
}

// The constants of matchCost: a parsed document takes a few times its
// JSON's size (Value nodes and member slices), and every match a fixed
// overhead (the match, its heap slot, its slice headers).
const (
	sortCostPerByte  = 4
	sortCostPerMatch = 160
)

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

// EndPageBefore ends the page before the current document, with which
// the page of NextToken then starts: a server ends a page early so when it
// has no memory for more. It reports false, and changes nothing, when the
// current document is the page's first: a page is never empty.
func (c *Cursor) EndPageBefore() bool {
	if c.closed || c.err != nil || c.ended || c.returned < 2 {
		return false
	}
	c.last, c.prev = c.prev, nil
	c.returned--
	c.stats.NReturned--
	c.more, c.ended = true, true
	c.cur, c.curID = nil, ""
	return true
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
	c.sorted = nil
	if c.sortMem != nil && c.sortReserved > 0 {
		c.sortMem.Release(c.sortReserved)
		c.sortReserved = 0
	}
	return c.err
}

// source produces a plan's documents in scan order.
type source struct {
	ctx   context.Context
	keys  int // keys stepped over, for looking at ctx every checkEvery
	db    *DB
	snap  *storage.Snapshot
	p     *plan
	it    *storage.Iterator
	ri    int // current range (index scans)
	after []byte
	// decided holds ids whose first index entry in the ranges this scan
	// has passed (it returned them, or their first entry lies before the
	// resume position): their later entries are skipped without reading
	// the document. It is a cache, cleared when it reaches
	// maxDecidedCache ids, so memory stays bounded.
	decided map[string]struct{}
	done    bool
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

func newSource(ctx context.Context, db *DB, snap *storage.Snapshot, p *plan, after []byte) *source {
	return &source{ctx: ctx, db: db, snap: snap, p: p, after: after, ri: -1}
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
// the resume position); false at the end or on an error (ctx's, once it
// is done).
func (s *source) step(ranges []keyRange) (bool, error) {
	if s.keys%checkEvery == 0 {
		if err := ctxErr(s.ctx, "scan of "+s.p.col); err != nil {
			return false, err
		}
	}
	s.keys++
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

// maxDecidedCache bounds source.decided.
const maxDecidedCache = 4096

// nextIndexed returns the document of the next index key that is the
// document's first entry within the plan's ranges; parse false leaves
// match.doc empty, for a caller that needs only the JSON.
//
// A document of a multikey index has an entry per value, so a scan meets
// it once per value in the ranges. It is returned only at the first of
// those entries in key order, which the document itself tells (its
// entries are computed again from it and the first one inside the ranges
// is compared with the key). That rule holds across pages: a cursor
// resumes after the key of the last document returned, and a document
// whose first entry lies at or before that key was returned by an earlier
// page (or did not match), so no page returns a document twice, whatever
// the page size and with no set of returned ids kept anywhere.
func (s *source) nextIndexed(st *Explanation, parse bool) (*match, error) {
	ix := s.p.index
	for {
		if ok, err := s.step(s.p.ranges); !ok {
			return nil, err
		}
		st.KeysExamined++
		key := s.it.Key()
		id, err := keyenc.DecodeIndexKeyID(key, len(ix.prefix), len(ix.paths), ix.desc)
		if err != nil {
			return nil, err
		}
		// Loaded per key: the flag is set before a document that makes
		// the index multikey commits, so false means no document of the
		// snapshot has two entries.
		multikey := ix.multikey.Load()
		if multikey {
			if _, ok := s.decided[id]; ok {
				continue
			}
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
		if parse || multikey {
			if doc, err = jsondoc.Parse(js, jsondoc.Limits{MaxDepth: 1 << 10}); err != nil {
				return nil, fmt.Errorf("docstore: stored document %q/%q: %w", s.p.col, id, err)
			}
		}
		if multikey {
			first, err := s.firstInRanges(doc, id, key)
			if err != nil {
				return nil, err
			}
			if first == nil {
				continue // the entry is stale: the document no longer has it
			}
			if s.decided == nil || len(s.decided) >= maxDecidedCache {
				s.decided = make(map[string]struct{})
			}
			s.decided[id] = struct{}{}
			if !bytes.Equal(first, key) {
				continue // returned (or skipped) at its first entry
			}
		}
		return &match{id: id, key: bytes.Clone(key), doc: doc, json: js}, nil
	}
}

// firstInRanges returns the first of doc's entries in the index (in key
// order) that lies within the plan's ranges, or nil when the entries do
// not include key (a stale entry).
func (s *source) firstInRanges(doc jsondoc.Value, id string, key []byte) ([]byte, error) {
	keys, err := s.p.index.entries(s.p.col, doc, id)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(keys, func(k []byte) bool { return bytes.Equal(k, key) }) {
		return nil, nil
	}
	for _, k := range keys {
		if inRanges(s.p.ranges, k) {
			return k, nil
		}
	}
	return nil, nil
}

// inRanges reports whether key lies in one of ranges (sorted, disjoint).
func inRanges(ranges []keyRange, key []byte) bool {
	// The last range starting at or before key.
	i, _ := slices.BinarySearchFunc(ranges, key, func(r keyRange, k []byte) int {
		if bytes.Compare(r.start, k) <= 0 {
			return -1
		}
		return 1
	})
	if i == 0 {
		return false
	}
	r := ranges[i-1]
	return r.end == nil || bytes.Compare(key, r.end) < 0
}

// Count returns the number of documents matching filter.
func (db *DB) Count(ctx context.Context, col string, filter []byte) (int64, error) {
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
		return countKeys(ctx, snap, p.ranges)
	}
	src := newSource(ctx, db, snap, p, nil)
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
func countKeys(ctx context.Context, snap *storage.Snapshot, ranges []keyRange) (int64, error) {
	var n int64
	for _, r := range ranges {
		it := snap.NewIter(&storage.IterOptions{LowerBound: r.start, UpperBound: r.end})
		for ok := it.First(); ok; ok = it.Next() {
			if n%checkEvery == 0 {
				if err := ctxErr(ctx, "count"); err != nil {
					it.Close()
					return 0, err
				}
			}
			n++
		}
		if err := it.Close(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// Explain runs a query to its page's end and reports its plan and cost.
func (db *DB) Explain(ctx context.Context, col string, q Query) (Explanation, error) {
	cur, err := db.Find(ctx, col, q)
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
// lock); the whole set is not one transaction: the documents are written
// in batches of up to manyChunk, each atomic. When ctx ends, the call
// returns its error after the batches already committed (counted in the
// result) and before the next: no document is partly updated.
func (db *DB) UpdateMany(ctx context.Context, col string, filter, update []byte) (ManyResult, error) {
	u, repl, err := db.parseUpdate(update)
	if err != nil {
		return ManyResult{}, err
	}
	if repl != nil {
		return ManyResult{}, errf("invalid_update", "updateMany needs update operators like {\"$set\": {...}}, not a replacement document")
	}
	var res ManyResult
	err = db.forEachMatch(ctx, col, filter, func(f *query.Filter, ids []string) error {
		var batch ManyResult // counted only once the batch commits
		ops := make([]*docOp, 0, len(ids))
		for _, id := range ids {
			ops = append(ops, &docOp{id: id, needOld: true, apply: func(old *jsondoc.Value, _ bool, _ uint64) (*jsondoc.Value, error) {
				if old == nil || !f.Match(*old) {
					return nil, errSkip
				}
				batch.Matched++
				nv, err := db.applyUpdateEnv(u, nil, *old, id, query.UpdateEnv{Filter: f})
				if err != nil {
					return nil, err
				}
				if jsondoc.Equal(*nv, *old) {
					return nil, errSkip
				}
				batch.Modified++
				return nv, nil
			}})
		}
		if err := db.write(ctx, col, ops); err != nil {
			return err
		}
		res.Matched += batch.Matched
		res.Modified += batch.Modified
		return nil
	})
	return res, err
}

// DeleteMany deletes every document matching filter, a batch of up to
// manyChunk at a time, each atomic; a cancelled ctx stops it between
// batches (see UpdateMany).
func (db *DB) DeleteMany(ctx context.Context, col string, filter []byte) (ManyResult, error) {
	var res ManyResult
	err := db.forEachMatch(ctx, col, filter, func(f *query.Filter, ids []string) error {
		var n int64 // counted only once the batch commits
		ops := make([]*docOp, 0, len(ids))
		for _, id := range ids {
			ops = append(ops, &docOp{id: id, needOld: true, apply: func(old *jsondoc.Value, _ bool, _ uint64) (*jsondoc.Value, error) {
				if old == nil || !f.Match(*old) {
					return nil, errSkip
				}
				n++
				return nil, nil
			}})
		}
		if err := db.write(ctx, col, ops); err != nil {
			return err
		}
		res.Matched += n
		res.Deleted += n
		return nil
	})
	return res, err
}

// manyChunk is how many documents UpdateMany and DeleteMany write per
// batch.
const manyChunk = 256

// forEachMatch calls fn with chunks of the ids matching filter, from a
// snapshot; memory is bounded by the chunk.
func (db *DB) forEachMatch(ctx context.Context, col string, filter []byte, fn func(*query.Filter, []string) error) error {
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
	src := newSource(ctx, db, snap, p, nil)
	src.keep = filterOnly(f)
	defer src.close()
	var st Explanation
	ids := make([]string, 0, manyChunk)
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
