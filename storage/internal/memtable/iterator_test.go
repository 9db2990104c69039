package memtable

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/storage/internal/base"
)

func TestIterBounds(t *testing.T) {
	m := New()
	for i, k := range []string{"a", "b", "b", "c", "d"} {
		m.Add(base.SeqNum(i+1), base.KindSet, []byte(k), []byte(k))
	}
	keys := func(it base.InternalIterator, ok bool) []string {
		var out []string
		for ; ok; ok = it.Next() {
			out = append(out, string(base.UserKey(it.Key())))
		}
		return out
	}
	it := m.NewIter([]byte("b"), []byte("d"))
	require.Equal(t, []string{"b", "b", "c"}, keys(it, it.First()))
	require.Equal(t, []string{"b", "b", "c"}, keys(it, it.SeekGE(base.MakeSearchKey([]byte("a"), 9))))
	// SeekGE between the two versions of b finds the older one.
	require.Equal(t, []string{"b", "c"}, keys(it, it.SeekGE(base.MakeSearchKey([]byte("b"), 2))))
	require.Empty(t, keys(it, it.SeekGE(base.MakeSearchKey([]byte("d"), 9))))
	require.Empty(t, keys(it, it.SeekGE(base.MakeSearchKey([]byte("z"), 9))))

	it = m.NewIter([]byte("bb"), []byte("bc"))
	require.Empty(t, keys(it, it.First()))
	it = m.NewIter(nil, []byte("a"))
	require.Empty(t, keys(it, it.First()))
	it = m.NewIter(nil, []byte("a\x00"))
	require.Equal(t, []string{"a"}, keys(it, it.First()))
	it = m.NewIter([]byte("c"), nil)
	require.Equal(t, []string{"c", "d"}, keys(it, it.First()))
}

// BenchmarkIterNext walks tables filled with random or ascending keys,
// calling Key and Value at each step, as a merging iterator would.
func BenchmarkIterNext(b *testing.B) {
	for _, random := range []bool{true, false} {
		for _, n := range benchSizes {
			name := fmt.Sprintf("%s/n=%d", map[bool]string{true: "random", false: "sequential"}[random], n)
			b.Run(name, func(b *testing.B) {
				m := benchTable(n, random)
				it := m.NewIter(nil, nil)
				it.First()
				var sum int
				for b.Loop() {
					if !it.Valid() {
						it.First()
					}
					sum += len(it.Key()) + len(it.Value())
					it.Next()
				}
				_ = sum
			})
		}
	}
}
