package sstable

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/minidbgo/minidbgo/storage/internal/base"
	"github.com/stretchr/testify/require"
)

func TestFilterProbes(t *testing.T) {
	require.Equal(t, uint(1), filterProbes(1))
	require.Equal(t, uint(7), filterProbes(10))
	require.Equal(t, uint(11), filterProbes(16))
	require.Equal(t, uint(30), filterProbes(1000))
}

// TestBloomFalsePositives builds a table with 10 bits per key and checks
// that no key is missed and that about 1% of absent keys pass.
func TestBloomFalsePositives(t *testing.T) {
	const n = 10000
	f := &memFile{}
	w := NewWriter(f, WriterOptions{BloomBitsPerKey: 10})
	for i := range n {
		// Two versions per user key: the filter deduplicates them.
		uk := fmt.Appendf(nil, "user-%08d", i)
		require.NoError(t, w.Add(base.MakeInternalKey(uk, 2, base.KindSet), nil))
		require.NoError(t, w.Add(base.MakeInternalKey(uk, 1, base.KindSet), nil))
	}
	_, err := w.Close()
	require.NoError(t, err)
	r := openTable(t, f.data, nil)
	require.Equal(t, uint(10*n), r.filter.Cap(), "m counts distinct user keys")
	require.Equal(t, uint(7), r.filter.K())

	for i := range n {
		require.True(t, r.MayContain(fmt.Appendf(nil, "user-%08d", i)))
	}
	const probes = 100000
	fp := 0
	for i := range probes {
		if r.MayContain(fmt.Appendf(nil, "absent-%08d", i)) {
			fp++
		}
	}
	rate := float64(fp) / probes
	t.Logf("false positive rate at 10 bits/key: %.3f%%", 100*rate)
	require.Less(t, rate, 0.02)
	require.Greater(t, rate, 0.002)
}

func TestDecodeFilterRejects(t *testing.T) {
	good, err := buildFilter([]uint64{1, 2, 3}, 10)
	require.NoError(t, err)
	_, err = decodeFilter(good)
	require.NoError(t, err)

	mutate := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), good...))
	}
	for name, b := range map[string][]byte{
		"empty":     nil,
		"short":     good[:20],
		"truncated": good[:len(good)-8],
		"trailing":  append(append([]byte(nil), good...), 0),
		"m zero":    mutate(func(b []byte) []byte { binary.BigEndian.PutUint64(b, 0); return b }),
		"k zero":    mutate(func(b []byte) []byte { binary.BigEndian.PutUint64(b[8:], 0); return b }),
		"k huge":    mutate(func(b []byte) []byte { binary.BigEndian.PutUint64(b[8:], 1000); return b }),
		"bits huge": mutate(func(b []byte) []byte { binary.BigEndian.PutUint64(b[16:], 1<<62); return b }),
		"m huge": mutate(func(b []byte) []byte {
			binary.BigEndian.PutUint64(b, 1<<62)
			binary.BigEndian.PutUint64(b[16:], 1<<62)
			return b
		}),
	} {
		_, err := decodeFilter(b)
		require.Error(t, err, name)
	}
}
