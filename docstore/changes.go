package docstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minidbgo/minidbgo/docstore/internal/keyenc"
	"github.com/minidbgo/minidbgo/storage"
)

// The change feed. Every committed write appends one change record per
// document it writes (and a drop one for the collection) in the same
// storage batch as the write, so a write and its record are durable
// together or not at all. A record's key ends in the storage sequence
// number of its batch entry, completed by the engine at commit time
// (storage.Batch.PutSeqKey): records sort in exact commit order, need no
// lock of their own, and a snapshot at engine sequence S holds exactly the
// records with Seq <= S. Seqs are therefore ascending and unique but not
// dense: the engine's other writes (documents, index entries, counts)
// take the numbers between them.
//
// Keys (see the package doc's Keyspace):
//
//	'f' <seq BE>          a record: op u8 | uvarint rev | uvarint commit
//	                      time (Unix ms) | uvarint len(col) | col | id
//	'h'                   horizon: uint64 BE, the highest seq trimmed
//
// One key per record, for every collection: a collection's feed is the
// feed filtered by the record's collection (as CouchDB's filtered feeds
// are), which a read decodes without allocating, at most
// changesScanBudget records per call. A second key per record, ordered by
// collection, would spare those reads the other collections' records but
// cost every write another engine entry: measured on BenchmarkDocstore's
// InsertMany, the two keys took 38% more CPU per document than no feed,
// one key 16% (fewer entries per memtable means more flushes and
// compactions).

// ChangeOp says what a change record records.
type ChangeOp string

// The change operations.
const (
	OpInsert  ChangeOp = "insert"  // a document that did not exist was written
	OpReplace ChangeOp = "replace" // a whole document was replaced (PUT, replaceOne, restore/import over an existing one)
	OpUpdate  ChangeOp = "update"  // update operators / merge patch changed it
	OpDelete  ChangeOp = "delete"
	OpExpire  ChangeOp = "expire" // the TTL reaper removed it
	OpDrop    ChangeOp = "drop"   // the collection was dropped (ID empty)
)

// Change is one committed write, as the feed records it (no document body).
type Change struct {
	Seq        uint64 // ascending in commit order; unique
	Collection string
	ID         string // empty for OpDrop
	Op         ChangeOp
	Rev        uint64 // the document's revision after the write (0 for delete/expire/drop)
}

// ChangesOptions selects a page of the feed.
type ChangesOptions struct {
	Collection string // "" = every collection
	Since      uint64 // return changes with Seq > Since
	Limit      int    // at most this many; <= 0 means the DB's MaxLimit
}

// ChangesPage is one page of the feed.
type ChangesPage struct {
	Changes []Change
	// LastSeq is what to pass as Since to continue: the seq of the last
	// change returned, or, when fewer than Limit were found, the feed's
	// end as this read saw it.
	LastSeq uint64
	// OldestSeq is the oldest seq still retained (0 if the feed is empty).
	OldestSeq uint64
}

const (
	feedTag        = 'f'
	feedHorizonTag = 'h'
)

// changesScanBudget bounds the records one Changes call of a collection's
// feed examines: past it the call returns what it found, its LastSeq the
// last seq examined. A variable for tests.
var changesScanBudget = 10000

var (
	feedPrefix     = []byte{feedTag}
	feedHorizonKey = []byte{feedHorizonTag}
)

func feedKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{feedTag}, seq)
}

var opCodes = [...]ChangeOp{1: OpInsert, 2: OpReplace, 3: OpUpdate, 4: OpDelete, 5: OpExpire, 6: OpDrop}

func opCode(op ChangeOp) byte {
	for i, o := range opCodes {
		if o == op && i > 0 {
			return byte(i)
		}
	}
	panic("docstore: unknown change op " + string(op))
}

func appendChangeValue(dst []byte, op ChangeOp, rev uint64, ms int64, col, id string) []byte {
	dst = append(dst, opCode(op))
	dst = binary.AppendUvarint(dst, rev)
	dst = binary.AppendUvarint(dst, uint64(max(ms, 0)))
	dst = binary.AppendUvarint(dst, uint64(len(col)))
	dst = append(dst, col...)
	return append(dst, id...)
}

var errBadChange = errors.New("docstore: malformed change record")

// decodeChange decodes a record; key is its 'f' key, whose last 8 bytes
// are its seq. It returns the commit time in Unix ms too.
func decodeChange(key, v []byte) (Change, int64, error) {
	if len(key) < 9 || len(v) < 1 || int(v[0]) >= len(opCodes) || v[0] == 0 {
		return Change{}, 0, fmt.Errorf("%w: key %q", errBadChange, key)
	}
	ch := Change{Seq: binary.BigEndian.Uint64(key[len(key)-8:]), Op: opCodes[v[0]]}
	p := v[1:]
	var n int
	var ms, colLen uint64
	if ch.Rev, n = binary.Uvarint(p); n <= 0 {
		return Change{}, 0, fmt.Errorf("%w: key %q", errBadChange, key)
	}
	p = p[n:]
	if ms, n = binary.Uvarint(p); n <= 0 {
		return Change{}, 0, fmt.Errorf("%w: key %q", errBadChange, key)
	}
	p = p[n:]
	if colLen, n = binary.Uvarint(p); n <= 0 || colLen > uint64(len(p)-n) {
		return Change{}, 0, fmt.Errorf("%w: key %q", errBadChange, key)
	}
	p = p[n:]
	ch.Collection, ch.ID = string(p[:colLen]), string(p[colLen:])
	return ch, int64(ms), nil
}

// changeOf reports whether record value v is of collection col, without
// allocating; a malformed value answers true, for decodeChange to report.
func changeOf(v []byte, col string) bool {
	p := v[min(len(v), 1):]
	for range 2 { // rev, time
		_, n := binary.Uvarint(p)
		if n <= 0 {
			return true
		}
		p = p[n:]
	}
	colLen, n := binary.Uvarint(p)
	if n <= 0 || colLen > uint64(len(p)-n) {
		return true
	}
	return string(p[n:n+int(colLen)]) == col
}

// changeOp is the op recorded for a docOp that went from existed to
// exists: creating a document is an insert and removing one a delete
// whatever the caller said, except that the TTL reaper's removals are
// expiries; rewriting one is an update when the caller said so (update
// operators, a merge patch) and a replace otherwise.
func changeOp(intent ChangeOp, existed, exists bool) ChangeOp {
	switch {
	case !exists && intent == OpExpire:
		return OpExpire
	case !exists:
		return OpDelete
	case !existed:
		return OpInsert
	case intent == OpUpdate:
		return OpUpdate
	}
	return OpReplace
}

// changeBatch adds change records to one storage batch.
type changeBatch struct {
	col   string
	ms    int64 // commit time of every record of the batch
	first int   // batch entry of the first record, -1 before any
	last  int
	n     int
	// det, in an applied command (command.go), gives the records their
	// seqs instead of the engine: firstSeq and lastSeq are theirs.
	det               *applyState
	firstSeq, lastSeq uint64
}

func newChangeBatch(col string, now time.Time) changeBatch {
	return changeBatch{col: col, ms: now.UnixMilli(), first: -1}
}

// add puts one record into b, under 'f' and the entry's own sequence
// number.
func (cb *changeBatch) add(b *storage.Batch, op ChangeOp, id string, rev uint64) {
	var buf [96]byte // the batch copies the value: no allocation for most
	val := appendChangeValue(buf[:0], op, rev, cb.ms, cb.col, id)
	if cb.det != nil {
		seq := cb.det.next()
		b.Put(feedKey(seq), val)
		if cb.n == 0 {
			cb.firstSeq = seq
		}
		cb.lastSeq = seq
		cb.n++
		return
	}
	ref := b.PutSeqKey(feedPrefix, val)
	if cb.first < 0 {
		cb.first = ref
	}
	cb.last = ref
	cb.n++
}

// committed tells the feed that b, holding cb's records, committed.
func (db *DB) committed(cb *changeBatch, b *storage.Batch) {
	if cb.n == 0 {
		return
	}
	if cb.det != nil {
		db.feed.noteCommit(cb.firstSeq, cb.lastSeq, cb.n)
	} else {
		db.feed.noteCommit(b.SeqOf(cb.first), b.SeqOf(cb.last), cb.n)
	}
	if n := db.opts.ChangesRetentionRecords; n > 0 && db.feed.count.Load() > n {
		select {
		case db.feed.trimC <- struct{}{}:
		default:
		}
	}
}

// feed is the change feed's state in memory.
type feed struct {
	last atomic.Uint64 // FeedSeq
	// oldest and horizon change under mu, which orders a writer's setting
	// of oldest (when the feed was empty) with the trimmer's.
	mu      sync.Mutex
	oldest  atomic.Uint64
	horizon atomic.Uint64 // the highest seq trimmed
	// count is the number of records retained, kept only when retention
	// by records is on (Open counts them then).
	count atomic.Int64
	// wake is the broadcast WaitChange waits on: made by the first waiter
	// after a commit, closed (and cleared) by the next commit.
	wakeMu sync.Mutex
	wake   atomic.Pointer[chan struct{}]
	trimC  chan struct{} // nudges the trimmer
	trimMu sync.Mutex    // one trim at a time
}

func (f *feed) noteCommit(first, last uint64, n int) {
	for {
		cur := f.last.Load()
		if last <= cur || f.last.CompareAndSwap(cur, last) {
			break
		}
	}
	if f.oldest.Load() == 0 {
		f.mu.Lock()
		if first > f.horizon.Load() && (f.oldest.Load() == 0 || first < f.oldest.Load()) {
			f.oldest.Store(first)
		}
		f.mu.Unlock()
	}
	f.count.Add(int64(n))
	if f.wake.Load() != nil {
		f.wakeMu.Lock()
		if p := f.wake.Swap(nil); p != nil {
			close(*p)
		}
		f.wakeMu.Unlock()
	}
}

// waitChan returns the channel the next commit closes.
func (f *feed) waitChan() <-chan struct{} {
	if p := f.wake.Load(); p != nil {
		return *p
	}
	f.wakeMu.Lock()
	defer f.wakeMu.Unlock()
	if p := f.wake.Load(); p != nil {
		return *p
	}
	ch := make(chan struct{})
	f.wake.Store(&ch)
	return ch
}

// FeedSeq returns the feed's current end: every change with Seq <=
// FeedSeq() is committed and readable. `since=now` means Since =
// FeedSeq(). It may be above the last change's seq (after a restart it is
// the engine's last sequence number).
func (db *DB) FeedSeq() uint64 { return db.feed.last.Load() }

// WaitChange blocks until FeedSeq() > after or ctx ends (returning ctx's
// error) or the DB closes (storage.ErrClosed). Waiters share one
// broadcast, a channel the next commit closes: no per-subscriber buffer
// or goroutine.
func (db *DB) WaitChange(ctx context.Context, after uint64) error {
	for {
		ch := db.feed.waitChan()
		if db.FeedSeq() > after {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-db.closing:
			return storage.ErrClosed
		}
	}
}

// Changes returns, in ascending Seq, up to Limit changes after Since,
// from a snapshot: memory is bounded by Limit. If records after Since were
// trimmed by retention it returns an *Error with Code CodeHistoryLost
// (HTTP 410 history_lost); for a collection's feed, when any record after
// Since was trimmed (the trimmer keeps one horizon for the whole feed).
// A collection's feed examines at most changesScanBudget records per call
// (those of other collections included): a call that stops there returns
// fewer than Limit changes, its LastSeq the last seq it examined.
func (db *DB) Changes(ctx context.Context, opts ChangesOptions) (ChangesPage, error) {
	if opts.Collection != "" {
		if err := checkName("collection", opts.Collection); err != nil {
			return ChangesPage{}, err
		}
	}
	if err := ctxErr(ctx, "changes"); err != nil {
		return ChangesPage{}, err
	}
	limit := opts.Limit
	if limit <= 0 || limit > db.opts.MaxLimit {
		limit = db.opts.MaxLimit
	}
	end := db.FeedSeq() // every record up to end is in the snapshot
	snap := db.engine.NewSnapshot()
	defer snap.Close()
	horizon, err := readHorizon(snap.Get)
	if err != nil {
		return ChangesPage{}, err
	}
	if opts.Since < horizon {
		return ChangesPage{}, &Error{Code: CodeHistoryLost, Index: -1,
			Msg: fmt.Sprintf("changes after seq %d were trimmed by retention: the feed now starts after seq %d", opts.Since, horizon)}
	}
	page := ChangesPage{OldestSeq: db.feed.oldest.Load(), LastSeq: opts.Since}
	it := snap.NewIter(&storage.IterOptions{Prefix: feedPrefix})
	start := feedKey(opts.Since + 1)
	if opts.Since == ^uint64(0) {
		start = keyenc.PrefixEnd(feedPrefix)
	}
	examined, stopped := 0, false
	for ok := it.SeekGE(start); ok && len(page.Changes) < limit; ok = it.Next() {
		if examined%checkEvery == checkEvery-1 {
			if err := ctxErr(ctx, "changes"); err != nil {
				it.Close()
				return ChangesPage{}, err
			}
		}
		if opts.Collection != "" && examined >= changesScanBudget {
			stopped = true
			break
		}
		examined++
		if opts.Collection != "" && !changeOf(it.Value(), opts.Collection) {
			page.LastSeq = binary.BigEndian.Uint64(it.Key()[1:])
			continue
		}
		ch, _, err := decodeChange(it.Key(), it.Value())
		if err != nil {
			it.Close()
			return ChangesPage{}, err
		}
		page.Changes = append(page.Changes, ch)
		page.LastSeq = ch.Seq
	}
	if err := it.Close(); err != nil {
		return ChangesPage{}, err
	}
	if len(page.Changes) < limit && !stopped {
		page.LastSeq = max(page.LastSeq, end)
	}
	return page, nil
}

func readHorizon(get func([]byte) ([]byte, error)) (uint64, error) {
	v, err := get(feedHorizonKey)
	if errors.Is(err, storage.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("docstore: feed horizon is %d bytes, not 8", len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// loadFeed recovers the feed's state at open: its end (the engine's last
// sequence number), its horizon and oldest record, and, when retention
// by records is on, how many records it holds.
func (db *DB) loadFeed() error {
	db.feed.trimC = make(chan struct{}, 1)
	snap := db.engine.NewSnapshot()
	defer snap.Close()
	db.feed.last.Store(snap.Seq())
	horizon, err := readHorizon(snap.Get)
	if err != nil {
		return err
	}
	db.feed.horizon.Store(horizon)
	it := snap.NewIter(&storage.IterOptions{Prefix: feedPrefix})
	var n int64
	for ok := it.SeekGE(feedKey(horizon + 1)); ok; ok = it.Next() {
		if n == 0 {
			db.feed.oldest.Store(binary.BigEndian.Uint64(it.Key()[1:]))
		}
		n++
		if db.opts.ChangesRetentionRecords <= 0 {
			break
		}
	}
	db.feed.count.Store(n)
	return it.Close()
}

// trimBatch is how many records one trimming batch deletes.
const trimBatch = 1000

// trimLoop runs the retention trimmer until Close: every trimInterval,
// and when a write takes the feed over its record limit.
func (db *DB) trimLoop() {
	interval := time.Minute
	if r := db.opts.ChangesRetention; r > 0 && r/4 < interval {
		interval = max(r/4, 10*time.Millisecond)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-db.closing:
			return
		case <-t.C:
		case <-db.feed.trimC:
		}
		if _, err := db.trimChanges(); err != nil && !errors.Is(err, storage.ErrClosed) {
			db.opts.Logger.Warn("docstore: trimming the change feed failed; the next run retries", "err", err)
		}
	}
}

// trimChanges deletes the records beyond retention, oldest first: those
// older than ChangesRetention and those beyond the newest
// ChangesRetentionRecords. The engine has no range deletion, so it
// deletes them a key at a time, trimBatch records per batch, each batch
// also moving the horizon. It returns how many it deleted.
func (db *DB) trimChanges() (int, error) {
	var cutoff int64 = -1 // records with a time below cutoff are too old
	if r := db.opts.ChangesRetention; r > 0 {
		cutoff = db.now().Add(-r).UnixMilli()
	}
	keep := db.opts.ChangesRetentionRecords
	db.feed.trimMu.Lock()
	defer db.feed.trimMu.Unlock()
	total := 0
	for {
		select {
		case <-db.closing:
			return total, nil
		default:
		}
		var excess int64
		if keep > 0 {
			excess = db.feed.count.Load() - keep
		}
		horizon := db.feed.horizon.Load()
		it := db.engine.NewIter(&storage.IterOptions{Prefix: feedPrefix})
		b := db.engine.NewBatch()
		var last uint64
		n := 0
		for ok := it.SeekGE(feedKey(horizon + 1)); ok && n < trimBatch; ok = it.Next() {
			ch, ms, err := decodeChange(it.Key(), it.Value())
			if err != nil {
				it.Close()
				return total, err
			}
			if int64(n) >= excess && ms >= cutoff {
				break
			}
			b.Delete(it.Key())
			last = ch.Seq
			n++
		}
		if err := it.Close(); err != nil {
			return total, err
		}
		if n == 0 {
			return total, nil
		}
		b.Put(feedHorizonKey, binary.BigEndian.AppendUint64(nil, last))
		// The horizon moves in memory before the deletion commits, so
		// that a writer adding the first record of an empty feed never
		// takes a trimmed one for the oldest. (Readers take the horizon
		// from their snapshot.)
		db.feed.mu.Lock()
		db.feed.horizon.Store(last)
		db.feed.mu.Unlock()
		if err := db.engine.Apply(b); err != nil {
			db.feed.mu.Lock()
			db.feed.horizon.Store(horizon) // the next run trims them again
			db.feed.mu.Unlock()
			return total, err
		}
		db.feed.count.Add(int64(-n))
		total += n
		// The oldest record is the first one left, which a writer may
		// have just added to an empty feed.
		db.feed.mu.Lock()
		it = db.engine.NewIter(&storage.IterOptions{Prefix: feedPrefix})
		oldest := uint64(0)
		if it.SeekGE(feedKey(last + 1)) {
			oldest = binary.BigEndian.Uint64(it.Key()[1:])
		}
		err := it.Close()
		if err == nil {
			db.feed.oldest.Store(oldest)
		}
		db.feed.mu.Unlock()
		if err != nil {
			return total, err
		}
	}
}

// now is the clock of change records and retention.
func (db *DB) now() time.Time {
	if db.opts.Now != nil {
		return db.opts.Now()
	}
	return time.Now()
}
