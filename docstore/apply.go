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
	// apply computes the new document from the old; it returns nil to
	// delete, errSkip to leave the document alone. It runs under the
	// document's lock. old is parsed only when needOld is set (or indexes
	// need it); exists tells whether there is an old version.
	apply   func(old *jsondoc.Value, exists bool, oldRev uint64) (*jsondoc.Value, error)
	needOld bool
	// results
	rev     uint64
	created bool
	existed bool
	json    []byte
}

var errSkip = errors.New("skip")

// write runs ops atomically: one batch holding the documents, their index
// changes and the collection's count delta.
//
// ctx is looked at before the batch commits: a cancelled write commits
// nothing.
func (db *DB) write(ctx context.Context, col string, ops []*docOp) error {
	if err := ctxErr(ctx, "write"); err != nil {
		return err
	}
	b := db.engine.NewBatch()
	c, release, err := db.ensureCollection(col, b)
	if err != nil {
		return err
	}
	defer release()
	c.mu.RLock()
	hasUnique := false
	for _, ix := range c.indexes {
		hasUnique = hasUnique || ix.spec.Unique
	}
	c.mu.RUnlock()
	var unlock func()
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
	defer func() { unlock() }() // unlock may be replaced below

	// Indexes are read under the document locks, so an index being built
	// concurrently is either seen here or backfills after this write.
	c.mu.RLock()
	indexes := append([]*index(nil), c.indexes...)
	c.mu.RUnlock()
	if !hasUnique {
		for _, ix := range indexes {
			if ix.spec.Unique {
				// A unique index appeared meanwhile: retry serialised.
				unlock()
				unlock = func() {}
				release()
				return db.write(ctx, col, ops)
			}
		}
	}

	var dDocs, dBytes int64
	uniqueAdded := map[string]string{}
	for i, op := range ops {
		key := keyenc.DocKey(nil, col, op.id)
		raw, err := db.engine.Get(key)
		var old *jsondoc.Value
		var oldRev uint64
		var oldJSON []byte
		if err == nil {
			oldRev, oldJSON, err = decodeStored(raw)
			if err != nil {
				return err
			}
			if len(indexes) > 0 || op.needOld {
				v, perr := parseStored(col, op.id, oldJSON)
				if perr != nil {
					return perr
				}
				old = &v
			}
		} else if err != storage.ErrNotFound {
			return err
		}
		nv, err := op.apply(old, oldJSON != nil, oldRev)
		if err == errSkip {
			continue
		}
		if err != nil {
			if e, ok := err.(*Error); ok && len(ops) > 1 && e.Index < 0 {
				e.Index = i
			}
			return err
		}
		op.existed = oldJSON != nil
		var newJSON []byte
		if nv != nil {
			newJSON = jsondoc.AppendJSON(nil, *nv)
			if len(newJSON) > db.opts.MaxDocumentBytes {
				return &Error{Code: "document_too_large", Index: -1,
					Msg: fmt.Sprintf("document %q would be %d bytes, over the %d-byte limit", op.id, len(newJSON), db.opts.MaxDocumentBytes)}
			}
			op.rev = db.nextRev()
			op.created = !op.existed
			op.json = newJSON
			b.Put(key, encodeStored(op.rev, newJSON))
		} else {
			b.Delete(key)
		}
		// Index maintenance: delete entries the old version had and the
		// new one lacks, add the new ones.
		for _, ix := range indexes {
			var oldKeys, newKeys [][]byte
			if old != nil {
				if oldKeys, err = ix.entries(col, *old, op.id); err != nil {
					oldKeys = nil // an over-wide old doc was never indexed fully
				}
			}
			if nv != nil {
				if newKeys, err = ix.entries(col, *nv, op.id); err != nil {
					return err
				}
				db.noteMultikey(c, ix, *nv, b)
			}
			for _, k := range oldKeys {
				if !containsKey(newKeys, k) {
					b.Delete(k)
				}
			}
			for _, k := range newKeys {
				if containsKey(oldKeys, k) {
					continue
				}
				if ix.checksUnique() {
					up := string(ix.uniquePrefix(k, op.id))
					if other, dup := uniqueAdded[up]; dup && other != op.id {
						return &Error{Code: "unique_violation", Index: i, Msg: fmt.Sprintf("unique index %q: documents %q and %q have the same values", ix.spec.Name, other, op.id)}
					}
					uniqueAdded[up] = op.id
					if err := db.checkUniqueExcept(ix, k, op.id, ops); err != nil {
						return err
					}
				}
				b.Put(k, nil)
			}
		}
		switch {
		case op.existed && nv == nil:
			dDocs--
			dBytes -= int64(len(oldJSON))
		case op.existed:
			dBytes += int64(len(newJSON) - len(oldJSON))
		case nv != nil:
			dDocs++
			dBytes += int64(len(newJSON))
		}
	}
	if err := ctxErr(ctx, "write"); err != nil {
		return err
	}
	db.addStatsDelta(c, b, dDocs, dBytes)
	if err := db.engine.Apply(b); err != nil {
		return err
	}
	c.persisted.Store(true)
	c.docs.Add(dDocs)
	c.bytes.Add(dBytes)
	db.afterWrite(c, len(ops))
	return nil
}

// checkUniqueExcept is checkUnique ignoring documents the same batch
// rewrites (their old entries are being replaced).
func (db *DB) checkUniqueExcept(ix *index, key []byte, id string, ops []*docOp) error {
	err := db.checkUnique(ix, key, id)
	var e *Error
	if err == nil || !errors.As(err, &e) || e.Code != "unique_violation" {
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
