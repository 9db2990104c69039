package storage

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minidbgo/minidbgo/storage/internal/sstable"
	"github.com/minidbgo/minidbgo/storage/vfs"
	"github.com/stretchr/testify/require"
)

// lockedBuffer is a bytes.Buffer safe for the engine's background loggers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// damageKey and damageVal name the keys of the three tables writeThreeTables
// writes: prefixes a, b and c, 300 keys each.
func damageKey(prefix string, i int) []byte { return []byte(fmt.Sprintf("%s%04d", prefix, i)) }

// newKey is the i-th key written after the damage, inside the damaged
// table's key range, so that compactions must read the damaged table
// (tables with disjoint ranges would move down without being read).
func newKey(i int) []byte { return []byte(fmt.Sprintf("a%04d-w%05d", i%300, i)) }

func damageVal(prefix string, i int) []byte {
	return []byte(fmt.Sprintf("value-%s-%04d-%s", prefix, i, strings.Repeat("x", 40)))
}

// writeThreeTables writes three L0 tables (keys a*, b*, c*) and closes the
// DB. It returns the tables' paths, oldest first.
func writeThreeTables(t *testing.T, fs *vfs.MemFS) []string {
	t.Helper()
	db, err := Open("/db", &Options{FS: fs, BlockSize: 1024, DisableAutomaticCompactions: true})
	require.NoError(t, err)
	for _, p := range []string{"a", "b", "c"} {
		for i := range 300 {
			require.NoError(t, db.Put(damageKey(p, i), damageVal(p, i)))
		}
		require.NoError(t, db.Flush())
	}
	require.Equal(t, 3, db.Metrics().Levels[0].Files)
	require.NoError(t, db.Close())
	names, err := fs.List("/db/sst")
	require.NoError(t, err)
	require.Len(t, names, 3)
	var paths []string
	for _, n := range names {
		paths = append(paths, filepath.Join("/db/sst", n))
	}
	return paths // List sorts; file numbers have a fixed width
}

func flipByte(t *testing.T, fs *vfs.MemFS, path string, off int64) {
	t.Helper()
	data, err := fs.ReadFile(path)
	require.NoError(t, err)
	if off < 0 {
		off += int64(len(data))
	}
	data[off] ^= 0x5a
	require.NoError(t, fs.WriteFile(path, data))
}

// tableSections returns the offsets of a table's filter, index and
// properties blocks and of its footer.
func tableSections(t *testing.T, fs *vfs.MemFS, path string) (filter, index, props, footer int64) {
	t.Helper()
	f, err := fs.Open(path)
	require.NoError(t, err)
	st, err := f.Stat()
	require.NoError(t, err)
	r, err := sstable.Open(f, st.Size(), sstable.ReaderOptions{FileName: path})
	require.NoError(t, err)
	p := r.Properties()
	require.NoError(t, r.Close())
	require.NotZero(t, p.FilterBytes)
	filter = int64(p.DataBytes)
	index = filter + int64(p.FilterBytes) + 5
	props = index + int64(p.IndexBytes) + 5
	return filter, index, props, st.Size() - 64
}

// TestOpenRefusesDamagedTableMetadata damages the footer, the index, the
// filter or the properties of one live table: Open must refuse with a
// CorruptionError naming the table and the offset, and leave the
// directory usable once the damage is undone.
func TestOpenRefusesDamagedTableMetadata(t *testing.T) {
	fs := vfs.NewMem()
	paths := writeThreeTables(t, fs)
	victim := paths[1]
	filterOff, indexOff, propsOff, footerOff := tableSections(t, fs, victim)
	for _, tc := range []struct {
		name    string
		off     int64
		wantOff int64
	}{
		{"footer", footerOff + 20, footerOff},
		{"index", indexOff + 3, indexOff},
		{"filter", filterOff + 30, filterOff},
		{"properties", propsOff + 2, propsOff},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fs.CrashClone(vfs.CrashCloneOptions{})
			flipByte(t, c, victim, tc.off)
			_, err := Open("/db", &Options{FS: c})
			require.ErrorIs(t, err, ErrCorruption)
			var ce *CorruptionError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, "sst/"+filepath.Base(victim), ce.File)
			require.Equal(t, tc.wantOff, ce.Offset)
			t.Logf("open refused: %v", err)

			// Undo the damage: the directory opens (Open released its lock).
			flipByte(t, c, victim, tc.off)
			db, err := Open("/db", &Options{FS: c})
			require.NoError(t, err)
			v, err := db.Get(damageKey("b", 7))
			require.NoError(t, err)
			require.Equal(t, damageVal("b", 7), v)
			require.NoError(t, db.Close())
		})
	}
}

// TestCorruptDataBlockDegrades damages a data block of an L0 table, which
// Open cannot see (data blocks are checked when read). The compaction that
// meets it must not retry for ever: the engine reports itself degraded,
// naming the table, keeps serving every undamaged key, and writes that
// would stall for ever get ErrDegraded at once instead of ErrBusy after
// each stall timeout.
func TestCorruptDataBlockDegrades(t *testing.T) {
	fs := vfs.NewMem()
	paths := writeThreeTables(t, fs)
	victim := paths[0] // the a* keys
	victimName := "sst/" + filepath.Base(victim)
	flipByte(t, fs, victim, 20) // inside the first data block

	var logs lockedBuffer
	opts := &Options{FS: fs, BlockSize: 1024, MemTableRecords: 50, MaxImmutableMemTables: 1,
		L0CompactionThreshold: 4, L0StopWritesThreshold: 6, WriteStallTimeout: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	db, err := Open("/db", opts)
	require.NoError(t, err, "damage in a data block is found when the block is read, not at open")
	defer db.Close()
	require.Empty(t, db.Damage())

	// Write until the engine refuses: the fourth L0 table triggers the
	// compaction that meets the damage; writes go on until L0 is full.
	// A stall that began before the compaction found the damage may end
	// in ErrBusy on a slow machine; it must not stay that way.
	var acked, busy int
	for acked < 5000 {
		err = db.Put(newKey(acked), damageVal("w", acked))
		if errors.Is(err, ErrBusy) && busy < 3 {
			busy++
			continue
		}
		if err != nil {
			break
		}
		acked++
	}
	require.Error(t, err, "writes never stopped")
	require.ErrorIs(t, err, ErrDegraded, "a stall that compaction can never end is reported as damage")
	var ce *CorruptionError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, victimName, ce.File)
	require.Greater(t, acked, 100, "writes are accepted while L0 has room")
	t.Logf("after %d writes: %v", acked, err)

	damage := db.Damage()
	require.Len(t, damage, 1)
	require.Equal(t, victimName, damage[0].File)
	m := db.Metrics()
	require.True(t, m.Degraded)
	require.Equal(t, 1, m.DamagedTables)
	require.False(t, m.ReadOnly)
	require.Contains(t, logs.String(), "level=ERROR")
	require.Contains(t, logs.String(), victimName)
	require.Contains(t, logs.String(), "minidbgo check")

	// The failed compaction is not retried, however often it is asked for.
	failures := m.BackgroundErrors
	require.LessOrEqual(t, failures, uint64(1))
	for range 5 {
		db.maybeScheduleCompaction()
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // longer than the first retry backoff
	require.Equal(t, failures, db.Metrics().BackgroundErrors, "compaction retried a damaged input")

	// A flush cannot complete either: it says why instead of hanging.
	err = db.Flush()
	require.ErrorIs(t, err, ErrDegraded)
	// So does a manual compaction.
	require.ErrorIs(t, db.Compact(), ErrDegraded)

	// Every undamaged key reads; the damaged block's keys report
	// corruption, never a wrong value.
	for _, p := range []string{"b", "c"} {
		for i := range 300 {
			v, err := db.Get(damageKey(p, i))
			require.NoError(t, err)
			require.Equal(t, damageVal(p, i), v)
		}
	}
	for i := range acked {
		v, err := db.Get(newKey(i))
		require.NoError(t, err, "acknowledged %s", newKey(i))
		require.Equal(t, damageVal("w", i), v)
	}
	var good, bad int
	for i := range 300 {
		v, err := db.Get(damageKey("a", i))
		switch {
		case err == nil:
			require.Equal(t, damageVal("a", i), v)
			good++
		case errors.Is(err, ErrCorruption):
			require.ErrorAs(t, err, &ce)
			require.Equal(t, victimName, ce.File)
			bad++
		default:
			t.Fatalf("a%04d: %v", i, err)
		}
	}
	require.NotZero(t, bad)
	require.NotZero(t, good)
	it := db.NewIter(&IterOptions{Prefix: []byte("c")})
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	require.NoError(t, it.Close())
	require.Equal(t, 300, n)
	require.Len(t, db.Damage(), 1)
}

// TestPickerSkipsDamagedTables: with a damaged table in a level that needs
// compacting, the picker chooses another table of the level; with every
// table damaged it chooses nothing rather than a compaction bound to fail.
func TestPickerSkipsDamagedTables(t *testing.T) {
	fs := vfs.NewMem()
	opts := &Options{FS: fs, DisableAutomaticCompactions: true, TargetFileSize: 4 << 10}
	db, err := Open("/db", opts)
	require.NoError(t, err)
	for i := range 2000 {
		require.NoError(t, db.Put(damageKey("k", i), damageVal("k", i)))
	}
	require.NoError(t, db.Compact())
	require.NoError(t, db.Close())
	// Reopen with a tiny level target: the level is due for compaction.
	opts.LBaseMaxBytes = 4 << 10
	db, err = Open("/db", opts)
	require.NoError(t, err)
	defer db.Close()
	db.mu.Lock()
	var files []uint64
	level := 0
	for l := 1; l < len(db.mu.version.Levels) && level == 0; l++ {
		if fl := db.mu.version.Levels[l]; len(fl) > 2 {
			level = l
			for _, f := range fl {
				files = append(files, f.FileNum)
			}
		}
	}
	db.mu.Unlock()
	require.NotZero(t, level, "want a level with several tables")

	pick := func() *compaction {
		db.mu.Lock()
		defer db.mu.Unlock()
		return db.pickCompactionLocked()
	}
	c := pick()
	require.NotNil(t, c)
	require.Equal(t, level, c.inputs[0].level)
	first := c.inputs[0].files[0].FileNum

	require.True(t, db.noteCorruption(&CorruptionError{File: sstName(first), Offset: 0, Err: errors.New("test damage")}))
	c = pick()
	require.NotNil(t, c, "the other tables of the level still compact")
	require.Nil(t, db.compactionDamage(c))
	require.NotEqual(t, first, c.inputs[0].files[0].FileNum)

	for _, n := range files {
		db.noteCorruption(&CorruptionError{File: sstName(n), Offset: 0, Err: errors.New("test damage")})
	}
	if c := pick(); c != nil {
		require.NotEqual(t, level, c.inputs[0].level, "no compaction of a level whose tables are all damaged")
		require.Nil(t, db.compactionDamage(c))
	}
	require.Len(t, db.Damage(), len(files))
}
