package cache

import (
	"fmt"
	"math/rand/v2"
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

func TestCacheGetSet(t *testing.T) {
	c := New(8 << 20)
	_, ok := c.Get(1, 0)
	require.False(t, ok)

	c.Set(1, 0, []byte("a"))
	c.Set(1, 4096, []byte("b"))
	c.Set(2, 0, []byte("c"))
	for _, tc := range []struct {
		file, off uint64
		want      string
	}{{1, 0, "a"}, {1, 4096, "b"}, {2, 0, "c"}} {
		v, ok := c.Get(tc.file, tc.off)
		require.True(t, ok)
		require.Equal(t, tc.want, string(v))
	}

	// Replacing a key keeps a single entry.
	c.Set(1, 0, []byte("aa"))
	v, ok := c.Get(1, 0)
	require.True(t, ok)
	require.Equal(t, "aa", string(v))

	m := c.Metrics()
	require.Equal(t, uint64(4), m.Hits)
	require.Equal(t, uint64(1), m.Misses)
	require.Equal(t, int64(3), m.Count)
	require.Equal(t, int64(2+1+1+3*EntryOverhead), m.Size)
	require.Equal(t, c.Size(), m.Size)
	require.Equal(t, int64(8<<20), m.Capacity)
	require.Equal(t, int64(8<<20), c.Capacity())
}

func TestCacheLRUOrder(t *testing.T) {
	// A small cache has a single shard, so the order is global.
	const valLen = 1000 - EntryOverhead
	c := New(10 * 1000)
	require.Len(t, c.shards, 1)
	for i := range 10 {
		c.Set(1, uint64(i), block(valLen, byte(i)))
	}
	require.Equal(t, int64(10*1000), c.Size())

	// Touch 0..4 so that 5 is now the least recently used.
	for i := range 5 {
		_, ok := c.Get(1, uint64(i))
		require.True(t, ok)
	}
	for i := 10; i < 15; i++ {
		c.Set(1, uint64(i), block(valLen, byte(i)))
		require.LessOrEqual(t, c.Size(), c.Capacity())
	}
	for i := range 15 {
		_, ok := c.Get(1, uint64(i))
		require.Equal(t, i < 5 || i >= 10, ok, "block %d", i)
	}
}

func TestCacheTooLarge(t *testing.T) {
	c := New(4096)
	c.Set(1, 0, block(100, 1))
	c.Set(1, 1, block(4096, 2)) // larger than the shard
	_, ok := c.Get(1, 1)
	require.False(t, ok)
	_, ok = c.Get(1, 0)
	require.True(t, ok, "a rejected entry must not evict others")

	// Replacing an entry with one too large drops the old value.
	c.Set(1, 0, block(8192, 3))
	_, ok = c.Get(1, 0)
	require.False(t, ok)
	require.Zero(t, c.Size())
}

func TestCacheBoundNeverExceeded(t *testing.T) {
	for _, capacity := range []int64{1, 5000, 1 << 20, 3<<20 + 17, 64 << 20} {
		t.Run(fmt.Sprint(capacity), func(t *testing.T) {
			c := New(capacity)
			rng := rand.New(rand.NewPCG(1, uint64(capacity)))
			buf := make([]byte, 64<<10) // values are never read here
			for range 5000 {
				n := rng.IntN(len(buf))
				c.Set(rng.Uint64N(8), rng.Uint64N(512)*4096, buf[:n])
				require.LessOrEqual(t, c.Size(), capacity)
				if rng.IntN(4) == 0 {
					c.Get(rng.Uint64N(8), rng.Uint64N(512)*4096)
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
			c.Set(f, off*4096, block(10, byte(f)))
		}
	}
	c.EvictFile(2)
	for f := uint64(1); f <= 3; f++ {
		for off := range uint64(100) {
			_, ok := c.Get(f, off*4096)
			require.Equal(t, f != 2, ok)
		}
	}
	m := c.Metrics()
	require.Equal(t, int64(200), m.Count)
	require.Equal(t, int64(200*(10+EntryOverhead)), m.Size)
	c.EvictFile(1)
	c.EvictFile(3)
	require.Zero(t, c.Size())
	require.Zero(t, c.Metrics().Count)
}

func TestCacheDisabled(t *testing.T) {
	for _, c := range []*Cache{New(0), New(-1), nil} {
		c.Set(1, 0, []byte("x"))
		_, ok := c.Get(1, 0)
		require.False(t, ok)
		c.EvictFile(1)
		require.Zero(t, c.Size())
		require.Zero(t, c.Capacity())
		m := c.Metrics()
		require.Zero(t, m.Hits)
		require.Zero(t, m.Count)
	}
	c := New(0)
	c.Get(1, 1)
	require.Equal(t, uint64(1), c.Metrics().Misses)
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
				switch r := rng.IntN(100); {
				case r < 50:
					if v, ok := c.Get(f, off); ok {
						// Values are never mixed up between keys.
						require.Equal(t, byte(f*31+off), v[0])
					}
				case r < 98:
					v := make([]byte, 1+rng.IntN(4<<10))
					v[0] = byte(f*31 + off)
					c.Set(f, off, v)
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
}

func BenchmarkCacheGet(b *testing.B) {
	c := New(64 << 20)
	for i := range uint64(1024) {
		c.Set(1, i*4096, make([]byte, 4096))
	}
	var i uint64
	for b.Loop() {
		c.Get(1, (i%1024)*4096)
		i++
	}
}
