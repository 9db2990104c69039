package keyenc

import (
	"bytes"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
)

var tricky = []string{"", "a", "a\x00", "a\x00b", "a\x01", "a:b", "a/b", "ab", "a\xff", "b", "\xff", "\x00"}

func TestDocKey(t *testing.T) {
	assert.Equal(t, []byte("dusers\x00\x01u:1/2\x00\xff\x00\x01"), DocKey(nil, "users", "u:1/2\x00"))
	assert.Equal(t, []byte("dusers\x00\x01"), DocPrefix("users"))
	for _, col := range tricky {
		for _, id := range tricky {
			key := DocKey([]byte("junk")[:0], col, id)
			assert.True(t, bytes.HasPrefix(key, DocPrefix(col)))
			got, err := DocIDFromKey(key, col)
			require.NoError(t, err)
			assert.Equal(t, id, got)
			for _, other := range tricky {
				if other != col {
					_, err := DocIDFromKey(key, other)
					assert.ErrorIs(t, err, ErrMalformed, "key of %q read as %q", col, other)
					assert.False(t, bytes.HasPrefix(key, DocPrefix(other)), "key of %q has prefix of %q", col, other)
				}
			}
		}
	}
	for _, bad := range [][]byte{nil, []byte("x"), []byte("dusers\x00\x01"), []byte("dusers\x00\x01id"), []byte("dusers\x00\x01id\x00\x01x")} {
		_, err := DocIDFromKey(bad, "users")
		assert.ErrorIs(t, err, ErrMalformed, "%q", bad)
	}
}

// TestCollectionsDoNotInterleave sorts the keys of many collections and
// checks each collection's keys form one run inside its prefix range.
func TestCollectionsDoNotInterleave(t *testing.T) {
	type entry struct {
		key []byte
		col string
	}
	var entries []entry
	for _, col := range tricky {
		for _, id := range tricky {
			entries = append(entries, entry{DocKey(nil, col, id), col})
			entries = append(entries, entry{IndexKey(nil, col, "ix", []jsondoc.Value{str(id)}, nil, id), col})
			entries = append(entries, entry{IndexKey(nil, col, "ix2", []jsondoc.Value{str(id), num("1")}, []bool{true, false}, id), col})
		}
		entries = append(entries, entry{CollectionMetaKey(col), col})
	}
	slices.SortFunc(entries, func(a, b entry) int { return bytes.Compare(a.key, b.key) })
	for _, prefixOf := range []func(string) []byte{DocPrefix, IndexCollectionPrefix, CollectionMetaKey} {
		for _, col := range tricky {
			lo, hi := prefixOf(col), PrefixEnd(prefixOf(col))
			first, last := -1, -1
			for i, e := range entries {
				in := bytes.Compare(e.key, lo) >= 0 && bytes.Compare(e.key, hi) < 0
				if in {
					assert.Equal(t, col, e.col, "key %q in range of %q", e.key, col)
					if first < 0 {
						first = i
					}
					last = i
				}
			}
			require.GreaterOrEqual(t, first, 0)
			for i := first; i <= last; i++ {
				assert.Equal(t, col, entries[i].col, "collection %q's keys are interleaved", col)
			}
		}
	}
}

func TestMetaKeys(t *testing.T) {
	assert.Equal(t, []byte("m"), MetaPrefix())
	for _, col := range tricky {
		k := CollectionMetaKey(col)
		assert.True(t, bytes.HasPrefix(k, MetaPrefix()))
		got, rest, err := DecodeString(k[len(MetaPrefix()):])
		require.NoError(t, err)
		assert.Equal(t, col, got)
		assert.Empty(t, rest)
	}
}

func TestIndexKey(t *testing.T) {
	values := []jsondoc.Value{num("1.50"), str("x\x00y"), arr(num("1"), null), obj("a", tru), missing}
	desc := []bool{false, true, false, true}
	for _, col := range tricky {
		for _, id := range tricky {
			pre := IndexPrefix(col, "by_a")
			key := IndexKey(nil, col, "by_a", values, desc, id)
			require.True(t, bytes.HasPrefix(key, pre))
			require.True(t, bytes.HasPrefix(key, IndexCollectionPrefix(col)))
			got, err := DecodeIndexKeyID(key, len(pre), len(values), desc)
			require.NoError(t, err)
			assert.Equal(t, id, got)
			assert.True(t, bytes.HasSuffix(key, AppendString(nil, id)))

			b := key[len(pre):]
			for i, want := range values {
				dec := DecodeValue
				if i < len(desc) && desc[i] {
					dec = DecodeValueDesc
				}
				v, rest, err := dec(b)
				require.NoError(t, err)
				assert.Zero(t, jsondoc.Compare(want, v), "field %d", i)
				b = rest
			}
		}
	}
	key := IndexKey(nil, "c", "i", values, desc, "id")
	pre := len(IndexPrefix("c", "i"))
	for _, bad := range []struct {
		prefixLen, n int
		key          []byte
	}{
		{pre, len(values) + 1, key},
		{pre + 1, len(values), key},
		{len(key) + 1, 0, key},
		{-1, 0, key},
		{pre, len(values), key[:len(key)-1]},
	} {
		_, err := DecodeIndexKeyID(bad.key, bad.prefixLen, bad.n, desc)
		assert.ErrorIs(t, err, ErrMalformed, "%+v", bad)
	}
}

// TestIndexKeyOrder checks index entries sort by their values (each field
// in its direction), then by _id.
func TestIndexKeyOrder(t *testing.T) {
	var flat []jsondoc.Value
	for _, g := range orderedValues {
		flat = append(flat, g[0])
	}
	ids := []string{"", "a", "a\x00", "b"}
	desc := []bool{true, false}
	type row struct {
		a, b jsondoc.Value
		id   string
		key  []byte
	}
	var rows []row
	for i := 0; i < len(flat); i += 3 {
		for j := 1; j < len(flat); j += 5 {
			for _, id := range ids {
				rows = append(rows, row{flat[i], flat[j], id, IndexKey(nil, "c", "ix", []jsondoc.Value{flat[i], flat[j]}, desc, id)})
			}
		}
	}
	slices.SortFunc(rows, func(x, y row) int { return bytes.Compare(x.key, y.key) })
	for k := 1; k < len(rows); k++ {
		x, y := rows[k-1], rows[k]
		c := -jsondoc.Compare(x.a, y.a)
		if c == 0 {
			c = jsondoc.Compare(x.b, y.b)
		}
		if c == 0 {
			c = bytes.Compare([]byte(x.id), []byte(y.id))
		}
		require.Negative(t, c, "%s %s %q sorts before %s %s %q", x.a, x.b, x.id, y.a, y.b, y.id)
	}
}

func TestPrefixEnd(t *testing.T) {
	for _, tc := range []struct{ in, want []byte }{
		{nil, nil},
		{[]byte{}, nil},
		{[]byte{0xFF, 0xFF}, nil},
		{[]byte("a"), []byte("b")},
		{[]byte{'a', 0xFF}, []byte("b")},
		{[]byte{'a', 0x00, 0x01}, []byte{'a', 0x00, 0x02}},
		{[]byte{'a', 0xFE, 0xFF, 0xFF}, []byte{'a', 0xFF}},
	} {
		in := bytes.Clone(tc.in)
		got := PrefixEnd(in)
		assert.Equal(t, tc.want, got, "%x", tc.in)
		assert.Equal(t, tc.in, in, "input modified")
		if got != nil {
			assert.Positive(t, bytes.Compare(got, append(bytes.Clone(in), 0xFF, 0xFF, 0xFF)))
		}
	}
}

func TestDecodeIndexKeyIDAllocs(t *testing.T) {
	values := []jsondoc.Value{num("-12.5"), str("abc"), obj("a", num("1"), "b", arr(str("x")))}
	desc := []bool{false, true, false}
	key := IndexKey(nil, "col", "ix", values, desc, "some-id")
	pre := len(IndexPrefix("col", "ix"))
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := DecodeIndexKeyID(key, pre, len(values), desc); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, allocs, 1.0) // the id string
}

func BenchmarkIndexKey(b *testing.B) {
	values := []jsondoc.Value{num("12345"), str("some string value")}
	var buf []byte
	for b.Loop() {
		buf = IndexKey(buf[:0], "users", "by_age_name", values, nil, "65f1a2b3c4d5e6f708091a2b")
	}
}

func BenchmarkDecodeIndexKeyID(b *testing.B) {
	values := []jsondoc.Value{num("12345"), str("some string value")}
	key := IndexKey(nil, "users", "by_age_name", values, nil, "65f1a2b3c4d5e6f708091a2b")
	pre := len(IndexPrefix("users", "by_age_name"))
	for b.Loop() {
		if _, err := DecodeIndexKeyID(key, pre, 2, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func TestStatsKeys(t *testing.T) {
	for _, col := range tricky {
		p := StatsPrefix(col)
		require.Equal(t, byte('s'), p[0])
		for _, id := range []uint64{0, 1, 1 << 40, ^uint64(0)} {
			k := StatsKey(col, id)
			require.True(t, bytes.HasPrefix(k, p))
			got, ok := StatsIDFromKey(k)
			require.True(t, ok)
			require.Equal(t, id, got)
			// No other collection's stats prefix holds the key.
			for _, other := range tricky {
				if other != col {
					require.False(t, bytes.HasPrefix(k, StatsPrefix(other)), "%q under %q", col, other)
				}
			}
		}
		// Ids sort as numbers: the base first, deltas in order.
		require.Negative(t, bytes.Compare(StatsKey(col, 0), StatsKey(col, 1)))
		require.Negative(t, bytes.Compare(StatsKey(col, 255), StatsKey(col, 256)))
	}
	_, ok := StatsIDFromKey([]byte("short"))
	require.False(t, ok)
}
