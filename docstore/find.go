package docstore

import (
	"bytes"
	"context"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
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
	m     *matcher
	pg    pager // streamPager or sortPager
	limit int

	returned int
	cur      []byte
	curID    string
	form     queryForm // the query's canonical parts, for the token
	more     bool
	last     *match // last returned, for the token
	prev     *match // returned before last (EndPageBefore)
	ended    bool   // EndPageBefore ended the page
	err      error
	closed   bool

	stats Explanation
}

// pager produces a page's matches in order, from the cursor's matcher:
// streamPager as the scan yields them (the plan's order is the query's),
// sortPager after reading them all into a bounded heap (an unindexed
// sort).
type pager interface {
	// resume positions the pager after the position a token recorded
	// (mark), and returns the key the scan resumes after (nil: from the
	// start).
	resume(st *cursorState) (after []byte, err error)
	// next returns the page's next match, nil at the end of the results.
	next() (*match, error)
	// more reports, after a page's last match, whether results remain.
	more() (bool, error)
	// mark records in st the position after last, for the next page.
	mark(st *cursorState, last *match)
	// close releases what the pager holds.
	close()
}

// matcher returns the documents of the scan that pass the filter.
type matcher struct {
	src      *source
	p        *plan
	noFilter bool // every scanned document matches (empty or covered filter)
	stats    *Explanation
}

// next returns the next document of the scan that passes the filter.
func (m *matcher) next() (*match, error) {
	for {
		mt, err := m.src.next(m.stats, !m.noFilter || m.p.proj != nil || m.p.sort != nil)
		if err != nil || mt == nil {
			return nil, err
		}
		if m.noFilter || m.p.filter.Match(mt.doc) {
			return mt, nil
		}
	}
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
		return nil, errf(CodeBadRequest, "skip must be >= 0, got %d", q.Skip)
	}
	if q.Limit < 0 {
		return nil, errf(CodeBadRequest, "limit must be >= 0, got %d", q.Limit)
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
			return nil, errf(CodeInvalidCursor, "cursor was issued for another query: its filter, sort and fields must be the ones that returned it (or send the cursor alone)")
		}
		if p = db.pinnedPlan(c, col, f, s, st.Plan); p == nil {
			snap.Close()
			return nil, errf(CodeInvalidCursor, "the index this cursor reads was dropped or changed since its first page; restart the query without a cursor")
		}
	}
	p.proj = pr
	cur := &Cursor{db: db, p: p, form: form, limit: limit}
	cur.stats = p.explain()
	cur.m = &matcher{p: p, noFilter: isEmptyFilter(q.Filter) || coveredByIndex(p), stats: &cur.stats}
	skip := q.Skip
	if st != nil {
		skip = 0 // the first page's skip is behind the token
	}
	if p.sort != nil && !p.sortByIndex {
		// Compared as skip > max-limit-1, since skip+limit+1 can overflow.
		if skip > db.opts.MaxSortDocs-limit-1 {
			snap.Close()
			return nil, errf(CodeBadRequest, "an unindexed sort keeps skip+limit documents in memory; skip %d + limit %d is over the limit of %d (use a cursor or an index)", skip, limit, db.opts.MaxSortDocs)
		}
		sp := &sortPager{m: cur.m, sort: p.sort, skip: skip, limit: limit, maxBytes: db.opts.MaxSortBytes, mem: q.Memory}
		if q.MaxSortBytes > 0 {
			sp.maxBytes = q.MaxSortBytes
		}
		cur.pg = sp
	} else {
		cur.pg = &streamPager{m: cur.m, skip: skip}
	}
	var after []byte
	if st != nil {
		if after, err = cur.pg.resume(st); err != nil {
			snap.Close()
			return nil, err
		}
	}
	cur.snap = snap
	cur.m.src = newSource(ctx, db, cur.snap, p, after)
	if s == nil && pr == nil {
		cur.m.src.keep = filterOnly(f)
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

// Next advances to the next document of the page.
func (c *Cursor) Next() bool {
	if c.closed || c.err != nil || c.ended {
		return false
	}
	if c.returned >= c.limit {
		return false
	}
	m, err := c.pg.next()
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
		more, err := c.pg.more()
		if err != nil {
			c.err = err
			return false
		}
		c.more = more
	}
	return true
}

// streamPager returns the matches as the scan yields them: the plan's
// order (an index's or the _id's) is the query's.
type streamPager struct {
	m       *matcher
	skip    int
	started bool
	peek    *match // read by more, returned by the next page's next
}

func (s *streamPager) resume(st *cursorState) ([]byte, error) {
	if len(st.Key) == 0 {
		return nil, errBadCursor()
	}
	return st.Key, nil
}

func (s *streamPager) next() (*match, error) {
	if !s.started {
		s.started = true
		for range s.skip {
			m, err := s.m.next()
			if err != nil || m == nil {
				return nil, err
			}
		}
	}
	if s.peek != nil {
		m := s.peek
		s.peek = nil
		return m, nil
	}
	return s.m.next()
}

func (s *streamPager) more() (bool, error) {
	m, err := s.m.next()
	if err != nil {
		return false, err
	}
	s.peek = m
	return m != nil, nil
}

func (s *streamPager) mark(st *cursorState, last *match) { st.Key = last.key }

func (s *streamPager) close() {}
