package storage

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minidbgo/minidbgo/storage/vfs"
	"github.com/stretchr/testify/require"
)

func walFiles(t *testing.T, fs *vfs.MemFS) []string {
	t.Helper()
	names, err := fs.List("/db/wal")
	require.NoError(t, err)
	return names
}

// TestWALTruncationEveryByte writes records, crashes without flushing, and
// truncates the WAL at every byte of its last records: the reopened DB must
// hold exactly a prefix of the writes, and never fail to open.
func TestWALTruncationEveryByte(t *testing.T) {
	fs := vfs.NewMem()
	db, err := Open("/db", &Options{FS: fs})
	require.NoError(t, err)
	const n = 20
	for i := range n {
		require.NoError(t, db.Put([]byte(fmt.Sprintf("key%02d", i)), []byte(fmt.Sprintf("value-%02d-%s", i, "padding"))))
	}
	crashed := fs.CrashClone(vfs.CrashCloneOptions{})
	require.NoError(t, db.Close())
	names := walFiles(t, crashed)
	require.Len(t, names, 1)
	path := filepath.Join("/db/wal", names[0])
	full, err := crashed.ReadFile(path)
	require.NoError(t, err)

	prev := -1
	for cut := len(full); cut >= len(full)-200 && cut >= 0; cut-- {
		c := crashed.CrashClone(vfs.CrashCloneOptions{})
		require.NoError(t, c.WriteFile(path, full[:cut]))
		db, err := Open("/db", &Options{FS: c})
		require.NoError(t, err, "truncated at %d of %d", cut, len(full))
		// The keys present must be key00..key(k-1) for some k.
		k := 0
		for ; k < n; k++ {
			if _, err := db.Get([]byte(fmt.Sprintf("key%02d", k))); err != nil {
				require.ErrorIs(t, err, ErrNotFound)
				break
			}
		}
		for j := k; j < n; j++ {
			_, err := db.Get([]byte(fmt.Sprintf("key%02d", j)))
			require.ErrorIs(t, err, ErrNotFound, "hole: key%02d present after key%02d missing (cut %d)", j, k, cut)
		}
		if prev >= 0 {
			require.LessOrEqual(t, k, prev, "shorter log recovered more")
		}
		prev = k
		require.NoError(t, db.Close())
	}
	require.Less(t, prev, n)
}

// TestWALMidLogCorruption flips a byte inside an early record: Open must
// refuse with a CorruptionError naming the WAL and an offset.
func TestWALMidLogCorruption(t *testing.T) {
	fs := vfs.NewMem()
	db, err := Open("/db", &Options{FS: fs})
	require.NoError(t, err)
	for i := range 50 {
		require.NoError(t, db.Put([]byte(fmt.Sprintf("key%02d", i)), []byte("some value")))
	}
	crashed := fs.CrashClone(vfs.CrashCloneOptions{})
	require.NoError(t, db.Close())
	path := filepath.Join("/db/wal", walFiles(t, crashed)[0])
	data, err := crashed.ReadFile(path)
	require.NoError(t, err)
	data[40] ^= 0x55
	require.NoError(t, crashed.WriteFile(path, data))
	_, err = Open("/db", &Options{FS: crashed})
	require.ErrorIs(t, err, ErrCorruption)
	var ce *CorruptionError
	require.ErrorAs(t, err, &ce)
	require.Contains(t, ce.File, ".log")
	t.Logf("open refused: %v", err)
}

// TestSSTBitFlips writes and compacts keys, then flips bytes of the table:
// every read must return the right value or ErrCorruption, never a wrong
// value, and never panic.
func TestSSTBitFlips(t *testing.T) {
	fs := vfs.NewMem()
	opts := &Options{FS: fs, BlockSize: 1024}
	db, err := Open("/db", opts)
	require.NoError(t, err)
	const n = 2000
	val := func(i int) string { return fmt.Sprintf("value-%05d-%x", i, i*7919) }
	for i := range n {
		require.NoError(t, db.Put([]byte(fmt.Sprintf("key%05d", i)), []byte(val(i))))
	}
	require.NoError(t, db.Compact())
	require.NoError(t, db.Close())
	tables, err := fs.List("/db/sst")
	require.NoError(t, err)
	require.Len(t, tables, 1)
	path := filepath.Join("/db/sst", tables[0])
	orig, err := fs.ReadFile(path)
	require.NoError(t, err)

	rng := rand.New(rand.NewPCG(7, 7))
	var correct, corrupt, openRefused, bad int
	for trial := range 120 {
		c := fs.CrashClone(vfs.CrashCloneOptions{})
		data := append([]byte(nil), orig...)
		off := rng.IntN(len(data))
		if trial >= 100 {
			off = len(data) - 1 - rng.IntN(64) // footer and trailing blocks
		}
		data[off] ^= 1 << rng.IntN(8)
		require.NoError(t, c.WriteFile(path, data))
		db, err := Open("/db", &Options{FS: c, BlockSize: 1024})
		if err != nil {
			require.ErrorIs(t, err, ErrCorruption, "open error for flip at %d", off)
			openRefused++
			continue
		}
		for i := 0; i < n; i += 7 {
			got, err := db.Get([]byte(fmt.Sprintf("key%05d", i)))
			switch {
			case err == nil && string(got) == val(i):
				correct++
			case err == nil:
				bad++
				t.Errorf("flip at %d: key%05d = %q, want %q", off, i, got, val(i))
			case errors.Is(err, ErrCorruption):
				corrupt++
			default:
				t.Errorf("flip at %d: key%05d: unexpected error %v", off, i, err)
			}
		}
		it := db.NewIter(nil)
		for ok := it.First(); ok; ok = it.Next() {
		}
		if err := it.Close(); err != nil {
			require.ErrorIs(t, err, ErrCorruption)
		}
		require.NoError(t, db.Close())
	}
	t.Logf("bit flips: correct=%d corruption_errors=%d open_refused=%d bad_values=%d", correct, corrupt, openRefused, bad)
	require.Zero(t, bad)
}

// TestConcurrentReadersWriters runs writers, readers, iterators, flushes
// and compactions together (meant for -race). Each writer owns keys and
// writes increasing values; readers check values never go backwards.
func TestConcurrentReadersWriters(t *testing.T) {
	fs := vfs.NewMem()
	db, err := Open("/db", &Options{FS: fs, MemTableRecords: 200, L0CompactionThreshold: 2,
		LBaseMaxBytes: 64 << 10, TargetFileSize: 16 << 10})
	require.NoError(t, err)
	const writers, keysPer, rounds = 4, 20, 60
	var wg sync.WaitGroup
	var stop atomic.Bool
	for w := range writers {
		wg.Go(func() {
			for r := 1; r <= rounds; r++ {
				b := db.NewBatch()
				for k := range keysPer {
					b.Put([]byte(fmt.Sprintf("w%d-k%02d", w, k)), []byte(fmt.Sprintf("%06d", r)))
				}
				if err := db.Apply(b); err != nil {
					t.Errorf("apply: %v", err)
					return
				}
			}
		})
	}
	var readers sync.WaitGroup
	for range 3 {
		readers.Go(func() {
			last := map[string]string{}
			for !stop.Load() {
				// A snapshot must see each writer's batch whole: all of a
				// writer's keys hold the same round.
				s := db.NewSnapshot()
				it := s.NewIter(nil)
				rounds := map[string]string{}
				for ok := it.First(); ok; ok = it.Next() {
					k, v := string(it.Key()), string(it.Value())
					w := k[:2]
					if r, ok := rounds[w]; ok && r != v {
						t.Errorf("torn batch: %s at %s, writer %s at %s", k, v, w, r)
					}
					rounds[w] = v
					if v < last[k] {
						t.Errorf("%s went back from %s to %s", k, last[k], v)
					}
					last[k] = v
				}
				if err := it.Close(); err != nil {
					t.Errorf("iter: %v", err)
				}
				_ = s.Close()
				if _, err := db.Get([]byte("w0-k00")); err != nil && !errors.Is(err, ErrNotFound) {
					t.Errorf("get: %v", err)
				}
			}
		})
	}
	readers.Go(func() {
		for !stop.Load() {
			if err := db.Flush(); err != nil {
				t.Errorf("flush: %v", err)
			}
			if err := db.Compact(); err != nil {
				t.Errorf("compact: %v", err)
			}
		}
	})
	wg.Wait()
	stop.Store(true)
	readers.Wait()
	for w := range writers {
		for k := range keysPer {
			v, err := db.Get([]byte(fmt.Sprintf("w%d-k%02d", w, k)))
			require.NoError(t, err)
			require.Equal(t, fmt.Sprintf("%06d", rounds), string(v))
		}
	}
	require.NoError(t, db.Close())
}

// TestSequentialFillMovesTables checks that key-ordered writes reach L1 by
// trivial moves (no rewrite) and stay readable across a reopen.
func TestSequentialFillMovesTables(t *testing.T) {
	fs := vfs.NewMem()
	opts := &Options{FS: fs, MemTableRecords: 100, L0CompactionThreshold: 2}
	db, err := Open("/db", opts)
	require.NoError(t, err)
	for i := range 3000 {
		require.NoError(t, db.Put([]byte(fmt.Sprintf("key%06d", i)), []byte("v")))
	}
	require.NoError(t, db.Flush())
	require.Eventually(t, func() bool { return db.Metrics().TrivialMoves > 0 }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, db.Close())
	db, err = Open("/db", opts)
	require.NoError(t, err)
	defer db.Close()
	for i := 0; i < 3000; i += 37 {
		v, err := db.Get([]byte(fmt.Sprintf("key%06d", i)))
		require.NoError(t, err)
		require.Equal(t, "v", string(v))
	}
}
