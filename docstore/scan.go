package docstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
	"github.com/minidbgo/minidbgo/docstore/internal/keyenc"
	"github.com/minidbgo/minidbgo/docstore/internal/query"
	"github.com/minidbgo/minidbgo/storage"
)

// source produces a plan's documents in scan order.
type source struct {
	ctx   context.Context
	keys  int // keys stepped over, for looking at ctx every checkEvery
	bytes int // document bytes read since ctx was last looked at
	db    *DB
	snap  *storage.Snapshot
	p     *plan
	it    *storage.Iterator
	ri    int // current range (index scans)
	after []byte
	// decided holds ids whose first index entry in the ranges this scan
	// has passed (it returned them, or their first entry lies before the
	// resume position): their later entries are skipped without reading
	// the document. It is a cache, cleared when it reaches
	// maxDecidedCache ids, so memory stays bounded.
	decided map[string]struct{}
	done    bool
	// keep, when set, limits parsing during a collection scan to the
	// top-level fields the filter reads: the document itself is output
	// as stored, so the other fields need not be built.
	keep func(string) bool
	// exp hides the expired documents.
	exp *expiryView
}

// filterOnly returns a keep function for a scan whose documents are only
// matched against f (no sort, no projection).
func filterOnly(f *query.Filter) func(string) bool {
	fields := f.TopLevelFields()
	return func(k string) bool {
		for _, x := range fields {
			if x == k {
				return true
			}
		}
		return false
	}
}

func newSource(ctx context.Context, db *DB, snap *storage.Snapshot, p *plan, after []byte) *source {
	return &source{ctx: ctx, db: db, snap: snap, p: p, after: after, ri: -1, exp: db.expiryView(db.getCollection(p.col))}
}

func (s *source) close() error {
	if s.it != nil {
		err := s.it.Close()
		s.it = nil
		return err
	}
	return nil
}

// position opens an iterator on [start, end) and seeks past s.after.
func (s *source) open(start, end []byte) bool {
	s.it = s.snap.NewIter(&storage.IterOptions{LowerBound: start, UpperBound: end})
	if s.after != nil && bytes.Compare(s.after, start) >= 0 {
		return s.it.SeekGE(append(bytes.Clone(s.after), 0))
	}
	return s.it.First()
}

func (s *source) next(st *Explanation, parse bool) (*match, error) {
	if s.done {
		return nil, nil
	}
	if s.p.index == nil {
		return s.nextDoc(st, parse)
	}
	return s.nextIndexed(st, parse)
}

// step advances to the next key of the scan, moving through ranges (past
// the resume position); false at the end or on an error (ctx's, once it
// is done).
func (s *source) step(ranges []keyRange) (bool, error) {
	// Large documents take long to match: look at ctx every checkBytes
	// too.
	if s.keys%checkEvery == 0 || s.bytes >= checkBytes {
		if err := ctxErr(s.ctx, "scan of "+s.p.col); err != nil {
			return false, err
		}
		s.bytes = 0
	}
	s.keys++
	ok := s.it != nil && s.it.Next()
	for !ok {
		if s.it != nil {
			if err := s.it.Err(); err != nil {
				return false, err
			}
			if err := s.it.Close(); err != nil {
				return false, err
			}
			s.it = nil
		}
		s.ri++
		if s.ri >= len(ranges) {
			s.done = true
			return false, nil
		}
		r := ranges[s.ri]
		if s.after != nil && r.end != nil && bytes.Compare(s.after, r.end) >= 0 {
			continue
		}
		ok = s.open(r.start, r.end)
	}
	return true, nil
}

func (s *source) nextDoc(st *Explanation, parse bool) (*match, error) {
	ranges := s.p.ranges
	if ranges == nil {
		pre := keyenc.DocPrefix(s.p.col)
		ranges = []keyRange{{start: pre, end: keyenc.PrefixEnd(pre)}}
	}
	for {
		if ok, err := s.step(ranges); !ok {
			return nil, err
		}
		st.DocsExamined++
		_, js, err := decodeStored(s.it.Value())
		if err != nil {
			return nil, err
		}
		s.bytes += len(js)
		if expired, err := s.exp.expired(js); err != nil || expired {
			if err != nil {
				return nil, err
			}
			continue
		}
		var doc jsondoc.Value
		if parse && s.keep != nil {
			// Parse only what the filter reads, and copy nothing for a
			// document it rejects.
			if doc, err = jsondoc.ParseFields(js, s.keep); err != nil {
				return nil, fmt.Errorf("docstore: stored document in %q: %w", s.p.col, err)
			}
			if !s.p.filter.Match(doc) {
				continue
			}
		}
		key := bytes.Clone(s.it.Key())
		id, err := keyenc.DocIDFromKey(key, s.p.col)
		if err != nil {
			return nil, err
		}
		m := &match{id: id, key: key, json: bytes.Clone(js), doc: doc}
		if parse && s.keep == nil {
			if m.doc, err = parseStored(s.p.col, id, m.json); err != nil {
				return nil, err
			}
		}
		return m, nil
	}
}

// maxDecidedCache bounds source.decided.
const maxDecidedCache = 4096

// nextIndexed returns the document of the next index key that is the
// document's first entry within the plan's ranges; parse false leaves
// match.doc empty, for a caller that needs only the JSON.
//
// A document of a multikey index has an entry per value, so a scan meets
// it once per value in the ranges. It is returned only at the first of
// those entries in key order, which the document itself tells (its
// entries are computed again from it and the first one inside the ranges
// is compared with the key). That rule holds across pages: a cursor
// resumes after the key of the last document returned, and a document
// whose first entry lies at or before that key was returned by an earlier
// page (or did not match), so no page returns a document twice, whatever
// the page size and with no set of returned ids kept anywhere.
func (s *source) nextIndexed(st *Explanation, parse bool) (*match, error) {
	ix := s.p.index
	for {
		if ok, err := s.step(s.p.ranges); !ok {
			return nil, err
		}
		st.KeysExamined++
		key := s.it.Key()
		id, err := keyenc.DecodeIndexKeyID(key, len(ix.prefix), len(ix.paths), ix.desc)
		if err != nil {
			return nil, err
		}
		// Loaded per key: the flag is set before a document that makes
		// the index multikey commits, so false means no document of the
		// snapshot has two entries.
		multikey := ix.multikey.Load()
		if multikey {
			if _, ok := s.decided[id]; ok {
				continue
			}
		}
		raw, err := s.snap.Get(keyenc.DocKey(nil, s.p.col, id))
		if errors.Is(err, storage.ErrNotFound) {
			continue // an index entry whose document is gone: skip
		}
		if err != nil {
			return nil, err
		}
		st.DocsExamined++
		_, js, err := decodeStored(raw)
		if err != nil {
			return nil, err
		}
		s.bytes += len(js)
		if expired, err := s.exp.expired(js); err != nil || expired {
			if err != nil {
				return nil, err
			}
			continue
		}
		var doc jsondoc.Value
		if parse || multikey {
			if doc, err = parseStored(s.p.col, id, js); err != nil {
				return nil, err
			}
		}
		if multikey {
			first, err := s.firstInRanges(doc, id, key)
			if err != nil {
				return nil, err
			}
			if first == nil {
				continue // the entry is stale: the document no longer has it
			}
			if s.decided == nil || len(s.decided) >= maxDecidedCache {
				s.decided = make(map[string]struct{})
			}
			s.decided[id] = struct{}{}
			if !bytes.Equal(first, key) {
				continue // returned (or skipped) at its first entry
			}
		}
		return &match{id: id, key: bytes.Clone(key), doc: doc, json: js}, nil
	}
}

// firstInRanges returns the first of doc's entries in the index (in key
// order) that lies within the plan's ranges, or nil when the entries do
// not include key (a stale entry).
func (s *source) firstInRanges(doc jsondoc.Value, id string, key []byte) ([]byte, error) {
	keys, err := s.p.index.entries(s.p.col, doc, id)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(keys, func(k []byte) bool { return bytes.Equal(k, key) }) {
		return nil, nil
	}
	for _, k := range keys {
		if inRanges(s.p.ranges, k) {
			return k, nil
		}
	}
	return nil, nil
}

// inRanges reports whether key lies in one of ranges (sorted, disjoint).
func inRanges(ranges []keyRange, key []byte) bool {
	// The last range starting at or before key.
	i, _ := slices.BinarySearchFunc(ranges, key, func(r keyRange, k []byte) int {
		if bytes.Compare(r.start, k) <= 0 {
			return -1
		}
		return 1
	})
	if i == 0 {
		return false
	}
	r := ranges[i-1]
	return r.end == nil || bytes.Compare(key, r.end) < 0
}
