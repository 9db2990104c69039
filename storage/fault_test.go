package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minidbgo/minidbgo/storage/vfs"
	"github.com/minidbgo/minidbgo/storage/vfs/errorfs"
	"github.com/stretchr/testify/require"
)

// faultOp is one write of the fault workload and its outcome. Every op
// writes keys no other op writes, so each can be checked on its own.
type faultOp struct {
	puts  map[string]string
	dels  []string // keys written by an earlier acknowledged op
	acked bool
	err   error
}

// runFaultWorkload opens a DB on fs and runs a fixed workload, stopping at
// the first error after which the DB is unusable. It returns the ops tried.
func runFaultWorkload(fs vfs.FS) (ops []*faultOp, openErr error) {
	opts := &Options{FS: fs, MemTableRecords: 8, L0CompactionThreshold: 2,
		LBaseMaxBytes: 4 << 10, TargetFileSize: 2 << 10, WriteStallTimeout: 200 * time.Millisecond}
	db, err := Open("/db", opts)
	if err != nil {
		return nil, err
	}
	defer func() { _ = db.Close() }()
	var ackedKeys []string
	for i := range 40 {
		op := &faultOp{puts: map[string]string{}}
		switch i % 5 {
		case 0, 1:
			k, v := fmt.Sprintf("p%03d", i), fmt.Sprintf("value-%d", i)
			op.puts[k] = v
			op.err = db.Put([]byte(k), []byte(v))
		case 2:
			b := db.NewBatch()
			for j := range 4 {
				k, v := fmt.Sprintf("b%03d-%d", i, j), fmt.Sprintf("bv-%d-%d", i, j)
				b.Put([]byte(k), []byte(v))
				op.puts[k] = v
			}
			op.err = db.Apply(b)
		case 3:
			if len(ackedKeys) > 0 {
				k := ackedKeys[len(ackedKeys)/2]
				op.dels = []string{k}
				op.err = db.Delete([]byte(k))
			}
		case 4:
			if i%10 == 4 {
				_ = db.Flush()
			} else if i == 29 {
				_ = db.Compact()
			}
		}
		op.acked = op.err == nil
		if op.acked && len(op.dels) == 0 {
			for k := range op.puts {
				ackedKeys = append(ackedKeys, k)
			}
		}
		ops = append(ops, op)
		if op.err != nil && errors.Is(op.err, ErrReadOnly) {
			break
		}
	}
	return ops, nil
}

// checkFaultOutcome reopens the post-crash filesystem on a healthy disk and
// verifies: acknowledged ops are present, failed ops are all or nothing.
func checkFaultOutcome(t *testing.T, fs vfs.FS, ops []*faultOp, what string) {
	t.Helper()
	db, err := Open("/db", &Options{FS: fs})
	require.NoError(t, err, "%s: reopen on a healthy disk", what)
	defer func() { require.NoError(t, db.Close()) }()
	deleted := map[string]bool{}
	for _, op := range ops {
		for _, k := range op.dels {
			if op.acked {
				deleted[k] = true
			}
		}
	}
	for i, op := range ops {
		present := 0
		for k, v := range op.puts {
			got, err := db.Get([]byte(k))
			switch {
			case err == nil:
				require.Equal(t, v, string(got), "%s: op %d key %q has a wrong value", what, i, k)
				present++
			case errors.Is(err, ErrNotFound):
				if deleted[k] {
					present++ // deleted later; counts as present
				}
			default:
				t.Fatalf("%s: op %d Get(%q): %v", what, i, k, err)
			}
		}
		if op.acked {
			require.Equal(t, len(op.puts), present, "%s: op %d was acknowledged but lost writes", what, i)
			for _, k := range op.dels {
				_, err := db.Get([]byte(k))
				require.ErrorIs(t, err, ErrNotFound, "%s: op %d acknowledged delete of %q lost", what, i, k)
			}
		} else if present != 0 && present != len(op.puts) {
			t.Fatalf("%s: failed op %d is half applied: %d of %d keys", what, i, present, len(op.puts))
		}
	}
}

// TestFaultSweep injects an I/O error at filesystem operation i, for every
// i until the workload runs without reaching i — once as a single failure
// and once as a disk that stays bad — then reopens on a healthy disk after
// a simulated power loss and checks the model.
func TestFaultSweep(t *testing.T) {
	for _, persistent := range []bool{false, true} {
		name := "once"
		if persistent {
			name = "persistent"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			swept, fired := 0, 0
			for i := int64(0); ; i++ {
				mem := vfs.NewMem()
				var inj errorfs.Injector = errorfs.OnIndex(i, nil)
				if persistent {
					inj = errorfs.AfterIndex(i, nil)
				}
				efs := errorfs.Wrap(mem, inj)
				ops, openErr := runFaultWorkload(efs)
				if efs.Ops() <= i {
					break // the workload no longer reaches op i
				}
				swept++
				if openErr != nil {
					fired++
					continue
				}
				for _, op := range ops {
					if op.err != nil {
						fired++
						break
					}
				}
				checkFaultOutcome(t, mem.CrashClone(vfs.CrashCloneOptions{}), ops, fmt.Sprintf("%s fault at op %d", name, i))
			}
			t.Logf("%s: swept %d fault points, %d surfaced to the caller", name, swept, fired)
			require.Greater(t, swept, 50)
		})
	}
}

// TestWALSyncFailureMakesReadOnly checks that after a failed WAL sync no
// further write is acknowledged, and that reopening recovers.
func TestWALSyncFailureMakesReadOnly(t *testing.T) {
	mem := vfs.NewMem()
	efs := errorfs.Wrap(mem, nil)
	db, err := Open("/db", &Options{FS: efs})
	require.NoError(t, err)
	require.NoError(t, db.Put([]byte("a"), []byte("1")))
	efs.SetInjector(errorfs.Once(errorfs.OnKind(errorfs.AfterIndex(0, nil), errorfs.OpFileSync)))
	require.Error(t, db.Put([]byte("b"), []byte("2")))
	efs.SetInjector(nil)
	err = db.Put([]byte("c"), []byte("3"))
	require.ErrorIs(t, err, ErrReadOnly)
	require.True(t, db.Metrics().ReadOnly)
	_ = db.Close()

	db, err = Open("/db", &Options{FS: mem.CrashClone(vfs.CrashCloneOptions{})})
	require.NoError(t, err)
	defer db.Close()
	v, err := db.Get([]byte("a"))
	require.NoError(t, err)
	require.Equal(t, "1", string(v))
	_, err = db.Get([]byte("c"))
	require.ErrorIs(t, err, ErrNotFound)
}

// TestSecondOpenFails checks the directory lock, on the OS filesystem and
// on MemFS.
func TestSecondOpenFails(t *testing.T) {
	for _, tc := range []struct {
		name string
		fs   vfs.FS
		dir  string
	}{
		{"os", vfs.Default, filepath.Join(t.TempDir(), "db")},
		{"mem", vfs.NewMem(), "/db"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := Open(tc.dir, &Options{FS: tc.fs})
			require.NoError(t, err)
			_, err = Open(tc.dir, &Options{FS: tc.fs})
			require.Error(t, err)
			require.ErrorIs(t, err, vfs.ErrLocked)
			require.Contains(t, err.Error(), fmt.Sprintf("pid %d", os.Getpid()))
			require.NoError(t, db.Close())
			db, err = Open(tc.dir, &Options{FS: tc.fs})
			require.NoError(t, err)
			require.NoError(t, db.Close())
		})
	}
}

// TestMetricsCountEntries checks that batches count each entry as a put
// or a delete.
func TestMetricsCountEntries(t *testing.T) {
	db, err := Open("/db", &Options{FS: vfs.NewMem()})
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Put([]byte("a"), []byte("1")))
	b := db.NewBatch()
	b.Put([]byte("b"), []byte("2"))
	b.Put([]byte("c"), []byte("3"))
	b.Delete([]byte("a"))
	require.NoError(t, db.Apply(b))
	m := db.Metrics()
	require.Equal(t, uint64(3), m.Puts)
	require.Equal(t, uint64(1), m.Deletes)
	require.Equal(t, uint64(1), m.Batches)
	require.Equal(t, uint64(2+2+2+1), m.BytesIn) // "a1" "b2" "c3" + the deleted key "a"
}

// TestFlushFailsOnFullDisk fills the disk for tables (every create and
// write under sst/ fails with ENOSPC) with the immutable queue full, so a
// forced Flush stalls in makeRoomForWrite: Flush must return the flush
// error, and Close must return, promptly — not wait for a flush that will
// not come. The bounds are liveness bounds, not timings.
func TestFlushFailsOnFullDisk(t *testing.T) {
	mem := vfs.NewMem()
	efs := errorfs.Wrap(mem, nil)
	db, err := Open("/db", &Options{FS: efs, MemTableRecords: 4, MaxImmutableMemTables: 1,
		WriteStallTimeout: 50 * time.Millisecond})
	require.NoError(t, err)
	efs.SetInjector(errorfs.PathContains(errorfs.OnKind(errorfs.AfterIndex(0, errorfs.ErrNoSpace),
		errorfs.OpCreate, errorfs.OpFileWrite, errorfs.OpFileSync), sstDirName+"/"))
	// Fill the memtable twice: the first rotation fills the immutable
	// queue with a memtable no flush can write; the second memtable stays.
	for i := range 6 {
		require.NoError(t, db.Put(fmt.Appendf(nil, "k%02d", i), []byte("v")))
	}

	within := func(what string, f func() error) error {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- f() }()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not return on a full disk", what)
			return nil
		}
	}
	err = within("Flush", db.Flush)
	require.ErrorIs(t, err, syscall.ENOSPC)
	// A second Flush, with a flush attempt already failed, returns too.
	err = within("Flush", db.Flush)
	require.ErrorIs(t, err, syscall.ENOSPC)

	// Close with a Flush stalled behind the full disk.
	flushed := make(chan error, 1)
	go func() { flushed <- db.Flush() }()
	err = within("Close", db.Close)
	require.ErrorIs(t, err, syscall.ENOSPC, "Close reports the flushes that failed")
	select {
	case err := <-flushed:
		require.Error(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Flush did not return after Close")
	}

	// Every acknowledged write is in the WAL.
	db, err = Open("/db", &Options{FS: mem.CrashClone(vfs.CrashCloneOptions{})})
	require.NoError(t, err)
	defer db.Close()
	for i := range 6 {
		_, err := db.Get(fmt.Appendf(nil, "k%02d", i))
		require.NoError(t, err)
	}
}

// TestCloseCancelsStalledFlush checks that Close cancels before it waits:
// a Flush stalled behind a flush worker that is stuck in a table write
// fails with ErrClosed as soon as Close starts, and Close returns once the
// worker it joins comes back.
func TestCloseCancelsStalledFlush(t *testing.T) {
	mem := vfs.NewMem()
	efs := errorfs.Wrap(mem, nil)
	db, err := Open("/db", &Options{FS: efs, MemTableRecords: 4, MaxImmutableMemTables: 1})
	require.NoError(t, err)
	release := make(chan struct{})
	blocked := make(chan struct{}, 1)
	efs.SetInjector(errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind == errorfs.OpCreate && strings.Contains(op.Path, sstDirName+"/") {
			select {
			case blocked <- struct{}{}:
			default:
			}
			<-release
		}
		return nil
	}))
	for i := range 6 {
		require.NoError(t, db.Put(fmt.Appendf(nil, "k%02d", i), []byte("v")))
	}
	<-blocked // the flush worker is stuck creating a table
	flushed := make(chan error, 1)
	stalls := db.m.stalls.Load()
	go func() { flushed <- db.Flush() }()
	for db.m.stalls.Load() == stalls {
		time.Sleep(time.Millisecond) // until Flush stalls
	}
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	select {
	case err := <-flushed:
		require.ErrorIs(t, err, ErrClosed)
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("a stalled Flush did not fail when Close began")
	}
	close(release)
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
}

// TestMetricsDuringManifestSync holds a flush's MANIFEST sync and checks
// that Metrics, a read and a snapshot do not wait for it: the engine's
// mutex is not held across MANIFEST I/O. Then it lets the sync go and
// checks that the flush completes.
func TestMetricsDuringManifestSync(t *testing.T) {
	mem := vfs.NewMem()
	efs := errorfs.Wrap(mem, nil)
	db, err := Open("/db", &Options{FS: efs})
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Put([]byte("a"), []byte("1")))

	release := make(chan struct{})
	blocked := make(chan struct{}, 1)
	var once sync.Once
	efs.SetInjector(errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind == errorfs.OpFileSync && strings.Contains(op.Path, "MANIFEST-") {
			once.Do(func() {
				blocked <- struct{}{}
				<-release
			})
		}
		return nil
	}))
	flushed := make(chan error, 1)
	go func() { flushed <- db.Flush() }()
	<-blocked // the flush's edit is being synced

	done := make(chan Metrics, 1)
	go func() {
		v, err := db.Get([]byte("a"))
		if err != nil || string(v) != "1" {
			t.Errorf("Get during the MANIFEST sync: %q, %v", v, err)
		}
		_ = db.NewSnapshot().Close()
		done <- db.Metrics()
	}()
	select {
	case m := <-done:
		require.Equal(t, 1, m.ImmutableMemTables, "the flush is not installed yet")
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("Metrics waited for the MANIFEST sync")
	}
	close(release)
	require.NoError(t, <-flushed)
	m := db.Metrics()
	require.Equal(t, 0, m.ImmutableMemTables)
	require.Equal(t, 1, m.Levels[0].Files)
}

// TestConcurrentVersionEdits runs flushes, automatic and manual
// compactions, Metrics and reads at once with tiny memtables, so version
// edits from the flush worker and compactions race for the MANIFEST (which
// they write with d.mu released), then checks after a simulated power loss
// that every acknowledged write is there and the MANIFEST replays.
func TestConcurrentVersionEdits(t *testing.T) {
	mem := vfs.NewMem()
	db, err := Open("/db", &Options{FS: mem, MemTableRecords: 16, L0CompactionThreshold: 2,
		LBaseMaxBytes: 8 << 10, TargetFileSize: 2 << 10, WriteStallTimeout: 5 * time.Second})
	require.NoError(t, err)
	const writers, perWriter = 4, 300
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				k := fmt.Appendf(nil, "w%d-%04d", w, i%100)
				if err := db.Put(k, fmt.Appendf(nil, "%d", i)); err != nil {
					t.Errorf("Put: %v", err)
					return
				}
			}
		}()
	}
	var bg sync.WaitGroup
	bg.Add(2)
	go func() {
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = db.Metrics()
			_, _ = db.Get([]byte("w0-0001"))
		}
	}()
	go func() {
		defer bg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			var err error
			if i%4 == 3 {
				err = db.Compact()
			} else {
				err = db.Flush()
			}
			if err != nil {
				t.Errorf("Flush/Compact: %v", err)
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	bg.Wait()
	require.NoError(t, db.Close())

	db, err = Open("/db", &Options{FS: mem.CrashClone(vfs.CrashCloneOptions{})})
	require.NoError(t, err)
	defer db.Close()
	for w := range writers {
		for i := perWriter - 100; i < perWriter; i++ {
			v, err := db.Get(fmt.Appendf(nil, "w%d-%04d", w, i%100))
			require.NoError(t, err)
			require.Equal(t, fmt.Sprint(i), string(v))
		}
	}
}
