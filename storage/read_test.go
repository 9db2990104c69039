package storage

import (
	"fmt"
	"testing"

	"github.com/minidbgo/minidbgo/storage/vfs"
	"github.com/stretchr/testify/require"
)

// A Get served from a table allocates only the copy it returns: the block
// comes from the off-heap cache (or a pooled read buffer and a cache slot
// on a miss), the iterator over it is pooled, and the value is copied once.
func TestGetAllocs(t *testing.T) {
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
