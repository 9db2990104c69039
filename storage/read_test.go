package storage

import (
	"bytes"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/minidbgo/minidbgo/storage/vfs"
	"github.com/stretchr/testify/require"
)

// A Get served from a table allocates only the copy it returns: the block
// comes from the off-heap cache (or a pooled read buffer and a cache slot
// on a miss), the iterator over it is pooled, and the value is copied once.
func TestGetAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items at random")
	}
	fs := vfs.NewMem()
	db, err := Open("/db", &Options{FS: fs, BlockCacheBytes: 8 << 20, DirCheckInterval: -1})
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	const n = 2000
	for i := range n {
		require.NoError(t, db.Put(fmt.Appendf(nil, "key%06d", i), fmt.Appendf(nil, "value-%06d-%0100d", i, i)))
	}
	require.NoError(t, db.Compact())
	key := []byte("key001234")
	_, err = db.Get(key) // opens the table, caches the block
	require.NoError(t, err)

	hit := testing.AllocsPerRun(200, func() {
		v, err := db.Get(key)
		if err != nil || len(v) == 0 {
			t.Fatalf("Get: %q, %v", v, err)
		}
	})
	require.Equal(t, 1.0, hit, "allocations per Get hitting the block cache")
	m := db.Metrics()
	require.Positive(t, m.BlockCacheHits)

	// The engine's background goroutines (the periodic directory check
	// is off) must not allocate meanwhile: AllocsPerRun counts every
	// goroutine's allocations.

	// Misses: a cache that holds one block, and Gets alternating between
	// two blocks. Old code allocated the read buffer and the decompressed
	// block on each miss; now the read buffer is pooled and the block goes
	// to a cache slot, leaving the slot's Value header and the copy.
	small, err := Open("/small", &Options{FS: fs, BlockCacheBytes: 6000, DirCheckInterval: -1})
	require.NoError(t, err)
	defer func() { require.NoError(t, small.Close()) }()
	for i := range n {
		require.NoError(t, small.Put(fmt.Appendf(nil, "key%06d", i), fmt.Appendf(nil, "value-%06d-%0100d", i, i)))
	}
	require.NoError(t, small.Compact())
	keys := [][]byte{[]byte("key000010"), []byte("key001900")}
	for _, k := range keys {
		_, err := small.Get(k)
		require.NoError(t, err)
	}
	m0 := small.Metrics()
	i := 0
	miss := testing.AllocsPerRun(1000, func() {
		v, err := small.Get(keys[i%2])
		i++
		if err != nil || len(v) == 0 {
			t.Fatalf("Get: %q, %v", v, err)
		}
	})
	m1 := small.Metrics()
	require.Zero(t, m1.BlockCacheHits-m0.BlockCacheHits, "every Get missed")
	require.Equal(t, 2.0, miss, "allocations per Get missing the block cache")
}

// Gets and iterators read blocks that a tiny cache evicts all the time,
// while writes and compactions replace the tables (dropping their blocks).
// Every value read must be the one written: a block reused while still
// held shows up as wrong bytes (race builds poison freed slots).
func TestReadsUnderCacheChurn(t *testing.T) {
	fs := vfs.NewMem()
	db, err := Open("/db", &Options{FS: fs, BlockCacheBytes: 64 << 10, MemTableRecords: 500})
	require.NoError(t, err)
	const n = 3000
	val := func(i int) []byte { return fmt.Appendf(nil, "value-%06d-%0150d", i, i) }
	key := func(i int) []byte { return fmt.Appendf(nil, "key%06d", i) }
	for i := range n {
		require.NoError(t, db.Put(key(i), val(i)))
	}
	require.NoError(t, db.Compact())

	iters := 300
	if raceEnabled {
		iters = 60
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 2 { // point reads
		wg.Go(func() {
			for j := range iters * 10 {
				i := (j*7919 + g*31) % n
				v, err := db.Get(key(i))
				if err != nil || !bytes.Equal(v, val(i)) {
					errs <- fmt.Errorf("Get(%s) = %.20q, %v", key(i), v, err)
					return
				}
			}
		})
	}
	wg.Go(func() { // scans, holding each block across Next calls
		for j := range iters / 10 {
			it := db.NewIter(&IterOptions{LowerBound: key(j * 10 % n)})
			i := j * 10 % n
			for ok := it.First(); ok && i < n; ok = it.Next() {
				if !bytes.Equal(it.Key(), key(i)) || !bytes.Equal(it.Value(), val(i)) {
					errs <- fmt.Errorf("iterator at %s: %q = %.20q", key(i), it.Key(), it.Value())
					break
				}
				if i%4 == 0 {
					runtime.Gosched() // let the Gets evict the block meanwhile
				}
				i++
			}
			if err := it.Close(); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Go(func() { // rewrites the same values: new tables, old ones deleted
		for j := range iters / 30 {
			for i := j * 100 % n; i < j*100%n+100; i++ {
				if err := db.Put(key(i), val(i)); err != nil {
					errs <- err
					return
				}
			}
			if err := db.Compact(); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// An iterator left open over Close keeps its block until it is
	// closed, and closing it afterwards is safe.
	it := db.NewIter(nil)
	require.True(t, it.First())
	require.NoError(t, db.Close())
	require.Equal(t, val(0), it.Value())
	require.NoError(t, it.Close())
}
