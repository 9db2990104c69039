package docstore

import (
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
//
// A collection's documents are one contiguous key range, and so is each
// index. Document counts and byte sizes change in the same batch as the
// document, as a delta key; deltas are folded into the base now and then,
// so that Open sums a few keys to load the counts, which are then kept in
// memory: listing collections reads no keys at all.

// collection is the in-memory view of a collection's metadata.
type collection struct {
	name string

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

func statsPrefix(col string) []byte {
	return append([]byte{'s'}, keyenc.AppendString(nil, col)...)
}

func statsKey(col string, id uint64) []byte {
	return binary.BigEndian.AppendUint64(statsPrefix(col), id)
}

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
			c.indexes = append(c.indexes, newIndex(name, spec))
		}
		db.cols[name] = c
	}
	return it.Err()
}

// getCollection returns a collection, or nil when it does not exist.
func (db *DB) getCollection(name string) *collection {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.cols[name]
}

// ensureCollection returns the collection, creating its metadata key in
// b when it is new. The caller commits b; until then the collection is
// visible in memory only.
func (db *DB) ensureCollection(name string, b *storage.Batch) (*collection, error) {
	if err := checkName("collection", name); err != nil {
		return nil, err
	}
	db.mu.Lock()
	c, ok := db.cols[name]
	if !ok {
		c = &collection{name: name}
		db.cols[name] = c
	}
	db.mu.Unlock()
	if !c.persisted.Load() {
		c.mu.RLock()
		db.saveMetaLocked(c, b)
		c.mu.RUnlock()
	}
	return c, nil
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
	b.Put(statsKey(c.name, db.deltaSeq.Add(1)), statsValue(docs, bytes))
}

// afterWrite folds a collection's stats deltas every so many writes.
func (db *DB) afterWrite(c *collection, n int) {
	if c.sinceFold.Add(int64(n)) >= 512 && c.foldsQueue.CompareAndSwap(false, true) {
		go func() {
			defer c.foldsQueue.Store(false)
			_ = db.foldStats(c)
		}()
	}
}

// foldStats sums the stats base and deltas and replaces them with a new
// base, atomically. Deltas written meanwhile are not touched.
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
	b.Put(statsKey(c.name, 0), statsValue(docs, bytes))
	return db.engine.Apply(b)
}

// readStats sums a collection's stats keys.
func (db *DB) readStats(col string, wantKeys bool) (docs, bytes int64, keys [][]byte, err error) {
	it := db.engine.NewIter(&storage.IterOptions{Prefix: statsPrefix(col)})
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		d, b, err := parseStats(it.Value())
		if err != nil {
			return 0, 0, nil, err
		}
		docs += d
		bytes += b
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
		return CollectionInfo{}, errf("not_found", "collection %q not found", col)
	}
	return CollectionInfo{Name: col, DocCount: c.docs.Load(), ByteSize: c.bytes.Load()}, nil
}

// DropCollection deletes a collection, its documents and its indexes. It
// deletes in batches, so memory stays bounded; a crash midway leaves a
// collection that a second DropCollection finishes.
func (db *DB) DropCollection(col string) error {
	if err := checkName("collection", col); err != nil {
		return err
	}
	c := db.getCollection(col)
	if c == nil {
		return errf("not_found", "collection %q not found", col)
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	// Remove the metadata first so the collection disappears at once.
	b := db.engine.NewBatch()
	b.Delete(metaKey(col))
	if err := db.engine.Apply(b); err != nil {
		return err
	}
	db.mu.Lock()
	delete(db.cols, col)
	db.mu.Unlock()
	for _, prefix := range [][]byte{keyenc.DocPrefix(col), keyenc.IndexCollectionPrefix(col), statsPrefix(col)} {
		if err := db.deleteRange(prefix); err != nil {
			return err
		}
	}
	return nil
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
	c, err := db.ensureCollection(col, b)
	if err != nil {
		return err
	}
	if err := db.engine.Apply(b); err != nil {
		return err
	}
	c.persisted.Store(true)
	return nil
}
