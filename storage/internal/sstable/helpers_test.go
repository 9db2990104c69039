package sstable

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/minidbgo/minidbgo/storage/internal/base"
	"github.com/minidbgo/minidbgo/storage/internal/cache"
	"github.com/stretchr/testify/require"
)

// memFile is a []byte-backed vfs.File, enough for tables in tests.
type memFile struct {
	data    []byte
	pos     int
	closed  bool
	synced  bool
	readErr error // returned by every ReadAt when set
}

func (f *memFile) Read(p []byte) (int, error) {
	if f.pos >= len(f.data) {
		return 0, io.EOF
	}
	n := copy(p, f.data[f.pos:])
	f.pos += n
	return n, nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	if f.readErr != nil {
		return 0, f.readErr
	}
	if off < 0 {
		return 0, errors.New("memFile: negative offset")
	}
	if off >= int64(len(f.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) Write(p []byte) (int, error) {
	if f.closed {
		return 0, fs.ErrClosed
	}
	f.data = append(f.data, p...)
	return len(p), nil
}

func (f *memFile) Close() error {
	f.closed = true
	return nil
}

func (f *memFile) Sync() error {
	f.synced = true
	return nil
}

func (f *memFile) Stat() (os.FileInfo, error) { return memInfo{size: int64(len(f.data))}, nil }

type memInfo struct{ size int64 }

func (i memInfo) Name() string       { return "mem" }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() fs.FileMode  { return 0o644 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }

// kv is one table entry.
type kv struct {
	key, value []byte
}

func (e kv) String() string {
	return fmt.Sprintf("%s#%d,%s=%q", base.UserKey(e.key), base.Seq(e.key), base.KindOf(e.key), e.value)
}

// userKey returns the i-th user key of a generated data set. Only even i
// are used, so that odd i name keys between two present ones.
func userKey(i int) []byte { return fmt.Appendf(nil, "key%06d", i) }

// genEntries returns n distinct user keys (even indexes), each with one to
// three versions of random kinds and distinct sequence numbers, sorted by
// base.Compare. Values are JSON-like, so they compress; a few are large.
func genEntries(rng *rand.Rand, n int) []kv {
	var es []kv
	for i := range n {
		uk := userKey(2 * i)
		// Random, distinct sequence numbers interleave the keys' histories,
		// so that a snapshot sees old versions of some keys, new versions of
		// others and nothing of the rest.
		seqs := map[base.SeqNum]bool{}
		for versions := 1 + rng.IntN(3); len(seqs) < versions; {
			seqs[base.SeqNum(1+rng.IntN(4*n))] = true
		}
		for seq := range seqs {
			kind := base.KindSet
			if rng.IntN(5) == 0 {
				kind = base.KindDelete
			}
			var v []byte
			if kind == base.KindSet {
				v = genValue(rng)
			}
			es = append(es, kv{base.MakeInternalKey(uk, seq, kind), v})
		}
	}
	slices.SortFunc(es, func(a, b kv) int { return base.Compare(a.key, b.key) })
	return es
}

func genValue(rng *rand.Rand) []byte {
	switch r := rng.IntN(50); {
	case r == 0:
		return bytes.Repeat([]byte("big-value-"), 300+rng.IntN(300))
	case r < 5:
		return nil
	}
	return fmt.Appendf(nil, `{"_id":"user-%06d","name":"Name %d","age":%d,"active":%t,"score":%d.%d}`,
		rng.IntN(1000000), rng.IntN(1000), rng.IntN(100), rng.IntN(2) == 0, rng.IntN(100), rng.IntN(10))
}

// buildTable writes es with o and returns the file bytes and meta.
func buildTable(t testing.TB, es []kv, o WriterOptions) ([]byte, WriterMeta) {
	t.Helper()
	f := &memFile{}
	w := NewWriter(f, o)
	for _, e := range es {
		require.NoError(t, w.Add(e.key, e.value))
	}
	meta, err := w.Close()
	require.NoError(t, err)
	require.True(t, f.closed)
	require.True(t, f.synced)
	require.Equal(t, uint64(len(f.data)), meta.Size)
	return f.data, meta
}

func openTable(t testing.TB, data []byte, c *cache.Cache) *Reader {
	t.Helper()
	r, err := Open(&memFile{data: data}, int64(len(data)), ReaderOptions{Cache: c, FileNum: 1, FileName: "000001.sst"})
	require.NoError(t, err)
	return r
}

// modelGet returns the newest entry of ukey with seq <= seq.
func modelGet(es []kv, ukey []byte, seq base.SeqNum) (kv, bool) {
	i, _ := slices.BinarySearchFunc(es, base.MakeSearchKey(ukey, seq), func(e kv, target []byte) int {
		return base.Compare(e.key, target)
	})
	if i < len(es) && bytes.Equal(base.UserKey(es[i].key), ukey) {
		return es[i], true
	}
	return kv{}, false
}

// modelSeekGE returns the index of the first entry >= key.
func modelSeekGE(es []kv, key []byte) int {
	i, _ := slices.BinarySearchFunc(es, key, func(e kv, target []byte) int {
		return base.Compare(e.key, target)
	})
	return i
}

// collect drains an iterator positioned by the caller.
func collect(it base.InternalIterator, ok bool) []kv {
	var out []kv
	for ; ok; ok = it.Next() {
		out = append(out, kv{bytes.Clone(it.Key()), bytes.Clone(it.Value())})
	}
	return out
}

func requireSameEntries(t testing.TB, want, got []kv) {
	t.Helper()
	require.Equal(t, len(want), len(got), "entry count")
	for i := range want {
		if !bytes.Equal(want[i].key, got[i].key) || !bytes.Equal(want[i].value, got[i].value) {
			t.Fatalf("entry %d: got %v, want %v", i, got[i], want[i])
		}
	}
}

func requireCorruption(t testing.TB, err error, msgAndArgs ...any) {
	t.Helper()
	require.Error(t, err, msgAndArgs...)
	if !errors.Is(err, base.ErrCorruption) {
		t.Fatalf("error %v is not a corruption error %s", err, fmt.Sprint(msgAndArgs...))
	}
	var ce *base.CorruptionError
	require.True(t, errors.As(err, &ce), msgAndArgs...)
}

func sortEntries(es []kv) {
	slices.SortFunc(es, func(a, b kv) int { return base.Compare(a.key, b.key) })
}

// requireBytes compares byte slices, treating nil and empty as equal.
func requireBytes(t testing.TB, want, got []byte, msgAndArgs ...any) {
	t.Helper()
	if !bytes.Equal(want, got) {
		require.Equal(t, want, got, msgAndArgs...)
	}
}
