package storage

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/minidbgo/minidbgo/storage/vfs"
	"github.com/minidbgo/minidbgo/storage/vfs/errorfs"
	"github.com/stretchr/testify/require"
)

// writeBatches applies n batches of three keys each ("b007-0".."b007-2").
func writeBatches(t *testing.T, db *DB, n int) {
	t.Helper()
	for i := range n {
		b := db.NewBatch()
		for j := range 3 {
			b.Put([]byte(fmt.Sprintf("b%03d-%d", i, j)), []byte(fmt.Sprintf("value %d/%d", i, j)))
		}
		require.NoError(t, db.Apply(b))
	}
}

// survivingPrefix checks that db holds batches [0, m) whole and nothing
// of batches [m, n), and returns m.
func survivingPrefix(t *testing.T, db *DB, n int) int {
	t.Helper()
	m := -1
	for i := range n {
		present := 0
		for j := range 3 {
			v, err := db.Get([]byte(fmt.Sprintf("b%03d-%d", i, j)))
			if err == nil {
				require.Equal(t, fmt.Sprintf("value %d/%d", i, j), string(v))
				present++
			} else {
				require.ErrorIs(t, err, ErrNotFound)
			}
		}
		require.Contains(t, []int{0, 3}, present, "batch %d was split", i)
		switch {
		case present == 3 && m >= 0:
			t.Fatalf("batch %d survived after batch %d was lost: a hole in the history", i, m)
		case present == 0 && m < 0:
			m = i
		}
	}
	if m < 0 {
		m = n
	}
	return m
}

func damage(t *testing.T, fs *vfs.MemFS, path string, off int) {
	t.Helper()
	data, err := fs.ReadFile(path)
	require.NoError(t, err)
	require.Less(t, off, len(data))
	data[off] ^= 0x55
	require.NoError(t, fs.WriteFile(path, data))
}

// TestWALPointInTimeRecovery damages a log in the middle: the default
// open refuses and changes nothing; WALRecoveryPointInTime keeps every
// batch before the damage whole, drops the rest, moves the log to lost/
// and leaves a directory that opens strictly.
func TestWALPointInTimeRecovery(t *testing.T) {
	fs := vfs.NewMem()
	db, err := Open("/db", &Options{FS: fs})
	require.NoError(t, err)
	const n = 40
	writeBatches(t, db, n)
	crashed := fs.CrashClone(vfs.CrashCloneOptions{})
	require.NoError(t, db.Close())

	logs := walFiles(t, crashed)
	require.Len(t, logs, 1)
	path := filepath.Join("/db/wal", logs[0])
	orig, err := crashed.ReadFile(path)
	require.NoError(t, err)
	damage(t, crashed, path, len(orig)/2)

	_, err = Open("/db", &Options{FS: crashed})
	require.ErrorIs(t, err, ErrCorruption)
	after, err := crashed.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, len(orig), len(after), "a refused open must not change the log")

	db, err = Open("/db", &Options{FS: crashed, WALRecovery: WALRecoveryPointInTime})
	require.NoError(t, err)
	r := db.Recovery()
	require.Equal(t, "wal/"+logs[0], r.DamagedLog)
	require.Positive(t, r.DamagedBytes)
	require.LessOrEqual(t, r.DamageOffset, int64(len(orig)/2))
	require.Empty(t, r.DiscardedLogs)
	m := survivingPrefix(t, db, n)
	require.Greater(t, m, 0)
	require.Less(t, m, n)
	require.EqualValues(t, m, r.Records)
	require.NoError(t, db.Put([]byte("after-repair"), []byte("x")))
	require.NoError(t, db.Close())

	lost, err := crashed.List("/db/lost")
	require.NoError(t, err)
	require.Equal(t, logs, lost)
	kept, err := crashed.ReadFile(filepath.Join("/db/lost", logs[0]))
	require.NoError(t, err)
	require.Equal(t, len(orig), len(kept), "the damaged log is kept whole in lost/")

	// The repaired directory opens in the default mode with the same data.
	db, err = Open("/db", &Options{FS: crashed})
	require.NoError(t, err)
	require.Equal(t, m, survivingPrefix(t, db, n))
	v, err := db.Get([]byte("after-repair"))
	require.NoError(t, err)
	require.Equal(t, "x", string(v))
	require.NoError(t, db.Close())
}

// TestWALPointInTimeLaterLogs damages the second of several unflushed
// logs: the first is kept whole, the second up to the damage, and the
// later ones are discarded, since keeping them would leave a hole.
func TestWALPointInTimeLaterLogs(t *testing.T) {
	mem := vfs.NewMem()
	// Every SSTable create fails, so no flush succeeds and the logs stay.
	efs := errorfs.Wrap(mem, errorfs.PathContains(errorfs.OnKind(errorfs.AfterIndex(0, nil), errorfs.OpCreate), ".sst"))
	db, err := Open("/db", &Options{FS: efs, MemTableRecords: 30, MaxImmutableMemTables: 8})
	require.NoError(t, err)
	const n = 40 // 120 records: four logs
	writeBatches(t, db, n)
	crashed := mem.CrashClone(vfs.CrashCloneOptions{})
	_ = db.Close() // fails: the memtables cannot be flushed

	logs := walFiles(t, crashed)
	slices.Sort(logs)
	require.GreaterOrEqual(t, len(logs), 3, "logs: %v", logs)
	second := filepath.Join("/db/wal", logs[1])
	data, err := crashed.ReadFile(second)
	require.NoError(t, err)
	damage(t, crashed, second, len(data)/2)

	db, err = Open("/db", &Options{FS: crashed, WALRecovery: WALRecoveryPointInTime})
	require.NoError(t, err)
	r := db.Recovery()
	require.Equal(t, "wal/"+logs[1], r.DamagedLog)
	var later []string
	for _, l := range logs[2:] {
		later = append(later, "wal/"+l)
	}
	require.Equal(t, later, r.DiscardedLogs)
	m := survivingPrefix(t, db, n)
	require.Greater(t, m, 10, "the first log's batches survive")
	require.Less(t, m, 20, "nothing after the damage in the second log survives")
	require.NoError(t, db.Close())

	lost, err := crashed.List("/db/lost")
	require.NoError(t, err)
	slices.Sort(lost)
	require.Equal(t, logs[1:], lost)
}
