// Package storage is MiniDBGo's LSM storage engine: an ordered key-value
// store with atomic batches, snapshots and streaming iterators, shaped like
// LevelDB and Pebble.
//
// # Basics
//
//	db, err := storage.Open("data/MiniDBGo", nil) // nil: default Options
//	if err != nil { ... }
//	defer db.Close()
//	err = db.Put([]byte("k"), []byte("v"))
//	v, err := db.Get([]byte("k")) // storage.ErrNotFound when absent
//
// # Write path
//
// A write is encoded as a Batch, appended to the write-ahead log by the
// commit pipeline (group commit: one write and one fsync serve every writer
// queued at that moment), then inserted into the memtable, a skiplist. Only
// then is it acknowledged and visible. Options.Durability chooses when the
// acknowledgement happens relative to fsync; see Durability.
//
// A batch may hold keys completed at commit time (Batch.PutSeqKey): a
// prefix followed by the entry's own sequence number, big-endian. Such keys
// sort in exact commit order across every writer, with no lock beyond the
// commit pipeline's, and a Snapshot's Seq tells exactly which of them it
// holds: docstore's change feed is built on them. In the WAL the entry
// keeps its prefix and a reference to the batch entry whose sequence number
// completes it (batch.go); applying a batch and replaying it complete the
// same key.
//
// When the memtable reaches Options.MemTableRecords (SETSEQ entries are not
// counted) or MemTableBytes it is frozen and queued for the flush worker, which writes it as an L0 SSTable.
// At most Options.MaxImmutableMemTables wait; beyond that writers stall for
// up to Options.WriteStallTimeout and then get ErrBusy.
//
// # Read path
//
// Get looks in the memtable, the frozen memtables, the L0 tables newest
// first, then one table per deeper level, skipping tables whose bloom
// filter rules the key out. Iterators merge all of those sources with a
// heap and stream; their memory does not depend on the data.
//
// # Compaction
//
// A background worker keeps L0 small and each deeper level within its
// target size by merging tables into the next level, streaming. Compact
// merges everything on demand.
//
// # Checkpoints
//
// Checkpoint(dir) writes a consistent copy of the database into a new
// directory that Open opens as an ordinary database: the live tables
// hard-linked (copied where linking fails, as across filesystems), a new
// MANIFEST naming exactly those tables, and the part of the WAL not yet in
// tables, copied up to the checkpoint's point in history. Writes,
// flushes and compactions go on meanwhile; a referenced version keeps the
// tables from being deleted until they are linked. The copy is built in
// dir+".checkpoint-tmp" and renamed into place, so a crash leaves no
// half-written dir. It carries no LOCK and no data-directory marker (the
// marker is about a path, not a database; Open writes one for the new
// path). checkpoint.go describes the steps.
//
// # Physical backups
//
// Backup streams a checkpoint, built in the data directory's tmp/ and
// removed afterwards (Open removes a leftover tmp/), as a tar archive,
// zstd-compressed unless BackupOptions.Uncompressed:
//
//	MINIDBGO-BACKUP        JSON header: format "minidbgo-backup", version 1
//	sst/, wal/             directories
//	sst/*.sst, wal/*.log   the checkpoint's files, under their own names
//	MANIFEST-*, CURRENT
//	MINIDBGO-BACKUP.sum    JSON: every file's name, size and CRC-32C
//
// RestoreBackup checks every file against that list while unpacking into
// a new directory beside the target, opens the result once, and renames
// it into place. GET /api/backup and minidbgo restore use the two;
// backup.go and docs/formats.md give the details.
//
// # Caveats
//
// A directory may be open in one DB at a time; Open fails with an error
// naming the holder's pid otherwise. After a WAL or MANIFEST write or sync
// fails, the DB refuses writes (ErrReadOnly) until it is reopened: the engine
// cannot know what reached the disk, and recovery will tell.
//
// The on-disk formats are drawn in internal/wal, internal/sstable and
// internal/manifest, and summarised in docs/formats.md.
package storage
