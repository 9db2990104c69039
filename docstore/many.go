package docstore

import (
	"context"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
	"github.com/minidbgo/minidbgo/docstore/internal/query"
)

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
		return ManyResult{}, errf(CodeInvalidUpdate, "updateMany needs update operators like {\"$set\": {...}}, not a replacement document")
	}
	if p := db.proposer(ctx); p != nil {
		r, err := propose(ctx, p, &WriteCommand{Kind: CmdUpdateMany, Col: col, Bodies: [][]byte{filter, update}})
		return r.Multi, err
	}
	// An applied command resumed after a crash starts from what its
	// committed batches counted and skips what they wrote (command.go).
	st := applyStateOf(ctx)
	var res ManyResult
	if st != nil {
		res = st.many
	}
	err = db.forEachMatch(ctx, col, filter, func(f *query.Filter, ids []string) error {
		var batch ManyResult // counted only once the batch commits
		ops := make([]*docOp, 0, len(ids))
		for _, id := range ids {
			ops = append(ops, &docOp{id: id, op: OpUpdate, needOld: true, apply: func(old *jsondoc.Value, _ bool, rev uint64) (*jsondoc.Value, error) {
				if old == nil || !f.Match(*old) || st.wroteBefore(rev) {
					return nil, errSkip
				}
				batch.Matched++
				nv, err := db.applyUpdateEnv(u, nil, *old, id, query.UpdateEnv{Filter: f, Now: nowOf(ctx)})
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
		st.stage(&batch)
		if err := db.write(ctx, col, ops); err != nil {
			return err
		}
		st.commitCounts(batch)
		res.Matched += batch.Matched
		res.Modified += batch.Modified
		if manyBatchHook != nil {
			manyBatchHook()
		}
		return nil
	})
	return res, err
}

// DeleteMany deletes every document matching filter, a batch of up to
// manyChunk at a time, each atomic; a cancelled ctx stops it between
// batches (see UpdateMany).
func (db *DB) DeleteMany(ctx context.Context, col string, filter []byte) (ManyResult, error) {
	if p := db.proposer(ctx); p != nil {
		r, err := propose(ctx, p, &WriteCommand{Kind: CmdDeleteMany, Col: col, Bodies: [][]byte{filter}})
		return r.Multi, err
	}
	st := applyStateOf(ctx) // resumed after a crash: see UpdateMany
	var res ManyResult
	if st != nil {
		res = st.many
	}
	err := db.forEachMatch(ctx, col, filter, func(f *query.Filter, ids []string) error {
		var batch ManyResult // counted only once the batch commits
		ops := make([]*docOp, 0, len(ids))
		for _, id := range ids {
			ops = append(ops, &docOp{id: id, needOld: true, apply: func(old *jsondoc.Value, _ bool, _ uint64) (*jsondoc.Value, error) {
				if old == nil || !f.Match(*old) {
					return nil, errSkip
				}
				batch.Matched++
				batch.Deleted++
				return nil, nil
			}})
		}
		st.stage(&batch)
		if err := db.write(ctx, col, ops); err != nil {
			return err
		}
		st.commitCounts(batch)
		res.add(batch)
		if manyBatchHook != nil {
			manyBatchHook()
		}
		return nil
	})
	return res, err
}

// manyBatchHook, set by tests, runs after each batch UpdateMany or
// DeleteMany commits.
var manyBatchHook func()

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
	st := explainFor(ctx, p)
	ids := make([]string, 0, manyChunk)
	for {
		m, err := src.next(st, true)
		if err != nil {
			return err
		}
		if m != nil && f.Match(m.doc) {
			ids = append(ids, m.id)
			st.NReturned++
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
