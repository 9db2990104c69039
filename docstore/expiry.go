package docstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
	"github.com/minidbgo/minidbgo/docstore/internal/keyenc"
	"github.com/minidbgo/minidbgo/docstore/internal/query"
	"github.com/minidbgo/minidbgo/storage"
)

// Expiry (TTL).
//
// A document expires at the earliest of the dates its top-level
// "_expiresAt" holds and, for each TTL index (an index with
// ExpireAfterSeconds), the dates its field holds plus that many seconds.
// A date is an RFC 3339 string or a number of epoch milliseconds; an
// array counts its earliest date (MongoDB's rule); anything else is no
// date. A document with no date never expires.
//
// An expired document is hidden from every read at once (Get, Find,
// Count, Distinct, Dump, Export) and deleted by the reaper later,
// through the normal write path. To find expired documents without a
// scan, every write of a document puts, in the same batch, an expiry key
// 'x' col <expiry ms BE> id for its expiry (and deletes the one of its
// old version). The expiry keys are a superset: a key may be stale (its
// document was rewritten while a TTL index was created or dropped), so
// whoever reads one checks it against the document: a key counts only
// when its time is the document's expiry. The reaper deletes stale keys
// it meets.
//
// In a cluster (SetProposer) the reaper runs on the leader only
// (SetReaperGate): it proposes each batch's due expiry keys as a
// CmdExpire command instead of writing, and every node applies it
// (applyExpire), deleting each listed document that has expired by the
// entry's time, so the deletes, their feed records and seqs are the same
// on every node.

// ExpiresAtField is the top-level field that gives a document's own
// expiry date.
const ExpiresAtField = "_expiresAt"

// MaxExpireAfterSeconds bounds an index's ExpireAfterSeconds (MongoDB's
// limit, 2^31-1 seconds).
const MaxExpireAfterSeconds = math.MaxInt32

// DefaultTTLInterval is how often the reaper runs by default.
const DefaultTTLInterval = 60 * time.Second

// reapBatchDocs bounds the documents one reaper batch deletes (and the
// expiry keys it holds in memory); reapPause is its pause between
// batches, which leaves the engine to foreground writes.
const (
	reapBatchDocs = 256
	reapPause     = 5 * time.Millisecond
)

var expiresAtQuoted = []byte(`"` + ExpiresAtField + `"`)

// ttlField is one TTL index's field: a date in it expires the document
// after ms.
type ttlField struct {
	path  string
	after int64 // milliseconds
}

// ttlFields returns the TTL fields of indexes (building ones included: a
// write maintains their expiry keys as it does their entries).
func ttlFields(indexes []*index) []ttlField {
	var out []ttlField
	for _, ix := range indexes {
		if ix.ttl >= 0 {
			out = append(out, ttlField{path: ix.paths[0], after: ix.ttl * 1000})
		}
	}
	return out
}

// dateMillis returns the epoch milliseconds of a date value: an RFC 3339
// string or a number of milliseconds (clamped to int64).
func dateMillis(v jsondoc.Value) (int64, bool) {
	switch v.Kind() {
	case jsondoc.KindString:
		t, err := time.Parse(time.RFC3339Nano, v.Str())
		if err != nil {
			return 0, false
		}
		return t.UnixMilli(), true
	case jsondoc.KindNumber:
		if i, ok := v.Int64(); ok {
			return i, true
		}
		f, ok := v.Float64()
		if !ok || math.IsNaN(f) {
			if s := v.String(); strings.HasPrefix(s, "-") {
				return math.MinInt64, true
			}
			return math.MaxInt64, true
		}
		f = math.Floor(f)
		switch {
		case f >= math.MaxInt64:
			return math.MaxInt64, true
		case f <= math.MinInt64:
			return math.MinInt64, true
		}
		return int64(f), true
	}
	return 0, false
}

// earliest folds the dates among vals, each plus after, into best.
func earliest(vals []jsondoc.Value, after int64, best int64, found bool) (int64, bool) {
	for _, v := range vals {
		ms, ok := dateMillis(v)
		if !ok {
			continue
		}
		if ms > 0 && after > math.MaxInt64-ms {
			ms = math.MaxInt64
		} else {
			ms += after
		}
		if !found || ms < best {
			best, found = ms, true
		}
	}
	return best, found
}

// docExpiry returns when doc expires, in epoch milliseconds (dates before
// 1970 count as 0), and false when it never does.
func docExpiry(doc jsondoc.Value, ttl []ttlField) (uint64, bool) {
	var best int64
	found := false
	if v, ok := doc.Field(ExpiresAtField); ok {
		vals := []jsondoc.Value{v}
		if v.Kind() == jsondoc.KindArray {
			vals = v.Elems()
		}
		best, found = earliest(vals, 0, best, found)
	}
	for _, f := range ttl {
		best, found = earliest(query.Lookup(doc, f.path), f.after, best, found)
	}
	if !found {
		return 0, false
	}
	return uint64(max(best, 0)), true
}

// jsonExpiry is docExpiry of a stored document's JSON, parsing only the
// top-level fields expiry reads (none when no TTL index exists and the
// document has no "_expiresAt").
func jsonExpiry(js []byte, ttl []ttlField) (uint64, bool, error) {
	if len(ttl) == 0 && !bytes.Contains(js, expiresAtQuoted) {
		return 0, false, nil
	}
	v, err := jsondoc.ParseFields(js, func(k string) bool {
		if k == ExpiresAtField {
			return true
		}
		for _, f := range ttl {
			if top, _, _ := strings.Cut(f.path, "."); top == k {
				return true
			}
		}
		return false
	})
	if err != nil {
		return 0, false, fmt.Errorf("docstore: stored document: %w", err)
	}
	ms, ok := docExpiry(v, ttl)
	return ms, ok, nil
}

// nowMS returns the clock (Options.Now) in epoch milliseconds.
func (db *DB) nowMS() uint64 {
	return uint64(max(db.now().UnixMilli(), 0))
}

// expiryView is what a read needs to hide the expired documents of a
// collection: its TTL fields and the time of the read.
type expiryView struct {
	ttl []ttlField
	now uint64
	// building is set while a TTL index builds: documents it has not
	// reached yet lack their expiry keys, so the keys cannot stand for
	// the expired documents.
	building bool
}

// expiryView returns the view of c (nil: a collection that does not
// exist) as of now.
func (db *DB) expiryView(c *collection) *expiryView {
	e := &expiryView{now: db.nowMS()}
	if c == nil {
		return e
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	e.ttl = ttlFields(c.indexes)
	for _, ix := range c.indexes {
		if ix.ttl >= 0 && ix.building.Load() {
			e.building = true
		}
	}
	return e
}

// specView is expiryView from index specs (a dump's snapshot metadata).
func (db *DB) specView(specs []IndexSpec) *expiryView {
	e := &expiryView{now: db.nowMS()}
	for _, s := range specs {
		if s.ExpireAfterSeconds != nil && len(s.Fields) == 1 {
			e.ttl = append(e.ttl, ttlField{path: s.Fields[0].Path, after: *s.ExpireAfterSeconds * 1000})
		}
	}
	return e
}

// expired reports whether the stored document js has expired.
func (e *expiryView) expired(js []byte) (bool, error) {
	ms, ok, err := jsonExpiry(js, e.ttl)
	return ok && ms <= e.now, err
}

// iterSource is a storage.DB or a storage.Snapshot.
type iterSource interface {
	NewIter(*storage.IterOptions) *storage.Iterator
}

// expiryBacklog reports whether col has an expiry key due by e.now in r:
// a document that may be expired and not yet reaped. When it has none
// (and no TTL index builds) no document of col is hidden.
func (e *expiryView) backlog(r iterSource, col string) (bool, error) {
	if e.building {
		return true, nil
	}
	it := r.NewIter(&storage.IterOptions{LowerBound: keyenc.ExpiryPrefix(col), UpperBound: keyenc.ExpiryBound(col, e.now+1)})
	ok := it.First()
	if err := it.Close(); err != nil {
		return false, err
	}
	return ok, nil
}

// countExpired counts the documents of col in snap that have expired by
// e.now: the expiry keys due by then whose document exists and expires at
// the key's time (others are stale). It reads the unreaped backlog only.
func (db *DB) countExpired(ctx context.Context, snap *storage.Snapshot, col string, e *expiryView) (int64, error) {
	prefix := keyenc.ExpiryPrefix(col)
	it := snap.NewIter(&storage.IterOptions{LowerBound: prefix, UpperBound: keyenc.ExpiryBound(col, e.now+1)})
	defer it.Close()
	var n, seen int64
	for ok := it.First(); ok; ok = it.Next() {
		if seen++; seen%checkEvery == 0 {
			if err := ctxErr(ctx, "count"); err != nil {
				return 0, err
			}
		}
		ms, id, err := keyenc.DecodeExpiryKey(it.Key(), len(prefix))
		if err != nil {
			return 0, err
		}
		raw, err := snap.Get(keyenc.DocKey(nil, col, id))
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return 0, err
		}
		_, js, err := decodeStored(raw)
		if err != nil {
			return 0, err
		}
		exp, has, err := jsonExpiry(js, e.ttl)
		if err != nil {
			return 0, err
		}
		if has && exp == ms {
			n++
		}
	}
	return n, it.Err()
}

// snapDocs sums col's document count from the stats keys of snap.
func snapDocs(snap *storage.Snapshot, col string) (int64, error) {
	it := snap.NewIter(&storage.IterOptions{Prefix: keyenc.StatsPrefix(col)})
	defer it.Close()
	var docs int64
	for ok := it.First(); ok; ok = it.Next() {
		d, _, err := parseStats(it.Value())
		if err != nil {
			return 0, err
		}
		docs += d
	}
	return docs, it.Err()
}

// expireOp is what a reaper op carries: the expiry keys of its document
// that the reaper found due.
type expireOp struct {
	keys [][]byte
	// reaped is set when the op deleted its document.
	reaped bool
}

// newExpireOp returns the op that deletes document id if it has expired
// by the time it holds the document's lock (the write path checks), and
// deletes the due expiry keys found for it. Every delete of the reaper is
// made here.
func newExpireOp(id string, keys [][]byte) *docOp {
	return &docOp{id: id, op: OpExpire, expire: &expireOp{keys: keys}}
}

// stageExpire stages a reaper op: the scanned expiry keys go; the
// document goes too if it has expired (done reports that the caller
// stages the deletion), else its right expiry key stays or is put back.
func (w *writeBatch) stageExpire(op *docOp, exp uint64, hasExp, expired bool) (deleteDoc bool) {
	right := keyenc.ExpiryKey(nil, w.col, exp, op.id)
	kept := false
	for _, k := range op.expire.keys {
		if hasExp && !expired && bytes.Equal(k, right) {
			kept = true
			continue
		}
		w.b.Delete(k)
	}
	if expired {
		op.expire.reaped = true
		return true
	}
	if hasExp && !kept {
		w.b.Put(right, nil)
	}
	return false
}

// writeCollection is ensureCollection for write, except that reaper ops
// never create a collection: for them it returns nil when the collection
// does not exist (a drop came first).
func (db *DB) writeCollection(col string, ops []*docOp, b *storage.Batch) (*collection, func(), error) {
	for _, op := range ops {
		if op.expire == nil {
			return db.ensureCollection(col, b)
		}
	}
	for {
		c := db.getCollection(col)
		if c == nil {
			return nil, nil, nil
		}
		c.ddl.RLock()
		if c.dropped {
			c.ddl.RUnlock()
			continue
		}
		if !c.persisted.Load() {
			c.ddl.RUnlock()
			return nil, nil, nil
		}
		var once sync.Once
		return c, func() { once.Do(c.ddl.RUnlock) }, nil
	}
}

// ReapExpired deletes the documents that have expired (by Options.Now),
// in batches of up to 256 through the normal write path, so indexes,
// counts and the change feed follow; each document is checked again under
// its lock. It pauses between batches and stops when ctx ends or the DB
// closes. It returns how many documents it deleted. The reaper calls it
// every Options.TTLInterval.
//
// With a reaper gate set (SetReaperGate) that returns false, it does
// nothing; with a Proposer set, each batch is proposed as a CmdExpire
// command.
func (db *DB) ReapExpired(ctx context.Context) (int64, error) {
	if g := db.repl.reapGate.Load(); g != nil && !(*g)() {
		return 0, nil
	}
	db.mu.Lock()
	names := make([]string, 0, len(db.cols))
	for n := range db.cols {
		names = append(names, n)
	}
	db.mu.Unlock()
	sort.Strings(names)
	var total int64
	for _, col := range names {
		n, err := db.sweepExpiry(ctx, col, false)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// sweepExpiry runs reaper ops over col's expiry keys, a batch at a time:
// those due by now, or all of them when all is set (after a TTL index is
// dropped, to delete the keys it made stale).
func (db *DB) sweepExpiry(ctx context.Context, col string, all bool) (int64, error) {
	prefix := keyenc.ExpiryPrefix(col)
	var total int64
	var after, lastFirst []byte
	for first := true; ; first = false {
		// The reaper leaves room for foreground writes; a drop's sweep
		// is itself foreground work.
		if !first && !all {
			t := time.NewTimer(reapPause)
			select {
			case <-ctx.Done():
				t.Stop()
				return total, ctxErr(ctx, "reap")
			case <-db.closing:
				t.Stop()
				return total, nil
			case <-t.C:
			}
		}
		if err := ctxErr(ctx, "reap"); err != nil {
			return total, err
		}
		select {
		case <-db.closing:
			return total, nil
		default:
		}
		if db.getCollection(col) == nil {
			return total, nil
		}
		upper := keyenc.PrefixEnd(prefix)
		if !all {
			upper = keyenc.ExpiryBound(col, db.nowMS()+1)
		}
		it := db.engine.NewIter(&storage.IterOptions{LowerBound: prefix, UpperBound: upper})
		ok := it.First()
		if after != nil {
			ok = it.SeekGE(append(bytes.Clone(after), 0))
		}
		var ops []*docOp
		byID := map[string]*docOp{}
		for ; ok && len(ops) < reapBatchDocs; ok = it.Next() {
			_, id, err := keyenc.DecodeExpiryKey(it.Key(), len(prefix))
			if err != nil {
				it.Close()
				return total, err
			}
			k := bytes.Clone(it.Key())
			after = k
			if op := byID[id]; op != nil {
				op.expire.keys = append(op.expire.keys, k)
				continue
			}
			op := newExpireOp(id, [][]byte{k})
			byID[id] = op
			ops = append(ops, op)
		}
		if err := it.Close(); err != nil {
			return total, err
		}
		if len(ops) == 0 {
			return total, nil
		}
		if !all {
			// Due keys are deleted (or moved to their later right time)
			// by the batch: start over. A batch that found the same first
			// key as the last one wrote nothing (its collection is gone).
			if bytes.Equal(ops[0].expire.keys[0], lastFirst) {
				return total, nil
			}
			lastFirst = ops[0].expire.keys[0]
			after = nil
		}
		if p := db.proposer(ctx); p != nil && !all {
			n, err := db.proposeExpire(ctx, p, col, ops)
			total += n
			if err != nil {
				return total, err
			}
			continue
		}
		if err := db.write(ctx, col, ops); err != nil {
			return total, err
		}
		for _, op := range ops {
			if op.expire.reaped {
				total++
			}
		}
	}
}

// SetReaperGate makes the reaper run only while gate returns true (nil:
// always). A cluster node passes "this node is the leader": only the
// leader reaps, and it proposes its deletes through the log.
func (db *DB) SetReaperGate(gate func() bool) {
	if gate == nil {
		db.repl.reapGate.Store(nil)
		return
	}
	db.repl.reapGate.Store(&gate)
}

// proposeExpire proposes a reaper batch as a CmdExpire command: the due
// expiry keys found for ops, stamped with the reaper's clock (the time
// they were found due by). It returns how many documents it deleted.
func (db *DB) proposeExpire(ctx context.Context, p Proposer, col string, ops []*docOp) (int64, error) {
	cmd := &WriteCommand{Kind: CmdExpire, Col: col, Now: db.now().UnixNano()}
	for _, op := range ops {
		cmd.Bodies = append(cmd.Bodies, op.expire.keys...)
	}
	r, err := p(ctx, cmd)
	if err == nil {
		err = r.Err
	}
	return r.Multi.Deleted, err
}

// applyExpire applies a CmdExpire command: reaper ops for the documents
// of the due expiry keys, in one batch. Each document is deleted (as
// OpExpire) if it has still expired by the time of the write — the
// entry's, in an applied command — under its lock; a rewritten one stays.
// Keys that are not col's expiry keys, or more documents than a reaper
// batch holds, are a bad command.
func (db *DB) applyExpire(ctx context.Context, col string, keys [][]byte) (ManyResult, error) {
	if st := applyStateOf(ctx); st != nil {
		st.single = true
	}
	prefix := keyenc.ExpiryPrefix(col)
	var ops []*docOp
	byID := map[string]*docOp{}
	for _, k := range keys {
		if !bytes.HasPrefix(k, prefix) {
			return ManyResult{}, errf(CodeBadRequest, "expire command: a key is not an expiry key of collection %q", col)
		}
		_, id, err := keyenc.DecodeExpiryKey(k, len(prefix))
		if err != nil {
			return ManyResult{}, errf(CodeBadRequest, "expire command: bad expiry key: %v", err)
		}
		if op := byID[id]; op != nil {
			op.expire.keys = append(op.expire.keys, k)
			continue
		}
		if len(ops) == reapBatchDocs {
			return ManyResult{}, errf(CodeBadRequest, "expire command: over %d documents", reapBatchDocs)
		}
		op := newExpireOp(id, [][]byte{k})
		byID[id] = op
		ops = append(ops, op)
	}
	var r ManyResult
	if len(ops) == 0 {
		return r, nil
	}
	if err := db.write(ctx, col, ops); err != nil {
		return r, err
	}
	for _, op := range ops {
		if op.expire.reaped {
			r.Deleted++
		}
	}
	return r, nil
}

// reapLoop runs the reaper every Options.TTLInterval until Close.
func (db *DB) reapLoop() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-db.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	t := time.NewTicker(db.opts.TTLInterval)
	defer t.Stop()
	for {
		select {
		case <-db.closing:
			return
		case <-t.C:
		}
		n, err := db.ReapExpired(ctx)
		switch {
		case err != nil && !isCtxErr(err) && !errors.Is(err, storage.ErrClosed):
			db.opts.Logger.Warn("docstore: the TTL reaper failed; the next run retries", "err", err, "deleted", n)
		case n > 0:
			db.opts.Logger.Debug("docstore: TTL reaper deleted expired documents", "deleted", n)
		}
	}
}
