package storage

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/minidbgo/minidbgo/storage/vfs"
	"github.com/stretchr/testify/require"
)

// testConfig is one engine configuration the model test runs under. The
// same seeded operation log must give the same observable results under
// every configuration (a metamorphic check).
type testConfig struct {
	name string
	opts Options
}

func testConfigs() []testConfig {
	tiny := func(o Options) Options {
		o.MemTableRecords = 64
		o.MemTableBytes = 4 << 10
		o.L0CompactionThreshold = 2
		o.LBaseMaxBytes = 16 << 10
		o.TargetFileSize = 8 << 10
		o.WriteStallTimeout = 5 * time.Second
		return o
	}
	return []testConfig{
		{"default", Options{}},
		{"tiny-memtable-group", tiny(Options{})},
		{"tiny-blocks-nocompress", tiny(Options{BlockSize: 64, Compression: NoCompression})},
		{"zstd-nobloom", tiny(Options{BlockSize: 512, Compression: ZstdCompression, BloomBitsPerKey: -1})},
		{"sync-32k-blocks", tiny(Options{BlockSize: 32 << 10, Durability: Durability{Mode: DurabilitySync}})},
		{"periodic", tiny(Options{Durability: Durability{Mode: DurabilityPeriodic, Interval: 5 * time.Millisecond}})},
		{"none", tiny(Options{Durability: Durability{Mode: DurabilityNone}, BlockCacheBytes: -1})},
		{"tiny-cache-one-table", tiny(Options{BlockCacheBytes: 1024, MaxOpenTables: 1})},
	}
}

// model is the expected state: a Go map from key to value.
type model map[string]string

func (m model) clone() model { return maps.Clone(m) }

// modelOp is one acknowledged change, kept to check that a lossy crash
// left a prefix of the history.
type modelOp struct {
	puts map[string]string
	dels []string
}

func (op modelOp) apply(m model) {
	for _, k := range op.dels {
		delete(m, k)
	}
	for k, v := range op.puts {
		m[k] = v
	}
}

func scanAll(t *testing.T, it *Iterator) model {
	t.Helper()
	got := model{}
	var prev []byte
	for ok := it.First(); ok; ok = it.Next() {
		if prev != nil {
			require.Less(t, string(prev), string(it.Key()), "iterator out of order")
		}
		prev = append(prev[:0], it.Key()...)
		got[string(it.Key())] = string(it.Value())
	}
	require.NoError(t, it.Close())
	return got
}

func checkDB(t *testing.T, db *DB, want model) {
	t.Helper()
	got := scanAll(t, db.NewIter(nil))
	if !maps.Equal(got, want) {
		t.Fatalf("scan mismatch: %s", diffModels(want, got))
	}
	for k, v := range want {
		g, err := db.Get([]byte(k))
		require.NoError(t, err, "Get(%q)", k)
		require.Equal(t, v, string(g), "Get(%q)", k)
	}
}

func diffModels(want, got model) string {
	var b bytes.Buffer
	n := 0
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if g, ok := got[k]; !ok || g != want[k] {
			if n++; n <= 5 {
				fmt.Fprintf(&b, "key %q: want %q, got %q (present %v); ", k, want[k], g, ok)
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			if n++; n <= 10 {
				fmt.Fprintf(&b, "unexpected key %q=%q; ", k, got[k])
			}
		}
	}
	return fmt.Sprintf("%d differences: %s", n, b.String())
}

// TestModel runs a seeded random log of operations — puts, deletes,
// batches, gets, bounded scans, snapshots, flushes, compactions, clean
// reopens and simulated power losses — against the engine and a map, in
// every configuration, comparing after every operation.
func TestModel(t *testing.T) {
	steps := 1500
	if testing.Short() {
		steps = 400
	}
	for _, cfg := range testConfigs() {
		t.Run(cfg.name, func(t *testing.T) {
			t.Parallel()
			for seed := uint64(1); seed <= 2; seed++ {
				runModel(t, cfg, seed, steps)
			}
		})
	}
}

func runModel(t *testing.T, cfg testConfig, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 0xdb))
	fs := vfs.NewMem()
	opts := cfg.opts
	opts.FS = fs
	const dir = "/db"
	db, err := Open(dir, &opts)
	require.NoError(t, err)
	defer func() { _ = db.Close() }()

	want := model{}
	durable := model{} // state known durable (for lossy modes)
	var pending []modelOp
	lossy := opts.Durability.Mode == DurabilityPeriodic || opts.Durability.Mode == DurabilityNone

	type snap struct {
		s    *Snapshot
		want model
	}
	var snaps []snap
	key := func() string { return fmt.Sprintf("k%04d", rng.IntN(300)) }
	val := func() string {
		return fmt.Sprintf("v%d-%s", rng.Uint32(), bytes.Repeat([]byte{'x'}, rng.IntN(64)))
	}
	ack := func(op modelOp) {
		op.apply(want)
		if lossy {
			pending = append(pending, op)
		} else {
			op.apply(durable)
		}
	}
	markDurable := func() {
		durable = want.clone()
		pending = nil
	}

	for step := 0; step < steps; step++ {
		switch p := rng.IntN(100); {
		case p < 35:
			k, v := key(), val()
			require.NoError(t, db.Put([]byte(k), []byte(v)))
			ack(modelOp{puts: map[string]string{k: v}})
		case p < 45:
			k := key()
			require.NoError(t, db.Delete([]byte(k)))
			ack(modelOp{dels: []string{k}})
		case p < 55:
			b := db.NewBatch()
			op := modelOp{puts: map[string]string{}}
			for range 1 + rng.IntN(20) {
				k := key()
				if rng.IntN(4) == 0 {
					b.Delete([]byte(k))
					delete(op.puts, k)
					op.dels = append(op.dels, k)
				} else {
					v := val()
					b.Put([]byte(k), []byte(v))
					op.puts[k] = v
				}
			}
			// Later entries win within a batch: replay in order.
			require.NoError(t, db.Apply(b))
			seqOp := replayBatchModel(b)
			ack(seqOp)
			_ = op
		case p < 70:
			k := key()
			g, err := db.Get([]byte(k))
			if v, ok := want[k]; ok {
				require.NoError(t, err, "step %d Get(%q)", step, k)
				require.Equal(t, v, string(g), "step %d Get(%q)", step, k)
			} else {
				require.ErrorIs(t, err, ErrNotFound, "step %d Get(%q)", step, k)
			}
		case p < 78:
			lo, hi := key(), key()
			if lo > hi {
				lo, hi = hi, lo
			}
			io := &IterOptions{LowerBound: []byte(lo), UpperBound: []byte(hi)}
			if rng.IntN(3) == 0 {
				io = &IterOptions{Prefix: []byte(lo[:3])}
			}
			got := scanAll(t, db.NewIter(io))
			exp := model{}
			for k, v := range want {
				if io.Prefix != nil && bytes.HasPrefix([]byte(k), io.Prefix) ||
					io.Prefix == nil && k >= lo && k < hi {
					exp[k] = v
				}
			}
			require.True(t, maps.Equal(exp, got), "step %d scan [%q,%q) prefix %q: %s", step, lo, hi, io.Prefix, diffModels(exp, got))
		case p < 81:
			snaps = append(snaps, snap{db.NewSnapshot(), want.clone()})
		case p < 84 && len(snaps) > 0:
			i := rng.IntN(len(snaps))
			s := snaps[i]
			got := scanAll(t, s.s.NewIter(nil))
			require.True(t, maps.Equal(s.want, got), "step %d snapshot: %s", step, diffModels(s.want, got))
			k := key()
			g, err := s.s.Get([]byte(k))
			if v, ok := s.want[k]; ok {
				require.NoError(t, err)
				require.Equal(t, v, string(g))
			} else {
				require.ErrorIs(t, err, ErrNotFound)
			}
			require.NoError(t, s.s.Close())
			snaps = slices.Delete(snaps, i, i+1)
		case p < 88:
			require.NoError(t, db.Flush())
			markDurable()
		case p < 90:
			require.NoError(t, db.Compact())
			markDurable()
		case p < 95:
			// Clean reopen: nothing may be lost in any mode.
			for _, s := range snaps {
				require.NoError(t, s.s.Close())
			}
			snaps = nil
			require.NoError(t, db.Close())
			db, err = Open(dir, &opts)
			require.NoError(t, err, "step %d reopen", step)
			checkDB(t, db, want)
			markDurable()
		default:
			// Power loss: only synced data survives (plus, sometimes, a
			// random prefix of what was not synced).
			var co vfs.CrashCloneOptions
			if rng.IntN(2) == 0 {
				co = vfs.CrashCloneOptions{UnsyncedDataPercent: 50, RNG: rand.New(rand.NewPCG(seed, uint64(step)))}
			}
			crashed := fs.CrashClone(co)
			for _, s := range snaps {
				require.NoError(t, s.s.Close())
			}
			snaps = nil
			_ = db.Close()
			fs = crashed
			opts.FS = fs
			db, err = Open(dir, &opts)
			require.NoError(t, err, "step %d open after crash", step)
			if !lossy {
				checkDB(t, db, want)
			} else {
				want = checkPrefix(t, db, durable, pending)
			}
			markDurable()
		}
	}
	for _, s := range snaps {
		require.NoError(t, s.s.Close())
	}
	checkDB(t, db, want)
}

// replayBatchModel turns a committed batch into a model op, applying its
// entries in order.
func replayBatchModel(b *Batch) modelOp {
	r, _ := newBatchReader(b.data)
	op := modelOp{puts: map[string]string{}}
	state := map[string]*string{}
	var order []string
	for {
		kind, k, v, ok, err := r.next()
		if err != nil || !ok {
			break
		}
		if _, seen := state[string(k)]; !seen {
			order = append(order, string(k))
		}
		if kind == 1 {
			s := string(v)
			state[string(k)] = &s
		} else {
			state[string(k)] = nil
		}
	}
	for _, k := range order {
		if state[k] == nil {
			op.dels = append(op.dels, k)
		} else {
			op.puts[k] = *state[k]
		}
	}
	return op
}

// checkPrefix verifies that the recovered state equals the durable state
// plus some prefix of the pending acknowledged ops (no holes), and returns
// it.
func checkPrefix(t *testing.T, db *DB, durable model, pending []modelOp) model {
	t.Helper()
	got := scanAll(t, db.NewIter(nil))
	m := durable.clone()
	if maps.Equal(m, got) {
		return m
	}
	for i, op := range pending {
		op.apply(m)
		if maps.Equal(m, got) {
			t.Logf("lossy crash kept %d of %d unsynced ops", i+1, len(pending))
			return m
		}
	}
	t.Fatalf("recovered state is not a prefix of the acknowledged history (%d pending ops): %s", len(pending), diffModels(m, got))
	return nil
}

// TestErrorsAreTyped checks the sentinels match with errors.Is.
func TestErrorsAreTyped(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", &CorruptionError{File: "x.sst", Offset: 7, Err: errors.New("bad")})
	require.ErrorIs(t, err, ErrCorruption)
	var ce *CorruptionError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, int64(7), ce.Offset)
}
