package sstable

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/minidbgo/minidbgo/storage/internal/base"
	"github.com/minidbgo/minidbgo/storage/internal/cache"
	"github.com/stretchr/testify/require"
)

func TestParseCompression(t *testing.T) {
	for _, c := range []Compression{NoCompression, S2Compression, ZstdCompression} {
		got, err := ParseCompression(c.String())
		require.NoError(t, err)
		require.Equal(t, c, got)
	}
	_, err := ParseCompression("snappy")
	require.Error(t, err)
	require.Equal(t, "compression(9)", Compression(9).String())
}

// TestRoundTrip writes the same entries under every combination of options
// and checks that the table reads back identically.
func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 150
	if raceEnabled {
		n = 40
	}
	es := genEntries(rng, n)
	for _, blockSize := range []int{64, 512, 4096, 32 << 10} {
		for _, restart := range []int{1, 16} {
			for _, comp := range []Compression{NoCompression, S2Compression, ZstdCompression} {
				for _, bloomBits := range []int{0, 10} {
					o := WriterOptions{BlockSize: blockSize, RestartInterval: restart, Compression: comp, BloomBitsPerKey: bloomBits}
					name := fmt.Sprintf("block=%d/restart=%d/%s/bloom=%d", blockSize, restart, comp, bloomBits)
					t.Run(name, func(t *testing.T) {
						var c *cache.Cache
						if blockSize != 512 {
							c = cache.New(1 << 20)
						}
						checkTable(t, es, o, c, rand.New(rand.NewPCG(3, uint64(blockSize))))
					})
				}
			}
		}
	}
}

func checkTable(t *testing.T, es []kv, o WriterOptions, c *cache.Cache, rng *rand.Rand) {
	data, meta := buildTable(t, es, o)
	require.Equal(t, uint64(len(es)), meta.NumEntries)
	require.Equal(t, es[0].key, meta.Smallest)
	require.Equal(t, es[len(es)-1].key, meta.Largest)

	r := openTable(t, data, c)
	defer func() { require.NoError(t, r.Close()) }()
	require.NoError(t, r.Verify())

	p := r.Properties()
	require.Equal(t, uint64(len(es)), p.NumEntries)
	var dels, rawKey, rawValue uint64
	minSeq, maxSeq := base.MaxSeqNum, base.SeqNum(0)
	for _, e := range es {
		if base.KindOf(e.key) == base.KindDelete {
			dels++
		}
		rawKey += uint64(len(e.key))
		rawValue += uint64(len(e.value))
		minSeq, maxSeq = min(minSeq, base.Seq(e.key)), max(maxSeq, base.Seq(e.key))
	}
	require.Equal(t, dels, p.NumDeletions)
	require.Equal(t, rawKey, p.RawKeyBytes)
	require.Equal(t, rawValue, p.RawValueBytes)
	require.Equal(t, minSeq, p.SmallestSeq)
	require.Equal(t, maxSeq, p.LargestSeq)
	require.Equal(t, minSeq, meta.SmallestSeq)
	require.Equal(t, maxSeq, meta.LargestSeq)
	require.Equal(t, es[0].key, p.Smallest)
	require.Equal(t, es[len(es)-1].key, p.Largest)
	require.Equal(t, o.Compression, p.Compression)
	require.Equal(t, FormatVersion, p.FormatVersion)
	require.Equal(t, uint64(o.BloomBitsPerKey), p.BloomBitsPerKey)
	require.Positive(t, p.NumDataBlocks)
	require.Equal(t, o.BloomBitsPerKey > 0, p.FilterBytes > 0)

	// A full scan, twice (the second from the cache).
	for range 2 {
		it := r.NewIter(nil, nil)
		requireSameEntries(t, es, collect(it, it.First()))
		require.NoError(t, it.Close())
	}

	// SeekGE to every key, to every user key at its newest possible
	// version, and between user keys.
	it := r.NewIter(nil, nil)
	for i, e := range es {
		require.True(t, it.SeekGE(e.key), "seek %v", e)
		require.Equal(t, e.key, it.Key())
		requireBytes(t, e.value, it.Value())
		if i+1 < len(es) {
			require.True(t, it.Next())
			require.Equal(t, es[i+1].key, it.Key())
		}
	}
	for i := -1; i <= 2*len(es)+1; i++ {
		uk := userKey(i)
		if i < 0 {
			uk = []byte("a")
		}
		want := modelSeekGE(es, base.MakeSearchKey(uk, base.MaxSeqNum))
		ok := it.SeekGE(base.MakeSearchKey(uk, base.MaxSeqNum))
		require.Equal(t, want < len(es), ok, "seek %q", uk)
		if ok {
			require.Equal(t, es[want].key, it.Key())
		}
	}
	require.False(t, it.SeekGE(base.MakeSearchKey([]byte("zzz"), 0)))
	require.NoError(t, it.Err())
	require.NoError(t, it.Close())

	// Get at random snapshots, for present and absent user keys.
	for i := range 2 * len(es) {
		uk := userKey(i / 2 * 2)
		if i%7 == 0 {
			uk = userKey(i | 1)
		}
		seq := base.SeqNum(rng.IntN(int(maxSeq) + 2))
		if i%5 == 0 {
			seq = base.MaxSeqNum
		}
		want, wantFound := modelGet(es, uk, seq)
		v, kind, found, err := r.Get(uk, seq)
		require.NoError(t, err)
		require.Equal(t, wantFound, found, "get %q@%d", uk, seq)
		if found {
			require.Equal(t, base.KindOf(want.key), kind)
			requireBytes(t, want.value, v)
		}
		if wantFound {
			require.True(t, r.MayContain(uk))
		}
	}

	// Bounded iterators.
	for range 20 {
		a, b := rng.IntN(2*len(es)+2), rng.IntN(2*len(es)+2)
		if a > b {
			a, b = b, a
		}
		lower, upper := userKey(a), userKey(b)
		if rng.IntN(4) == 0 {
			lower = nil
		}
		if rng.IntN(4) == 0 {
			upper = nil
		}
		var want []kv
		for _, e := range es {
			uk := base.UserKey(e.key)
			if (lower == nil || bytes.Compare(uk, lower) >= 0) && (upper == nil || bytes.Compare(uk, upper) < 0) {
				want = append(want, e)
			}
		}
		it := r.NewIter(lower, upper)
		requireSameEntries(t, want, collect(it, it.First()))
		// SeekGE below lower lands on lower; SeekGE inside the range works.
		requireSameEntries(t, want, collect(it, it.SeekGE(base.MakeSearchKey([]byte("a"), 5))))
		if len(want) > 1 {
			mid := len(want) / 2
			requireSameEntries(t, want[mid:], collect(it, it.SeekGE(want[mid].key)))
		}
		require.NoError(t, it.Close())
	}
}

func TestGetVisibility(t *testing.T) {
	// One user key with a history: SET@10, DEL@20, SET@30, and neighbours.
	es := []kv{
		{base.MakeInternalKey([]byte("a"), 5, base.KindSet), []byte("a5")},
		{base.MakeInternalKey([]byte("k"), 30, base.KindSet), []byte("v30")},
		{base.MakeInternalKey([]byte("k"), 20, base.KindDelete), nil},
		{base.MakeInternalKey([]byte("k"), 10, base.KindSet), []byte("v10")},
		{base.MakeInternalKey([]byte("z"), 1, base.KindSet), []byte("z1")},
	}
	for _, restart := range []int{1, 2, 16} {
		for _, blockSize := range []int{1, 4096} {
			data, _ := buildTable(t, es, WriterOptions{BlockSize: blockSize, RestartInterval: restart})
			r := openTable(t, data, cache.New(1<<20))
			for _, tc := range []struct {
				seq   base.SeqNum
				found bool
				kind  base.Kind
				value string
			}{
				{0, false, 0, ""},
				{9, false, 0, ""},
				{10, true, base.KindSet, "v10"},
				{19, true, base.KindSet, "v10"},
				{20, true, base.KindDelete, ""},
				{29, true, base.KindDelete, ""},
				{30, true, base.KindSet, "v30"},
				{base.MaxSeqNum, true, base.KindSet, "v30"},
				{^base.SeqNum(0), true, base.KindSet, "v30"},
			} {
				v, kind, found, err := r.Get([]byte("k"), tc.seq)
				require.NoError(t, err)
				require.Equal(t, tc.found, found, "seq %d", tc.seq)
				if found {
					require.Equal(t, tc.kind, kind, "seq %d", tc.seq)
					require.Equal(t, tc.value, string(v), "seq %d", tc.seq)
				}
			}
			for _, uk := range []string{"", "b", "j", "ka", "zz"} {
				_, _, found, err := r.Get([]byte(uk), base.MaxSeqNum)
				require.NoError(t, err)
				require.False(t, found, uk)
			}
			_, _, found, err := r.Get([]byte("z"), 0)
			require.NoError(t, err)
			require.False(t, found)
			require.NoError(t, r.Close())
		}
	}
}

func TestEmptyTable(t *testing.T) {
	for _, bloom := range []int{0, 10} {
		data, meta := buildTable(t, nil, WriterOptions{BloomBitsPerKey: bloom})
		require.Zero(t, meta.NumEntries)
		require.Nil(t, meta.Smallest)
		r := openTable(t, data, nil)
		require.NoError(t, r.Verify())
		it := r.NewIter(nil, nil)
		require.False(t, it.First())
		require.False(t, it.SeekGE(base.MakeSearchKey([]byte("a"), 1)))
		require.NoError(t, it.Close())
		_, _, found, err := r.Get([]byte("a"), base.MaxSeqNum)
		require.NoError(t, err)
		require.False(t, found)
		require.True(t, r.MayContain([]byte("a")))
		require.Zero(t, r.Properties().NumEntries)
	}
}

func TestWriterErrors(t *testing.T) {
	f := &memFile{}
	w := NewWriter(f, WriterOptions{})
	require.NoError(t, w.Add(base.MakeInternalKey([]byte("b"), 5, base.KindSet), nil))
	// Equal, smaller, and same-user-key-older-is-fine.
	require.Error(t, w.Add(base.MakeInternalKey([]byte("b"), 5, base.KindSet), nil))
	require.Error(t, w.Add(base.MakeInternalKey([]byte("a"), 9, base.KindSet), nil))
	require.Error(t, w.Add(base.MakeInternalKey([]byte("b"), 6, base.KindSet), nil))
	require.NoError(t, w.Add(base.MakeInternalKey([]byte("b"), 4, base.KindDelete), nil))
	// Invalid internal keys.
	require.Error(t, w.Add([]byte("short"), nil))
	require.Error(t, w.Add(base.MakeInternalKey([]byte("c"), 1, base.Kind(7)), nil))
	require.Greater(t, w.EstimatedSize(), uint64(0))
	meta, err := w.Close()
	require.NoError(t, err)
	require.Equal(t, uint64(2), meta.NumEntries)
	_, err = w.Close()
	require.Error(t, err)
	require.Error(t, w.Add(base.MakeInternalKey([]byte("z"), 1, base.KindSet), nil))
	w.Abort() // after Close: no-op

	// Abort closes the file without a footer.
	f = &memFile{}
	w = NewWriter(f, WriterOptions{})
	require.NoError(t, w.Add(base.MakeInternalKey([]byte("a"), 1, base.KindSet), nil))
	w.Abort()
	require.True(t, f.closed)
	_, err = w.Close()
	require.Error(t, err)
}

// failFile fails every Write after the first n bytes.
type failFile struct {
	memFile
	limit int
}

func (f *failFile) Write(p []byte) (int, error) {
	if len(f.data)+len(p) > f.limit {
		return 0, fmt.Errorf("injected write error")
	}
	return f.memFile.Write(p)
}

func TestWriterWriteError(t *testing.T) {
	es := genEntries(rand.New(rand.NewPCG(5, 5)), 2000)
	for _, limit := range []int{0, 100, 70 << 10, 200 << 10} {
		f := &failFile{limit: limit}
		w := NewWriter(f, WriterOptions{})
		var err error
		for _, e := range es {
			if err = w.Add(e.key, e.value); err != nil {
				break
			}
		}
		if err == nil {
			_, err = w.Close()
		} else {
			_, err2 := w.Close()
			require.Error(t, err2)
		}
		require.ErrorContains(t, err, "injected write error")
		require.True(t, f.closed)
	}
}

func TestEstimatedSize(t *testing.T) {
	f := &memFile{}
	w := NewWriter(f, WriterOptions{BlockSize: 1024})
	require.Zero(t, w.EstimatedSize())
	prev := uint64(0)
	for i := range 1000 {
		require.NoError(t, w.Add(base.MakeInternalKey(userKey(i), 1, base.KindSet), bytes.Repeat([]byte{'x'}, 50)))
		est := w.EstimatedSize()
		require.GreaterOrEqual(t, est, prev)
		prev = est
	}
	meta, err := w.Close()
	require.NoError(t, err)
	require.InDelta(t, float64(meta.Size), float64(prev), float64(meta.Size)/5)
}

func TestReadErrorIsNotCorruption(t *testing.T) {
	es := genEntries(rand.New(rand.NewPCG(1, 1)), 50)
	data, _ := buildTable(t, es, WriterOptions{BlockSize: 256})
	f := &memFile{data: data}
	r, err := Open(f, int64(len(data)), ReaderOptions{FileName: "x.sst"})
	require.NoError(t, err)
	f.readErr = fmt.Errorf("injected EIO")
	_, _, _, err = r.Get(base.UserKey(es[0].key), base.MaxSeqNum)
	require.ErrorContains(t, err, "injected EIO")
	require.NotErrorIs(t, err, base.ErrCorruption)
	it := r.NewIter(nil, nil)
	require.False(t, it.First())
	require.ErrorContains(t, it.Err(), "injected EIO")
	require.False(t, it.Next())
	require.Error(t, it.Close())

	_, err = Open(f, int64(len(data)), ReaderOptions{})
	require.ErrorContains(t, err, "injected EIO")
}

func TestLargeValues(t *testing.T) {
	// Entries above the 4 MiB compression limit are stored uncompressed
	// and still read back.
	big := bytes.Repeat([]byte("0123456789abcdef"), (maxCompressedBlockLen+100)/16)
	es := []kv{
		{base.MakeInternalKey([]byte("a"), 1, base.KindSet), []byte("small")},
		{base.MakeInternalKey([]byte("b"), 2, base.KindSet), big},
		{base.MakeInternalKey([]byte("c"), 3, base.KindSet), big[:maxCompressedBlockLen-100]},
	}
	for _, comp := range []Compression{S2Compression, ZstdCompression} {
		data, _ := buildTable(t, es, WriterOptions{Compression: comp})
		r := openTable(t, data, cache.New(64<<20))
		require.NoError(t, r.Verify())
		it := r.NewIter(nil, nil)
		requireSameEntries(t, es, collect(it, it.First()))
		require.NoError(t, it.Close())
		require.Less(t, len(data), len(big)+maxCompressedBlockLen/2, "the smaller large block compresses")
	}
}
