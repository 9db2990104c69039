package storage

import (
	"errors"

	"github.com/minidbgo/minidbgo/storage/internal/base"
)

// Errors returned by the engine. Each can be matched with errors.Is.
var (
	// ErrNotFound is returned by Get when the key has no live value.
	ErrNotFound = errors.New("storage: not found")
	// ErrBusy is returned by writes when the immutable memtable queue is
	// full and a flush did not make room within Options.WriteStallTimeout.
	// The write was not applied; the caller should retry later.
	ErrBusy = errors.New("storage: busy: memtable flush queue is full")
	// ErrClosed is returned by every operation on a closed DB.
	ErrClosed = errors.New("storage: closed")
	// ErrCorruption is matched by every error that reports damaged on-disk
	// data; errors.As with *CorruptionError gives the file and offset.
	ErrCorruption = base.ErrCorruption
	// ErrReadOnly is matched by write errors after a WAL or MANIFEST write
	// or sync failed: the engine cannot tell what reached the disk, so it
	// refuses further writes until it is reopened.
	ErrReadOnly = errors.New("storage: read-only after an I/O error")
	// ErrDegraded is matched by errors of writes, flushes and compactions
	// refused because a damaged table (see DB.Damage) blocks the
	// compaction they wait for: without it the stall would never end. The
	// error also matches ErrCorruption, and errors.As with
	// *CorruptionError gives the damaged table and offset. Reads of
	// undamaged keys keep working; the table must be repaired offline
	// (docs/operations.md).
	ErrDegraded = errors.New("storage: degraded by a damaged table")
	// ErrDataDirLost is matched, with ErrReadOnly, by write errors after
	// the data directory was removed or replaced under the running engine
	// (its LOCK file is gone or is another file): writes would go to
	// unlinked files that no later Open sees.
	ErrDataDirLost = errors.New("storage: the data directory was removed or replaced")
	// ErrDataMissing is returned by Open (with Options.DirMarker) when
	// the directory holds no database but the marker beside it says one
	// was created there.
	ErrDataMissing = errors.New("storage: the database is missing from its directory")
)

// CorruptionError reports on-disk bytes that failed validation, naming the
// file and the byte offset.
type CorruptionError = base.CorruptionError
