package tool

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/storage"
	"github.com/minidbgo/minidbgo/storage/vfs"
)

// liveManifest returns the path of the MANIFEST CURRENT names.
func liveManifest(t *testing.T, fs *vfs.MemFS) string {
	t.Helper()
	cur, err := fs.ReadFile("/db/CURRENT")
	require.NoError(t, err)
	return filepath.Join("/db", strings.TrimSpace(string(cur)))
}

// requireAllKeys checks that the n keys build wrote and its ten WAL keys
// are all there.
func requireAllKeys(t *testing.T, fs *vfs.MemFS, n int) {
	t.Helper()
	db, err := storage.Open("/db", &storage.Options{FS: fs})
	require.NoError(t, err)
	defer db.Close()
	for i := range n {
		v, err := db.Get(fmt.Appendf(nil, "key%05d", i))
		require.NoError(t, err, "key%05d", i)
		require.Equal(t, fmt.Sprintf("value-%05d-padding-padding", i), string(v))
	}
	for i := range 10 {
		_, err := db.Get(fmt.Appendf(nil, "wal%02d", i))
		require.NoError(t, err, "wal%02d", i)
	}
}

// TestCheckOrphanTable: a table a crash left half written before its
// flush edit was durable is not in the MANIFEST, and Open removes it. Check
// reports it as an orphan, not as damage (issue 20, item 6).
func TestCheckOrphanTable(t *testing.T) {
	fs := build(t, 2000)
	data, err := fs.ReadFile(filepath.Join("/db/sst", ssts(t, fs)[0]))
	require.NoError(t, err)
	orphan := filepath.Join("/db/sst", "000999.sst")
	require.NoError(t, fs.WriteFile(orphan, data[:len(data)/2]))

	rep, err := Check(fs, "/db")
	require.NoError(t, err)
	require.True(t, rep.OK(), "damaged: %v", rep.Damaged())
	orphans := rep.Orphans()
	require.Len(t, orphans, 1)
	require.Equal(t, filepath.Join("sst", "000999.sst"), orphans[0].Path)
	require.False(t, orphans[0].Live)
	require.ErrorIs(t, orphans[0].OrphanErr, storage.ErrCorruption)

	requireAllKeys(t, fs, 2000)
	_, err = fs.Stat(orphan)
	require.Error(t, err, "Open removes the orphan")
	rep, err = Check(fs, "/db")
	require.NoError(t, err)
	require.True(t, rep.OK())
	require.Empty(t, rep.Orphans())
}

// TestCheckAndRepairManifestLastEdit: a byte flipped 5 bytes before the
// end of the MANIFEST, in the edit that added the last flushed table.
// Check reports the MANIFEST damaged at the edit's offset (it used to
// report nothing), the table is not called an orphan, the server refuses
// to open, and Repair recovers every write.
func TestCheckAndRepairManifestLastEdit(t *testing.T) {
	fs := build(t, 2000)
	man := liveManifest(t, fs)
	data, err := fs.ReadFile(man)
	require.NoError(t, err)
	data[len(data)-5] ^= 0x01
	require.NoError(t, fs.WriteFile(man, data))

	rep, err := Check(fs, "/db")
	require.NoError(t, err)
	bad := rep.Damaged()
	require.Len(t, bad, 1, "%+v", bad)
	require.Equal(t, filepath.Base(man), bad[0].Path)
	var ce *storage.CorruptionError
	require.ErrorAs(t, bad[0].Err, &ce)
	require.Equal(t, filepath.Base(man), ce.File)
	require.Positive(t, ce.Offset)
	require.Zero(t, bad[0].TailDropped)
	require.Empty(t, rep.Orphans(), "an unsound MANIFEST makes no orphans")

	_, err = storage.Open("/db", &storage.Options{FS: fs})
	require.ErrorAs(t, err, &ce)
	require.Equal(t, filepath.Base(man), ce.File)
	require.Contains(t, Advice(err, "/db"), "minidbgo repair --wal=point-in-time --dir /db")

	r, err := Repair(fs, "/db", nil)
	require.NoError(t, err)
	require.Equal(t, filepath.Base(man), r.DamagedManifest)
	require.Len(t, r.AdoptedTables, 1)
	rep, err = Check(fs, "/db")
	require.NoError(t, err)
	require.True(t, rep.OK(), "damaged after repair: %v", rep.Damaged())
	requireAllKeys(t, fs, 2000)
}

// TestCheckWALLastRecord: a byte flipped 10 bytes before the end of the
// live WAL, in its last record. Check used to call it a torn tail ignored
// by recovery; it is damage, at the record's offset.
func TestCheckWALLastRecord(t *testing.T) {
	fs := build(t, 200)
	logs, err := fs.List("/db/wal")
	require.NoError(t, err)
	path := filepath.Join("/db/wal", logs[len(logs)-1])
	data, err := fs.ReadFile(path)
	require.NoError(t, err)
	require.Greater(t, len(data), 100)
	data[len(data)-10] ^= 0x55
	require.NoError(t, fs.WriteFile(path, data))

	rep, err := Check(fs, "/db")
	require.NoError(t, err)
	bad := rep.Damaged()
	require.Len(t, bad, 1)
	require.Equal(t, filepath.Join("wal", logs[len(logs)-1]), bad[0].Path)
	require.Zero(t, bad[0].TailDropped)
	var ce *storage.CorruptionError
	require.ErrorAs(t, bad[0].Err, &ce)
	require.Equal(t, filepath.Join("wal", logs[len(logs)-1]), ce.File)
	require.Greater(t, ce.Offset, int64(0))
	require.Less(t, ce.Offset, int64(len(data)-10))
}

// TestCheckOrphanManifest: a MANIFEST that CURRENT does not name (a crash
// while Open wrote its successor) is removed unread by the next Open: an
// orphan, whatever its state, not damage.
func TestCheckOrphanManifest(t *testing.T) {
	fs := build(t, 200)
	require.NoError(t, fs.WriteFile("/db/MANIFEST-999999", []byte("half a snapshot")))
	rep, err := Check(fs, "/db")
	require.NoError(t, err)
	require.True(t, rep.OK(), "damaged: %v", rep.Damaged())
	orphans := rep.Orphans()
	require.Len(t, orphans, 1)
	require.Equal(t, "MANIFEST-999999", orphans[0].Path)
}
