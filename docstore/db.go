package docstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
	"github.com/minidbgo/minidbgo/storage"
)

// Options configure a DB. A nil *Options, or any zero field, selects the
// default.
type Options struct {
	// Storage configures the engine (used by Open only).
	Storage *storage.Options
	// MaxDocumentBytes bounds one document's JSON. Default 10 MiB.
	MaxDocumentBytes int
	// MaxDepth bounds JSON nesting. Default 64.
	MaxDepth int
	// MaxFieldNameBytes bounds an object key. Default 4 KiB.
	MaxFieldNameBytes int
	// MaxFieldsPerObject bounds the members of one object. Default 10,000.
	MaxFieldsPerObject int
	// MaxBatchDocs bounds InsertMany. Default 1,000.
	MaxBatchDocs int
	// DefaultLimit is the page size of a query without a limit. Default 1,000.
	DefaultLimit int
	// MaxLimit caps a query's limit. Default 1,000.
	MaxLimit int
	// MaxSortDocs bounds the documents an unindexed sort holds in memory
	// (skip + limit). Default 100,000.
	MaxSortDocs int
	// MaxDistinctBytes bounds the memory of one Distinct: the encoded
	// distinct values plus 64 bytes each. Default 16 MiB (MongoDB's
	// limit on a distinct result).
	MaxDistinctBytes int
	// Logger receives what happens in the background, such as an index
	// build resumed at open that fails. Default: Storage.Logger, else
	// nothing.
	Logger *slog.Logger
	// MaxSortBytes bounds the memory an unindexed sort holds, at the
	// documents' estimated in-memory size (a few times their JSON): a sort
	// that needs more fails with code sort_too_large. Default 64 MiB.
	MaxSortBytes int64
	// ChangesRetention is how long the change feed keeps a record (by its
	// commit time): older ones are trimmed in the background. Default
	// 24h; negative: no limit by age.
	ChangesRetention time.Duration
	// ChangesRetentionRecords, when positive, is how many records the
	// change feed keeps: the oldest beyond it are trimmed in the
	// background. Default 0: no limit by count.
	ChangesRetentionRecords int64
	// TTLInterval is how often the reaper deletes expired documents
	// (ReapExpired). Default 60 s; negative: no reaper (expired documents
	// stay hidden until ReapExpired is called).
	TTLInterval time.Duration
	// Now is the clock of change records, their retention and expiry
	// (which documents have expired). Default time.Now.
	Now func() time.Time
}

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.MaxDocumentBytes <= 0 {
		c.MaxDocumentBytes = 10 << 20
	}
	if c.MaxDepth <= 0 {
		c.MaxDepth = 64
	}
	if c.MaxFieldNameBytes <= 0 {
		c.MaxFieldNameBytes = 4 << 10
	}
	if c.MaxFieldsPerObject <= 0 {
		c.MaxFieldsPerObject = 10000
	}
	if c.MaxBatchDocs <= 0 {
		c.MaxBatchDocs = 1000
	}
	if c.DefaultLimit <= 0 {
		c.DefaultLimit = 1000
	}
	if c.MaxLimit <= 0 {
		c.MaxLimit = 1000
	}
	if c.DefaultLimit > c.MaxLimit {
		c.DefaultLimit = c.MaxLimit
	}
	if c.MaxSortDocs <= 0 {
		c.MaxSortDocs = 100000
	}
	if c.MaxDistinctBytes <= 0 {
		c.MaxDistinctBytes = 16 << 20
	}
	if c.Logger == nil && c.Storage != nil {
		c.Logger = c.Storage.Logger
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxSortBytes <= 0 {
		c.MaxSortBytes = 64 << 20
	}
	if c.TTLInterval == 0 {
		c.TTLInterval = DefaultTTLInterval
	}
	if c.ChangesRetention == 0 {
		c.ChangesRetention = 24 * time.Hour
	}
	return c
}

// DB is a document database over a storage engine. Safe for concurrent use.
type DB struct {
	engine    *storage.DB
	ownEngine bool
	opts      Options
	limits    jsondoc.Limits

	locks lockTable // per-document write locks

	lastRev atomic.Uint64

	mu   sync.Mutex // protects cols
	cols map[string]*collection

	deltaSeq atomic.Uint64

	feed feed // the change feed (changes.go)

	repl replication // cluster mode (command.go)

	cursorKey [32]byte // signs cursor tokens (cursor.go); never stored

	// pendingBuilds are the index builds found interrupted at open.
	pendingBuilds []pendingBuild
	closing       chan struct{} // closed by Close: background builds stop
	closeOnce     sync.Once
	bg            sync.WaitGroup // background index builds and stats folds
	bgMu          sync.Mutex     // orders goBackground's bg.Add before Close's bg.Wait
	bgClosed      bool           // set by Close under bgMu: no new background work
}

// Open opens (or creates) a database in dir.
func Open(dir string, opts *Options) (*DB, error) {
	o := opts.withDefaults()
	engine, err := storage.Open(dir, o.Storage)
	if err != nil {
		return nil, err
	}
	db, err := New(engine, &o)
	if err != nil {
		_ = engine.Close()
		return nil, err
	}
	db.ownEngine = true
	return db, nil
}

// New returns a DB over an open engine. Close does not close the engine.
func New(engine *storage.DB, opts *Options) (*DB, error) {
	db := &DB{engine: engine, opts: opts.withDefaults(), cols: make(map[string]*collection), cursorKey: newCursorKey(), closing: make(chan struct{})}
	db.limits = jsondoc.Limits{MaxDepth: db.opts.MaxDepth, MaxKeyBytes: db.opts.MaxFieldNameBytes, MaxMembers: db.opts.MaxFieldsPerObject}
	db.deltaSeq.Store(uint64(time.Now().UnixNano()))
	if err := db.loadCollections(); err != nil {
		return nil, err
	}
	if err := db.loadFeed(); err != nil {
		return nil, err
	}
	db.loadApplied()
	if err := db.removeOrphans(); err != nil {
		if !errors.Is(err, storage.ErrCorruption) {
			return nil, err
		}
		// A damaged table degrades the engine rather than stopping it
		// (storage's damage.go); the sweep is housekeeping, so it waits
		// for a database that has been repaired or restored.
		db.opts.Logger.Error("docstore: skipped removing crash leftovers: a table is damaged", "err", err)
	}
	db.resumeBuilds()
	db.goBackground(db.trimLoop)
	if db.opts.TTLInterval > 0 {
		db.goBackground(db.reapLoop)
	}
	return db, nil
}

// Close stops the background index builds (an unfinished one resumes at
// the next open), the change feed's trimmer and the TTL reaper, waits
// for them and for the stats folds in progress, and
// closes the engine if Open opened it. A DB made by New must be closed
// before its engine.
func (db *DB) Close() error {
	db.bgMu.Lock()
	db.bgClosed = true
	db.bgMu.Unlock()
	db.closeOnce.Do(func() { close(db.closing) })
	db.bg.Wait()
	if db.ownEngine {
		return db.engine.Close()
	}
	return nil
}

// goBackground runs f on its own goroutine, which Close waits for. It
// reports false, and does not run f, once Close has begun.
func (db *DB) goBackground(f func()) bool {
	db.bgMu.Lock()
	defer db.bgMu.Unlock()
	if db.bgClosed {
		return false
	}
	db.bg.Add(1)
	go func() {
		defer db.bg.Done()
		f()
	}()
	return true
}

// Limits returns the effective limits.
func (db *DB) Limits() Options { return db.opts }

// ValidName reports whether s is a valid collection or index name:
// ^[A-Za-z0-9_-]{1,64}$.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func checkName(kind, s string) error {
	if !ValidName(s) {
		e := errf(CodeInvalidName, "invalid %s name %q: must match ^[A-Za-z0-9_-]{1,64}$", kind, s)
		return e
	}
	return nil
}

// nextRev returns a new document revision: unique and increasing for the
// life of the database (time-based, so it survives restarts).
func (db *DB) nextRev() uint64 {
	for {
		last := db.lastRev.Load()
		next := max(uint64(time.Now().UnixNano()), last+1)
		if db.lastRev.CompareAndSwap(last, next) {
			return next
		}
	}
}

// lockDocs locks the given documents, in a fixed order so that batches
// cannot deadlock, and returns the unlock function. Locks are per _id, so
// batches of different documents never wait for each other.
func (db *DB) lockDocs(col string, ids []string) func() {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = col + "\x00" + id
	}
	sort.Strings(keys)
	keys = slices.Compact(keys)
	held := make([]*keyLock, len(keys))
	for i, k := range keys {
		held[i] = db.locks.lock(k)
	}
	return func() {
		for i := len(keys) - 1; i >= 0; i-- {
			db.locks.unlock(keys[i], held[i])
		}
	}
}

// lockTable hands out a mutex per key, existing only while someone holds
// or waits for it.
type lockTable struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	mu   sync.Mutex
	refs int // guarded by lockTable.mu
}

func (t *lockTable) lock(key string) *keyLock {
	t.mu.Lock()
	if t.m == nil {
		t.m = make(map[string]*keyLock)
	}
	l := t.m[key]
	if l == nil {
		l = &keyLock{}
		t.m[key] = l
	}
	l.refs++
	t.mu.Unlock()
	l.mu.Lock()
	return l
}

func (t *lockTable) unlock(key string, l *keyLock) {
	l.mu.Unlock()
	t.mu.Lock()
	if l.refs--; l.refs == 0 {
		delete(t.m, key)
	}
	t.mu.Unlock()
}

// A stored document is its revision followed by its JSON:
//
//	+-----------------+------------------ ... --+
//	| rev uint64 BE   | JSON (compact, _id first) |
//	+-----------------+------------------ ... --+
func encodeStored(rev uint64, json []byte) []byte {
	b := make([]byte, 8, 8+len(json))
	binary.BigEndian.PutUint64(b, rev)
	return append(b, json...)
}

func decodeStored(v []byte) (rev uint64, json []byte, err error) {
	if len(v) < 8 {
		return 0, nil, fmt.Errorf("docstore: stored document is %d bytes, shorter than its header", len(v))
	}
	return binary.BigEndian.Uint64(v[:8]), v[8:], nil
}
