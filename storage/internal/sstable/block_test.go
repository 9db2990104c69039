package sstable

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/minidbgo/minidbgo/storage/internal/base"
	"github.com/stretchr/testify/require"
)

func buildBlock(es []kv, restartInterval int) []byte {
	w := blockWriter{restartInterval: restartInterval}
	for _, e := range es {
		w.add(e.key, e.value)
	}
	return append([]byte(nil), w.finish()...)
}

func TestBlockRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	es := genEntries(rng, 100)
	for _, interval := range []int{1, 2, 3, 16, 1000} {
		b := buildBlock(es, interval)
		var it blockIter
		require.NoError(t, it.init(b, 0))
		require.Equal(t, (len(es)+interval-1)/interval, it.numRestarts)

		var got []kv
		for ok := it.First(); ok; ok = it.Next() {
			got = append(got, kv{append([]byte(nil), it.key...), append([]byte(nil), it.val...)})
		}
		require.NoError(t, it.err)
		requireSameEntries(t, es, got)

		for i, e := range es {
			require.True(t, it.SeekGE(e.key))
			require.Equal(t, e.key, it.key)
			requireBytes(t, e.value, it.val)
			// Between this entry and the previous one.
			if i > 0 {
				prev := es[i-1].key
				between := base.MakeInternalKey(base.UserKey(prev), base.Seq(prev)-1, base.KindSet)
				if base.Compare(between, prev) > 0 && base.Compare(between, e.key) < 0 {
					require.True(t, it.SeekGE(between))
					require.Equal(t, e.key, it.key)
				}
			}
		}
		require.False(t, it.SeekGE(base.MakeSearchKey([]byte("zzzz"), 1)))
		require.NoError(t, it.err)
		require.True(t, it.SeekGE(base.MakeSearchKey([]byte(""), 1)))
		require.Equal(t, es[0].key, it.key)
	}
}

func TestBlockEmpty(t *testing.T) {
	b := buildBlock(nil, 16)
	require.Len(t, b, 8)
	var it blockIter
	require.NoError(t, it.init(b, 0))
	require.False(t, it.First())
	require.False(t, it.SeekGE(base.MakeSearchKey([]byte("a"), 1)))
	require.NoError(t, it.err)
}

func TestBlockCorrupt(t *testing.T) {
	ikey := base.MakeInternalKey([]byte("key"), 1, base.KindSet)
	entry := func(shared, unshared, vlen uint64, rest ...byte) []byte {
		b := binary.AppendUvarint(nil, shared)
		b = binary.AppendUvarint(b, unshared)
		b = binary.AppendUvarint(b, vlen)
		return append(b, rest...)
	}
	withRestarts := func(entries []byte, restarts ...uint32) []byte {
		b := append([]byte(nil), entries...)
		for _, r := range restarts {
			b = binary.LittleEndian.AppendUint32(b, r)
		}
		return binary.LittleEndian.AppendUint32(b, uint32(len(restarts)))
	}
	good := entry(0, uint64(len(ikey)), 1, append(append([]byte(nil), ikey...), 'v')...)
	second := entry(3, 8, 0, ikey[3:]...) // same user key: fine structurally
	for name, b := range map[string][]byte{
		"empty":              {},
		"short":              {1, 0, 0},
		"zero restarts":      binary.LittleEndian.AppendUint32(append([]byte(nil), good...), 0),
		"too many restarts":  binary.LittleEndian.AppendUint32(nil, 1000),
		"restart past end":   withRestarts(good, 1000),
		"restart mid-entry":  withRestarts(good, 1),
		"shared at restart":  withRestarts(append(entry(2, 9, 0, ikey[:9]...), good...), 0),
		"shared too long":    withRestarts(append(append([]byte(nil), good...), entry(50, 1, 0, 'x')...), 0),
		"key overflow":       withRestarts(entry(0, 1000, 0, ikey...), 0),
		"value overflow":     withRestarts(entry(0, uint64(len(ikey)), 1000, ikey...), 0),
		"huge lengths":       withRestarts(entry(0, 1<<63, 1<<63, ikey...), 0),
		"bad varint":         withRestarts([]byte{0x80, 0x80, 0x80}, 0),
		"truncated varint":   withRestarts([]byte{0x00, 0x80}, 0),
		"short key":          withRestarts(entry(0, 3, 0, 'a', 'b', 'c'), 0),
		"bad kind":           withRestarts(entry(0, 8, 0, 7, 0, 0, 0, 0, 0, 0, 0), 0),
		"second entry bad":   withRestarts(append(append(append([]byte(nil), good...), second...), entry(0, 2, 0, 'x', 'y')...), 0),
		"restarts unordered": withRestarts(append(append([]byte(nil), good...), good...), uint32(len(good)), 0),
	} {
		t.Run(name, func(t *testing.T) {
			var it blockIter
			err := it.init(b, 42)
			if err != nil {
				requireCorruption(t, err)
				return
			}
			// Whatever the path, the iterator must stop with a corruption
			// error or end cleanly, never panic.
			for ok := it.First(); ok; ok = it.Next() {
			}
			first := it.err
			it.SeekGE(ikey)
			it.SeekGE(base.MakeSearchKey([]byte("zzz"), 1))
			it.SeekGE(base.MakeSearchKey(nil, 1))
			if name != "restarts unordered" {
				requireCorruption(t, firstErr(first, it.err), name)
			}
		})
	}
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
