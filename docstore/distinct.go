package docstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
	"github.com/minidbgo/minidbgo/docstore/internal/keyenc"
	"github.com/minidbgo/minidbgo/docstore/internal/query"
	"github.com/minidbgo/minidbgo/storage"
)

// distinctValueOverhead is what one distinct value costs beyond its
// encoding, counted against Options.MaxDistinctBytes (map entry, string
// header, the decoded value).
const distinctValueOverhead = 64

// Distinct returns the distinct values that the dot path field takes in
// the documents of col matching filter (nil or {} for every document), as
// MongoDB's distinct does: an array at the end of the path contributes its
// elements (one level: [[1],2] gives [1] and 2), a path through an array
// of objects each element's value, a missing field nothing and null null.
// Values equal under the query comparison (1, 1.0, 10e-1) are one value,
// and the result is sorted in that order (the order of a sort, null <
// numbers < strings < objects < arrays < booleans); numbers are written
// in a canonical form (1.0 as 1). A missing collection has no values.
//
// With an empty filter and an index whose first field is field, the
// index's keys are read, one seek per distinct value (documents are read
// only to tell a stored null from a missing field, which index as the same
// key); otherwise the filter's plan scans the matching documents.
//
// Memory is bounded by Options.MaxDistinctBytes: when the distinct values
// need more, Distinct fails with code distinct_too_large.
func (db *DB) Distinct(ctx context.Context, col, field string, filter []byte) ([]json.RawMessage, error) {
	if err := checkName("collection", col); err != nil {
		return nil, err
	}
	segs, err := jsondoc.SplitPath(field)
	if err != nil || field == "" {
		return nil, errf(CodeInvalidQuery, "distinct needs a field path such as \"tags\" or \"items.sku\", got %q", field)
	}
	for _, s := range segs {
		if strings.HasPrefix(s, "$") {
			return nil, errf(CodeInvalidQuery, "distinct field %q: segment %q starts with $", field, s)
		}
	}
	f, _, _, err := db.parseQueryParts(Query{Filter: filter})
	if err != nil {
		return nil, err
	}
	c := db.getCollection(col)
	if c == nil {
		return []json.RawMessage{}, nil
	}
	set := &distinctSet{field: field, limit: db.opts.MaxDistinctBytes, keys: map[string]struct{}{}}
	snap := db.engine.NewSnapshot()
	defer snap.Close()
	// Index keys cannot tell expired documents: with any to hide, the
	// documents are read.
	hidden, err := db.expiryView(c).backlog(snap, col)
	if err != nil {
		return nil, err
	}
	if ix := distinctIndex(c, field); ix != nil && isEmptyFilter(filter) && !hidden {
		err = db.distinctFromIndex(ctx, snap, col, ix, set)
	} else {
		err = db.distinctFromScan(ctx, snap, c, col, f, set)
	}
	if err != nil {
		return nil, err
	}
	return set.values()
}

// distinctSet collects distinct values by their order-preserving encoding
// (keyenc.AppendValue), which is equal exactly for values that compare
// equal and sorts as they compare.
type distinctSet struct {
	field string
	limit int
	bytes int
	keys  map[string]struct{}
}

func (s *distinctSet) add(enc []byte) error {
	if _, ok := s.keys[string(enc)]; ok {
		return nil
	}
	s.bytes += len(enc) + distinctValueOverhead
	if s.bytes > s.limit {
		return errf(CodeDistinctTooLarge, "the distinct values of %q need more than %d bytes (%d values so far); narrow the filter", s.field, s.limit, len(s.keys))
	}
	s.keys[string(enc)] = struct{}{}
	return nil
}

func (s *distinctSet) values() ([]json.RawMessage, error) {
	keys := make([]string, 0, len(s.keys))
	for k := range s.keys {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]json.RawMessage, len(keys))
	for i, k := range keys {
		v, _, err := keyenc.DecodeValue([]byte(k))
		if err != nil {
			return nil, fmt.Errorf("docstore: distinct: %w", err)
		}
		out[i] = jsondoc.AppendJSON(nil, v)
	}
	return out, nil
}

// distinctIndex returns a usable index whose first field is field.
func distinctIndex(c *collection, field string) *index {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, ix := range c.indexes {
		if !ix.building.Load() && ix.paths[0] == field {
			return ix
		}
	}
	return nil
}

func (db *DB) distinctFromScan(ctx context.Context, snap *storage.Snapshot, c *collection, col string, f *query.Filter, set *distinctSet) error {
	p := db.makePlan(c, col, f, nil)
	src := newSource(ctx, db, snap, p, nil)
	defer src.close()
	top, _, _ := strings.Cut(set.field, ".")
	reads := filterOnly(f)
	src.keep = func(k string) bool { return k == top || reads(k) }
	st := explainFor(ctx, p)
	var enc []byte
	for {
		m, err := src.next(st, true)
		if err != nil || m == nil {
			return err
		}
		if !f.Match(m.doc) {
			continue
		}
		st.NReturned++
		for _, v := range query.Lookup(m.doc, set.field) {
			enc = keyenc.AppendValue(enc[:0], v)
			if err := set.add(enc); err != nil {
				return err
			}
		}
	}
}

// distinctFromIndex reads the first value of each run of index keys that
// share it, seeking past the run. A null run also holds the documents
// without the field; it counts only when one of them holds a null.
func (db *DB) distinctFromIndex(ctx context.Context, snap *storage.Snapshot, col string, ix *index, set *distinctSet) error {
	it := snap.NewIter(&storage.IterOptions{LowerBound: ix.prefix, UpperBound: keyenc.PrefixEnd(ix.prefix)})
	st, _ := ctx.Value(explainKey{}).(*Explanation)
	if st == nil {
		st = new(Explanation)
	}
	*st = Explanation{Plan: "IXSCAN", Index: ix.spec.Name, IndexFields: ix.paths[:1]}
	var enc []byte
	for ok, n := it.First(), 0; ok; n++ {
		st.KeysExamined++ // one seek per distinct value
		if n%checkEvery == 0 {
			if err := ctxErr(ctx, "distinct"); err != nil {
				_ = it.Close()
				return err
			}
		}
		key := it.Key()
		rest := key[len(ix.prefix):]
		decode := keyenc.DecodeValue
		if ix.desc[0] {
			decode = keyenc.DecodeValueDesc
		}
		v, after, err := decode(rest)
		if err != nil {
			_ = it.Close()
			return fmt.Errorf("docstore: index %q of %q: %w", ix.spec.Name, col, err)
		}
		run := bytes.Clone(key[:len(key)-len(after)])
		keep := true
		if v.Kind() == jsondoc.KindNull {
			if keep, err = db.runHoldsNull(snap, col, ix, run, set.field); err != nil {
				_ = it.Close()
				return err
			}
		}
		if keep {
			st.NReturned++
			enc = keyenc.AppendValue(enc[:0], v)
			if err := set.add(enc); err != nil {
				_ = it.Close()
				return err
			}
		}
		ok = it.SeekGE(keyenc.PrefixEnd(run))
	}
	if err := it.Err(); err != nil {
		_ = it.Close()
		return err
	}
	return it.Close()
}

// runHoldsNull reports whether a document of the index entries starting
// with run holds a null at field (rather than nothing).
func (db *DB) runHoldsNull(snap *storage.Snapshot, col string, ix *index, run []byte, field string) (bool, error) {
	it := snap.NewIter(&storage.IterOptions{LowerBound: run, UpperBound: keyenc.PrefixEnd(run)})
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		id, err := keyenc.DecodeIndexKeyID(it.Key(), len(ix.prefix), len(ix.paths), ix.desc)
		if err != nil {
			return false, err
		}
		raw, err := snap.Get(keyenc.DocKey(nil, col, id))
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return false, err
		}
		_, js, err := decodeStored(raw)
		if err != nil {
			return false, err
		}
		top, _, _ := strings.Cut(field, ".")
		doc, err := jsondoc.ParseFields(js, func(k string) bool { return k == top })
		if err != nil {
			return false, fmt.Errorf("docstore: stored document %q/%q: %w", col, id, err)
		}
		for _, v := range query.Lookup(doc, field) {
			if v.Kind() == jsondoc.KindNull {
				return true, nil
			}
		}
	}
	return false, it.Err()
}
