package storage

import (
	"sync/atomic"

	"github.com/minidbgo/minidbgo/storage/internal/manifest"
)

// metricsCounters are the engine's running counters.
type metricsCounters struct {
	puts, gets, deletes, batches    atomic.Uint64
	groups, walSyncs, walBytes      atomic.Uint64
	bytesIn, bytesFlushed           atomic.Uint64
	flushes                         atomic.Uint64
	compactions, manualCompactions  atomic.Uint64
	trivialMoves                    atomic.Uint64
	compactBytesIn, compactBytesOut atomic.Uint64
	compactionsRunning              atomic.Int64
	stalls, busy, l0Stalls          atomic.Uint64
	bloomSkips, tableReads          atomic.Uint64
	iterators                       atomic.Uint64
	bgErrors                        atomic.Uint64
	corruptionErrors, degradedBusy  atomic.Uint64
}

// LevelMetrics describes one level of the LSM tree.
type LevelMetrics struct {
	Files int
	Bytes uint64
}

// Metrics is a snapshot of the engine's counters and shape. Counters are
// totals since Open.
type Metrics struct {
	Puts, Gets, Deletes uint64 // operations acknowledged (a batch counts each entry)
	Batches             uint64 // DB.Apply calls acknowledged
	CommitGroups        uint64 // group commits (WAL appends)
	WALSyncs            uint64 // WAL fsyncs
	WALBytes            uint64 // bytes appended to the WAL
	BytesIn             uint64 // user key+value bytes written

	Flushes            uint64 // memtables written to L0
	BytesFlushed       uint64
	Compactions        uint64 // merging compactions completed (automatic and manual)
	ManualCompactions  uint64 // DB.Compact calls that ran
	TrivialMoves       uint64 // tables moved down a level without rewriting
	CompactionBytesIn  uint64
	CompactionBytesOut uint64
	CompactionsRunning int64

	WriteStalls      uint64 // times a writer waited for the immutable queue
	BusyRejections   uint64 // writes refused with ErrBusy
	L0Stalls         uint64 // times flushing waited for L0 compaction
	BackgroundErrors uint64 // failed flushes and compactions (retried)
	ReadOnly         bool   // a WAL or MANIFEST I/O error made the DB read-only
	// Degraded is set once a table was found damaged (see DB.Damage):
	// DamagedTables counts them, CorruptionErrors counts the corruption
	// errors reads and compactions met, and DegradedRejections the writes
	// refused with ErrDegraded.
	Degraded           bool
	DamagedTables      int
	CorruptionErrors   uint64
	DegradedRejections uint64

	MemTableRecords     int
	MemTableBytes       int64
	ImmutableMemTables  int
	Snapshots           int
	BlockCacheHits      uint64
	BlockCacheMisses    uint64
	BlockCacheBytes     int64
	BlockCacheCapacity  int64
	OpenTables          int
	BloomSkips          uint64 // table reads avoided by a bloom filter
	TableReads          uint64 // table point lookups that passed the bloom filter
	IteratorsCreated    uint64
	LastSeq             uint64
	Levels              [manifest.NumLevels]LevelMetrics
	TotalTableBytes     uint64
	TotalTables         int
	ReadAmplification   int // memtables + L0 tables + non-empty deeper levels
	ManifestFileNumber  uint64
	CurrentWALNumber    uint64
	NextFileNumber      uint64
	SmallestSnapshotSeq uint64
}

// Metrics returns the engine's current metrics.
func (d *DB) Metrics() Metrics {
	m := Metrics{
		Puts: d.m.puts.Load(), Gets: d.m.gets.Load(), Deletes: d.m.deletes.Load(),
		Batches: d.m.batches.Load(), CommitGroups: d.m.groups.Load(),
		WALSyncs: d.m.walSyncs.Load(), WALBytes: d.m.walBytes.Load(), BytesIn: d.m.bytesIn.Load(),
		Flushes: d.m.flushes.Load(), BytesFlushed: d.m.bytesFlushed.Load(),
		Compactions: d.m.compactions.Load(), ManualCompactions: d.m.manualCompactions.Load(),
		TrivialMoves:      d.m.trivialMoves.Load(),
		CompactionBytesIn: d.m.compactBytesIn.Load(), CompactionBytesOut: d.m.compactBytesOut.Load(),
		CompactionsRunning: d.m.compactionsRunning.Load(),
		WriteStalls:        d.m.stalls.Load(), BusyRejections: d.m.busy.Load(), L0Stalls: d.m.l0Stalls.Load(),
		BackgroundErrors: d.m.bgErrors.Load(), ReadOnly: d.readOnlyErr() != nil,
		CorruptionErrors: d.m.corruptionErrors.Load(), DegradedRejections: d.m.degradedBusy.Load(),
		BloomSkips: d.m.bloomSkips.Load(), TableReads: d.m.tableReads.Load(),
		IteratorsCreated: d.m.iterators.Load(), LastSeq: d.visibleSeq.Load(),
	}
	cm := d.blockCache.Metrics()
	m.BlockCacheHits, m.BlockCacheMisses = cm.Hits, cm.Misses
	m.BlockCacheBytes, m.BlockCacheCapacity = cm.Size, cm.Capacity
	m.OpenTables = d.tc.openCount()
	d.damage.mu.Lock()
	m.DamagedTables = len(d.damage.order)
	d.damage.mu.Unlock()
	m.Degraded = m.DamagedTables > 0

	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mu.mem != nil {
		m.MemTableRecords = d.mu.mem.Len()
		m.MemTableBytes = d.mu.mem.ApproximateBytes()
	}
	m.ImmutableMemTables = len(d.mu.imm)
	m.Snapshots = d.mu.snapshots.l.Len()
	if s, ok := d.mu.snapshots.oldest(); ok {
		m.SmallestSnapshotSeq = uint64(s)
	}
	m.ReadAmplification = 1 + len(d.mu.imm)
	if v := d.mu.version; v != nil {
		for l := range manifest.NumLevels {
			m.Levels[l] = LevelMetrics{Files: len(v.Levels[l]), Bytes: v.LevelSize(l)}
			m.TotalTables += m.Levels[l].Files
			m.TotalTableBytes += m.Levels[l].Bytes
			if l == 0 {
				m.ReadAmplification += m.Levels[l].Files
			} else if m.Levels[l].Files > 0 {
				m.ReadAmplification++
			}
		}
	}
	m.ManifestFileNumber = d.mu.manifestNum
	m.NextFileNumber = d.mu.nextFileNum
	if d.mu.mem != nil {
		m.CurrentWALNumber = d.mu.mem.walNum
	}
	return m
}
