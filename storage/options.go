package storage

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/minidbgo/minidbgo/storage/internal/sstable"
	"github.com/minidbgo/minidbgo/storage/vfs"
)

// DurabilityMode says when a write is acknowledged relative to fsync.
type DurabilityMode uint8

// The durability modes. The zero value is DurabilityGroup.
const (
	// DurabilityGroup acknowledges a write after one fsync that covers every
	// writer queued at that moment (group commit). Nothing acknowledged is
	// lost on a process crash or a power cut. The default.
	DurabilityGroup DurabilityMode = iota
	// DurabilitySync writes and fsyncs each batch on its own.
	DurabilitySync
	// DurabilityPeriodic acknowledges after write(2) to the OS and fsyncs
	// every Interval: a process crash loses nothing, a power cut loses at
	// most Interval of writes, as a prefix.
	DurabilityPeriodic
	// DurabilityNone buffers the WAL in the process: a crash of any kind can
	// lose recent writes (as a prefix). For bulk loads and benchmarks.
	DurabilityNone
)

// Durability is a durability mode and, for DurabilityPeriodic, its interval.
// The zero value is group commit.
type Durability struct {
	Mode     DurabilityMode
	Interval time.Duration // DurabilityPeriodic only
}

// ParseDurability parses "sync", "group", "periodic:<duration>" (for
// example "periodic:100ms") or "none".
func ParseDurability(s string) (Durability, error) {
	switch s {
	case "group", "":
		return Durability{Mode: DurabilityGroup}, nil
	case "sync":
		return Durability{Mode: DurabilitySync}, nil
	case "none", "unsafe-none":
		return Durability{Mode: DurabilityNone}, nil
	}
	if rest, ok := strings.CutPrefix(s, "periodic:"); ok {
		d, err := time.ParseDuration(rest)
		if err != nil {
			return Durability{}, fmt.Errorf("storage: durability %q: bad interval: %w", s, err)
		}
		if d <= 0 {
			return Durability{}, fmt.Errorf("storage: durability %q: interval must be positive", s)
		}
		return Durability{Mode: DurabilityPeriodic, Interval: d}, nil
	}
	return Durability{}, fmt.Errorf("storage: unknown durability %q (want sync, group, periodic:<duration> or none)", s)
}

// String returns the form ParseDurability accepts.
func (d Durability) String() string {
	switch d.Mode {
	case DurabilitySync:
		return "sync"
	case DurabilityPeriodic:
		return "periodic:" + d.Interval.String()
	case DurabilityNone:
		return "none"
	}
	return "group"
}

// WALRecovery says what Open does with a damaged write-ahead log or
// MANIFEST. A torn tail (the last record, cut short when the process or
// machine died) is dropped in every mode; a complete record whose checksum
// fails is damage, wherever it is.
type WALRecovery uint8

// The WAL recovery modes.
const (
	// WALRecoveryStrict refuses damage before the end of a log: Open fails
	// with a *CorruptionError naming the log and offset, and nothing is
	// changed. The default.
	WALRecoveryStrict WALRecovery = iota
	// WALRecoveryPointInTime recovers every write before the first damaged
	// record and discards the rest: the damaged record, everything after it
	// in its log and every later log. The database is left at a consistent
	// point in its history (batches are never split). The discarded logs are
	// moved to the lost/ directory, not deleted. A damaged MANIFEST is
	// recovered the same way: the version is the one its edits before the
	// damage make, plus the tables created after them that hold newer
	// writes than every table of that version (flushes whose edit was
	// lost, whose log may be gone); other unnamed tables created after
	// them are moved to lost/ (see Recovery). `minidbgo repair
	// --wal=point-in-time` opens a directory in this mode.
	WALRecoveryPointInTime
)

// String returns the mode's name as `minidbgo repair --wal` takes it.
func (m WALRecovery) String() string {
	if m == WALRecoveryPointInTime {
		return "point-in-time"
	}
	return "strict"
}

// Compression selects the block compression of new SSTables. The zero
// value selects the default, S2.
type Compression uint8

// The block compressions.
const (
	DefaultCompression Compression = iota
	NoCompression
	S2Compression
	ZstdCompression
)

// ParseCompression parses "none", "s2" or "zstd".
func ParseCompression(s string) (Compression, error) {
	switch s {
	case "none":
		return NoCompression, nil
	case "s2", "snappy":
		return S2Compression, nil
	case "zstd":
		return ZstdCompression, nil
	case "", "default":
		return DefaultCompression, nil
	}
	return 0, fmt.Errorf("storage: unknown compression %q (want none, s2 or zstd)", s)
}

// String returns the form ParseCompression accepts.
func (c Compression) String() string {
	switch c {
	case NoCompression:
		return "none"
	case ZstdCompression:
		return "zstd"
	}
	return "s2"
}

func (c Compression) sstable() sstable.Compression {
	switch c {
	case NoCompression:
		return sstable.NoCompression
	case ZstdCompression:
		return sstable.ZstdCompression
	}
	return sstable.S2Compression
}

// DefaultBlockCacheBytes is Options.BlockCacheBytes' default: 32 MiB.
const DefaultBlockCacheBytes = 32 << 20

// Options configure a DB. A nil *Options, or any zero field, selects the
// default. Open never modifies the caller's Options.
type Options struct {
	// FS is the filesystem. Default: vfs.Default, the OS.
	FS vfs.FS
	// MemTableRecords and MemTableBytes bound the active memtable: it is
	// frozen and queued for flushing when either is reached. Defaults:
	// 10,000 records and 50 MiB (the guide's FLUSH_SIZE and MAX_MEM_MB).
	// MemTableRecords counts SET and DELETE entries but not SETSEQ entries
	// (Batch.PutSeqKey): those are bookkeeping beside a write, such as a
	// change-feed record, and counting them would flush memtables up to
	// twice as often per write. They still count towards MemTableBytes.
	MemTableRecords int
	MemTableBytes   int64
	// MaxImmutableMemTables is how many frozen memtables may wait for the
	// flush worker. When the queue is full, writers stall. Default 3.
	MaxImmutableMemTables int
	// WriteStallTimeout is how long a writer waits for room in the
	// immutable queue before it gets ErrBusy. Default 1s.
	WriteStallTimeout time.Duration
	// DirCheckInterval is how often the engine checks that its data
	// directory is still the one it opened (its LOCK file still there,
	// the same file): an operator deleting or replacing the directory
	// under a running engine makes it read-only with ErrDataDirLost, so
	// that nothing more is acknowledged into unlinked files. The check
	// also runs before acknowledging each group in the sync and group
	// durability modes and after every I/O error. Default 1s; negative
	// disables the periodic check (the others remain).
	DirCheckInterval time.Duration
	// DirMarker makes Open keep a marker file beside the data directory,
	// in its parent (".<name>.minidbgo" for a directory "<name>"), once a
	// database exists in it; see MarkerPath. Open then refuses to create
	// a new database where the marker exists — the directory was deleted
	// or emptied, or the volume that holds it is not mounted — with an
	// error wrapping ErrDataMissing, unless Init is set. If the marker
	// cannot be written (a read-only parent) Open logs a warning and goes
	// on without it. Default off.
	DirMarker bool
	// Init lets Open create a new, empty database although DirMarker's
	// marker says one existed in the directory, and rewrites the marker.
	Init bool
	// Durability selects when writes are acknowledged. Default: group.
	Durability Durability
	// BlockCacheBytes bounds the cache of uncompressed SSTable blocks.
	// Default DefaultBlockCacheBytes; negative disables the cache. The blocks live
	// outside the Go heap (mmap'd anonymous memory): they do not raise
	// the garbage collector's heap target, and GOMEMLIMIT does not count
	// them.
	BlockCacheBytes int64
	// MaxOpenTables bounds the cache of open SSTable readers (file
	// descriptors, index and bloom blocks). Default 500.
	MaxOpenTables int
	// BlockSize is the target uncompressed size of SSTable data blocks.
	// Default 4 KiB.
	BlockSize int
	// Compression is the block compression of new SSTables. Default: s2.
	Compression Compression
	// BloomBitsPerKey sizes each SSTable's bloom filter. Default 10
	// (about 1% false positives); negative disables filters.
	BloomBitsPerKey int
	// L0CompactionThreshold is the number of L0 files that triggers an
	// L0→Lbase compaction. Default 8: with the guide's small memtables
	// (10,000 records), L0 tables are small, and merging more of them at
	// once rewrites L1 less often.
	L0CompactionThreshold int
	// L0StopWritesThreshold is the number of L0 files at which the flush
	// worker waits for compaction, which in turn stalls writers. Default 40.
	L0StopWritesThreshold int
	// LBaseMaxBytes is the target size of L1; each deeper level is
	// LevelMultiplier times larger. Defaults 64 MiB and 10.
	LBaseMaxBytes   int64
	LevelMultiplier int
	// TargetFileSize is the size at which compactions cut output SSTables.
	// Default 2 MiB.
	TargetFileSize int64
	// DisableAutomaticCompactions turns off background compactions (manual
	// Compact still works). For tests and benchmarks.
	DisableAutomaticCompactions bool
	// WALRecovery selects what Open does with a WAL damaged before its end.
	// Default: WALRecoveryStrict.
	WALRecovery WALRecovery
	// Logger receives rare events (flushes, compactions, recovery, errors).
	// Default: discard.
	Logger *slog.Logger
}

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.FS == nil {
		c.FS = vfs.Default
	}
	if c.MemTableRecords <= 0 {
		c.MemTableRecords = 10000
	}
	if c.MemTableBytes <= 0 {
		c.MemTableBytes = 50 << 20
	}
	if c.MaxImmutableMemTables <= 0 {
		c.MaxImmutableMemTables = 3
	}
	if c.WriteStallTimeout <= 0 {
		c.WriteStallTimeout = time.Second
	}
	if c.DirCheckInterval == 0 {
		c.DirCheckInterval = time.Second
	}
	if c.BlockCacheBytes == 0 {
		c.BlockCacheBytes = DefaultBlockCacheBytes
	}
	if c.MaxOpenTables <= 0 {
		c.MaxOpenTables = 500
	}
	if c.BlockSize <= 0 {
		c.BlockSize = 4 << 10
	}
	if c.Compression == DefaultCompression {
		c.Compression = S2Compression
	}
	if c.BloomBitsPerKey == 0 {
		c.BloomBitsPerKey = 10
	}
	if c.BloomBitsPerKey < 0 {
		c.BloomBitsPerKey = 0
	}
	if c.L0CompactionThreshold <= 0 {
		c.L0CompactionThreshold = 8
	}
	if c.L0StopWritesThreshold <= 0 {
		c.L0StopWritesThreshold = 40
	}
	if c.L0StopWritesThreshold < c.L0CompactionThreshold {
		c.L0StopWritesThreshold = c.L0CompactionThreshold
	}
	if c.LBaseMaxBytes <= 0 {
		c.LBaseMaxBytes = 64 << 20
	}
	if c.LevelMultiplier <= 1 {
		c.LevelMultiplier = 10
	}
	if c.TargetFileSize <= 0 {
		c.TargetFileSize = 2 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// IterOptions bound an iterator. The zero value iterates everything.
type IterOptions struct {
	// LowerBound is the inclusive lower user-key bound; nil is unbounded.
	LowerBound []byte
	// UpperBound is the exclusive upper user-key bound; nil is unbounded.
	UpperBound []byte
	// Prefix, when set, restricts the iterator to keys with this prefix.
	// It is combined with the bounds (the tighter bound wins).
	Prefix []byte
}
