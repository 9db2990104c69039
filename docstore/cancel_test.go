package docstore

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/minidbgo/minidbgo/docstore/internal/keyenc"
	"github.com/minidbgo/minidbgo/storage"
	"github.com/stretchr/testify/require"
)

// cancelDocs is the size of the collection the cancellation tests scan.
const cancelDocs = 200_000

// cancelLag bounds the time from cancel() to the call's return. The design
// target is 100 ms (a scan looks at its context every checkEvery keys);
// the bound is generous so that it holds under -race on a loaded 2-core
// machine. Measured there (go test -race, other helpers' builds running):
// 0.1–3 ms for the scans, Dump and CreateIndex, up to 14 ms for
// UpdateMany and DeleteMany (a batch of manyChunk documents is being
// written when the cancel comes).
const cancelLag = 2 * time.Second

// cancelFixture returns a database holding cancelDocs documents in "c",
// inserted in large batches (building it under -race takes a while, so
// the subtests share it; those that write leave it consistent).
func cancelFixture(t *testing.T) *DB {
	t.Helper()
	db := openMem(t, nil)
	ctx := context.Background()
	batch := make([][]byte, 0, 1000)
	for i := range cancelDocs {
		batch = append(batch, fmt.Appendf(nil, `{"_id":"d%07d","n":%d,"g":%d,"s":"some text to scan %d"}`, i, i, i%100, i))
		if len(batch) == cap(batch) {
			_, err := db.InsertMany(ctx, "c", batch)
			require.NoError(t, err)
			batch = batch[:0]
		}
	}
	return db
}

// stopsOnCancel runs op with a context it cancels once op has started
// working, and returns op's error and the time from cancel() to op's
// return.
func stopsOnCancel(t *testing.T, op func(ctx context.Context, started func()) error) (error, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	startedCh := make(chan struct{})
	var once sync.Once
	started := func() { once.Do(func() { close(startedCh) }) }
	type result struct {
		err error
		at  time.Time
	}
	done := make(chan result, 1)
	go func() {
		err := op(ctx, started)
		done <- result{err, time.Now()}
	}()
	select {
	case <-startedCh:
	case r := <-done:
		t.Fatalf("the operation returned before it could be cancelled: %v", r.err)
	}
	// Let the scan get into the collection.
	time.Sleep(2 * time.Millisecond)
	cancelled := time.Now()
	cancel()
	var r result
	select {
	case r = <-done:
	case <-time.After(time.Minute):
		t.Fatal("the operation did not stop within a minute of its cancellation")
	}
	lag := r.at.Sub(cancelled)
	t.Logf("returned %v after cancel()", lag)
	return r.err, lag
}

func requireStopped(t *testing.T, err error, lag time.Duration) {
	t.Helper()
	require.Error(t, err, "the operation finished before the cancellation (the collection is too small to tell)")
	require.ErrorIs(t, err, context.Canceled)
	require.Less(t, lag, cancelLag)
}

func TestCancelStopsWork(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a collection of 200,000 documents")
	}
	db := cancelFixture(t)
	bg := context.Background()

	t.Run("FindUnsorted", func(t *testing.T) {
		// A filter that matches nothing: Next scans every document.
		err, lag := stopsOnCancel(t, func(ctx context.Context, started func()) error {
			cur, err := db.Find(ctx, "c", Query{Filter: []byte(`{"s":"absent"}`)})
			if err != nil {
				return err
			}
			defer cur.Close()
			started()
			for cur.Next() {
			}
			return cur.Err()
		})
		requireStopped(t, err, lag)
	})
	t.Run("FindSortedUnindexed", func(t *testing.T) {
		err, lag := stopsOnCancel(t, func(ctx context.Context, started func()) error {
			cur, err := db.Find(ctx, "c", Query{SortString: "-n", Limit: 10})
			if err != nil {
				return err
			}
			defer cur.Close()
			started()
			for cur.Next() {
			}
			return cur.Err()
		})
		requireStopped(t, err, lag)
	})
	t.Run("Count", func(t *testing.T) {
		err, lag := stopsOnCancel(t, func(ctx context.Context, started func()) error {
			started()
			_, err := db.Count(ctx, "c", []byte(`{"g":{"$gte":0}}`))
			return err
		})
		requireStopped(t, err, lag)
	})
	t.Run("CountDeadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(bg, 5*time.Millisecond)
		defer cancel()
		_, err := db.Count(ctx, "c", []byte(`{"g":{"$gte":0}}`))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.False(t, IsClientError(err), "a timeout is not a bad request")
	})
	t.Run("Distinct", func(t *testing.T) {
		err, lag := stopsOnCancel(t, func(ctx context.Context, started func()) error {
			started()
			_, err := db.Distinct(ctx, "c", "g", []byte(`{"n":{"$gte":0}}`))
			return err
		})
		requireStopped(t, err, lag)
	})
	t.Run("Dump", func(t *testing.T) {
		err, lag := stopsOnCancel(t, func(ctx context.Context, started func()) error {
			// Started once the first 64 KiB of the dump are out.
			_, err := db.Dump(ctx, writerFunc(func(p []byte) (int, error) {
				started()
				return len(p), nil
			}))
			return err
		})
		requireStopped(t, err, lag)
	})
	t.Run("CreateIndex", func(t *testing.T) {
		spec, err := ParseIndexSpec([]byte(`{"name":"by_n","fields":["n"]}`))
		require.NoError(t, err)
		err, lag := stopsOnCancel(t, func(ctx context.Context, started func()) error {
			return db.CreateIndex(ctx, "c", spec, func(done int64) { started() })
		})
		requireStopped(t, err, lag)
		// No partial effect: the index and its entries are gone.
		specs, err := db.ListIndexes("c")
		require.NoError(t, err)
		require.Empty(t, specs)
		it := db.engine.NewIter(&storage.IterOptions{Prefix: keyenc.IndexPrefix("c", "by_n")})
		require.False(t, it.First(), "the cancelled build left index entries")
		require.NoError(t, it.Close())
	})
	t.Run("UpdateMany", func(t *testing.T) {
		var res ManyResult
		err, lag := stopsOnCancel(t, func(ctx context.Context, started func()) error {
			started()
			var err error
			res, err = db.UpdateMany(ctx, "c", []byte(`{"g":{"$gte":0}}`), []byte(`{"$set":{"u":1}}`))
			return err
		})
		requireStopped(t, err, lag)
		// The batches before the cancellation are written, whole, and
		// counted; nothing after.
		require.Less(t, res.Modified, int64(cancelDocs))
		require.Zero(t, res.Modified%manyChunk, "a batch was written in part")
		n, err := db.Count(bg, "c", []byte(`{"u":1}`))
		require.NoError(t, err)
		require.Equal(t, res.Modified, n)
	})
	t.Run("DeleteMany", func(t *testing.T) {
		var res ManyResult
		err, lag := stopsOnCancel(t, func(ctx context.Context, started func()) error {
			started()
			var err error
			res, err = db.DeleteMany(ctx, "c", []byte(`{"g":{"$gte":0}}`))
			return err
		})
		requireStopped(t, err, lag)
		require.Less(t, res.Deleted, int64(cancelDocs))
		require.Zero(t, res.Deleted%manyChunk, "a batch was deleted in part")
		scanned, err := db.Count(bg, "c", []byte(`{"g":{"$gte":0}}`))
		require.NoError(t, err)
		require.Equal(t, int64(cancelDocs)-res.Deleted, scanned)
		counted, err := db.Count(bg, "c", nil)
		require.NoError(t, err)
		require.Equal(t, scanned, counted, "the collection's count disagrees with a scan")
	})
}

// TestCancelledWriteCommitsNothing: a write whose context is done writes
// nothing, whatever its size.
func TestCancelledWriteCommitsNothing(t *testing.T) {
	db := openMem(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	bg := context.Background()
	_, err := db.InsertOne(ctx, "c", []byte(`{"_id":"a"}`), WriteOptions{})
	require.ErrorIs(t, err, context.Canceled)
	_, err = db.InsertMany(ctx, "c", [][]byte{[]byte(`{"_id":"a"}`), []byte(`{"_id":"b"}`)})
	require.ErrorIs(t, err, context.Canceled)
	_, err = db.Get(bg, "c", "a")
	require.ErrorIs(t, err, ErrNotFound)
	n, err := db.Count(bg, "c", nil)
	require.NoError(t, err)
	require.Zero(t, n)

	_, err = db.InsertOne(bg, "c", []byte(`{"_id":"a","v":1}`), WriteOptions{})
	require.NoError(t, err)
	_, err = db.Update(ctx, "c", "a", []byte(`{"$set":{"v":2}}`), WriteOptions{})
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, db.Delete(ctx, "c", "a", WriteOptions{}), context.Canceled)
	require.ErrorIs(t, db.DropCollection(ctx, "c"), context.Canceled)
	spec, err := ParseIndexSpec([]byte(`{"name":"by_v","fields":["v"]}`))
	require.NoError(t, err)
	require.NoError(t, db.CreateIndex(bg, "c", spec, nil))
	require.ErrorIs(t, db.DropIndex(ctx, "c", "by_v"), context.Canceled)
	specs, err := db.ListIndexes("c")
	require.NoError(t, err)
	require.Len(t, specs, 1, "the cancelled drop removed the index")
	d, err := db.Get(bg, "c", "a")
	require.NoError(t, err)
	require.True(t, bytes.Contains(d.JSON, []byte(`"v":1`)), "%s", d.JSON)
	_, err = db.Restore(ctx, bytes.NewReader([]byte(`{"collection":"c","doc":{"_id":"r"}}`+"\n")))
	require.ErrorIs(t, err, context.Canceled)
	_, err = db.Get(bg, "c", "r")
	require.ErrorIs(t, err, ErrNotFound)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestScanLooksAtContextPerBytes: a scan of large documents looks at its
// context every checkBytes of documents, not only every checkEvery keys.
func TestScanLooksAtContextPerBytes(t *testing.T) {
	db := openMem(t, nil)
	bg := context.Background()
	big := bytes.Repeat([]byte("x"), checkBytes/2+1)
	for i := range 4 {
		_, err := db.InsertOne(bg, "c", fmt.Appendf(nil, `{"_id":"d%d","s":"%s"}`, i, big), WriteOptions{})
		require.NoError(t, err)
	}
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	cur, err := db.Find(ctx, "c", Query{})
	require.NoError(t, err)
	defer cur.Close()
	require.True(t, cur.Next())
	require.True(t, cur.Next()) // now past checkBytes
	cancel()
	require.False(t, cur.Next(), "the third large document was read after the cancellation")
	require.ErrorIs(t, cur.Err(), context.Canceled)
}
