package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/minidbgo/minidbgo/storage/internal/base"
	"github.com/minidbgo/minidbgo/storage/internal/cache"
	"github.com/minidbgo/minidbgo/storage/internal/manifest"
	"github.com/minidbgo/minidbgo/storage/internal/memtable"
	"github.com/minidbgo/minidbgo/storage/internal/wal"
	"github.com/minidbgo/minidbgo/storage/vfs"
)

// DB is an open database. All methods are safe for concurrent use. A DB must
// be closed with Close, which waits for its background work.
type DB struct {
	dir  string
	opts Options
	fs   vfs.FS
	lock io.Closer

	blockCache *cache.Cache
	tc         *tableCache

	lockInfo os.FileInfo // the LOCK file Open locked; see checkDir

	recovery Recovery // what Open replayed; read-only after Open

	closed     atomic.Bool
	visibleSeq atomic.Uint64 // every write with seq <= visibleSeq is durable (per mode) and readable
	readOnly   atomic.Pointer[error]
	damage     damageState // tables found damaged (damage.go)

	// wmu serialises the commit pipeline. Lock order: wmu, then mu, then rsMu.
	wmu       sync.Mutex
	writers   []*writer // queue; writers[0] is the leader
	lastSeq   base.SeqNum
	walW      *wal.Writer // owned by the leader; swapped under wmu+mu
	walFile   vfs.File
	walNum    uint64
	lastGroup int // size of the last commit group (group durability)
	// lastRotated is the memtable the leader's makeRoomForWrite froze, if any.
	lastRotated *memTable
	// seqKeyBuf is the leader's scratch for completing SETSEQ keys.
	seqKeyBuf []byte

	mu struct {
		sync.Mutex
		mem         *memTable
		imm         []*memTable // oldest first
		version     *manifest.Version
		nextFileNum uint64
		logNum      uint64
		manifest    *wal.Writer
		manifestNum uint64
		// manifestBusy is set while a version edit is written to the
		// MANIFEST with d.mu released (logAndApplyLocked); the next edit
		// waits on manifestCond.
		manifestBusy bool
		manifestCond sync.Cond
		snapshots    snapshotList
		flushErr     error
		flushEpoch   uint64        // incremented after each flush attempt
		changed      chan struct{} // closed and replaced after each flush or compaction
		compacting   bool
		compactPtr   [manifest.NumLevels][]byte
		closing      bool
	}

	rsMu sync.RWMutex
	rs   *readState

	compactMu sync.Mutex // one compaction at a time, manual or automatic
	flushC    chan struct{}
	compactC  chan struct{}
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup

	m metricsCounters
}

// memTable is a memtable and the WAL that holds its writes.
type memTable struct {
	*memtable.MemTable
	walNum uint64
}

func newMemTable(walNum uint64) *memTable {
	return &memTable{MemTable: memtable.New(), walNum: walNum}
}

// readState is what a read needs: the memtables and the version, pinned
// together.
type readState struct {
	db   *DB
	refs atomic.Int32
	mem  *memTable
	imm  []*memTable
	v    *manifest.Version
}

func (d *DB) loadReadState() *readState {
	d.rsMu.RLock()
	rs := d.rs
	rs.refs.Add(1)
	d.rsMu.RUnlock()
	return rs
}

func (rs *readState) unref() {
	if rs.refs.Add(-1) == 0 {
		d := rs.db
		d.mu.Lock()
		rs.v.Unref(d.obsoleteFileLocked)
		d.mu.Unlock()
	}
}

// updateReadStateLocked publishes the current mem, imm and version.
// REQUIRES: d.mu.
func (d *DB) updateReadStateLocked() {
	rs := &readState{db: d, mem: d.mu.mem, imm: append([]*memTable(nil), d.mu.imm...), v: d.mu.version}
	rs.refs.Store(1)
	rs.v.Ref()
	d.rsMu.Lock()
	old := d.rs
	d.rs = rs
	d.rsMu.Unlock()
	if old != nil && old.refs.Add(-1) == 0 {
		old.v.Unref(d.obsoleteFileLocked)
	}
}

// obsoleteFileLocked deletes a table no version references any more.
// REQUIRES: d.mu.
func (d *DB) obsoleteFileLocked(f *manifest.FileMetadata) {
	d.tc.evict(f.FileNum)
	if err := d.fs.Remove(sstPath(d.dir, f.FileNum)); err != nil && !errors.Is(err, errNotExist) {
		d.opts.Logger.Warn("storage: remove obsolete table", "file", sstName(f.FileNum), "err", err)
	}
}

// signalChangedLocked wakes everyone waiting for a flush or compaction.
// REQUIRES: d.mu.
func (d *DB) signalChangedLocked() {
	close(d.mu.changed)
	d.mu.changed = make(chan struct{})
}

func (d *DB) setReadOnly(err error) {
	// An I/O error may be the first sign that the directory is gone:
	// say so, rather than leave the operator with "no such file".
	if !errors.Is(err, ErrDataDirLost) {
		if derr := d.checkDir(); derr != nil {
			err = fmt.Errorf("%w (%w)", derr, err)
		}
	}
	err = fmt.Errorf("%w: %w", ErrReadOnly, err)
	if d.readOnly.CompareAndSwap(nil, &err) { // once: a failing flush retries
		d.opts.Logger.Error("storage: entering read-only mode", "err", err)
	}
}

func (d *DB) readOnlyErr() error {
	if p := d.readOnly.Load(); p != nil {
		return *p
	}
	return nil
}

// Close stops background work, waits for in-flight writes and for every
// worker Open started, makes the WAL durable and releases the directory
// lock. It does not flush the memtable: the WAL holds its contents and the
// next Open replays them. Iterators and snapshots must be closed first.
//
// Close cancels before it waits: a writer (or Flush) stalled for the flush
// worker fails with ErrClosed rather than hold Close up, and a flush or
// compaction in progress stops at its next check.
func (d *DB) Close() error {
	if !d.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	d.mu.Lock()
	d.mu.closing = true
	d.signalChangedLocked()
	d.mu.Unlock()
	d.cancel()
	// Wait for the commit queue to drain: new writers see closed, so the
	// queue ends with Close's own entry, which reaches the head once every
	// writer before it is done.
	d.wmu.Lock()
	w := &writer{flush: true} // flush: no leader groups it with a batch
	w.cond.L = &d.wmu
	d.writers = append(d.writers, w)
	for !w.done && d.writers[0] != w {
		w.cond.Wait()
	}
	if !w.done {
		d.writers = slices.Delete(d.writers, 0, 1)
	}
	d.wmu.Unlock()
	d.wg.Wait()
	// A manual Compact running on another goroutine sees the cancelled
	// context and stops; wait for it before tearing down what it uses.
	d.compactMu.Lock()
	defer d.compactMu.Unlock()

	var errs []error
	d.wmu.Lock()
	if d.walW != nil {
		if err := d.walW.Close(); err != nil && d.readOnlyErr() == nil {
			errs = append(errs, fmt.Errorf("storage: close WAL: %w", err))
		}
		d.walW = nil
	}
	d.wmu.Unlock()

	d.mu.Lock()
	if n := len(d.mu.imm); n > 0 && d.mu.flushErr != nil {
		// Nothing is lost (the WAL holds these writes and the next Open
		// replays them), but the operator must learn that flushes were
		// failing, e.g. on a full disk.
		errs = append(errs, fmt.Errorf("storage: %d memtable(s) could not be flushed (their writes are in the WAL, replayed at the next open): %w", n, d.mu.flushErr))
	}
	if d.mu.manifest != nil {
		if err := d.mu.manifest.Close(); err != nil && d.readOnlyErr() == nil {
			errs = append(errs, fmt.Errorf("storage: close MANIFEST: %w", err))
		}
		d.mu.manifest = nil
	}
	d.mu.Unlock()
	d.tc.close()
	if err := d.lock.Close(); err != nil {
		errs = append(errs, fmt.Errorf("storage: release lock: %w", err))
	}
	return errors.Join(errs...)
}

// Recovery describes what Open replayed from the write-ahead logs.
type Recovery struct {
	// Logs and Records count the logs read and the batches replayed.
	Logs    int
	Records int64
	// TailBytesDropped counts the bytes dropped as torn tails (strict mode).
	TailBytesDropped int64
	// DamagedLog is set only by WALRecoveryPointInTime when it discarded
	// writes: the first damaged log (as "wal/000012.log"), the offset of
	// the first byte discarded from it and the bytes discarded. The log
	// was moved to lost/.
	DamagedLog   string
	DamageOffset int64
	DamagedBytes int64
	// DiscardedLogs names the later logs discarded whole, also moved to
	// lost/.
	DiscardedLogs []string
	// DamagedManifest is set only by WALRecoveryPointInTime when the
	// MANIFEST was damaged or missed an edit: its name and the offset of
	// the damage. The version was rebuilt from the edits before it, and a
	// new MANIFEST holds it.
	DamagedManifest      string
	ManifestDamageOffset int64
	// AdoptedTables names the tables (as "sst/000010.sst") that no surviving
	// edit named and that recovery added to L0: flushes whose edit was
	// lost, holding writes newer than every named table.
	AdoptedTables []string
	// SetAsideTables names the tables no surviving edit named that
	// recovery could not adopt (compaction outputs whose inputs remain,
	// half-written tables); they were moved to lost/.
	SetAsideTables []string
}

// Recovery reports what Open replayed from the write-ahead logs, and in
// WALRecoveryPointInTime mode what it discarded.
func (d *DB) Recovery() Recovery {
	r := d.recovery
	r.DiscardedLogs = slices.Clone(r.DiscardedLogs)
	r.AdoptedTables = slices.Clone(r.AdoptedTables)
	r.SetAsideTables = slices.Clone(r.SetAsideTables)
	return r
}
