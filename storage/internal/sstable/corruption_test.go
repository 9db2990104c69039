package sstable

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/minidbgo/minidbgo/storage/internal/base"
	"github.com/minidbgo/minidbgo/storage/internal/cache"
	"github.com/stretchr/testify/require"
)

// corruptionTally counts outcomes LevelDB-style (db/corruption_test.cc).
type corruptionTally struct {
	openErrs, verifyErrs int
	correct, errs        int // reads on tables that opened
}

// query is a Get and its expected answer.
type query struct {
	ukey  []byte
	seq   base.SeqNum
	found bool
	kind  base.Kind
	value []byte
}

// modelQueries returns Gets of every user key at the newest snapshot and
// at an older one, and of absent keys.
func modelQueries(es []kv) []query {
	var maxSeq base.SeqNum
	for _, e := range es {
		maxSeq = max(maxSeq, base.Seq(e.key))
	}
	var qs []query
	for i, e := range es {
		uk := base.UserKey(e.key)
		if i > 0 && bytes.Equal(uk, base.UserKey(es[i-1].key)) {
			continue
		}
		for _, seq := range []base.SeqNum{base.MaxSeqNum, maxSeq / 2} {
			want, found := modelGet(es, uk, seq)
			q := query{ukey: uk, seq: seq, found: found}
			if found {
				q.kind, q.value = base.KindOf(want.key), want.value
			}
			qs = append(qs, q)
		}
		if i%8 == 0 {
			qs = append(qs, query{ukey: append(bytes.Clone(uk), '!'), seq: base.MaxSeqNum})
		}
	}
	return qs
}

// checkDamaged opens a damaged table and checks every read against the
// model: each must return the right answer or a corruption error, never a
// wrong value or a panic. It is lean (no t.Helper, no testify on the
// success path) because it runs thousands of times.
func checkDamaged(t *testing.T, es []kv, qs []query, data []byte, size int64, tally *corruptionTally, what string) {
	isCorruption := func(err error, op string) {
		if !errors.Is(err, base.ErrCorruption) {
			t.Fatalf("%s: %s: error %v is not a corruption error", what, op, err)
		}
	}
	r, err := Open(&memFile{data: data}, size, ReaderOptions{FileName: "t.sst", Cache: cache.New(1 << 20)})
	if err != nil {
		isCorruption(err, "Open")
		tally.openErrs++
		return
	}
	verr := r.Verify()
	if verr != nil {
		isCorruption(verr, "Verify")
		tally.verifyErrs++
	}
	for _, q := range qs {
		v, kind, found, err := r.Get(q.ukey, q.seq)
		if err != nil {
			isCorruption(err, "Get")
			tally.errs++
			continue
		}
		if found != q.found || (found && (kind != q.kind || !bytes.Equal(v, q.value))) {
			t.Fatalf("%s: Get(%q, %d) = %q, %v, %v; want %q, %v, %v (Verify: %v)",
				what, q.ukey, q.seq, v, kind, found, q.value, q.kind, q.found, verr)
		}
		tally.correct++
	}

	it := r.NewIter(nil, nil)
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if n >= len(es) || !bytes.Equal(it.Key(), es[n].key) || !bytes.Equal(it.Value(), es[n].value) {
			t.Fatalf("%s: iterator entry %d is %q=%q", what, n, it.Key(), it.Value())
		}
		n++
	}
	if err := it.Close(); err != nil {
		isCorruption(err, "iterator")
	} else if n != len(es) {
		t.Fatalf("%s: iterator stopped after %d of %d entries without an error", what, n, len(es))
	}
}

// smallEntries returns entries with values of at most 40 bytes, for
// tables small enough to damage byte by byte.
func smallEntries(n int) []kv {
	es := genEntries(rand.New(rand.NewPCG(9, 9)), n)
	for i := range es {
		if len(es[i].value) > 40 {
			es[i].value = es[i].value[:40]
		}
	}
	return es
}

// TestCorruptionByteFlips damages every byte of small tables in turn.
// Every byte of a table is checksummed, so Open or Verify must report every
// flip, and no read may return a wrong value.
func TestCorruptionByteFlips(t *testing.T) {
	es := smallEntries(24)
	for _, o := range []WriterOptions{
		{BlockSize: 128, RestartInterval: 4, BloomBitsPerKey: 10},
		{BlockSize: 256, Compression: S2Compression, BloomBitsPerKey: 10},
		{BlockSize: 256, Compression: ZstdCompression},
	} {
		t.Run(fmt.Sprintf("%s/bloom=%d", o.Compression, o.BloomBitsPerKey), func(t *testing.T) {
			data, _ := buildTable(t, es, o)
			qs := modelQueries(es)
			var tally corruptionTally
			// Under the race detector, damage a fifth of the bytes, always
			// including the footer and the meta blocks before it.
			step := 1
			if raceEnabled {
				step = 5
			}
			flips := 0
			for i := range data {
				if i%step != 0 && i < len(data)-256 {
					continue
				}
				for _, mask := range []byte{byte(1) << (i % 8), 0xff} {
					if mask == 0xff && i%5 != 0 {
						continue // flip a single bit of every byte, all bits of a sample
					}
					damaged := bytes.Clone(data)
					damaged[i] ^= mask
					before := tally.openErrs + tally.verifyErrs
					checkDamaged(t, es, qs, damaged, int64(len(damaged)), &tally, fmt.Sprintf("byte %d ^ %#x", i, mask))
					require.Equal(t, before+1, tally.openErrs+tally.verifyErrs, "flip of byte %d ^ %#x went undetected", i, mask)
					flips++
				}
			}
			t.Logf("%d bytes, %d flips: open errors %d, verify errors %d, reads correct %d, read errors %d, wrong 0",
				len(data), flips, tally.openErrs, tally.verifyErrs, tally.correct, tally.errs)
		})
	}
}

// TestCorruptionTruncation truncates a table at every length, both with
// the true (shorter) size and with the size the manifest would remember.
func TestCorruptionTruncation(t *testing.T) {
	es := smallEntries(24)
	data, _ := buildTable(t, es, WriterOptions{BlockSize: 128, Compression: S2Compression, BloomBitsPerKey: 10})
	qs := modelQueries(es)
	var tally corruptionTally
	for n := range len(data) {
		checkDamaged(t, es, qs, data[:n], int64(n), &tally, fmt.Sprintf("truncated to %d", n))
		checkDamaged(t, es, qs, data[:n], int64(len(data)), &tally, fmt.Sprintf("truncated to %d, full size", n))
	}
	require.Equal(t, 2*len(data), tally.openErrs)

	// A table truncated after it was opened: reads fail, never lie.
	for _, n := range []int{0, 100, len(data) / 2, len(data) - footerLen} {
		f := &memFile{data: bytes.Clone(data)}
		r, err := Open(f, int64(len(data)), ReaderOptions{FileName: "t.sst"})
		require.NoError(t, err)
		f.data = f.data[:n]
		for _, e := range es {
			v, kind, found, err := r.Get(base.UserKey(e.key), base.Seq(e.key))
			if err != nil {
				requireCorruption(t, err)
				continue
			}
			require.True(t, found)
			require.Equal(t, base.KindOf(e.key), kind)
			requireBytes(t, e.value, v)
		}
		requireCorruption(t, r.Verify())
	}
}

// TestCorruptionCacheNotPoisoned checks that a block that failed its
// checksum is not cached: once the file is repaired, reads succeed.
func TestCorruptionCacheNotPoisoned(t *testing.T) {
	es := genEntries(rand.New(rand.NewPCG(3, 3)), 20)
	data, _ := buildTable(t, es, WriterOptions{BlockSize: 64})
	f := &memFile{data: bytes.Clone(data)}
	c := cache.New(1 << 20)
	r, err := Open(f, int64(len(data)), ReaderOptions{Cache: c, FileName: "t.sst"})
	require.NoError(t, err)
	f.data[3] ^= 0x40
	_, _, _, err = r.Get(base.UserKey(es[0].key), base.MaxSeqNum)
	requireCorruption(t, err)
	var ce *base.CorruptionError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "t.sst", ce.File)
	require.Equal(t, int64(0), ce.Offset)
	require.Zero(t, c.Metrics().Count)
	f.data[3] ^= 0x40
	_, _, found, err := r.Get(base.UserKey(es[0].key), base.MaxSeqNum)
	require.NoError(t, err)
	require.True(t, found)
}

func TestCorruptionFooter(t *testing.T) {
	es := genEntries(rand.New(rand.NewPCG(3, 3)), 5)
	data, _ := buildTable(t, es, WriterOptions{})
	ft := data[len(data)-footerLen:]
	for name, mut := range map[string]func(b []byte){
		"magic":   func(b []byte) { b[len(b)-1] ^= 1 },
		"crc":     func(b []byte) { b[52] ^= 1 },
		"version": func(b []byte) { b[48] = 2 },
	} {
		damaged := bytes.Clone(data)
		mut(damaged[len(damaged)-footerLen:])
		_, err := Open(&memFile{data: damaged}, int64(len(damaged)), ReaderOptions{FileName: "t.sst"})
		requireCorruption(t, err, name)
	}

	// An unknown version with a valid checksum is still refused.
	f, err := decodeFooter(ft)
	require.NoError(t, err)
	f.version = 2
	damaged := append(bytes.Clone(data[:len(data)-footerLen]), f.encode()...)
	_, err = Open(&memFile{data: damaged}, int64(len(damaged)), ReaderOptions{FileName: "t.sst"})
	requireCorruption(t, err)
	require.ErrorContains(t, err, "unknown format version 2")

	// Not an sstable at all.
	_, err = Open(&memFile{data: []byte("hello")}, 5, ReaderOptions{FileName: "t.sst"})
	requireCorruption(t, err)
	junk := bytes.Repeat([]byte("x"), 200)
	_, err = Open(&memFile{data: junk}, int64(len(junk)), ReaderOptions{FileName: "t.sst"})
	requireCorruption(t, err)
	require.ErrorContains(t, err, "bad magic")
}
