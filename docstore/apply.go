package docstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
	"github.com/minidbgo/minidbgo/docstore/internal/keyenc"
	"github.com/minidbgo/minidbgo/storage"
)

// docOp is one document change inside an atomic write.
type docOp struct {
	id string
	// op is the change the caller means (OpUpdate for update operators
	// or a merge patch, OpExpire for the TTL reaper; empty otherwise):
	// the feed records changeOp(op, existed, exists).
	op ChangeOp
	// apply computes the new document from the old; it returns nil to
	// delete, errSkip to leave the document alone. It runs under the
	// document's lock. old is parsed only when needOld is set (or indexes
	// need it); exists tells whether there is an old version.
	apply   func(old *jsondoc.Value, exists bool, oldRev uint64) (*jsondoc.Value, error)
	needOld bool
	// expire, when set, makes this a reaper op (newExpireOp): apply is
	// not called; the document is deleted if it has expired.
	expire *expireOp
	// results
	rev     uint64
	created bool
	existed bool
	json    []byte
}

var errSkip = errors.New("skip")

// write runs ops atomically: one batch holding the documents, their index
// changes and the collection's count delta. Its parts: lockForWrite takes
// the locks, writeBatch.stage puts each op's changes into the batch
// (readOld, stageIndex, indexDelta, statsDelta), commit applies it.
//
// ctx is looked at before the batch commits: a cancelled write commits
// nothing.
func (db *DB) write(ctx context.Context, col string, ops []*docOp) error {
	if err := ctxErr(ctx, "write"); err != nil {
		return err
	}
	b := db.engine.NewBatch()
	c, release, err := db.writeCollection(col, ops, b)
	if err != nil || c == nil {
		return err
	}
	defer release()
	indexes, unlock, retry := db.lockForWrite(c, col, ops)
	if retry {
		release()
		return db.write(ctx, col, ops)
	}
	defer unlock()
	now := db.nowFor(ctx) // an applied command's time, never the wall clock, in cluster mode
	cb := db.changeBatchFor(ctx, col)
	w := &writeBatch{db: db, c: c, col: col, b: b, indexes: indexes, ops: ops, uniqueAdded: map[string]string{},
		changes: cb, ttl: ttlFields(indexes), now: uint64(max(now.UnixMilli(), 0))}
	for i, op := range ops {
		// An op may be long (a large document's update): nothing is
		// written yet, so stopping here leaves nothing behind.
		if err := ctxErr(ctx, "write"); err != nil {
			return err
		}
		if err := w.stage(i, op); err != nil {
			return err
		}
	}
	if err := ctxErr(ctx, "write"); err != nil {
		return err
	}
	return db.commit(c, b, w.dDocs, w.dBytes, len(ops), &w.changes)
}

// lockForWrite locks ops' documents (the whole collection's writes when
// it has a unique index) and returns the indexes to maintain, read under
// those locks, so an index being built concurrently is either seen here
// or backfills after this write. retry (nothing held) means a unique
// index appeared meanwhile: the write must start again, serialised.
func (db *DB) lockForWrite(c *collection, col string, ops []*docOp) (indexes []*index, unlock func(), retry bool) {
	c.mu.RLock()
	hasUnique := false
	for _, ix := range c.indexes {
		hasUnique = hasUnique || ix.spec.Unique
	}
	c.mu.RUnlock()
	if hasUnique {
		c.writeMu.Lock()
		unlock = c.writeMu.Unlock
	} else {
		ids := make([]string, len(ops))
		for i, op := range ops {
			ids[i] = op.id
		}
		unlock = db.lockDocs(col, ids)
	}
	c.mu.RLock()
	indexes = append([]*index(nil), c.indexes...)
	c.mu.RUnlock()
	if !hasUnique {
		for _, ix := range indexes {
			if ix.spec.Unique {
				unlock()
				return nil, nil, true
			}
		}
	}
	return indexes, unlock, false
}

// writeBatch gathers the changes of one write's ops into its batch.
type writeBatch struct {
	db          *DB
	c           *collection
	col         string
	b           *storage.Batch
	indexes     []*index
	ops         []*docOp
	uniqueAdded map[string]string // unique prefix → _id added by this batch
	dDocs       int64             // the collection's count delta
	dBytes      int64             // and its bytes delta
	changes     changeBatch       // the ops' change records
	ttl         []ttlField        // the TTL indexes' fields
	now         uint64            // the time of the write (ms): what has expired
}

// stage puts op (the i-th) into the batch: the new version or its
// deletion, its index changes and its share of the count delta.
func (w *writeBatch) stage(i int, op *docOp) error {
	key := keyenc.DocKey(nil, w.col, op.id)
	old, oldRev, oldJSON, err := w.db.readOld(key, w.col, op.id, len(w.indexes) > 0 || op.needOld)
	if err != nil {
		return err
	}
	// An expired version is gone for the op (apply sees no document),
	// though it is still stored until the reaper deletes it.
	var oldExp uint64
	var oldHasExp bool
	if old != nil {
		oldExp, oldHasExp = docExpiry(*old, w.ttl)
	} else if oldJSON != nil {
		if oldExp, oldHasExp, err = jsonExpiry(oldJSON, w.ttl); err != nil {
			return err
		}
	}
	expired := oldHasExp && oldExp <= w.now
	var nv *jsondoc.Value
	if op.expire != nil {
		if !w.stageExpire(op, oldExp, oldHasExp, expired) {
			return nil
		}
		op.existed = true
	} else {
		visible := oldJSON != nil && !expired
		if visible {
			nv, err = op.apply(old, true, oldRev)
		} else {
			nv, err = op.apply(nil, false, 0)
		}
		if err == errSkip {
			return nil
		}
		if err != nil {
			if e, ok := err.(*Error); ok && len(w.ops) > 1 && e.Index < 0 {
				e.Index = i
			}
			return err
		}
		op.existed = visible
	}
	var newJSON []byte
	if nv != nil {
		newJSON = jsondoc.AppendJSON(nil, *nv)
		if len(newJSON) > w.db.opts.MaxDocumentBytes {
			return &Error{Code: CodeDocumentTooLarge, Index: -1,
				Msg: fmt.Sprintf("document %q would be %d bytes, over the %d-byte limit", op.id, len(newJSON), w.db.opts.MaxDocumentBytes)}
		}
		op.rev = w.db.revFor(w.changes.det)
		op.created = !op.existed
		op.json = newJSON
		w.b.Put(key, encodeStored(op.rev, newJSON))
	} else {
		w.b.Delete(key)
	}
	var rev uint64 // a deletion records none
	if nv != nil {
		rev = op.rev
	}
	change := changeOp(op.op, op.existed, nv != nil)
	if op.expire == nil && oldJSON != nil && expired {
		// The op replaces (or removes) a stored version that had
		// expired: the feed records that version's expiry first.
		if nv != nil {
			w.changes.add(w.b, OpExpire, op.id, 0)
		} else {
			change = OpExpire
		}
	}
	w.changes.add(w.b, change, op.id, rev)
	for _, ix := range w.indexes {
		if err := w.stageIndex(ix, i, op, old, nv); err != nil {
			return err
		}
	}
	w.stageExpiry(op.id, oldExp, oldHasExp, nv)
	docs, size := statsDelta(oldJSON != nil, nv != nil, len(oldJSON), len(newJSON))
	w.dDocs += docs
	w.dBytes += size
	return nil
}

// stageExpiry replaces the expiry key of the old version (expiring at
// oldExp when oldHas) with the new version's, if any.
func (w *writeBatch) stageExpiry(id string, oldExp uint64, oldHas bool, nv *jsondoc.Value) {
	var newExp uint64
	var newHas bool
	if nv != nil {
		newExp, newHas = docExpiry(*nv, w.ttl)
	}
	if oldHas && (!newHas || newExp != oldExp) {
		w.b.Delete(keyenc.ExpiryKey(nil, w.col, oldExp, id))
	}
	if newHas {
		w.b.Put(keyenc.ExpiryKey(nil, w.col, newExp, id), nil)
	}
}

// readOld reads the stored version of col/id at key: its revision and
// JSON (nil when there is none) and, when parse is set, its parsed tree.
func (db *DB) readOld(key []byte, col, id string, parse bool) (old *jsondoc.Value, rev uint64, js []byte, err error) {
	raw, err := db.engine.Get(key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, 0, nil, nil
	}
	if err != nil {
		return nil, 0, nil, err
	}
	if rev, js, err = decodeStored(raw); err != nil {
		return nil, 0, nil, err
	}
	if parse {
		v, err := parseStored(col, id, js)
		if err != nil {
			return nil, 0, nil, err
		}
		old = &v
	}
	return old, rev, js, nil
}

// stageIndex puts into the batch the changes of ix for op (the i-th) going
// from old to nv (either nil: none): it deletes the entries the old
// version had and the new one lacks and adds the new ones, checking a
// unique index both within the batch and against the stored entries.
func (w *writeBatch) stageIndex(ix *index, i int, op *docOp, old, nv *jsondoc.Value) error {
	var oldKeys, newKeys [][]byte
	var err error
	if old != nil {
		if oldKeys, err = ix.entries(w.col, *old, op.id); err != nil {
			oldKeys = nil // an over-wide old doc was never indexed fully
		}
	}
	if nv != nil {
		if newKeys, err = ix.entries(w.col, *nv, op.id); err != nil {
			return err
		}
		w.db.noteMultikey(w.c, ix, *nv, w.b)
	}
	del, add := indexDelta(oldKeys, newKeys)
	for _, k := range del {
		w.b.Delete(k)
	}
	for _, k := range add {
		if ix.checksUnique() {
			up := string(ix.uniquePrefix(k, op.id))
			if other, dup := w.uniqueAdded[up]; dup && other != op.id {
				return &Error{Code: CodeUniqueViolation, Index: i, Msg: fmt.Sprintf("unique index %q: documents %q and %q have the same values", ix.spec.Name, other, op.id)}
			}
			w.uniqueAdded[up] = op.id
			if err := w.db.checkUniqueExcept(ix, k, op.id, w.ops); err != nil {
				return err
			}
		}
		w.b.Put(k, nil)
	}
	return nil
}

// indexDelta returns the keys of oldKeys missing from newKeys (to delete)
// and those of newKeys missing from oldKeys (to add), each in its order.
func indexDelta(oldKeys, newKeys [][]byte) (del, add [][]byte) {
	for _, k := range oldKeys {
		if !containsKey(newKeys, k) {
			del = append(del, k)
		}
	}
	for _, k := range newKeys {
		if !containsKey(oldKeys, k) {
			add = append(add, k)
		}
	}
	return del, add
}

// statsDelta is the change to a collection's document count and bytes
// when a document of oldLen bytes (existed) becomes one of newLen bytes
// (exists) or is deleted (!exists).
func statsDelta(existed, exists bool, oldLen, newLen int) (docs, bytes int64) {
	switch {
	case existed && !exists:
		return -1, -int64(oldLen)
	case existed:
		return 0, int64(newLen - oldLen)
	case exists:
		return 1, int64(newLen)
	}
	return 0, 0
}

// commit applies a write's batch with the collection's count delta and
// its change records, then updates the counts and the feed in memory.
func (db *DB) commit(c *collection, b *storage.Batch, dDocs, dBytes int64, ops int, changes *changeBatch) error {
	db.addStatsDelta(c, b, dDocs, dBytes)
	noteApplied(changes.det, b)
	if err := db.engine.Apply(b); err != nil {
		return err
	}
	db.committed(changes, b)
	c.persisted.Store(true)
	c.docs.Add(dDocs)
	c.bytes.Add(dBytes)
	db.afterWrite(c, ops)
	return nil
}

// checkUniqueExcept is checkUnique ignoring documents the same batch
// rewrites (their old entries are being replaced).
func (db *DB) checkUniqueExcept(ix *index, key []byte, id string, ops []*docOp) error {
	err := db.checkUnique(ix, key, id)
	var e *Error
	if err == nil || !errors.As(err, &e) || e.Code != CodeUniqueViolation {
		return err
	}
	// The holder may be rewritten by this batch; re-check precisely.
	p := ix.uniquePrefix(key, id)
	it := db.engine.NewIter(&storage.IterOptions{Prefix: p})
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		other, derr := keyenc.DecodeIndexKeyID(it.Key(), len(ix.prefix), len(ix.paths), ix.desc)
		if derr != nil {
			return derr
		}
		if other == id {
			continue
		}
		inBatch := false
		for _, op := range ops {
			if op.id == other {
				inBatch = true
			}
		}
		if !inBatch {
			return err
		}
	}
	return nil
}

func containsKey(keys [][]byte, k []byte) bool {
	for _, x := range keys {
		if bytes.Equal(x, k) {
			return true
		}
	}
	return false
}
