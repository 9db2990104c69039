package memtable

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/storage/internal/base"
)

// modelEntry is one entry of the model: a sorted slice of these is what the
// MemTable must hold.
type modelEntry struct {
	ikey  []byte
	value []byte
}

type model []modelEntry

func (md *model) add(seq base.SeqNum, kind base.Kind, ukey, value []byte) {
	e := modelEntry{ikey: base.MakeInternalKey(ukey, seq, kind), value: nilIfEmpty(slices.Clone(value))}
	i, _ := slices.BinarySearchFunc(*md, e.ikey, func(e modelEntry, k []byte) int { return base.Compare(e.ikey, k) })
	*md = slices.Insert(*md, i, e)
}

// seekGE returns the index of the first entry >= ikey.
func (md model) seekGE(ikey []byte) int {
	i, _ := slices.BinarySearchFunc(md, ikey, func(e modelEntry, k []byte) int { return base.Compare(e.ikey, k) })
	return i
}

// get returns the newest entry for ukey with a seqnum <= seq.
func (md model) get(ukey []byte, seq base.SeqNum) (modelEntry, bool) {
	i := md.seekGE(base.MakeSearchKey(ukey, seq))
	if i < len(md) && bytes.Equal(base.UserKey(md[i].ikey), ukey) {
		return md[i], true
	}
	return modelEntry{}, false
}

// inBounds returns the entries with lower <= user key < upper.
func (md model) inBounds(lower, upper []byte) model {
	var out model
	for _, e := range md {
		uk := base.UserKey(e.ikey)
		if (lower == nil || bytes.Compare(uk, lower) >= 0) && (upper == nil || bytes.Compare(uk, upper) < 0) {
			out = append(out, e)
		}
	}
	return out
}

// keyPool returns user keys chosen to stress the comparisons: the empty key,
// short keys equal under zero padding ("a", "a\x00"), keys that share their
// first 4, 8 or 16 bytes (the parts nodes and links keep inline) and differ
// after them, and keys over 16 bytes.
func keyPool(rng *rand.Rand, n int) [][]byte {
	pool := [][]byte{{}, []byte("a"), []byte("a\x00"), []byte("a\x00\x00\x00\x00\x00\x00\x00"),
		[]byte("a\x00\x00\x00\x00\x00\x00\x00\x00"), make([]byte, 16), make([]byte, 17)}
	shared := []string{"pref", "prefix::", "0123456789abcdef"}
	for len(pool) < n {
		var k []byte
		if rng.IntN(2) == 0 {
			k = make([]byte, rng.IntN(24))
		} else {
			p := shared[rng.IntN(len(shared))]
			k = append([]byte(p), make([]byte, rng.IntN(6))...)
		}
		for i := range k {
			if k[i] == 0 {
				k[i] = "ab\x00\xff"[rng.IntN(4)]
			}
		}
		pool = append(pool, k)
	}
	return pool
}

func randomValue(rng *rand.Rand) []byte {
	v := make([]byte, rng.IntN(40))
	for i := range v {
		v[i] = byte(rng.Uint32())
	}
	return v
}

func TestModel(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0xdb))
			pool := keyPool(rng, 5+rng.IntN(200))
			slices.SortFunc(pool, bytes.Compare)
			const nOps = 1000
			seqs := rng.Perm(nOps) // unique seqnums, added out of order

			m := New()
			var md model
			idx := 0
			for i, s := range seqs {
				seq := base.SeqNum(s + 1)
				// Half the time, stay on an ascending run of keys,
				// which inserts reuse the previous splice for.
				if rng.IntN(2) == 0 {
					idx = min(idx+rng.IntN(3), len(pool)-1)
				} else {
					idx = rng.IntN(len(pool))
				}
				ukey := pool[idx]
				kind, value := base.KindSet, randomValue(rng)
				if rng.IntN(4) == 0 {
					kind, value = base.KindDelete, nil
				}
				m.Add(seq, kind, ukey, value)
				md.add(seq, kind, ukey, value)
				if i%250 == 249 {
					checkModel(t, rng, m, md, pool, nOps)
				}
			}
		})
	}
}

func checkModel(t *testing.T, rng *rand.Rand, m *MemTable, md model, pool [][]byte, maxSeq int) {
	t.Helper()
	require.Equal(t, len(md), m.Len())
	require.False(t, m.Empty())

	// Get at random sequence numbers.
	for range 200 {
		ukey := pool[rng.IntN(len(pool))]
		if rng.IntN(8) == 0 {
			ukey = append(slices.Clone(ukey), 'z') // likely absent
		}
		seq := base.SeqNum(rng.IntN(maxSeq + 2))
		want, wantOK := md.get(ukey, seq)
		value, kind, ok := m.Get(ukey, seq)
		require.Equal(t, wantOK, ok, "Get(%q, %d)", ukey, seq)
		if ok {
			require.Equal(t, base.KindOf(want.ikey), kind, "Get(%q, %d)", ukey, seq)
			require.Equal(t, want.value, nilIfEmpty(value), "Get(%q, %d)", ukey, seq)
		}
	}
	// Get above MaxSeqNum clamps.
	ukey := base.UserKey(md[rng.IntN(len(md))].ikey)
	want, _ := md.get(ukey, base.MaxSeqNum)
	value, _, ok := m.Get(ukey, ^base.SeqNum(0))
	require.True(t, ok)
	require.Equal(t, want.value, nilIfEmpty(value))

	// Full iteration.
	requireEntries(t, md, collect(m.NewIter(nil, nil)), "full scan")

	// SeekGE to arbitrary internal keys, then a few Nexts.
	for range 50 {
		key := base.MakeInternalKey(pool[rng.IntN(len(pool))], base.SeqNum(rng.IntN(maxSeq+2)), base.Kind(rng.IntN(2)))
		checkSeek(t, m.NewIter(nil, nil), md, key)
	}

	// Bounds.
	for range 20 {
		var lower, upper []byte
		if rng.IntN(3) > 0 {
			lower = pool[rng.IntN(len(pool))]
		}
		if rng.IntN(3) > 0 {
			upper = pool[rng.IntN(len(pool))]
		}
		want := md.inBounds(lower, upper)
		requireEntries(t, want, collect(m.NewIter(lower, upper)), fmt.Sprintf("bounds [%q, %q)", lower, upper))
		for range 5 {
			key := base.MakeInternalKey(pool[rng.IntN(len(pool))], base.SeqNum(rng.IntN(maxSeq+2)), base.KindSet)
			checkSeek(t, m.NewIter(lower, upper), want, key)
		}
	}
}

// checkSeek seeks it to key and checks the next few entries against want,
// which holds exactly the entries it may return.
func checkSeek(t *testing.T, it base.InternalIterator, want model, key []byte) {
	t.Helper()
	i := want.seekGE(key)
	ok := it.SeekGE(key)
	for step := 0; step < 4; step++ {
		if i >= len(want) {
			require.False(t, ok, "SeekGE(%q) step %d: want end, got %q", key, step, it.Key())
			require.False(t, it.Valid())
			require.Nil(t, it.Key())
			require.False(t, it.Next(), "Next after end")
			break
		}
		require.True(t, ok, "SeekGE(%q) step %d: want %q", key, step, want[i].ikey)
		require.True(t, it.Valid())
		require.Equal(t, want[i].ikey, it.Key(), "SeekGE(%q) step %d", key, step)
		require.Equal(t, want[i].value, nilIfEmpty(it.Value()), "SeekGE(%q) step %d", key, step)
		ok = it.Next()
		i++
	}
	require.NoError(t, it.Err())
	require.NoError(t, it.Close())
	require.False(t, it.Valid())
}

// requireEntries checks got against want, reporting the first difference.
func requireEntries(t *testing.T, want, got model, what string) {
	t.Helper()
	for i := range min(len(want), len(got)) {
		if !bytes.Equal(want[i].ikey, got[i].ikey) || !bytes.Equal(want[i].value, got[i].value) {
			t.Fatalf("%s: entry %d: got %q (%d value bytes), want %q (%d value bytes)",
				what, i, got[i].ikey, len(got[i].value), want[i].ikey, len(want[i].value))
		}
	}
	require.Len(t, got, len(want), what)
}

func collect(it base.InternalIterator) model {
	var out model
	for ok := it.First(); ok; ok = it.Next() {
		out = append(out, modelEntry{ikey: it.Key(), value: nilIfEmpty(it.Value())})
	}
	if err := it.Close(); err != nil {
		panic(err)
	}
	return out
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func TestEmpty(t *testing.T) {
	m := New()
	require.True(t, m.Empty())
	require.Zero(t, m.Len())
	require.Zero(t, m.ApproximateBytes())
	_, _, ok := m.Get([]byte("k"), base.MaxSeqNum)
	require.False(t, ok)
	it := m.NewIter(nil, nil)
	require.False(t, it.First())
	require.False(t, it.SeekGE(base.MakeSearchKey(nil, base.MaxSeqNum)))
	require.False(t, it.Next())
	require.False(t, it.Valid())
	require.NoError(t, it.Close())
}

func TestSizes(t *testing.T) {
	m := New()
	m.Add(1, base.KindSet, []byte("key"), []byte("value"))
	m.Add(2, base.KindDelete, []byte("key"), nil)
	require.False(t, m.Empty())
	require.Equal(t, 2, m.Len())
	// 3+8+5 and 3+8 bytes of data, plus at least a 5-word node each.
	require.GreaterOrEqual(t, m.ApproximateBytes(), int64(16+11+2*5*8))
	require.Less(t, m.ApproximateBytes(), int64(16+11+2*(4+maxHeight)*8))
}

// TestAddCopies checks that Add copies its arguments and that returned
// slices survive later Adds.
func TestAddCopies(t *testing.T) {
	m := New()
	k, v := []byte("key"), []byte("value")
	m.Add(1, base.KindSet, k, v)
	got, _, _ := m.Get([]byte("key"), 1)
	copy(k, "xxx")
	copy(v, "xxxxx")
	for i := range 10000 {
		m.Add(base.SeqNum(i+2), base.KindSet, fmt.Appendf(nil, "k%05d", i), bytes.Repeat([]byte{'y'}, 100))
	}
	require.Equal(t, "value", string(got))
	got, _, ok := m.Get([]byte("key"), 1)
	require.True(t, ok)
	require.Equal(t, "value", string(got))
	// Appending to a returned value must not clobber the next entry.
	_ = append(got, "!!!!!!!!"...)
	got, _, _ = m.Get([]byte("k00000"), base.MaxSeqNum)
	require.Equal(t, bytes.Repeat([]byte{'y'}, 100), got)
}

func TestLargeValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := New()
	var md model
	sizes := []int{0, 1, bigEntry - 100, bigEntry, bigEntry + 1, dataChunkSize - 30, dataChunkSize, dataChunkSize + 1, 3 * dataChunkSize, 100}
	seq := base.SeqNum(1)
	for round := range 3 {
		for i, n := range sizes {
			v := make([]byte, n)
			for j := range v {
				v[j] = byte(rng.Uint32())
			}
			ukey := fmt.Appendf(nil, "key-%02d-%d", i, round)
			m.Add(seq, base.KindSet, ukey, v)
			md.add(seq, base.KindSet, ukey, v)
			seq++
			// Small neighbours, so that big entries interleave with chunked ones.
			for j := range 50 {
				ukey := fmt.Appendf(nil, "small-%02d-%d-%02d", i, round, j)
				v := randomValue(rng)
				m.Add(seq, base.KindSet, ukey, v)
				md.add(seq, base.KindSet, ukey, v)
				seq++
			}
		}
	}
	got := collect(m.NewIter(nil, nil))
	require.Len(t, got, len(md))
	for i, e := range md {
		require.Equal(t, e.ikey, got[i].ikey)
		require.True(t, bytes.Equal(e.value, got[i].value), "value of %q", e.ikey)
		v, kind, ok := m.Get(base.UserKey(e.ikey), base.MaxSeqNum)
		require.True(t, ok)
		require.Equal(t, base.KindSet, kind)
		require.True(t, bytes.Equal(e.value, v), "value of %q", e.ikey)
	}
	require.Greater(t, m.ApproximateBytes(), int64(3*4*dataChunkSize))
}

// TestConcurrentReaders runs readers beside one writer. Entries are added
// with seqnums 1, 2, 3, ... and published through visible, so a reader that
// loads visible = s must find every entry with seqnum <= s.
func TestConcurrentReaders(t *testing.T) {
	const (
		nOps    = 6000
		nKeys   = 1000
		readers = 3
	)
	rng := rand.New(rand.NewPCG(7, 7))
	type op struct {
		ukey []byte
		kind base.Kind
	}
	ops := make([]op, nOps+1) // ops[seq]
	for seq := 1; seq <= nOps; seq++ {
		ops[seq] = op{ukey: fmt.Appendf(nil, "key%06d", rng.IntN(nKeys)), kind: base.Kind(min(1, rng.IntN(5)))}
	}
	// versions[ukey] lists the key's seqnums in ascending order.
	versions := map[string][]int{}
	for seq := 1; seq <= nOps; seq++ {
		versions[string(ops[seq].ukey)] = append(versions[string(ops[seq].ukey)], seq)
	}
	// valueFor makes a value that names its entry, so a torn or misplaced
	// value is caught.
	valueFor := func(ukey []byte, seq int) []byte {
		v := fmt.Appendf(nil, "%s@%d:", ukey, seq)
		for len(v) < 20+seq%300 {
			v = append(v, byte(seq))
		}
		return v
	}

	// checkEntry checks that an entry read from m is one the writer added,
	// whole, and returns its seqnum.
	checkEntry := func(key, value []byte) int {
		require.True(t, base.Valid(key), "invalid internal key %q", key)
		seq := int(base.Seq(key))
		require.True(t, seq >= 1 && seq <= nOps, "seqnum %d", seq)
		require.Equal(t, ops[seq].ukey, base.UserKey(key))
		require.Equal(t, ops[seq].kind, base.KindOf(key))
		if ops[seq].kind == base.KindSet {
			require.Equal(t, valueFor(base.UserKey(key), seq), value)
		} else {
			require.Empty(t, value)
		}
		return seq
	}

	m := New()
	var visible atomic.Int64
	var done atomic.Bool
	var wg sync.WaitGroup
	for r := range readers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 99))
			for iter := 0; !done.Load() || iter < 3; iter++ {
				// Gets.
				for range 20 {
					snap := int(visible.Load())
					ukey := fmt.Appendf(nil, "key%06d", rng.IntN(nKeys))
					vs := versions[string(ukey)]
					i, found := slices.BinarySearch(vs, snap)
					if !found {
						i--
					}
					value, kind, ok := m.Get(ukey, base.SeqNum(snap))
					if i < 0 {
						require.False(t, ok, "Get(%q, %d)", ukey, snap)
						continue
					}
					seq := vs[i]
					require.True(t, ok, "Get(%q, %d)", ukey, snap)
					require.Equal(t, ops[seq].kind, kind)
					if kind == base.KindSet {
						require.Equal(t, valueFor(ukey, seq), value)
					} else {
						require.Empty(t, value)
					}
				}
				// A full scan: sorted, untorn, and complete up to snap.
				snap := int(visible.Load())
				it := m.NewIter(nil, nil)
				var prev []byte
				seen := 0
				for ok := it.First(); ok; ok = it.Next() {
					key := it.Key()
					if prev != nil {
						require.Negative(t, base.Compare(prev, key), "%q then %q", prev, key)
					}
					prev = key
					seq := checkEntry(key, it.Value())
					if seq <= snap {
						seen++
					}
				}
				require.Equal(t, snap, seen)
				require.GreaterOrEqual(t, m.Len(), snap)
				// A bounded seek.
				lo := fmt.Appendf(nil, "key%06d", rng.IntN(nKeys))
				hi := fmt.Appendf(nil, "key%06d", rng.IntN(nKeys))
				it = m.NewIter(lo, hi)
				for ok := it.SeekGE(base.MakeSearchKey(nil, base.MaxSeqNum)); ok; ok = it.Next() {
					uk := base.UserKey(it.Key())
					require.True(t, bytes.Compare(uk, lo) >= 0 && bytes.Compare(uk, hi) < 0, "%q outside [%q, %q)", uk, lo, hi)
				}
			}
		})
	}
	for seq := 1; seq <= nOps; seq++ {
		o := ops[seq]
		var value []byte
		if o.kind == base.KindSet {
			value = valueFor(o.ukey, seq)
		}
		m.Add(base.SeqNum(seq), o.kind, o.ukey, value)
		visible.Store(int64(seq))
	}
	done.Store(true)
	wg.Wait()
	require.Equal(t, nOps, m.Len())
}

func TestInlineKeyOrder(t *testing.T) {
	keys := [][]byte{nil, {0}, {0, 0}, []byte("a"), []byte("a\x00"), []byte("a\x00\x01"), []byte("abcdefgh"),
		[]byte("abcdefgh\x00"), []byte("abcdefgi"), []byte("abcdefghijklmnop"), []byte("abcdefghijklmnop\x00"),
		[]byte("abcdefghijklmnoq"), {0xff}}
	for _, a := range keys {
		for _, b := range keys {
			a0, a1 := inlineKey(a)
			b0, b1 := inlineKey(b)
			if c := cmpUint64(a0, b0); c != 0 {
				require.Equal(t, bytes.Compare(a, b), c, "%q vs %q", a, b)
			} else if c := cmpUint64(a1, b1); c != 0 {
				require.Equal(t, bytes.Compare(a, b), c, "%q vs %q", a, b)
			}
		}
	}
}

// benchKey writes the i-th benchmark key into k (16 bytes): random-looking
// for random, ascending otherwise. Keys are computed, not stored, so that
// the benchmarks measure the MemTable's memory traffic and not their own.
func benchKey(k []byte, i uint64, random bool) {
	if random {
		binary.BigEndian.PutUint64(k, mix(i))
		binary.BigEndian.PutUint64(k[8:], mix(i^0x9e3779b97f4a7c15))
	} else {
		binary.BigEndian.PutUint64(k, 0x6b65793a)
		binary.BigEndian.PutUint64(k[8:], i)
	}
}

// mix is splitmix64's finalizer, a bijection.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

var benchValue = bytes.Repeat([]byte{'v'}, 200)

// benchSizes are the table sizes benchmarks run at: about a 4 MiB memtable
// of 16-byte keys and 200-byte values, and 1M entries.
var benchSizes = []int{16 << 10, 1 << 20}

// BenchmarkAdd adds 16-byte keys with 200-byte values, starting a new
// MemTable every n entries: ns/op is the cost of filling an n-entry table,
// averaged per entry.
func BenchmarkAdd(b *testing.B) {
	for _, random := range []bool{true, false} {
		for _, n := range benchSizes {
			name := fmt.Sprintf("%s/n=%d", map[bool]string{true: "random", false: "sequential"}[random], n)
			b.Run(name, func(b *testing.B) {
				k := make([]byte, 16)
				m := New()
				i := 0
				b.SetBytes(int64(len(k) + len(benchValue)))
				for b.Loop() {
					if i == n {
						b.StopTimer()
						m, i = New(), 0
						b.StartTimer()
					}
					benchKey(k, uint64(i), random)
					m.Add(base.SeqNum(i+1), base.KindSet, k, benchValue)
					i++
				}
			})
		}
	}
}

// benchTable returns a MemTable of n 16-byte keys with 200-byte values.
func benchTable(n int, random bool) *MemTable {
	m := New()
	k := make([]byte, 16)
	for i := range n {
		benchKey(k, uint64(i), random)
		m.Add(base.SeqNum(i+1), base.KindSet, k, benchValue)
	}
	return m
}

// BenchmarkGet looks up random present keys in a table of random keys.
func BenchmarkGet(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint("n=", n), func(b *testing.B) {
			m := benchTable(n, true)
			rng := rand.New(rand.NewPCG(2, 2))
			k := make([]byte, 16)
			for b.Loop() {
				benchKey(k, rng.Uint64N(uint64(n)), true)
				if _, _, ok := m.Get(k, base.MaxSeqNum); !ok {
					b.Fatal("not found")
				}
			}
		})
	}
}
