package docstore

import (
	"bytes"
	"fmt"
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
	// Building is set while CreateIndex backfills existing documents; the
	// planner does not use the index until it is cleared.
	Building bool `json:"building,omitempty"`
}

// IndexInfo is an index's spec plus its build state.
type IndexInfo struct {
	IndexSpec
	Entries int64 `json:"entries,omitempty"`
}

// maxIndexEntriesPerDoc bounds the entries one document may add to one
// index (multikey fan-out of arrays, multiplied across compound fields).
const maxIndexEntriesPerDoc = 1000

type index struct {
	multikey atomic.Bool // mirrors spec.Multikey for lock-free reads
	spec     IndexSpec
	prefix   []byte
	desc     []bool
	paths    []string
}

func newIndex(col string, spec IndexSpec) *index {
	ix := &index{spec: spec, prefix: keyenc.IndexPrefix(col, spec.Name)}
	for _, f := range spec.Fields {
		ix.desc = append(ix.desc, f.Desc)
		ix.paths = append(ix.paths, f.Path)
	}
	ix.multikey.Store(spec.Multikey)
	return ix
}

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
		vals = dedupValues(vals)
		if len(combos)*len(vals) > maxIndexEntriesPerDoc {
			return nil, errf("bad_request", "document %q would add more than %d entries to index %q", id, maxIndexEntriesPerDoc, ix.spec.Name)
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
	return sortUniqueKeys(keys), nil
}

func dedupValues(vals []jsondoc.Value) []jsondoc.Value {
	if len(vals) < 2 {
		return vals
	}
	out := vals[:0:0]
	for _, v := range vals {
		dup := false
		for _, o := range out {
			if jsondoc.Compare(o, v) == 0 && o.Kind() == v.Kind() {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, v)
		}
	}
	return out
}

func sortUniqueKeys(keys [][]byte) [][]byte {
	if len(keys) < 2 {
		return keys
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && bytes.Compare(keys[j], keys[j-1]) < 0; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	out := keys[:1]
	for _, k := range keys[1:] {
		if !bytes.Equal(k, out[len(out)-1]) {
			out = append(out, k)
		}
	}
	return out
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
				return spec, errf("bad_request", "index name must be a string")
			}
			spec.Name = m.Value.Str()
		case "unique":
			if m.Value.Kind() != jsondoc.KindBool {
				return spec, errf("bad_request", "index unique must be true or false")
			}
			spec.Unique = m.Value.BoolValue()
		case "fields":
			if m.Value.Kind() != jsondoc.KindArray {
				return spec, errf("bad_request", "index fields must be an array of paths like [\"a\", \"-b\"]")
			}
			for i, f := range m.Value.Elems() {
				if f.Kind() != jsondoc.KindString {
					return spec, errf("bad_request", "index fields[%d] must be a string", i)
				}
				p, desc := f.Str(), false
				if rest, ok := strings.CutPrefix(p, "-"); ok {
					p, desc = rest, true
				}
				spec.Fields = append(spec.Fields, IndexField{Path: p, Desc: desc})
			}
		case "keys":
			if m.Value.Kind() != jsondoc.KindObject {
				return spec, errf("bad_request", "index keys must be an object like {\"a\": 1, \"b\": -1}")
			}
			for _, k := range m.Value.Members() {
				dir, _ := k.Value.Int64()
				if k.Value.Kind() != jsondoc.KindNumber || (dir != 1 && dir != -1) {
					return spec, errf("bad_request", "index keys.%s must be 1 or -1", k.Key)
				}
				spec.Fields = append(spec.Fields, IndexField{Path: k.Key, Desc: dir == -1})
			}
		default:
			return spec, errf("bad_request", "unknown index option %q (want name, fields or keys, unique)", m.Key)
		}
	}
	if len(spec.Fields) == 0 {
		return spec, errf("bad_request", "an index needs at least one field")
	}
	if len(spec.Fields) > 16 {
		return spec, errf("bad_request", "an index has at most 16 fields, got %d", len(spec.Fields))
	}
	seen := map[string]bool{}
	for _, f := range spec.Fields {
		if _, err := jsondoc.SplitPath(f.Path); err != nil {
			return spec, errf("bad_request", "index field %q: %v", f.Path, err)
		}
		if seen[f.Path] {
			return spec, errf("bad_request", "index field %q appears twice", f.Path)
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
// meanwhile and memory stays bounded. progress, if not nil, is called with
// the number of documents indexed so far.
func (db *DB) CreateIndex(col string, spec IndexSpec, progress func(done int64)) error {
	if err := checkName("collection", col); err != nil {
		return err
	}
	if err := checkName("index", spec.Name); err != nil {
		return err
	}
	b := db.engine.NewBatch()
	c, err := db.ensureCollection(col, b)
	if err != nil {
		return err
	}
	c.writeMu.Lock()
	c.mu.Lock()
	for _, ix := range c.indexes {
		if ix.spec.Name == spec.Name {
			c.mu.Unlock()
			c.writeMu.Unlock()
			if sameFields(ix.spec, spec) {
				return nil // idempotent
			}
			return errf("exists", "index %q already exists on %q with different fields", spec.Name, col)
		}
	}
	spec.Building = true
	ix := newIndex(col, spec)
	c.indexes = append(c.indexes, ix)
	db.saveMetaLocked(c, b)
	c.mu.Unlock()
	err = db.engine.Apply(b)
	c.writeMu.Unlock()
	if err != nil {
		db.removeIndexFromMemory(c, spec.Name)
		return err
	}
	c.persisted.Store(true)

	if err := db.backfill(c, ix, progress); err != nil {
		_ = db.DropIndex(col, spec.Name)
		return err
	}
	c.mu.Lock()
	ix.spec.Building = false
	b = db.engine.NewBatch()
	db.saveMetaLocked(c, b)
	c.mu.Unlock()
	return db.engine.Apply(b)
}

func sameFields(a, b IndexSpec) bool {
	if len(a.Fields) != len(b.Fields) || a.Unique != b.Unique {
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
// lock and indexed as it is now.
func (db *DB) backfill(c *collection, ix *index, progress func(int64)) error {
	var last []byte
	var done int64
	prefix := keyenc.DocPrefix(c.name)
	for {
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
		for _, id := range ids {
			if err := db.indexOne(c, ix, id); err != nil {
				return err
			}
		}
		done += int64(len(ids))
		if progress != nil {
			progress(done)
		}
	}
}

func (db *DB) indexOne(c *collection, ix *index, id string) error {
	var unlock func()
	if ix.spec.Unique {
		c.writeMu.Lock()
		unlock = c.writeMu.Unlock
	} else {
		unlock = db.lockDocs(c.name, []string{id})
	}
	defer unlock()
	raw, err := db.engine.Get(keyenc.DocKey(nil, c.name, id))
	if err == storage.ErrNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	_, js, err := decodeStored(raw)
	if err != nil {
		return err
	}
	doc, err := jsondoc.Parse(js, jsondoc.Limits{MaxDepth: 1 << 10})
	if err != nil {
		return fmt.Errorf("docstore: stored document %q/%q: %w", c.name, id, err)
	}
	keys, err := ix.entries(c.name, doc, id)
	if err != nil {
		return err
	}
	b := db.engine.NewBatch()
	db.noteMultikey(c, ix, doc, b)
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
			return errf("unique_violation", "unique index %q: document %q already has these values", ix.spec.Name, other)
		}
	}
	return it.Err()
}

// ListIndexes returns a collection's indexes.
func (db *DB) ListIndexes(col string) ([]IndexSpec, error) {
	if err := checkName("collection", col); err != nil {
		return nil, err
	}
	c := db.getCollection(col)
	if c == nil {
		return nil, errf("not_found", "collection %q not found", col)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]IndexSpec, 0, len(c.indexes))
	for _, ix := range c.indexes {
		out = append(out, ix.spec)
	}
	return out, nil
}

// DropIndex removes an index and its entries.
func (db *DB) DropIndex(col, name string) error {
	if err := checkName("collection", col); err != nil {
		return err
	}
	c := db.getCollection(col)
	if c == nil {
		return errf("not_found", "collection %q not found", col)
	}
	c.writeMu.Lock()
	c.mu.Lock()
	found := false
	for i, ix := range c.indexes {
		if ix.spec.Name == name {
			c.indexes = append(c.indexes[:i:i], c.indexes[i+1:]...)
			found = true
			break
		}
	}
	if !found {
		c.mu.Unlock()
		c.writeMu.Unlock()
		return errf("not_found", "index %q not found on collection %q", name, col)
	}
	b := db.engine.NewBatch()
	db.saveMetaLocked(c, b)
	c.mu.Unlock()
	err := db.engine.Apply(b)
	c.writeMu.Unlock()
	if err != nil {
		return err
	}
	return db.deleteRange(keyenc.IndexPrefix(col, name))
}
