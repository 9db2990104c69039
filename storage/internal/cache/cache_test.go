package cache

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func block(n int, b byte) []byte {
	v := make([]byte, n)
	for i := range v {
		v[i] = b
	}
	return v
}

// set caches a copy of data the way the sstable reader does: Alloc, fill,
// Set, Release.
func set(c *Cache, fileNum, offset uint64, data []byte) {
	v := c.Alloc(len(data))
	copy(v.Bytes(), data)
	c.Set(fileNum, offset, v)
	v.Release()
}

// get returns a copy of a cached block.
func get(c *Cache, fileNum, offset uint64) ([]byte, bool) {
	v, ok := c.Get(fileNum, offset)
	if !ok {
		return nil, false
	}
	defer v.Release()
	return append([]byte(nil), v.Bytes()...), true
}

// charge is what an n-byte block costs.
func charge(n int) int64 {
	if n > maxSlabSize {
		return int64(n) + EntryOverhead
	}
	_, size := classOf(n)
	return int64(size) + EntryOverhead
}

func TestCacheGetSet(t *testing.T) {
	c := New(8 << 20)
	_, ok := c.Get(1, 0)
	require.False(t, ok)

	set(c, 1, 0, []byte("a"))
	set(c, 1, 4096, []byte("b"))
	set(c, 2, 0, []byte("c"))
	for _, tc := range []struct {
		file, off uint64
		want      string
	}{{1, 0, "a"}, {1, 4096, "b"}, {2, 0, "c"}} {
		v, ok := get(c, tc.file, tc.off)
		require.True(t, ok)
		require.Equal(t, tc.want, string(v))
	}

	// Replacing a key keeps a single entry.
	set(c, 1, 0, []byte("aa"))
	v, ok := get(c, 1, 0)
	require.True(t, ok)
	require.Equal(t, "aa", string(v))

	m := c.Metrics()
	require.Equal(t, uint64(4), m.Hits)
	require.Equal(t, uint64(1), m.Misses)
	require.Equal(t, int64(3), m.Count)
	require.Equal(t, 3*charge(1), m.Size)
	require.Equal(t, c.Size(), m.Size)
	require.Equal(t, int64(8<<20), m.Capacity)
	require.Equal(t, int64(8<<20), c.Capacity())
}

func TestCacheSecondChance(t *testing.T) {
	// A small cache has a single shard, so the order is global.
	const valLen = 768
	c := New(10 * charge(valLen))
	require.Len(t, c.shards, 1)
	for i := range 10 {
		set(c, 1, uint64(i), block(valLen, byte(i)))
	}
	require.Equal(t, 10*charge(valLen), c.Size())

	// Touch 0..4: they get a second chance, so 5..9 go first.
	for i := range 5 {
		_, ok := get(c, 1, uint64(i))
		require.True(t, ok)
	}
	for i := 10; i < 15; i++ {
		set(c, 1, uint64(i), block(valLen, byte(i)))
		require.LessOrEqual(t, c.Size(), c.Capacity())
	}
	for i := range 15 {
		v, ok := get(c, 1, uint64(i))
		require.Equal(t, i < 5 || i >= 10, ok, "block %d", i)
		if ok {
			require.Equal(t, block(valLen, byte(i)), v)
		}
	}
}

func TestCacheTooLarge(t *testing.T) {
	c := New(4096)
	set(c, 1, 0, block(100, 1))
	set(c, 1, 1, block(4096, 2)) // larger than the shard with its overhead
	_, ok := get(c, 1, 1)
	require.False(t, ok)
	_, ok = get(c, 1, 0)
	require.True(t, ok, "a rejected entry must not evict others")

	// Replacing an entry with one too large drops the old value.
	set(c, 1, 0, block(8192, 3))
	_, ok = get(c, 1, 0)
	require.False(t, ok)
	require.Zero(t, c.Size())
}

func TestCacheBoundNeverExceeded(t *testing.T) {
	for _, capacity := range []int64{1, 5000, 1 << 20, 3<<20 + 17, 64 << 20} {
		t.Run(fmt.Sprint(capacity), func(t *testing.T) {
			c := New(capacity)
			defer c.Close()
			rng := rand.New(rand.NewPCG(1, uint64(capacity)))
			iters := 5000
			if poisonFreed { // race builds: poisoning every slot is slow
				iters = 1000
			}
			for range iters {
				// Values are never read here: no need to fill them. Some
				// are too large for a slab.
				v := c.Alloc(rng.IntN(96 << 10))
				c.Set(rng.Uint64N(8), rng.Uint64N(512)*4096, v)
				v.Release()
				require.LessOrEqual(t, c.Size(), capacity)
				if rng.IntN(4) == 0 {
					get(c, rng.Uint64N(8), rng.Uint64N(512)*4096)
				}
			}
			m := c.Metrics()
			require.LessOrEqual(t, m.Size, capacity)
			require.Equal(t, c.Size(), m.Size)
		})
	}
}

func TestCacheEvictFile(t *testing.T) {
	c := New(64 << 20)
	for f := uint64(1); f <= 3; f++ {
		for off := range uint64(100) {
			set(c, f, off*4096, block(10, byte(f)))
		}
	}
	c.EvictFile(2)
	for f := uint64(1); f <= 3; f++ {
		for off := range uint64(100) {
			_, ok := get(c, f, off*4096)
			require.Equal(t, f != 2, ok)
		}
	}
	m := c.Metrics()
	require.Equal(t, int64(200), m.Count)
	require.Equal(t, 200*charge(10), m.Size)
	c.EvictFile(1)
	c.EvictFile(3)
	require.Zero(t, c.Size())
	require.Zero(t, c.Metrics().Count)
}

func TestCacheDisabled(t *testing.T) {
	for _, c := range []*Cache{New(0), New(-1), nil} {
		set(c, 1, 0, []byte("x"))
		_, ok := c.Get(1, 0)
		require.False(t, ok)
		c.EvictFile(1)
		require.Zero(t, c.Size())
		require.Zero(t, c.Capacity())
		m := c.Metrics()
		require.Zero(t, m.Hits)
		require.Zero(t, m.Count)
		require.Zero(t, m.Mapped)
		v := c.Alloc(10) // on the Go heap, still usable
		require.Len(t, v.Bytes(), 10)
		v.Release()
		c.Close()
	}
	c := New(0)
	c.Get(1, 1)
	require.Equal(t, uint64(1), c.Metrics().Misses)
}

// The cache's blocks are mapped outside the Go heap: caching 8 MiB must
// not grow the heap by anything like 8 MiB.
func TestCacheOffHeap(t *testing.T) {
	if mapRegion(4096) == nil {
		t.Skip("no mmap on this platform")
	}
	c := New(16 << 20)
	defer c.Close()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	blk := block(4000, 7)
	for i := range uint64(2048) { // 8 MiB of blocks
		set(c, 1, i*4096, blk)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	m := c.Metrics()
	require.Equal(t, int64(2048), m.Count)
	require.GreaterOrEqual(t, m.Mapped, int64(2048*4096))
	require.Less(t, int64(after.HeapAlloc)-int64(before.HeapAlloc), int64(2<<20),
		"cached blocks must not be on the Go heap")
}

// A block held by a reader survives its eviction, and its slot is reused
// only once it is released.
func TestCacheHeldValueOutlivesEviction(t *testing.T) {
	c := New(1 << 20)
	defer c.Close()
	set(c, 1, 0, block(4000, 1))
	v, ok := c.Get(1, 0)
	require.True(t, ok)
	c.EvictFile(1)
	// Churn the cache: no new block may take the held block's slot.
	for i := range uint64(1000) {
		set(c, 2, i, block(4000, 2))
	}
	require.Equal(t, block(4000, 1), v.Bytes())
	addr := &v.Bytes()[0]
	v.Release()

	// Once released, the slot is free for the next block of its class.
	c.EvictFile(2)
	w := c.Alloc(4000)
	defer w.Release()
	found := &w.Bytes()[0] == addr
	for i := 0; !found && i < 1000; i++ {
		x := c.Alloc(4000)
		defer x.Release()
		found = &x.Bytes()[0] == addr
	}
	require.True(t, found, "a released slot is reused")
}

// Memory is bounded by the capacity whatever the churn: slots are reused,
// not mapped anew.
func TestCacheMappedBounded(t *testing.T) {
	const capacity = 4 << 20
	c := New(capacity)
	defer c.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 20000 {
		set(c, uint64(i%7), uint64(i), make([]byte, 3000+rng.IntN(2000)))
	}
	m := c.Metrics()
	// The cached slots, plus at most one partly carved slab per class
	// in use (4-5 KB blocks: 9 classes) per shard.
	require.LessOrEqual(t, m.Mapped, int64(capacity+9*slabSize*len(c.shards)))
	require.Greater(t, m.Mapped, int64(capacity/2))
}

func TestCacheLargeBlock(t *testing.T) {
	c := New(8 << 20)
	big := block(200<<10, 9) // on the Go heap
	set(c, 1, 0, big)
	v, ok := get(c, 1, 0)
	require.True(t, ok)
	require.Equal(t, big, v)
	require.Equal(t, charge(len(big)), c.Size())
	require.Zero(t, c.Metrics().Mapped)
	c.EvictFile(1)
	require.Zero(t, c.Size())
	c.Close()
}

// Close unmaps everything, but only once the last held Value is released.
func TestCacheClose(t *testing.T) {
	c := New(4 << 20)
	for i := range uint64(100) {
		set(c, 1, i, block(4000, byte(i)))
	}
	v, ok := c.Get(1, 42)
	require.True(t, ok)
	c.Close()
	m := c.Metrics()
	require.Zero(t, m.Count)
	require.Zero(t, m.Size)
	if mapRegion(4096) != nil {
		require.Positive(t, m.Mapped, "a held block stays mapped")
	}
	require.Equal(t, block(4000, 42), v.Bytes())
	v.Release()
	require.Zero(t, c.Metrics().Mapped)

	// A closed cache caches nothing, and Alloc still works.
	set(c, 1, 1, block(10, 1))
	_, ok = c.Get(1, 1)
	require.False(t, ok)
	require.Zero(t, c.Metrics().Mapped)
	c.Close() // idempotent
}

func TestCacheReleaseTwicePanics(t *testing.T) {
	c := New(1 << 20)
	defer c.Close()
	v := c.Alloc(100)
	v.Release()
	require.Panics(t, v.Release)
}

// Under the race detector freed slots are poisoned, so a use after
// release shows up as wrong bytes.
func TestCachePoisonAfterRelease(t *testing.T) {
	if !poisonFreed || mapRegion(4096) == nil {
		t.Skip("poisoning is on in race builds only")
	}
	c := New(1 << 20)
	defer c.Close()
	v := c.Alloc(4000)
	b := v.Bytes()
	copy(b, block(4000, 1))
	v.Release()
	require.Equal(t, byte(0xdb), b[0])
	require.Equal(t, byte(0xdb), b[3999])
}

func TestCacheConcurrent(t *testing.T) {
	const capacity = 4 << 20 // four shards
	c := New(capacity)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for range 3000 {
				f, off := rng.Uint64N(4), rng.Uint64N(256)
				want := byte(f*31 + off)
				switch r := rng.IntN(100); {
				case r < 50:
					if v, ok := c.Get(f, off); ok {
						// Values are never mixed up between keys, nor
						// reused while held.
						b := v.Bytes()
						for i := range b {
							if b[i] != want {
								t.Errorf("block (%d, %d) byte %d = %#x, want %#x", f, off, i, b[i], want)
								break
							}
						}
						v.Release()
					}
				case r < 98:
					v := c.Alloc(1 + rng.IntN(8<<10))
					b := v.Bytes()
					for i := range b {
						b[i] = want
					}
					c.Set(f, off, v)
					v.Release()
				case r < 99:
					c.EvictFile(f)
				default:
					c.Metrics()
				}
			}
		})
	}
	wg.Wait()
	require.LessOrEqual(t, c.Size(), int64(capacity))
	m := c.Metrics()
	require.Positive(t, m.Hits+m.Misses)
	c.Close()
	require.Zero(t, c.Metrics().Mapped, "every Value was released")
}

func TestCacheGetAllocs(t *testing.T) {
	c := New(64 << 20)
	defer c.Close()
	set(c, 1, 0, make([]byte, 4096))
	allocs := testing.AllocsPerRun(100, func() {
		v, _ := c.Get(1, 0)
		v.Release()
	})
	require.Zero(t, allocs)
}

func BenchmarkCacheGet(b *testing.B) {
	c := New(64 << 20)
	defer c.Close()
	for i := range uint64(1024) {
		set(c, 1, i*4096, make([]byte, 4096))
	}
	var i uint64
	for b.Loop() {
		v, _ := c.Get(1, (i%1024)*4096)
		v.Release()
		i++
	}
}
