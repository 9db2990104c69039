package docstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
	"github.com/minidbgo/minidbgo/docstore/internal/keyenc"
	"github.com/minidbgo/minidbgo/docstore/internal/query"
	"github.com/minidbgo/minidbgo/storage"
)

// IndexField is one field of an index: a dot path and a direction.
type IndexField struct {
	Path string `json:"path"`
	Desc bool   `json:"desc,omitempty"`
}

// IndexSpec describes a secondary index.
type IndexSpec struct {
	Name   string       `json:"name"`
	Fields []IndexField `json:"fields"`
	Unique bool         `json:"unique,omitempty"`
	// Multikey is set once some document held an array along one of the
	// index's paths; such an index cannot give a sort order.
	Multikey bool `json:"multikey,omitempty"`
	// Building is set while CreateIndex backfills existing documents (or,
	// after a crash or a shutdown interrupted that, while the build
	// resumed at open runs); the planner does not use the index, and a
	// unique one rejects no write, until it is cleared.
	Building bool `json:"building,omitempty"`
	// ExpireAfterSeconds, when set, makes a single-field index a TTL
	// index: a document expires this many seconds after the date its
	// field holds (an RFC 3339 string or epoch milliseconds; an array's
	// earliest). 0 to MaxExpireAfterSeconds.
	ExpireAfterSeconds *int64 `json:"expireAfterSeconds,omitempty"`
}

// IndexInfo is an index's spec plus its build progress.
type IndexInfo struct {
	IndexSpec
	// Indexed is how many documents a building index's backfill has
	// indexed so far, and Total how many the collection holds: the
	// progress of the build (Indexed may pass Total while writes go on).
	Indexed int64 `json:"indexed,omitempty"`
	Total   int64 `json:"total,omitempty"`
}

// maxIndexEntriesPerDoc bounds the entries one document may add to one
// index (multikey fan-out of arrays, multiplied across compound fields).
const maxIndexEntriesPerDoc = 1000

type index struct {
	multikey atomic.Bool // mirrors spec.Multikey for lock-free reads
	building atomic.Bool // mirrors spec.Building for lock-free reads
	// enforce is set when a unique index rejects duplicates: from the end
	// of its backfill on. While it builds, writes maintain its entries
	// without checking them, so that no value is enforced before every
	// value is (the build then checks them all).
	enforce atomic.Bool
	// dropped is set when DropIndex or DropCollection removes the index:
	// its build stops.
	dropped atomic.Bool
	// build is the index's build, set before the index is visible when it
	// is building.
	build *indexBuild

	spec   IndexSpec // guarded by collection.mu
	ttl    int64     // spec.ExpireAfterSeconds, or -1 (not a TTL index)
	prefix []byte
	desc   []bool
	paths  []string
}

// indexBuild is the state of one index build.
type indexBuild struct {
	indexed atomic.Int64 // documents the backfill indexed so far
	done    chan struct{}
	err     error // the outcome, set before done is closed
}

func newIndexBuild() *indexBuild { return &indexBuild{done: make(chan struct{})} }

func (b *indexBuild) finish(err error) {
	b.err = err
	close(b.done)
}

// wait waits for the build to end and returns its outcome.
func (b *indexBuild) wait() error {
	<-b.done
	return b.err
}

// pendingBuild is an interrupted build found at open.
type pendingBuild struct {
	c  *collection
	ix *index
}

// errClosed stops an index build when the DB closes; the build resumes at
// the next open.
var errClosed = errors.New("docstore: closed")

func newIndex(col string, spec IndexSpec) *index {
	ix := &index{spec: spec, prefix: keyenc.IndexPrefix(col, spec.Name), ttl: -1}
	if spec.ExpireAfterSeconds != nil {
		ix.ttl = *spec.ExpireAfterSeconds
	}
	for _, f := range spec.Fields {
		ix.desc = append(ix.desc, f.Desc)
		ix.paths = append(ix.paths, f.Path)
	}
	ix.multikey.Store(spec.Multikey)
	ix.building.Store(spec.Building)
	ix.enforce.Store(spec.Unique && !spec.Building)
	return ix
}

// checksUnique reports whether writes must check ix for duplicates.
func (ix *index) checksUnique() bool { return ix.enforce.Load() }

// entries returns the index keys for a document: one per combination of
// the values its fields hold (arrays index each element; a missing field
// indexes as null). The keys are sorted and unique.
func (ix *index) entries(col string, doc jsondoc.Value, id string) ([][]byte, error) {
	combos := [][]jsondoc.Value{nil}
	for _, p := range ix.paths {
		vals := query.Lookup(doc, p)
		if len(vals) == 0 {
			vals = []jsondoc.Value{jsondoc.Null()}
		}
		vals, ok := dedupValues(vals, maxIndexEntriesPerDoc/len(combos))
		if !ok {
			return nil, errf(CodeBadRequest, "document %q would add more than %d entries to index %q", id, maxIndexEntriesPerDoc, ix.spec.Name)
		}
		next := make([][]jsondoc.Value, 0, len(combos)*len(vals))
		for _, c := range combos {
			for _, v := range vals {
				next = append(next, append(append([]jsondoc.Value(nil), c...), v))
			}
		}
		combos = next
	}
	keys := make([][]byte, 0, len(combos))
	for _, c := range combos {
		keys = append(keys, keyenc.IndexKey(nil, col, ix.spec.Name, c, ix.desc, id))
	}
	slices.SortFunc(keys, bytes.Compare)
	return slices.CompactFunc(keys, bytes.Equal), nil
}

// dedupValues returns vals without repeats (values jsondoc.Compare finds
// equal, such as 1 and 1.0, share one encoding), or false as soon as
// there are more than max distinct values: a document with a huge array
// is refused after at most max+1 distinct values, in one linear pass.
func dedupValues(vals []jsondoc.Value, max int) ([]jsondoc.Value, bool) {
	if len(vals) < 2 {
		return vals, len(vals) <= max
	}
	seen := make(map[string]struct{}, min(len(vals), max+1))
	out := vals[:0:0]
	var buf []byte
	for _, v := range vals {
		buf = keyenc.AppendValue(buf[:0], v)
		if _, dup := seen[string(buf)]; dup {
			continue
		}
		if len(out) == max {
			return nil, false
		}
		seen[string(buf)] = struct{}{}
		out = append(out, v)
	}
	return out, true
}

// isMultikey reports whether doc holds an array anywhere along one of the
// index's paths.
func (ix *index) isMultikey(doc jsondoc.Value) bool {
	for _, p := range ix.paths {
		v := doc
		for _, seg := range strings.Split(p, ".") {
			if v.Kind() == jsondoc.KindArray {
				return true
			}
			v, _ = v.Field(seg)
		}
		if v.Kind() == jsondoc.KindArray {
			return true
		}
	}
	return false
}

// noteMultikey marks ix multikey when doc makes it so, adding the new
// metadata to b. REQUIRES: c.mu not held.
func (db *DB) noteMultikey(c *collection, ix *index, doc jsondoc.Value, b *storage.Batch) {
	if ix.multikey.Load() || !ix.isMultikey(doc) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !ix.spec.Multikey {
		ix.spec.Multikey = true
		ix.multikey.Store(true)
		db.saveMetaLocked(c, b)
	}
}

// uniquePrefix is an index entry key without its _id: equal for two
// documents that collide in a unique index.
func (ix *index) uniquePrefix(key []byte, id string) []byte {
	return key[:len(key)-len(keyenc.AppendString(nil, id))]
}

// ParseIndexSpec reads an index definition in either of two forms:
// {"name": "...", "fields": ["a", "-b"], "unique": true} or
// {"name": "...", "keys": {"a": 1, "b": -1}, "unique": true}.
func ParseIndexSpec(body []byte) (IndexSpec, error) {
	v, err := jsondoc.ParseDocument(body, jsondoc.Limits{})
	if err != nil {
		return IndexSpec{}, jsonError(err, -1)
	}
	var spec IndexSpec
	for _, m := range v.Members() {
		switch m.Key {
		case "name":
			if m.Value.Kind() != jsondoc.KindString {
				return spec, errf(CodeBadRequest, "index name must be a string")
			}
			spec.Name = m.Value.Str()
		case "unique":
			if m.Value.Kind() != jsondoc.KindBool {
				return spec, errf(CodeBadRequest, "index unique must be true or false")
			}
			spec.Unique = m.Value.BoolValue()
		case "fields":
			if m.Value.Kind() != jsondoc.KindArray {
				return spec, errf(CodeBadRequest, "index fields must be an array of paths like [\"a\", \"-b\"]")
			}
			for i, f := range m.Value.Elems() {
				if f.Kind() != jsondoc.KindString {
					return spec, errf(CodeBadRequest, "index fields[%d] must be a string", i)
				}
				p, desc := f.Str(), false
				if rest, ok := strings.CutPrefix(p, "-"); ok {
					p, desc = rest, true
				}
				spec.Fields = append(spec.Fields, IndexField{Path: p, Desc: desc})
			}
		case "keys":
			if m.Value.Kind() != jsondoc.KindObject {
				return spec, errf(CodeBadRequest, "index keys must be an object like {\"a\": 1, \"b\": -1}")
			}
			for _, k := range m.Value.Members() {
				dir, _ := k.Value.Int64()
				if k.Value.Kind() != jsondoc.KindNumber || (dir != 1 && dir != -1) {
					return spec, errf(CodeBadRequest, "index keys.%s must be 1 or -1", k.Key)
				}
				spec.Fields = append(spec.Fields, IndexField{Path: k.Key, Desc: dir == -1})
			}
		case "expireAfterSeconds":
			n, ok := m.Value.Int64()
			if m.Value.Kind() != jsondoc.KindNumber || !ok || n < 0 || n > MaxExpireAfterSeconds {
				return spec, errf(CodeBadRequest, "index expireAfterSeconds must be an integer from 0 to %d, got %s", MaxExpireAfterSeconds, truncateJSON(m.Value))
			}
			spec.ExpireAfterSeconds = &n
		default:
			return spec, errf(CodeBadRequest, "unknown index option %q (want name, fields or keys, unique, expireAfterSeconds)", m.Key)
		}
	}
	if len(spec.Fields) == 0 {
		return spec, errf(CodeBadRequest, "an index needs at least one field")
	}
	if len(spec.Fields) > 16 {
		return spec, errf(CodeBadRequest, "an index has at most 16 fields, got %d", len(spec.Fields))
	}
	if err := checkTTLSpec(spec); err != nil {
		return spec, err
	}
	seen := map[string]bool{}
	for _, f := range spec.Fields {
		if _, err := jsondoc.SplitPath(f.Path); err != nil {
			return spec, errf(CodeBadRequest, "index field %q: %v", f.Path, err)
		}
		if seen[f.Path] {
			return spec, errf(CodeBadRequest, "index field %q appears twice", f.Path)
		}
		seen[f.Path] = true
	}
	if spec.Name == "" {
		var parts []string
		for _, f := range spec.Fields {
			d := "1"
			if f.Desc {
				d = "-1"
			}
			parts = append(parts, strings.ReplaceAll(f.Path, ".", "_")+"_"+d)
		}
		spec.Name = strings.Join(parts, "_")
		if len(spec.Name) > 64 {
			spec.Name = spec.Name[:64]
		}
	}
	if err := checkName("index", spec.Name); err != nil {
		return spec, err
	}
	return spec, nil
}

// CreateIndex creates an index and backfills it from the existing
// documents, a batch at a time under each document's lock, so writes go on
// meanwhile and memory stays bounded; it returns when the index is built.
// progress, if not nil, is called with the number of documents indexed so
// far.
//
// Creating an index that exists with the same fields returns at once, or,
// when that index is still building, waits for its build and returns its
// outcome. A unique index whose documents hold duplicates fails with
// ErrUniqueViolation and is removed, and so is one whose build ctx
// cancels (CreateIndex then returns ctx's error; waiting for another
// call's build does not look at ctx).
func (db *DB) CreateIndex(ctx context.Context, col string, spec IndexSpec, progress func(done int64)) error {
	if err := checkName("collection", col); err != nil {
		return err
	}
	if err := checkName("index", spec.Name); err != nil {
		return err
	}
	if err := checkTTLSpec(spec); err != nil {
		return err
	}
	if err := ctxErr(ctx, "index build"); err != nil {
		return err
	}
	if p := db.proposer(ctx); p != nil {
		spec, err := json.Marshal(spec)
		if err != nil {
			return err
		}
		_, err = propose(ctx, p, &WriteCommand{Kind: CmdCreateIndex, Col: col, Bodies: [][]byte{spec}})
		return err
	}
	c := db.lockCollection(col, true)
	c.mu.Lock()
	for _, ix := range c.indexes {
		if ix.spec.Name == spec.Name {
			same, build := sameFields(ix.spec, spec), ix.build
			c.mu.Unlock()
			c.ddl.Unlock()
			if !same {
				return errf(CodeExists, "index %q already exists on %q with different fields", spec.Name, col)
			}
			if build != nil {
				return build.wait()
			}
			return nil // idempotent
		}
	}
	c.mu.Unlock()
	// Entries of an index of the same name whose removal a crash
	// interrupted would be taken for this one's.
	if err := db.deleteRange(keyenc.IndexPrefix(col, spec.Name)); err != nil {
		c.ddl.Unlock()
		return err
	}
	spec.Building = true
	ix := newIndex(col, spec)
	ix.build = newIndexBuild()
	b := db.engine.NewBatch()
	c.mu.Lock()
	c.indexes = append(c.indexes, ix)
	db.saveMetaLocked(c, b)
	c.mu.Unlock()
	if err := db.engine.Apply(b); err != nil {
		db.removeIndexFromMemory(c, spec.Name)
		c.ddl.Unlock()
		ix.build.finish(err)
		return err
	}
	c.persisted.Store(true)
	c.ddl.Unlock()
	err := db.runBuild(ctx, c, ix, progress)
	ix.build.finish(err)
	return err
}

// runBuild backfills a building index and makes it ready. A build that
// fails removes the index (but one the DB's closing stops is resumed at
// the next open). The caller finishes ix.build with the outcome.
func (db *DB) runBuild(ctx context.Context, c *collection, ix *index, progress func(int64)) error {
	err := db.backfill(ctx, c, ix, progress)
	if err == nil {
		err = db.finishBuild(c, ix)
	}
	closed := errors.Is(err, errClosed) || errors.Is(err, storage.ErrClosed)
	if err != nil && !closed && !ix.dropped.Load() {
		if derr := db.removeIndex(ctx, c, ix); derr != nil {
			// It stays building on disk: the next open retries it.
			err = fmt.Errorf("%w (and removing the index failed: %v)", err, derr)
		}
	}
	return err
}

// resumeBuilds finishes, in the background and one at a time, the index
// builds that a crash or a shutdown interrupted. Meanwhile the indexes
// are maintained by writes but not used by queries, and unique ones
// enforce nothing; a build that fails removes its index and logs why.
func (db *DB) resumeBuilds() {
	pending := db.pendingBuilds
	db.pendingBuilds = nil
	if len(pending) == 0 {
		return
	}
	log := db.opts.Logger
	db.bg.Add(1)
	go func() {
		defer db.bg.Done()
		for _, p := range pending {
			log.Info("resuming an interrupted index build", "collection", p.c.name, "index", p.ix.spec.Name)
			err := db.runBuild(context.Background(), p.c, p.ix, nil)
			switch {
			case err == nil:
				log.Info("index built", "collection", p.c.name, "index", p.ix.spec.Name, "documents", p.ix.build.indexed.Load())
			case errors.Is(err, errClosed), errors.Is(err, storage.ErrClosed):
			default:
				log.Warn("index build failed; the index was removed", "collection", p.c.name, "index", p.ix.spec.Name, "error", err.Error())
			}
			p.ix.build.finish(err)
		}
	}()
}

// finishBuild makes a backfilled index ready. A unique index enforces
// from the moment every document is in it; its entries as of that moment
// are then checked for duplicates.
func (db *DB) finishBuild(c *collection, ix *index) error {
	if ix.spec.Unique {
		c.ddl.Lock()
		if ix.dropped.Load() {
			c.ddl.Unlock()
			return errIndexDropped(c, ix)
		}
		snap := db.engine.NewSnapshot()
		ix.enforce.Store(true)
		c.ddl.Unlock()
		err := db.checkNoDuplicates(snap, ix)
		snap.Close()
		if err != nil {
			return err
		}
	}
	c.ddl.Lock()
	defer c.ddl.Unlock()
	if ix.dropped.Load() {
		return errIndexDropped(c, ix)
	}
	b := db.engine.NewBatch()
	c.mu.Lock()
	ix.spec.Building = false
	db.saveMetaLocked(c, b)
	c.mu.Unlock()
	if err := db.engine.Apply(b); err != nil {
		c.mu.Lock()
		ix.spec.Building = true
		c.mu.Unlock()
		return err
	}
	ix.building.Store(false)
	return nil
}

// checkNoDuplicates fails when two documents share values in a unique
// index as snap holds it. Equal values sort next to each other.
func (db *DB) checkNoDuplicates(snap *storage.Snapshot, ix *index) error {
	it := snap.NewIter(&storage.IterOptions{Prefix: ix.prefix})
	defer it.Close()
	var prev []byte
	var prevID string
	for ok := it.First(); ok; ok = it.Next() {
		select {
		case <-db.closing:
			return errClosed
		default:
		}
		id, err := keyenc.DecodeIndexKeyID(it.Key(), len(ix.prefix), len(ix.paths), ix.desc)
		if err != nil {
			return err
		}
		p := ix.uniquePrefix(it.Key(), id)
		if prev != nil && id != prevID && bytes.Equal(p, prev) {
			return errf(CodeUniqueViolation, "unique index %q: documents %q and %q have the same values", ix.spec.Name, prevID, id)
		}
		prev, prevID = append(prev[:0], p...), id
	}
	return it.Err()
}

func errIndexDropped(c *collection, ix *index) error {
	return errf(CodeNotFound, "index %q on %q was dropped while it was being built", ix.spec.Name, c.name)
}

// SameDefinition reports whether two specs define the same index: the
// same fields, directions and uniqueness (names and state aside).
func (s IndexSpec) SameDefinition(o IndexSpec) bool { return sameFields(s, o) }

func sameFields(a, b IndexSpec) bool {
	if len(a.Fields) != len(b.Fields) || a.Unique != b.Unique {
		return false
	}
	if (a.ExpireAfterSeconds == nil) != (b.ExpireAfterSeconds == nil) ||
		a.ExpireAfterSeconds != nil && *a.ExpireAfterSeconds != *b.ExpireAfterSeconds {
		return false
	}
	for i := range a.Fields {
		if a.Fields[i] != b.Fields[i] {
			return false
		}
	}
	return true
}

func (db *DB) removeIndexFromMemory(c *collection, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, ix := range c.indexes {
		if ix.spec.Name == name {
			c.indexes = append(c.indexes[:i:i], c.indexes[i+1:]...)
			return
		}
	}
}

// backfill indexes every existing document. New writes already maintain
// the index (it is in c.indexes), so each document is re-read under its
// lock and indexed as it is now. A resumed build starts over: entries of
// the interrupted one are right (each was written with its document, or
// from it under its lock), and indexing a document twice is harmless.
func (db *DB) backfill(ctx context.Context, c *collection, ix *index, progress func(int64)) error {
	var last []byte
	var done int64
	prefix := keyenc.DocPrefix(c.name)
	for {
		select {
		case <-db.closing:
			return errClosed
		default:
		}
		// Collect the next ids, then index them one lock at a time.
		it := db.engine.NewIter(&storage.IterOptions{Prefix: prefix})
		var ids []string
		var ok bool
		if last == nil {
			ok = it.First()
		} else {
			ok = it.SeekGE(keyenc.PrefixEnd(last))
		}
		for ; ok && len(ids) < 500; ok = it.Next() {
			id, err := keyenc.DocIDFromKey(it.Key(), c.name)
			if err != nil {
				it.Close()
				return err
			}
			ids = append(ids, id)
			last = append(last[:0], it.Key()...)
		}
		if err := it.Close(); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		for i, id := range ids {
			if i%64 == 0 {
				if err := ctxErr(ctx, "index build"); err != nil {
					return err
				}
			}
			if err := db.indexOne(c, ix, id); err != nil {
				return err
			}
		}
		done += int64(len(ids))
		if ix.build != nil {
			ix.build.indexed.Store(done)
		}
		if progress != nil {
			progress(done)
		}
	}
}

func (db *DB) indexOne(c *collection, ix *index, id string) error {
	c.ddl.RLock()
	defer c.ddl.RUnlock()
	if ix.dropped.Load() {
		return errIndexDropped(c, ix)
	}
	var unlock func()
	if ix.spec.Unique {
		c.writeMu.Lock()
		unlock = c.writeMu.Unlock
	} else {
		unlock = db.lockDocs(c.name, []string{id})
	}
	defer unlock()
	raw, err := db.engine.Get(keyenc.DocKey(nil, c.name, id))
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	_, js, err := decodeStored(raw)
	if err != nil {
		return err
	}
	doc, err := parseStored(c.name, id, js)
	if err != nil {
		return err
	}
	keys, err := ix.entries(c.name, doc, id)
	if err != nil {
		return err
	}
	b := db.engine.NewBatch()
	db.noteMultikey(c, ix, doc, b)
	if ix.ttl >= 0 {
		// The document's expiry with this index: writes put it from now
		// on, the backfill for what was written before.
		// The key written without this index is stale (unless equal).
		c.mu.RLock()
		ttl := ttlFields(c.indexes)
		var others []*index
		for _, x := range c.indexes {
			if x != ix {
				others = append(others, x)
			}
		}
		c.mu.RUnlock()
		exp, ok := docExpiry(doc, ttl)
		if before, had := docExpiry(doc, ttlFields(others)); had && (!ok || before != exp) {
			b.Delete(keyenc.ExpiryKey(nil, c.name, before, id))
		}
		if ok {
			b.Put(keyenc.ExpiryKey(nil, c.name, exp, id), nil)
		}
	}
	for _, k := range keys {
		if ix.spec.Unique {
			if err := db.checkUnique(ix, k, id); err != nil {
				return err
			}
		}
		b.Put(k, nil)
	}
	return db.engine.Apply(b)
}

// checkUnique fails when another document holds key's values in a unique
// index. REQUIRES: the collection's writeMu.
func (db *DB) checkUnique(ix *index, key []byte, id string) error {
	p := ix.uniquePrefix(key, id)
	it := db.engine.NewIter(&storage.IterOptions{Prefix: p})
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		other, err := keyenc.DecodeIndexKeyID(it.Key(), len(ix.prefix), len(ix.paths), ix.desc)
		if err != nil {
			return err
		}
		if other != id {
			return errf(CodeUniqueViolation, "unique index %q: document %q already has these values", ix.spec.Name, other)
		}
	}
	return it.Err()
}

// ListIndexes returns a collection's indexes.
func (db *DB) ListIndexes(col string) ([]IndexSpec, error) {
	infos, err := db.IndexInfos(col)
	if err != nil {
		return nil, err
	}
	out := make([]IndexSpec, len(infos))
	for i, info := range infos {
		out[i] = info.IndexSpec
	}
	return out, nil
}

// IndexInfos returns a collection's indexes with the progress of those
// that are building.
func (db *DB) IndexInfos(col string) ([]IndexInfo, error) {
	if err := checkName("collection", col); err != nil {
		return nil, err
	}
	c := db.getCollection(col)
	if c == nil {
		return nil, errf(CodeNotFound, "collection %q not found", col)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]IndexInfo, 0, len(c.indexes))
	for _, ix := range c.indexes {
		info := IndexInfo{IndexSpec: ix.spec}
		if ix.spec.Building && ix.build != nil {
			info.Indexed, info.Total = ix.build.indexed.Load(), c.docs.Load()
		}
		out = append(out, info)
	}
	return out, nil
}

// DropIndex removes an index and its entries; a build of it stops. ctx
// is looked at before the drop starts: once begun, it runs to its end.
func (db *DB) DropIndex(ctx context.Context, col, name string) error {
	if err := checkName("collection", col); err != nil {
		return err
	}
	if err := ctxErr(ctx, "drop index"); err != nil {
		return err
	}
	if p := db.proposer(ctx); p != nil {
		_, err := propose(ctx, p, &WriteCommand{Kind: CmdDropIndex, Col: col, ID: name})
		return err
	}
	c := db.lockCollection(col, false)
	if c == nil {
		return errf(CodeNotFound, "collection %q not found", col)
	}
	c.mu.RLock()
	var ix *index
	for _, x := range c.indexes {
		if x.spec.Name == name {
			ix = x
		}
	}
	c.mu.RUnlock()
	c.ddl.Unlock()
	if ix == nil {
		return errf(CodeNotFound, "index %q not found on collection %q", name, col)
	}
	return db.removeIndex(ctx, c, ix)
}

// removeIndex removes an index from its collection's metadata, then
// deletes its entries. ctx carries an applied command's deterministic
// inputs to the sweep of expiry keys (its cancellation is ignored: the
// sweep finishes the drop).
func (db *DB) removeIndex(ctx context.Context, c *collection, ix *index) error {
	c.ddl.Lock()
	if c.dropped || ix.dropped.Load() {
		c.ddl.Unlock()
		return nil
	}
	ix.dropped.Store(true)
	b := db.engine.NewBatch()
	c.mu.Lock()
	for i, x := range c.indexes {
		if x == ix {
			c.indexes = append(c.indexes[:i:i], c.indexes[i+1:]...)
			break
		}
	}
	db.saveMetaLocked(c, b)
	c.mu.Unlock()
	err := db.engine.Apply(b)
	c.ddl.Unlock()
	if err != nil {
		return err
	}
	if err := db.deleteRange(ix.prefix); err != nil {
		return err
	}
	if ix.ttl >= 0 {
		// Expiry keys that the index gave are stale now: the sweep
		// deletes them (and any document that has expired anyway). One a
		// crash interrupts leaves stale keys, which readers ignore and
		// the reaper deletes in time.
		if _, err := db.sweepExpiry(context.WithoutCancel(ctx), c.name, true); err != nil && !errors.Is(err, storage.ErrClosed) {
			return err
		}
	}
	return nil
}

// checkTTLSpec checks an index's expiry option: a TTL index has exactly
// one field and 0 to MaxExpireAfterSeconds seconds.
func checkTTLSpec(spec IndexSpec) error {
	if spec.ExpireAfterSeconds == nil {
		return nil
	}
	if n := *spec.ExpireAfterSeconds; n < 0 || n > MaxExpireAfterSeconds {
		return errf(CodeBadRequest, "index expireAfterSeconds must be an integer from 0 to %d, got %d", MaxExpireAfterSeconds, n)
	}
	if len(spec.Fields) != 1 {
		return errf(CodeBadRequest, "an index with expireAfterSeconds (a TTL index) has exactly one field, got %d", len(spec.Fields))
	}
	return nil
}

// truncateJSON renders v for an error message, at most 64 bytes.
func truncateJSON(v jsondoc.Value) string {
	s := v.String()
	if len(s) > 64 {
		s = s[:61] + "..."
	}
	return s
}
