package docstore

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/minidbgo/minidbgo/docstore/internal/keyenc"
	"github.com/minidbgo/minidbgo/storage"
	"github.com/minidbgo/minidbgo/storage/vfs"
	"github.com/stretchr/testify/require"
)

// scanCount counts a collection's documents and their bytes by reading
// every document key: what the maintained counts must equal.
func scanCount(t *testing.T, db *DB, col string) (docs, bytes int64) {
	t.Helper()
	it := db.engine.NewIter(&storage.IterOptions{Prefix: keyenc.DocPrefix(col)})
	for ok := it.First(); ok; ok = it.Next() {
		docs++
		bytes += int64(len(it.Value()) - 8)
	}
	require.NoError(t, it.Close())
	return docs, bytes
}

func requireCountsMatchScan(t *testing.T, db *DB, col, when string) {
	t.Helper()
	docs, bytes := scanCount(t, db, col)
	info, err := db.Stats(col)
	if docs == 0 && errCode(err) == "not_found" {
		return
	}
	require.NoError(t, err, when)
	require.Equal(t, docs, info.DocCount, "%s: docCount against a full scan", when)
	require.Equal(t, bytes, info.ByteSize, "%s: byteSize against a full scan", when)
	stored, storedBytes, _, err := db.readStats(col, false)
	require.NoError(t, err)
	require.Equal(t, docs, stored, "%s: stored count against a full scan", when)
	require.Equal(t, bytes, storedBytes, "%s: stored byte size against a full scan", when)
}

// TestDropDuringWritesKeepsCounts drops a collection while writers insert
// into it and delete from it, then checks that the counts equal a full
// scan, in memory and after reopening; over several rounds, so that the
// drop meets the writers and the stats folds at different points.
func TestDropDuringWritesKeepsCounts(t *testing.T) {
	fs := vfs.NewMem()
	open := func() *DB {
		db, err := Open("/db", &Options{Storage: &storage.Options{FS: fs, MemTableRecords: 5000}})
		require.NoError(t, err)
		return db
	}
	db := open()
	for round := range 4 {
		var done atomic.Int32
		var wg sync.WaitGroup
		const writers, perWriter = 3, 150
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer done.Add(1)
				for i := range perWriter {
					batch := make([][]byte, 16)
					for j := range batch {
						batch[j] = []byte(fmt.Sprintf(`{"_id":"r%dw%di%dj%d","v":%d}`, round, w, i, j, i*j))
					}
					_, err := db.InsertMany("c", batch)
					require.NoError(t, err)
					if i%3 == 0 {
						err := db.Delete("c", fmt.Sprintf("r%dw%di%dj0", round, w, i), WriteOptions{})
						require.True(t, err == nil || errCode(err) == "not_found", "delete: %v", err)
					}
				}
			}()
		}
		// Drop once the collection has grown (and stats folds ran),
		// while the writers write.
		for done.Load() < writers {
			if info, err := db.Stats("c"); err == nil && info.DocCount >= 1000+int64(round)*300 {
				break
			}
			runtime.Gosched()
		}
		err := db.DropCollection("c")
		require.True(t, err == nil || errCode(err) == "not_found", "drop: %v", err)
		wg.Wait()
		requireCountsMatchScan(t, db, "c", fmt.Sprintf("round %d, before reopening", round))
		require.NoError(t, db.Close())
		db = open()
		requireCountsMatchScan(t, db, "c", fmt.Sprintf("round %d, after reopening", round))
	}
	require.NoError(t, db.Close())
}
