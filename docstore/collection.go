package docstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/minidbgo/minidbgo/docstore/internal/keyenc"
	"github.com/minidbgo/minidbgo/storage"
)

// The docstore's keyspace (see internal/keyenc for the encodings):
//
//	'm' col                     collection metadata (JSON: indexes)
//	's' col <uint64 BE>         stats: id 0 is the folded base, others are
//	                            deltas written with each document write
//	'd' col id                  document: rev | JSON
//	'i' col index values… id    index entry (empty value)
//	'x' col <ms uint64 BE> id   expiry: the document expires then (expiry.go)
//
// A collection's documents are one contiguous key range, and so is each
// index. Document counts and byte sizes change in the same batch as the
// document, as a delta key (a drop's batches of deletions carry theirs
// too); deltas are folded into the base now and then,
// so that Open sums a few keys to load the counts, which are then kept in
// memory: listing collections reads no keys at all.

// collection is the in-memory view of a collection's metadata.
//
// Lock order: ddl, then writeMu or the document locks, then mu.
type collection struct {
	name string

	// ddl is held shared by every document write (from reading the index
	// list to updating the in-memory counts), every step of an index
	// backfill and every stats fold, and exclusively by whatever changes
	// the collection's shape: adding or removing an index, switching a
	// unique index to enforcing, and a whole DropCollection. So a write
	// never commits entries for an index that is gone or misses one that
	// is being built, and no write or fold touches a collection's keys
	// while it is being dropped.
	ddl sync.RWMutex
	// dropped is set, under ddl held exclusively, when DropCollection has
	// deleted the collection; whoever then gets ddl looks the collection
	// up again (and finds a new one).
	dropped bool

	mu      sync.RWMutex // protects indexes
	indexes []*index

	writeMu sync.Mutex // serialises writes when a unique index exists

	persisted atomic.Bool // its metadata key is committed

	// docs and bytes mirror the sum of the stats keys: loaded at open and
	// advanced after each committed write, so listing reads no keys.
	docs  atomic.Int64
	bytes atomic.Int64

	foldMu     sync.Mutex // one stats fold at a time
	sinceFold  atomic.Int64
	foldsQueue atomic.Bool
}

// collectionMeta is what the 'm' key stores.
type collectionMeta struct {
	Indexes []IndexSpec `json:"indexes"`
}

// CollectionInfo describes a collection.
type CollectionInfo struct {
	Name     string `json:"name"`
	DocCount int64  `json:"docCount"`
	ByteSize int64  `json:"byteSize"`
}

func metaKey(col string) []byte { return keyenc.CollectionMetaKey(col) }

func statsValue(docs, bytes int64) []byte {
	b := binary.AppendVarint(nil, docs)
	return binary.AppendVarint(b, bytes)
}

func parseStats(v []byte) (docs, bytes int64, err error) {
	docs, n := binary.Varint(v)
	if n <= 0 {
		return 0, 0, errors.New("docstore: malformed stats value")
	}
	bytes, m := binary.Varint(v[n:])
	if m <= 0 {
		return 0, 0, errors.New("docstore: malformed stats value")
	}
	return docs, bytes, nil
}

func (db *DB) loadCollections() error {
	it := db.engine.NewIter(&storage.IterOptions{Prefix: keyenc.MetaPrefix()})
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		name, _, err := keyenc.DecodeString(it.Key()[1:])
		if err != nil {
			return fmt.Errorf("docstore: collection key %q: %w", it.Key(), err)
		}
		var meta collectionMeta
		if err := json.Unmarshal(it.Value(), &meta); err != nil {
			return fmt.Errorf("docstore: metadata of collection %q: %w", name, err)
		}
		c := &collection{name: name}
		c.persisted.Store(true)
		docs, bytes, _, err := db.readStats(name, false)
		if err != nil {
			return fmt.Errorf("docstore: stats of collection %q: %w", name, err)
		}
		c.docs.Store(docs)
		c.bytes.Store(bytes)
		for _, spec := range meta.Indexes {
			ix := newIndex(name, spec)
			if spec.Building {
				// A build that a crash or a shutdown interrupted: it is
				// resumed in the background once the DB is open.
				ix.build = newIndexBuild()
				db.pendingBuilds = append(db.pendingBuilds, pendingBuild{c, ix})
			}
			c.indexes = append(c.indexes, ix)
		}
		db.cols[name] = c
	}
	return it.Err()
}

// removeOrphans deletes keys that belong to no collection or index of the
// metadata: what a drop interrupted by a crash left behind in releases
// that deleted the metadata first (documents and counts that a new
// collection of the same name would otherwise inherit), and the entries
// of an index whose DropIndex a crash interrupted. It seeks once per
// collection and index, and deletes in bounded batches; leftovers are
// rare, and once deleted they are gone for good.
func (db *DB) removeOrphans() error {
	var orphans [][]byte
	known := func(col, index string, isIndex bool) bool {
		c := db.cols[col]
		if c == nil || !isIndex {
			return c != nil
		}
		for _, ix := range c.indexes {
			if ix.spec.Name == index {
				return true
			}
		}
		return false
	}
	for _, tag := range []byte{'d', 's', 'i', 'x'} {
		it := db.engine.NewIter(&storage.IterOptions{Prefix: []byte{tag}})
		for ok := it.First(); ok; {
			col, rest, err := keyenc.DecodeString(it.Key()[1:])
			if err != nil {
				it.Close()
				return fmt.Errorf("docstore: key %q: %w", it.Key(), err)
			}
			prefix := append([]byte{tag}, keyenc.AppendString(nil, col)...)
			index := ""
			if tag == 'i' {
				if index, _, err = keyenc.DecodeString(rest); err != nil {
					it.Close()
					return fmt.Errorf("docstore: index key %q: %w", it.Key(), err)
				}
				prefix = keyenc.IndexPrefix(col, index)
			}
			if !known(col, index, tag == 'i') {
				orphans = append(orphans, prefix)
			}
			ok = it.SeekGE(keyenc.PrefixEnd(prefix))
		}
		if err := it.Close(); err != nil {
			return err
		}
	}
	for _, p := range orphans {
		db.opts.Logger.Warn("deleting keys of a dropped collection or index that a crash left behind", "prefix", fmt.Sprintf("%q", p))
		if err := db.deleteRange(p); err != nil {
			return err
		}
	}
	return nil
}

// noteStatsID keeps deltaSeq above every stats id on disk, so that a
// restart with a clock set back never reuses (and so overwrites) a delta.
func (db *DB) noteStatsID(key []byte) {
	id, ok := keyenc.StatsIDFromKey(key)
	if !ok {
		return
	}
	for {
		cur := db.deltaSeq.Load()
		if id < cur || db.deltaSeq.CompareAndSwap(cur, id) {
			return
		}
	}
}

// getCollection returns a collection, or nil when it does not exist.
func (db *DB) getCollection(name string) *collection {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.cols[name]
}

// addCollection returns the collection, adding it in memory when it does
// not exist.
func (db *DB) addCollection(name string) *collection {
	db.mu.Lock()
	defer db.mu.Unlock()
	c, ok := db.cols[name]
	if !ok {
		c = &collection{name: name}
		db.cols[name] = c
	}
	return c
}

// ensureCollection returns the collection with its ddl lock held shared,
// creating its metadata key in b when it is new, and the function that
// releases the lock (which may be called more than once). The caller
// commits b before releasing; until then a new collection is visible in
// memory only.
func (db *DB) ensureCollection(name string, b *storage.Batch) (*collection, func(), error) {
	if err := checkName("collection", name); err != nil {
		return nil, nil, err
	}
	for {
		c := db.addCollection(name)
		c.ddl.RLock()
		if c.dropped {
			c.ddl.RUnlock()
			continue
		}
		if !c.persisted.Load() {
			c.mu.RLock()
			db.saveMetaLocked(c, b)
			c.mu.RUnlock()
		}
		var once sync.Once
		return c, func() { once.Do(c.ddl.RUnlock) }, nil
	}
}

// lockCollection returns the collection with its ddl lock held
// exclusively, adding it in memory when create is set (the caller then
// persists its metadata); nil when it does not exist and create is not
// set.
func (db *DB) lockCollection(name string, create bool) *collection {
	for {
		var c *collection
		if create {
			c = db.addCollection(name)
		} else if c = db.getCollection(name); c == nil {
			return nil
		}
		c.ddl.Lock()
		if !c.dropped {
			return c
		}
		c.ddl.Unlock()
	}
}

// saveMeta writes a collection's metadata.
func (db *DB) saveMetaLocked(c *collection, b *storage.Batch) {
	meta := collectionMeta{Indexes: []IndexSpec{}}
	for _, ix := range c.indexes {
		meta.Indexes = append(meta.Indexes, ix.spec)
	}
	v, _ := json.Marshal(meta)
	b.Put(metaKey(c.name), v)
}

// addStatsDelta records a change of a collection's counts in b.
func (db *DB) addStatsDelta(c *collection, b *storage.Batch, docs, bytes int64) {
	if docs == 0 && bytes == 0 {
		return
	}
	b.Put(keyenc.StatsKey(c.name, db.deltaSeq.Add(1)), statsValue(docs, bytes))
}

// statsFoldEvery is how many writes to a collection start a stats fold.
// A fold iterates over the collection's stats keys, and the deltas that
// earlier folds deleted stay there as tombstones until compaction drops
// them, so folding often scans the same tombstones again and again (at
// 512 a fold cost 17 % of an unsynced InsertOne's CPU); the deltas it
// leaves unfolded cost no more than the writes themselves (one small key
// each) and are summed once at open.
const statsFoldEvery = 4096

// afterWrite folds a collection's stats deltas every statsFoldEvery
// writes.
func (db *DB) afterWrite(c *collection, n int) {
	if c.sinceFold.Add(int64(n)) >= statsFoldEvery && c.foldsQueue.CompareAndSwap(false, true) {
		started := db.goBackground(func() {
			defer c.foldsQueue.Store(false)
			// A fold of a collection being dropped must not run after the
			// drop deleted the stats keys: it would write back a base
			// counting documents that are gone.
			c.ddl.RLock()
			defer c.ddl.RUnlock()
			if c.dropped {
				return
			}
			// A failed fold loses nothing: the deltas stay, and the next
			// fold (or a read) sums them.
			if err := db.foldStats(c); err != nil && !errors.Is(err, storage.ErrClosed) {
				db.opts.Logger.Warn("docstore: stats fold failed; the next one retries", "collection", c.name, "err", err)
			}
		})
		if !started {
			c.foldsQueue.Store(false)
		}
	}
}

// foldStats sums the stats base and deltas and replaces them with a new
// base, atomically. Deltas written meanwhile are not touched. REQUIRES:
// c.ddl held (in either mode).
func (db *DB) foldStats(c *collection) error {
	c.foldMu.Lock()
	defer c.foldMu.Unlock()
	c.sinceFold.Store(0)
	docs, bytes, keys, err := db.readStats(c.name, true)
	if err != nil || len(keys) <= 1 {
		return err
	}
	b := db.engine.NewBatch()
	for _, k := range keys {
		b.Delete(k)
	}
	b.Put(keyenc.StatsKey(c.name, 0), statsValue(docs, bytes))
	return db.engine.Apply(b)
}

// readStats sums a collection's stats keys.
func (db *DB) readStats(col string, wantKeys bool) (docs, bytes int64, keys [][]byte, err error) {
	it := db.engine.NewIter(&storage.IterOptions{Prefix: keyenc.StatsPrefix(col)})
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		d, b, err := parseStats(it.Value())
		if err != nil {
			return 0, 0, nil, err
		}
		docs += d
		bytes += b
		db.noteStatsID(it.Key())
		if wantKeys {
			keys = append(keys, append([]byte(nil), it.Key()...))
		}
	}
	return docs, bytes, keys, it.Err()
}

// Collections lists every collection with its document count and size.
func (db *DB) Collections() ([]CollectionInfo, error) {
	db.mu.Lock()
	out := make([]CollectionInfo, 0, len(db.cols))
	for n, c := range db.cols {
		out = append(out, CollectionInfo{Name: n, DocCount: c.docs.Load(), ByteSize: c.bytes.Load()})
	}
	db.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Stats returns one collection's counts.
func (db *DB) Stats(col string) (CollectionInfo, error) {
	if err := checkName("collection", col); err != nil {
		return CollectionInfo{}, err
	}
	c := db.getCollection(col)
	if c == nil {
		return CollectionInfo{}, errf(CodeNotFound, "collection %q not found", col)
	}
	return CollectionInfo{Name: col, DocCount: c.docs.Load(), ByteSize: c.bytes.Load()}, nil
}

// DropCollection deletes a collection, its documents and its indexes.
//
// It holds the collection's ddl lock exclusively throughout, so writes to
// the collection wait until it is gone (and then create a new one), and
// no stats fold runs meanwhile. Every intermediate state is a consistent
// collection, so a crash midway leaves one that a second DropCollection
// finishes: first the metadata loses the indexes, then the index entries
// are deleted, then the documents, 1,000 per batch, each batch carrying
// the count delta of what it deleted; last, one batch deletes the folded
// stats and the metadata, with the drop's one change record (its
// documents' deletions have none). Memory stays bounded. ctx is looked at
// before the drop starts, not after: a drop that has begun runs to its
// end.
func (db *DB) DropCollection(ctx context.Context, col string) error {
	if err := checkName("collection", col); err != nil {
		return err
	}
	if err := ctxErr(ctx, "drop collection"); err != nil {
		return err
	}
	if p := db.proposer(ctx); p != nil {
		_, err := propose(ctx, p, &WriteCommand{Kind: CmdDropCollection, Col: col})
		return err
	}
	c := db.lockCollection(col, false)
	if c == nil {
		return errf(CodeNotFound, "collection %q not found", col)
	}
	defer c.ddl.Unlock()
	if !c.persisted.Load() {
		// Only in memory (its first write failed): nothing on disk.
		db.forgetCollection(c)
		return nil
	}
	// Stop the index builds and forget the indexes.
	c.mu.Lock()
	for _, ix := range c.indexes {
		ix.dropped.Store(true)
	}
	c.indexes = nil
	b := db.engine.NewBatch()
	db.saveMetaLocked(c, b)
	c.mu.Unlock()
	if err := db.engine.Apply(b); err != nil {
		return err
	}
	if err := db.deleteRange(keyenc.IndexCollectionPrefix(col)); err != nil {
		return err
	}
	if err := db.deleteDocs(c); err != nil {
		return err
	}
	// After the documents: a crash before leaves keys of no document,
	// which readers and the reaper skip.
	if err := db.deleteRange(keyenc.ExpiryPrefix(col)); err != nil {
		return err
	}
	if err := db.foldStats(c); err != nil {
		return err
	}
	// One base key is left (no write can add a delta meanwhile): delete
	// it with the metadata.
	_, _, keys, err := db.readStats(col, true)
	if err != nil {
		return err
	}
	b = db.engine.NewBatch()
	for _, k := range keys {
		b.Delete(k)
	}
	b.Delete(metaKey(col))
	changes := db.changeBatchFor(ctx, col)
	changes.add(b, OpDrop, "", 0)
	// An applied drop's last batch stores the applied index: applied
	// again after a crash, the drop would find no collection (command.go).
	noteLast(changes.det, b)
	if err := db.engine.Apply(b); err != nil {
		return err
	}
	db.committed(&changes, b)
	db.forgetCollection(c)
	return nil
}

// forgetCollection removes a dropped collection from memory. REQUIRES:
// c.ddl held exclusively.
func (db *DB) forgetCollection(c *collection) {
	db.mu.Lock()
	if db.cols[c.name] == c {
		delete(db.cols, c.name)
	}
	db.mu.Unlock()
	c.dropped = true
}

// deleteDocs deletes a collection's documents, 1,000 per batch, each
// batch with the count delta of what it deletes, folding the deltas every
// so often. REQUIRES: c.ddl held exclusively and no index left.
func (db *DB) deleteDocs(c *collection) error {
	prefix := keyenc.DocPrefix(c.name)
	for n := 1; ; n++ {
		it := db.engine.NewIter(&storage.IterOptions{Prefix: prefix})
		b := db.engine.NewBatch()
		var docs, bytes int64
		for ok := it.First(); ok && b.Len() < 1000; ok = it.Next() {
			b.Delete(it.Key())
			docs++
			bytes += int64(max(len(it.Value())-8, 0))
		}
		if err := it.Close(); err != nil {
			return err
		}
		if docs == 0 {
			return nil
		}
		db.addStatsDelta(c, b, -docs, -bytes)
		if err := db.engine.Apply(b); err != nil {
			return err
		}
		c.docs.Add(-docs)
		c.bytes.Add(-bytes)
		if n%64 == 0 {
			if err := db.foldStats(c); err != nil {
				return err
			}
		}
	}
}

// deleteRange deletes every key with the prefix, 1,000 at a time.
func (db *DB) deleteRange(prefix []byte) error {
	for {
		it := db.engine.NewIter(&storage.IterOptions{Prefix: prefix})
		b := db.engine.NewBatch()
		for ok := it.First(); ok && b.Len() < 1000; ok = it.Next() {
			b.Delete(it.Key())
		}
		if err := it.Close(); err != nil {
			return err
		}
		if b.Len() == 0 {
			return nil
		}
		if err := db.engine.Apply(b); err != nil {
			return err
		}
	}
}

// createCollection makes a collection exist, with no documents.
func (db *DB) createCollection(col string) error {
	b := db.engine.NewBatch()
	c, release, err := db.ensureCollection(col, b)
	if err != nil {
		return err
	}
	defer release()
	if err := db.engine.Apply(b); err != nil {
		return err
	}
	c.persisted.Store(true)
	return nil
}
