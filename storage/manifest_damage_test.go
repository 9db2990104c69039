package storage

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/storage/internal/wal"
	"github.com/minidbgo/minidbgo/storage/vfs"
)

// writeBatchRange applies batches [from, to) as writeBatches does.
func writeBatchRange(t *testing.T, db *DB, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		b := db.NewBatch()
		for j := range 3 {
			b.Put([]byte(fmt.Sprintf("b%03d-%d", i, j)), []byte(fmt.Sprintf("value %d/%d", i, j)))
		}
		require.NoError(t, db.Apply(b))
	}
}

// flushedDir builds, as a kill -9 would leave it (every write and removal
// done, nothing lost), a directory of two flushed tables and an unflushed
// log: batches [0, 20) in the first table, [20, 40) in the second, whose
// flush edit is the MANIFEST's last record and retired its log, and
// [40, 50) in the live log. It returns the MANIFEST's path and the name of
// the second table.
func flushedDir(t *testing.T, fs *vfs.MemFS) (manifestPath, lastTable string) {
	t.Helper()
	db, err := Open("/db", &Options{FS: fs, DisableAutomaticCompactions: true})
	require.NoError(t, err)
	writeBatchRange(t, db, 0, 20)
	require.NoError(t, db.Flush())
	writeBatchRange(t, db, 20, 40)
	require.NoError(t, db.Flush())
	writeBatchRange(t, db, 40, 50)
	require.NoError(t, db.Close())

	tables, err := fs.List("/db/sst")
	require.NoError(t, err)
	require.Len(t, tables, 2)
	names, err := fs.List("/db")
	require.NoError(t, err)
	for _, n := range names {
		if strings.HasPrefix(n, "MANIFEST-") {
			manifestPath = filepath.Join("/db", n)
		}
	}
	require.NotEmpty(t, manifestPath)
	return manifestPath, tables[1]
}

// TestManifestLastEditFlip is issue 20's first reproduction: one byte
// flipped 5 bytes before the end of the MANIFEST, inside the edit that
// added the last flushed table and retired its log. Open used to take the
// edit for a torn tail, delete the table as an orphan and lose its writes.
// It must refuse, naming the MANIFEST and the edit's offset, without
// changing a file; point-in-time recovery (`minidbgo repair`) then adopts
// the table and loses nothing.
func TestManifestLastEditFlip(t *testing.T) {
	fs := vfs.NewMem()
	mpath, table := flushedDir(t, fs)
	data, err := fs.ReadFile(mpath)
	require.NoError(t, err)
	data[len(data)-5] ^= 0x20
	require.NoError(t, fs.WriteFile(mpath, data))

	_, err = Open("/db", &Options{FS: fs})
	require.ErrorIs(t, err, ErrCorruption)
	var ce *CorruptionError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, filepath.Base(mpath), ce.File)
	require.Positive(t, ce.Offset)
	require.Less(t, ce.Offset, int64(len(data)-5))
	_, err = fs.Stat(filepath.Join("/db/sst", table))
	require.NoError(t, err, "a refused open must not delete the table")

	db, err := Open("/db", &Options{FS: fs, WALRecovery: WALRecoveryPointInTime})
	require.NoError(t, err)
	r := db.Recovery()
	require.Equal(t, filepath.Base(mpath), r.DamagedManifest)
	require.Equal(t, ce.Offset, r.ManifestDamageOffset)
	require.Equal(t, []string{"sst/" + table}, r.AdoptedTables)
	require.Empty(t, r.SetAsideTables)
	require.Equal(t, 50, survivingPrefix(t, db, 50))
	require.NoError(t, db.Close())

	// The repaired directory opens strictly, with every write.
	db, err = Open("/db", &Options{FS: fs})
	require.NoError(t, err)
	require.Equal(t, 50, survivingPrefix(t, db, 50))
	require.NoError(t, db.Close())
}

// TestManifestMissingLastEdit cuts the MANIFEST exactly before its last
// edit, which no checksum can see: the version then names a log that is
// gone while a later log exists, which contradicts a torn write (a log is
// removed only after an edit retiring it is durable). Open must refuse
// rather than delete the table the lost edit added.
func TestManifestMissingLastEdit(t *testing.T) {
	fs := vfs.NewMem()
	mpath, table := flushedDir(t, fs)
	data, err := fs.ReadFile(mpath)
	require.NoError(t, err)
	// The last edit is the last record: find its offset by reading.
	cut := lastRecordOffset(t, data)
	require.NoError(t, fs.WriteFile(mpath, data[:cut]))

	_, err = Open("/db", &Options{FS: fs})
	var ce *CorruptionError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, filepath.Base(mpath), ce.File)
	require.Equal(t, cut, ce.Offset)
	require.Contains(t, ce.Error(), "is gone although the later log")
	_, err = fs.Stat(filepath.Join("/db/sst", table))
	require.NoError(t, err)

	db, err := Open("/db", &Options{FS: fs, WALRecovery: WALRecoveryPointInTime})
	require.NoError(t, err)
	require.Equal(t, []string{"sst/" + table}, db.Recovery().AdoptedTables)
	require.Equal(t, 50, survivingPrefix(t, db, 50))
	require.NoError(t, db.Close())
}

// TestManifestTornEditStillTolerated: a flush edit cut short by a crash
// before it was durable is dropped silently, and the table it would have
// added is an orphan Open removes: its writes are in the log, which was
// not retired.
func TestManifestTornEditStillTolerated(t *testing.T) {
	fs := vfs.NewMem()
	db, err := Open("/db", &Options{FS: fs, DisableAutomaticCompactions: true})
	require.NoError(t, err)
	writeBatchRange(t, db, 0, 20)
	before := fs.CrashClone(vfs.CrashCloneOptions{})
	require.NoError(t, db.Flush())
	require.NoError(t, db.Close())
	names, err := fs.List("/db")
	require.NoError(t, err)
	var mpath string
	for _, n := range names {
		if strings.HasPrefix(n, "MANIFEST-") {
			mpath = filepath.Join("/db", n)
		}
	}
	data, err := fs.ReadFile(mpath)
	require.NoError(t, err)
	tables, err := fs.List("/db/sst")
	require.NoError(t, err)
	require.Len(t, tables, 1)
	tpath := filepath.Join("/db/sst", tables[0])
	table, err := fs.ReadFile(tpath)
	require.NoError(t, err)

	// The crash came after the table was written and while its edit was:
	// the MANIFEST holds any prefix of the edit.
	cut := lastRecordOffset(t, data)
	for end := cut + 1; end < int64(len(data)); end++ {
		c := before.CrashClone(vfs.CrashCloneOptions{})
		require.NoError(t, c.WriteFile(mpath, data[:end]))
		require.NoError(t, c.WriteFile(tpath, table))
		db, err := Open("/db", &Options{FS: c})
		require.NoError(t, err, "MANIFEST cut at %d of %d", end, len(data))
		require.Equal(t, 20, survivingPrefix(t, db, 20))
		require.NoError(t, db.Close())
		_, err = c.Stat(tpath)
		require.ErrorIs(t, err, os.ErrNotExist, "the orphaned table is removed")
	}
}

// lastRecordOffset returns the offset of the last record of a log.
func lastRecordOffset(t *testing.T, data []byte) int64 {
	t.Helper()
	r := wal.NewReader(bytes.NewReader(data), "MANIFEST")
	off := int64(-1)
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		off = r.Offset()
	}
	require.GreaterOrEqual(t, off, int64(0))
	return off
}

// TestWALLastRecordFlip is issue 20's second reproduction: a byte flipped
// 10 bytes before the end of the WAL, inside the last, acknowledged batch.
// A record whose length is complete but whose checksum fails is damage,
// not a torn write: Open refuses, naming the log and the record's offset;
// point-in-time recovery keeps every batch before it.
func TestWALLastRecordFlip(t *testing.T) {
	fs := vfs.NewMem()
	db, err := Open("/db", &Options{FS: fs})
	require.NoError(t, err)
	const n = 30
	writeBatches(t, db, n)
	crashed := fs.CrashClone(vfs.CrashCloneOptions{})
	require.NoError(t, db.Close())

	logs := walFiles(t, crashed)
	require.Len(t, logs, 1)
	path := filepath.Join("/db/wal", logs[0])
	data, err := crashed.ReadFile(path)
	require.NoError(t, err)
	last := lastRecordOffset(t, data)
	damage(t, crashed, path, len(data)-10)

	_, err = Open("/db", &Options{FS: crashed})
	var ce *CorruptionError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "wal/"+logs[0], ce.File)
	require.Equal(t, last, ce.Offset)

	db, err = Open("/db", &Options{FS: crashed, WALRecovery: WALRecoveryPointInTime})
	require.NoError(t, err)
	r := db.Recovery()
	require.Equal(t, "wal/"+logs[0], r.DamagedLog)
	require.Equal(t, last, r.DamageOffset)
	require.Equal(t, n-1, survivingPrefix(t, db, n))
	require.NoError(t, db.Close())
}

// TestManifestRepairSetsAside: point-in-time recovery of a damaged
// MANIFEST adopts only the tables whose writes are newer than every table
// of the rebuilt version. A table created after the last sound edit that
// holds older writes (a compaction output whose inputs remain; here a copy
// of the first table) and a half-written one are moved to lost/, not
// adopted and not deleted.
func TestManifestRepairSetsAside(t *testing.T) {
	fs := vfs.NewMem()
	mpath, table := flushedDir(t, fs)
	tables, err := fs.List("/db/sst")
	require.NoError(t, err)
	first, err := fs.ReadFile(filepath.Join("/db/sst", tables[0]))
	require.NoError(t, err)
	require.NoError(t, fs.WriteFile("/db/sst/000900.sst", first))
	require.NoError(t, fs.WriteFile("/db/sst/000901.sst", first[:len(first)/2]))
	data, err := fs.ReadFile(mpath)
	require.NoError(t, err)
	data[len(data)-5] ^= 0x20
	require.NoError(t, fs.WriteFile(mpath, data))

	_, err = Open("/db", &Options{FS: fs})
	require.ErrorIs(t, err, ErrCorruption)
	db, err := Open("/db", &Options{FS: fs, WALRecovery: WALRecoveryPointInTime})
	require.NoError(t, err)
	r := db.Recovery()
	require.Equal(t, []string{"sst/" + table}, r.AdoptedTables)
	require.Equal(t, []string{"sst/000900.sst", "sst/000901.sst"}, r.SetAsideTables)
	require.Equal(t, 50, survivingPrefix(t, db, 50))
	require.NoError(t, db.Close())
	lost, err := fs.List("/db/lost")
	require.NoError(t, err)
	require.Equal(t, []string{"000900.sst", "000901.sst"}, lost)
}

// TestManifestCompactionEditFlip: the MANIFEST's last edit is a
// compaction's, whose inputs are already removed. A flipped byte in it is
// refused, naming the MANIFEST, and the compaction's output, which holds
// every write, is not deleted.
func TestManifestCompactionEditFlip(t *testing.T) {
	fs := vfs.NewMem()
	db, err := Open("/db", &Options{FS: fs, DisableAutomaticCompactions: true})
	require.NoError(t, err)
	writeBatchRange(t, db, 0, 20)
	require.NoError(t, db.Flush())
	writeBatchRange(t, db, 20, 40)
	require.NoError(t, db.Flush())
	require.NoError(t, db.Compact())
	require.NoError(t, db.Close())
	before, err := fs.List("/db/sst")
	require.NoError(t, err)

	mpath := ""
	names, err := fs.List("/db")
	require.NoError(t, err)
	for _, n := range names {
		if strings.HasPrefix(n, "MANIFEST-") {
			mpath = filepath.Join("/db", n)
		}
	}
	data, err := fs.ReadFile(mpath)
	require.NoError(t, err)
	data[len(data)-5] ^= 0x20
	require.NoError(t, fs.WriteFile(mpath, data))

	_, err = Open("/db", &Options{FS: fs})
	var ce *CorruptionError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, filepath.Base(mpath), ce.File)
	after, err := fs.List("/db/sst")
	require.NoError(t, err)
	require.Equal(t, before, after, "a refused open deletes no table")
}
