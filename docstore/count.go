package docstore

import (
	"context"

	"github.com/minidbgo/minidbgo/storage"
)

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
	exp := db.expiryView(c)
	if isEmptyFilter(filter) {
		hidden, err := exp.backlog(db.engine, col)
		if err != nil {
			return 0, err
		}
		if !hidden {
			return c.docs.Load(), nil
		}
		if !exp.building {
			// The count minus the expired documents, both as of one
			// snapshot: a read of the unreaped backlog only.
			snap := db.engine.NewSnapshot()
			defer snap.Close()
			docs, err := snapDocs(snap, col)
			if err != nil {
				return 0, err
			}
			n, err := db.countExpired(ctx, snap, col, exp)
			return docs - n, err
		}
	}
	f, _, _, err := db.parseQueryParts(Query{Filter: filter})
	if err != nil {
		return 0, err
	}
	snap := db.engine.NewSnapshot()
	defer snap.Close()
	p := db.makePlan(c, col, f, nil)
	st := explainFor(ctx, p)
	hidden, err := exp.backlog(snap, col)
	if err != nil {
		return 0, err
	}
	// Index keys cannot tell expired documents: with any to hide, the
	// documents are read.
	if coveredByIndex(p) && !hidden {
		n, err := countKeys(ctx, snap, p.ranges)
		st.KeysExamined, st.NReturned = n, n
		return n, err
	}
	src := newSource(ctx, db, snap, p, nil)
	src.keep = filterOnly(f)
	defer src.close()
	for {
		m, err := src.next(st, true)
		if err != nil {
			return 0, err
		}
		if m == nil {
			return st.NReturned, nil
		}
		if f.Match(m.doc) {
			st.NReturned++
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
