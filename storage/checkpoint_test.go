package storage

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/minidbgo/minidbgo/storage/vfs"
	"github.com/minidbgo/minidbgo/storage/vfs/errorfs"
	"github.com/stretchr/testify/require"
)

// contents lists every key=value an iterator yields.
func contents(t *testing.T, it *Iterator) []string {
	t.Helper()
	var kvs []string
	for ok := it.First(); ok; ok = it.Next() {
		kvs = append(kvs, string(it.Key())+"="+string(it.Value()))
	}
	require.NoError(t, it.Err())
	require.NoError(t, it.Close())
	return kvs
}

// openContents opens the database in dir on fs and lists it.
func openContents(t *testing.T, fs vfs.FS, dir string) []string {
	t.Helper()
	db, err := Open(dir, &Options{FS: fs, DirCheckInterval: -1})
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	return contents(t, db.NewIter(nil))
}

// fillCheckpointDB writes data that ends up in every place a checkpoint
// copies from: tables on two levels, deletions, and (unless flushed) the
// memtable.
func fillCheckpointDB(t *testing.T, db *DB) {
	t.Helper()
	for i := range 300 {
		require.NoError(t, db.Put([]byte(fmt.Sprintf("k%04d", i)), []byte(fmt.Sprintf("v%d", i))))
	}
	require.NoError(t, db.Compact())
	for i := range 300 {
		if i%7 == 0 {
			require.NoError(t, db.Delete([]byte(fmt.Sprintf("k%04d", i))))
		}
	}
	require.NoError(t, db.Flush())
	for i := 300; i < 350; i++ {
		require.NoError(t, db.Put([]byte(fmt.Sprintf("k%04d", i)), []byte(fmt.Sprintf("v%d", i))))
	}
}

// TestCheckpointOpensEqual: the checkpoint opens as a database holding
// exactly what the source held when it was taken — not later writes —
// and the two are independent afterwards. Tables are linked, not copied.
func TestCheckpointOpensEqual(t *testing.T) {
	for _, mode := range []Durability{{Mode: DurabilityGroup}, {Mode: DurabilityNone}} {
		t.Run(mode.String(), func(t *testing.T) {
			fs := vfs.NewMem()
			db, err := Open("/data/db", &Options{FS: fs, MemTableRecords: 64, Durability: mode, DirCheckInterval: -1})
			require.NoError(t, err)
			defer db.Close()
			fillCheckpointDB(t, db)
			want := contents(t, db.NewIter(nil))

			require.NoError(t, db.Checkpoint("/backup/ckpt"))
			require.NoError(t, db.Put([]byte("after"), []byte("x")))
			require.NoError(t, db.Delete([]byte("k0001")))

			got := openContents(t, fs, "/backup/ckpt")
			require.Equal(t, want, got)
			_, err = fs.Stat("/backup/ckpt" + checkpointTmpSuffix)
			require.ErrorIs(t, err, os.ErrNotExist, "no temporary directory is left")
			_, err = fs.Stat("/backup/ckpt/LOCK")
			require.NoError(t, err, "Open took its own lock")

			// The checkpoint's tables are links to the source's.
			names, err := fs.List("/backup/ckpt/sst")
			require.NoError(t, err)
			require.NotEmpty(t, names)
			linked := 0
			for _, n := range names {
				a, aerr := fs.Stat(filepath.Join("/data/db/sst", n))
				b, err := fs.Stat(filepath.Join("/backup/ckpt/sst", n))
				require.NoError(t, err)
				if aerr == nil && vfs.SameFile(a, b) {
					linked++
				}
			}
			require.Positive(t, linked)

			// The source still has its later writes.
			v, err := db.Get([]byte("after"))
			require.NoError(t, err)
			require.Equal(t, "x", string(v))
		})
	}
}

// TestCheckpointCopiesTheLog: when the flush fails (tables cannot be
// created), the writes still in the memtable reach the checkpoint through
// the copied log.
func TestCheckpointCopiesTheLog(t *testing.T) {
	mem := vfs.NewMem()
	var failTables atomic.Bool
	fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if failTables.Load() && op.Kind == errorfs.OpCreate && filepath.Dir(op.Path) == "/data/db/sst" {
			return errorfs.ErrInjected
		}
		return nil
	}))
	db, err := Open("/data/db", &Options{FS: fs, DirCheckInterval: -1})
	require.NoError(t, err)
	defer db.Close()
	fillCheckpointDB(t, db)
	want := contents(t, db.NewIter(nil))

	failTables.Store(true)
	require.NoError(t, db.Checkpoint("/backup/ckpt"))
	failTables.Store(false)
	logs, err := mem.List("/backup/ckpt/wal")
	require.NoError(t, err)
	require.NotEmpty(t, logs, "the memtable's log was copied")
	require.Equal(t, want, openContents(t, mem, "/backup/ckpt"))
}

// TestCheckpointCopiesWhenLinkFails: a filesystem that cannot link (the
// target on another device) gets copies that open the same.
func TestCheckpointCopiesWhenLinkFails(t *testing.T) {
	mem := vfs.NewMem()
	fs := errorfs.Wrap(mem, errorfs.OnKind(errorfs.AfterIndex(0, nil), errorfs.OpLink))
	db, err := Open("/data/db", &Options{FS: fs, DirCheckInterval: -1})
	require.NoError(t, err)
	defer db.Close()
	fillCheckpointDB(t, db)
	want := contents(t, db.NewIter(nil))
	require.NoError(t, db.Checkpoint("/backup/ckpt"))

	names, err := mem.List("/backup/ckpt/sst")
	require.NoError(t, err)
	require.NotEmpty(t, names)
	for _, n := range names {
		a, err := mem.Stat(filepath.Join("/data/db/sst", n))
		require.NoError(t, err)
		b, err := mem.Stat(filepath.Join("/backup/ckpt/sst", n))
		require.NoError(t, err)
		require.False(t, vfs.SameFile(a, b), "%s is a copy", n)
	}
	require.Equal(t, want, openContents(t, mem, "/backup/ckpt"))
}

// TestCheckpointBadTarget: a target that exists and is not an empty
// directory is refused with a clear error, and nothing is written; an
// empty directory is accepted.
func TestCheckpointBadTarget(t *testing.T) {
	fs := vfs.NewMem()
	db, err := Open("/data/db", &Options{FS: fs, DirCheckInterval: -1})
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Put([]byte("a"), []byte("1")))

	require.NoError(t, fs.MkdirAll("/backup/full", 0o755))
	require.NoError(t, fs.WriteFile("/backup/full/keep.txt", []byte("mine")))
	err = db.Checkpoint("/backup/full")
	require.ErrorIs(t, err, os.ErrExist)
	require.ErrorContains(t, err, "/backup/full is not empty")
	names, err := fs.List("/backup/full")
	require.NoError(t, err)
	require.Equal(t, []string{"keep.txt"}, names, "the target is untouched")

	require.NoError(t, fs.WriteFile("/backup/file", []byte("x")))
	err = db.Checkpoint("/backup/file")
	require.ErrorIs(t, err, os.ErrExist)
	require.ErrorContains(t, err, "not a directory")

	require.NoError(t, fs.MkdirAll("/backup/empty", 0o755))
	require.NoError(t, db.Checkpoint("/backup/empty"))
	require.Equal(t, []string{"a=1"}, openContents(t, fs, "/backup/empty"))

	err = db.Checkpoint("/backup/empty")
	require.ErrorIs(t, err, os.ErrExist, "a second checkpoint into the same directory")
}

// TestCheckpointUnderConcurrentWrites takes checkpoints while writers
// commit batches and compactions rewrite the tables (obsoleting tables a
// checkpoint is linking): each checkpoint opens equal to a snapshot taken
// at its point in history.
func TestCheckpointUnderConcurrentWrites(t *testing.T) {
	fs := vfs.NewMem()
	db, err := Open("/data/db", &Options{FS: fs, MemTableRecords: 40, L0CompactionThreshold: 2,
		TargetFileSize: 4 << 10, DirCheckInterval: -1})
	require.NoError(t, err)
	defer db.Close()
	writeBatches(t, db, 100)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				b := db.NewBatch()
				for range 3 {
					k := []byte(fmt.Sprintf("w%d-%03d", w, rng.IntN(200)))
					if rng.IntN(5) == 0 {
						b.Delete(k)
					} else {
						b.Put(k, []byte(fmt.Sprintf("%d/%d", w, i)))
					}
				}
				if err := db.Apply(b); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := db.Compact(); err != nil {
				t.Error(err)
				return
			}
		}
	}()

	for i := range 4 {
		dir := fmt.Sprintf("/backup/ckpt%d", i)
		snap, err := db.checkpoint(dir, true)
		require.NoError(t, err)
		want := contents(t, snap.NewIter(nil))
		require.NoError(t, snap.Close())
		require.NotEmpty(t, want)
		require.Equal(t, want, openContents(t, fs, dir), "checkpoint %d", i)
	}
	close(stop)
	wg.Wait()
}

// TestCheckpointTablesObsoletedMeanwhile compacts every table away after
// the checkpoint pinned them and before it links them: they must still be
// there to link, and be deleted once the checkpoint lets them go.
func TestCheckpointTablesObsoletedMeanwhile(t *testing.T) {
	mem := vfs.NewMem()
	var db *DB
	var once sync.Once
	fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind == errorfs.OpLink {
			once.Do(func() {
				// Rewrite every table: the ones pinned become obsolete.
				for i := range 50 {
					if err := db.Put([]byte(fmt.Sprintf("k%04d", i)), []byte("new")); err != nil {
						panic(err)
					}
				}
				if err := db.Compact(); err != nil {
					panic(err)
				}
			})
		}
		return nil
	}))
	var err error
	db, err = Open("/data/db", &Options{FS: fs, DirCheckInterval: -1, DisableAutomaticCompactions: true})
	require.NoError(t, err)
	defer db.Close()
	fillCheckpointDB(t, db)
	want := contents(t, db.NewIter(nil))
	before, err := mem.List("/data/db/sst")
	require.NoError(t, err)

	require.NoError(t, db.Checkpoint("/backup/ckpt"))
	require.Equal(t, want, openContents(t, mem, "/backup/ckpt"))

	after, err := mem.List("/data/db/sst")
	require.NoError(t, err)
	for _, n := range before {
		require.NotContains(t, after, n, "an obsolete table is deleted once the checkpoint is done")
	}
}

// TestCheckpointCrash simulates a power cut at every filesystem operation
// of a checkpoint, and also fails each operation in turn: the source
// always reopens with its data, and the target is either absent or a
// complete copy; a checkpoint retried after the crash succeeds.
func TestCheckpointCrash(t *testing.T) {
	setup := func(inj errorfs.Injector) (*vfs.MemFS, *errorfs.FS, *DB, []string) {
		mem := vfs.NewMem()
		fs := errorfs.Wrap(mem, nil)
		db, err := Open("/data/db", &Options{FS: fs, DirCheckInterval: -1, DisableAutomaticCompactions: true})
		require.NoError(t, err)
		fillCheckpointDB(t, db)
		want := contents(t, db.NewIter(nil))
		fs.SetInjector(inj)
		return mem, fs, db, want
	}

	// How many operations a checkpoint takes.
	_, fs, db, _ := setup(nil)
	start := fs.Ops()
	require.NoError(t, db.Checkpoint("/backup/ckpt"))
	total := fs.Ops() - start
	require.NoError(t, db.Close())
	require.Greater(t, total, int64(10))

	for k := range total {
		t.Run(fmt.Sprintf("crash-at-%d", k), func(t *testing.T) {
			var cloned atomic.Pointer[vfs.MemFS]
			var memP atomic.Pointer[vfs.MemFS]
			var base atomic.Int64
			base.Store(-1)
			mem, fs, db, want := setup(errorfs.InjectorFunc(func(op errorfs.Op) error {
				if b := base.Load(); b >= 0 && op.Index == b+k {
					cloned.Store(memP.Load().CrashClone(vfs.CrashCloneOptions{}))
				}
				return nil
			}))
			memP.Store(mem)
			base.Store(fs.Ops())
			require.NoError(t, db.Checkpoint("/backup/ckpt"))
			require.NoError(t, db.Close())
			clone := cloned.Load()
			require.NotNil(t, clone)

			require.Equal(t, want, openContents(t, clone, "/data/db"), "the source is intact")
			if _, err := clone.Stat("/backup/ckpt"); err == nil {
				require.Equal(t, want, openContents(t, clone, "/backup/ckpt"), "a target that exists is complete")
				return
			}
			// Retry in the crashed filesystem: the leftover is cleared.
			db2, err := Open("/data/db", &Options{FS: clone, DirCheckInterval: -1})
			require.NoError(t, err)
			require.NoError(t, db2.Checkpoint("/backup/ckpt"))
			require.NoError(t, db2.Close())
			require.Equal(t, want, openContents(t, clone, "/backup/ckpt"))
		})
		t.Run(fmt.Sprintf("fail-at-%d", k), func(t *testing.T) {
			var base atomic.Int64
			base.Store(-1)
			var fired atomic.Bool
			mem, fs, db, want := setup(errorfs.InjectorFunc(func(op errorfs.Op) error {
				if b := base.Load(); b >= 0 && op.Index == b+k && fired.CompareAndSwap(false, true) {
					return errorfs.ErrInjected
				}
				return nil
			}))
			base.Store(fs.Ops())
			err := db.Checkpoint("/backup/ckpt")
			if err != nil {
				_, serr := mem.Stat("/backup/ckpt")
				require.ErrorIs(t, serr, os.ErrNotExist, "a failed checkpoint leaves no target")
				_, serr = mem.Stat("/backup/ckpt" + checkpointTmpSuffix)
				require.ErrorIs(t, serr, os.ErrNotExist, "nor its temporary directory")
			}
			require.Equal(t, want, contents(t, db.NewIter(nil)))
			_ = db.Close() // may report the injected failure
			require.Equal(t, want, openContents(t, mem, "/data/db"), "the source is intact")
			if err == nil {
				require.Equal(t, want, openContents(t, mem, "/backup/ckpt"))
			}
		})
	}
}

// TestCheckpointWritesDuringFlush: writes committed while the
// checkpoint's flush runs are in the log only — in DurabilityNone mode
// only in the log writer's buffer — and the checkpoint includes them:
// it equals a snapshot at its point in history.
func TestCheckpointWritesDuringFlush(t *testing.T) {
	for _, mode := range []Durability{{Mode: DurabilityGroup}, {Mode: DurabilityNone}} {
		t.Run(mode.String(), func(t *testing.T) {
			mem := vfs.NewMem()
			var db *DB
			var armed atomic.Bool
			fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
				if op.Kind == errorfs.OpCreate && filepath.Dir(op.Path) == "/data/db/sst" && armed.CompareAndSwap(true, false) {
					for i := range 20 {
						if err := db.Put([]byte(fmt.Sprintf("late%02d", i)), []byte("x")); err != nil {
							panic(err)
						}
					}
				}
				return nil
			}))
			var err error
			db, err = Open("/data/db", &Options{FS: fs, Durability: mode, DirCheckInterval: -1})
			require.NoError(t, err)
			defer db.Close()
			fillCheckpointDB(t, db)
			armed.Store(true)
			snap, err := db.checkpoint("/backup/ckpt", true)
			require.NoError(t, err)
			require.False(t, armed.Load(), "the writes ran during the flush")
			want := contents(t, snap.NewIter(nil))
			require.NoError(t, snap.Close())
			require.Contains(t, want, "late19=x")
			require.Equal(t, want, openContents(t, mem, "/backup/ckpt"))
		})
	}
}
