package sstable

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/minidbgo/minidbgo/storage/internal/base"
	"github.com/stretchr/testify/require"
)

// indexSearch must land where a binary search of the block lands, for
// keys below, inside and above the index, keys that differ only beyond the
// 8 bytes it keeps, keys shorter than the common prefix, and several
// versions of one user key.
func TestIndexSearchMatchesBlockSearch(t *testing.T) {
	shapes := map[string]func(rng *rand.Rand) []byte{
		"db_bench": func(rng *rand.Rand) []byte { return fmt.Appendf(nil, "user%012d", rng.IntN(1_000_000)) },
		"long shared": func(rng *rand.Rand) []byte {
			// 8+ bytes after the common prefix are equal: only the tail differs.
			return fmt.Appendf(nil, "d/products/%c0000000000-%04d", 'a'+rng.IntN(3), rng.IntN(50))
		},
		"short": func(rng *rand.Rand) []byte {
			b := make([]byte, rng.IntN(4))
			for i := range b {
				b[i] = byte(rng.IntN(3))
			}
			return b
		},
		"binary": func(rng *rand.Rand) []byte {
			b := make([]byte, 1+rng.IntN(20))
			for i := range b {
				b[i] = byte(rng.IntN(256))
			}
			return b
		},
	}
	for name, gen := range shapes {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, uint64(len(name))))
			for round := range 30 {
				var ikeys [][]byte
				for range 1 + rng.IntN(300) {
					k := gen(rng)
					ikeys = append(ikeys, base.MakeInternalKey(k, base.SeqNum(rng.IntN(100)), base.KindSet))
				}
				slices.SortFunc(ikeys, base.Compare)
				ikeys = slices.CompactFunc(ikeys, func(a, b []byte) bool { return base.Compare(a, b) == 0 })
				w := blockWriter{restartInterval: 1}
				for i, k := range ikeys {
					w.add(k, fmt.Appendf(nil, "v%d", i))
				}
				block := w.finish()
				s := buildIndexSearch(block, 0)
				require.NotNil(t, s, "round %d", round)

				targets := slices.Clone(ikeys)
				for range 200 {
					targets = append(targets, base.MakeSearchKey(gen(rng), base.SeqNum(rng.IntN(120))))
				}
				targets = append(targets, base.MakeSearchKey(nil, 0), base.MakeSearchKey([]byte{0xff, 0xff}, 0))
				var a, b blockIter
				for _, target := range targets {
					require.NoError(t, a.init(block, 0))
					require.NoError(t, b.init(block, 0))
					okA := a.SeekGE(target)
					okB := s.seekGE(&b, target)
					require.Equal(t, okA, okB, "target %q", target)
					if okA {
						require.Equal(t, a.key, b.key, "target %q", target)
						require.Equal(t, a.val, b.val, "target %q", target)
					}
				}
			}
		})
	}
}

// Blocks without a restart point per entry get no search array: Get
// searches the block.
func TestIndexSearchNeedsRestartPerEntry(t *testing.T) {
	w := blockWriter{restartInterval: 4}
	for i := range 10 {
		w.add(base.MakeInternalKey(userKey(i), 1, base.KindSet), []byte("v"))
	}
	require.Nil(t, buildIndexSearch(w.finish(), 0))
	w = blockWriter{restartInterval: 1}
	require.Nil(t, buildIndexSearch(w.finish(), 0), "empty block")
	require.Nil(t, buildIndexSearch([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9}, 0), "damaged block")
}
