package docstore

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/minidbgo/minidbgo/docstore/internal/keyenc"
	"github.com/minidbgo/minidbgo/storage"
	"github.com/minidbgo/minidbgo/storage/vfs"
	"github.com/stretchr/testify/require"
)

// scanCount counts a collection's documents and their bytes by reading
// every document key: what the maintained counts must equal.
func scanCount(t *testing.T, db *DB, col string) (docs, bytes int64) {
	t.Helper()
	it := db.engine.NewIter(&storage.IterOptions{Prefix: keyenc.DocPrefix(col)})
	for ok := it.First(); ok; ok = it.Next() {
		docs++
		bytes += int64(len(it.Value()) - 8)
	}
	require.NoError(t, it.Close())
	return docs, bytes
}

func requireCountsMatchScan(t *testing.T, db *DB, col, when string) {
	t.Helper()
	docs, bytes := scanCount(t, db, col)
	info, err := db.Stats(col)
	if docs == 0 && errCode(err) == "not_found" {
		return
	}
	require.NoError(t, err, when)
	require.Equal(t, docs, info.DocCount, "%s: docCount against a full scan", when)
	require.Equal(t, bytes, info.ByteSize, "%s: byteSize against a full scan", when)
	stored, storedBytes, _, err := db.readStats(col, false)
	require.NoError(t, err)
	require.Equal(t, docs, stored, "%s: stored count against a full scan", when)
	require.Equal(t, bytes, storedBytes, "%s: stored byte size against a full scan", when)
}

// TestDropDuringWritesKeepsCounts drops a collection while writers insert
// into it and delete from it, then checks that the counts equal a full
// scan, in memory and after reopening; over several rounds, so that the
// drop meets the writers and the stats folds at different points.
func TestDropDuringWritesKeepsCounts(t *testing.T) {
	fs := vfs.NewMem()
	open := func() *DB {
		db, err := Open("/db", &Options{Storage: &storage.Options{FS: fs, MemTableRecords: 5000}})
		require.NoError(t, err)
		return db
	}
	db := open()
	for round := range 4 {
		var done atomic.Int32
		var wg sync.WaitGroup
		const writers, perWriter = 3, 150
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer done.Add(1)
				for i := range perWriter {
					batch := make([][]byte, 16)
					for j := range batch {
						batch[j] = []byte(fmt.Sprintf(`{"_id":"r%dw%di%dj%d","v":%d}`, round, w, i, j, i*j))
					}
					_, err := db.InsertMany(context.Background(), "c", batch)
					require.NoError(t, err)
					if i%3 == 0 {
						err := db.Delete(context.Background(), "c", fmt.Sprintf("r%dw%di%dj0", round, w, i), WriteOptions{})
						require.True(t, err == nil || errCode(err) == "not_found", "delete: %v", err)
					}
				}
			}()
		}
		// Drop once the collection has grown (and stats folds ran),
		// while the writers write.
		for done.Load() < writers {
			if info, err := db.Stats("c"); err == nil && info.DocCount >= 1000+int64(round)*300 {
				break
			}
			runtime.Gosched()
		}
		err := db.DropCollection(context.Background(), "c")
		require.True(t, err == nil || errCode(err) == "not_found", "drop: %v", err)
		wg.Wait()
		requireCountsMatchScan(t, db, "c", fmt.Sprintf("round %d, before reopening", round))
		require.NoError(t, db.Close())
		db = open()
		requireCountsMatchScan(t, db, "c", fmt.Sprintf("round %d, after reopening", round))
	}
	require.NoError(t, db.Close())
}

// loadNumbered inserts n documents {"_id":"%05d","k":i}, with the k values
// that dup maps overridden.
func loadNumbered(t *testing.T, db *DB, n int, dup map[int]int) {
	t.Helper()
	var batch [][]byte
	for i := range n {
		k := i
		if v, ok := dup[i]; ok {
			k = v
		}
		batch = append(batch, []byte(fmt.Sprintf(`{"_id":"%05d","k":%d}`, i, k)))
		if len(batch) == 500 || i == n-1 {
			_, err := db.InsertMany(context.Background(), "c", batch)
			require.NoError(t, err)
			batch = nil
		}
	}
}

// buildAndCrash creates a unique index on k and takes a crash image of fs
// once its backfill has indexed 1,000 documents; it returns the build's
// outcome and the image.
func buildAndCrash(t *testing.T, db *DB, fs *vfs.MemFS) (error, *vfs.MemFS) {
	t.Helper()
	spec, err := ParseIndexSpec([]byte(`{"name":"k_u","fields":["k"],"unique":true}`))
	require.NoError(t, err)
	var crashed *vfs.MemFS
	err = db.CreateIndex(context.Background(), "c", spec, func(done int64) {
		if crashed == nil && done >= 1000 {
			crashed = fs.CrashClone(vfs.CrashCloneOptions{})
		}
	})
	require.NotNil(t, crashed)
	return err, crashed
}

func indexSpecs(t *testing.T, db *DB) []IndexSpec {
	t.Helper()
	specs, err := db.ListIndexes("c")
	require.NoError(t, err)
	return specs
}

// TestCrashMidIndexBuildResumes crashes in the middle of a unique index's
// build: after reopening, the build resumes and completes, the planner
// uses the index, every value is enforced (those indexed before the crash
// and those after), and a dump holds the index.
func TestCrashMidIndexBuildResumes(t *testing.T) {
	fs := vfs.NewMem()
	db, err := Open("/db", &Options{Storage: &storage.Options{FS: fs}})
	require.NoError(t, err)
	loadNumbered(t, db, 3000, nil)
	buildErr, crashed := buildAndCrash(t, db, fs)
	require.NoError(t, buildErr)
	require.NoError(t, db.Close())

	db, err = Open("/db", &Options{Storage: &storage.Options{FS: crashed}})
	require.NoError(t, err)
	defer db.Close()
	specs := indexSpecs(t, db)
	require.Len(t, specs, 1)
	// The same request waits for the resumed build.
	spec, _ := ParseIndexSpec([]byte(`{"name":"k_u","fields":["k"],"unique":true}`))
	require.NoError(t, db.CreateIndex(context.Background(), "c", spec, nil))
	specs = indexSpecs(t, db)
	require.Len(t, specs, 1)
	require.False(t, specs[0].Building, "the index is still building after its build returned")

	for _, k := range []int{5, 999, 1500, 2999} {
		_, err := db.InsertOne(context.Background(), "c", []byte(fmt.Sprintf(`{"_id":"dup%d","k":%d}`, k, k)), WriteOptions{})
		require.Equal(t, "unique_violation", errCode(err), "a duplicate of k=%d", k)
	}
	_, err = db.InsertOne(context.Background(), "c", []byte(`{"_id":"new","k":3000}`), WriteOptions{})
	require.NoError(t, err)
	ids, ex := findIDs(t, db, "c", Query{Filter: []byte(`{"k":2500}`)})
	require.Equal(t, "IXSCAN", ex.Plan)
	require.Equal(t, []string{"02500"}, ids)
	// One entry per document, none left over.
	c := db.getCollection("c")
	it := db.engine.NewIter(&storage.IterOptions{Prefix: c.indexes[0].prefix})
	entries := 0
	for ok := it.First(); ok; ok = it.Next() {
		entries++
	}
	require.NoError(t, it.Close())
	require.Equal(t, 3001, entries)

	var dump bytes.Buffer
	st, err := db.Dump(context.Background(), &dump)
	require.NoError(t, err)
	require.Equal(t, 1, st.Indexes)
	require.True(t, bytes.Contains(dump.Bytes(), []byte(`"index":{"name":"k_u"`)), "the dump has no line for the index")
}

// TestCrashMidUniqueBuildWithDuplicates crashes in the middle of a unique
// index's build over documents that hold a duplicate past the crash
// point: the resumed build fails, removes the index and says why, and no
// value is enforced.
func TestCrashMidUniqueBuildWithDuplicates(t *testing.T) {
	fs := vfs.NewMem()
	db, err := Open("/db", &Options{Storage: &storage.Options{FS: fs}})
	require.NoError(t, err)
	loadNumbered(t, db, 3000, map[int]int{2950: 2900})
	buildErr, crashed := buildAndCrash(t, db, fs)
	require.Equal(t, "unique_violation", errCode(buildErr), "%v", buildErr)
	require.Empty(t, indexSpecs(t, db))
	require.NoError(t, db.Close())

	var log bytes.Buffer
	db, err = Open("/db", &Options{Storage: &storage.Options{FS: crashed}, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	require.NoError(t, err)
	defer db.Close()
	spec, _ := ParseIndexSpec([]byte(`{"name":"k_u","fields":["k"],"unique":true}`))
	err = db.CreateIndex(context.Background(), "c", spec, nil) // waits for the resumed build
	require.Equal(t, "unique_violation", errCode(err), "%v", err)
	require.Empty(t, indexSpecs(t, db))
	require.Contains(t, log.String(), "index build failed")
	require.Contains(t, log.String(), "k_u")
	for _, k := range []int{5, 2500} {
		_, err := db.InsertOne(context.Background(), "c", []byte(fmt.Sprintf(`{"_id":"dup%d","k":%d}`, k, k)), WriteOptions{})
		require.NoError(t, err, "no unique index is left to enforce k=%d", k)
	}
	// No entry of the failed index is left behind.
	it := db.engine.NewIter(&storage.IterOptions{Prefix: keyenc.IndexCollectionPrefix("c")})
	require.False(t, it.First())
	require.NoError(t, it.Close())
	requireCountsMatchScan(t, db, "c", "after the failed build")
}

// TestUniqueBuildChecksWritesConsistently writes duplicates while a unique
// index builds: one of a document already indexed, one of a document not
// yet indexed. Both are treated alike: accepted while the index is not
// built, and the build then fails on them and removes the index.
func TestUniqueBuildChecksWritesConsistently(t *testing.T) {
	db := openMem(t, nil)
	loadNumbered(t, db, 3000, nil)
	spec, _ := ParseIndexSpec([]byte(`{"name":"k_u","fields":["k"],"unique":true}`))
	var errs []error
	err := db.CreateIndex(context.Background(), "c", spec, func(done int64) {
		if errs == nil {
			for _, k := range []int{3, 2800} {
				_, err := db.InsertOne(context.Background(), "c", []byte(fmt.Sprintf(`{"_id":"dup%d","k":%d}`, k, k)), WriteOptions{})
				errs = append(errs, err)
			}
		}
	})
	require.Len(t, errs, 2)
	require.NoError(t, errs[0], "a duplicate of a document already indexed")
	require.NoError(t, errs[1], "a duplicate of a document not yet indexed")
	require.Equal(t, "unique_violation", errCode(err), "%v", err)
	require.Empty(t, indexSpecs(t, db))
}

// TestCrashMidDropIsConsistent takes crash images all through a drop of
// an indexed collection: each opens with counts equal to a full scan and
// index entries matching the documents, and a second drop finishes the
// job, leaving no key of the collection behind.
func TestCrashMidDropIsConsistent(t *testing.T) {
	fs := vfs.NewMem()
	db, err := Open("/db", &Options{Storage: &storage.Options{FS: fs, MemTableRecords: 1000}})
	require.NoError(t, err)
	loadNumbered(t, db, 4000, nil)
	spec, _ := ParseIndexSpec([]byte(`{"name":"k_1","fields":["k"]}`))
	require.NoError(t, db.CreateIndex(context.Background(), "c", spec, nil))
	var clones []*vfs.MemFS
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for len(clones) < 40 {
			select {
			case <-stop:
				return
			default:
			}
			clones = append(clones, fs.CrashClone(vfs.CrashCloneOptions{}))
			runtime.Gosched()
		}
	}()
	require.NoError(t, db.DropCollection(context.Background(), "c"))
	close(stop)
	<-done
	require.NoError(t, db.Close())
	t.Logf("%d crash images", len(clones))
	for i, clone := range clones {
		db, err := Open("/db", &Options{Storage: &storage.Options{FS: clone}})
		require.NoError(t, err)
		when := fmt.Sprintf("crash image %d", i)
		requireCountsMatchScan(t, db, "c", when)
		if specs, err := db.ListIndexes("c"); err == nil && len(specs) > 0 {
			ids, ex := findIDs(t, db, "c", Query{Filter: []byte(`{"k":{"$gte":0}}`), Limit: 1000})
			require.Equal(t, "IXSCAN", ex.Plan)
			scan, _ := findIDs(t, db, "c", Query{Filter: []byte(`{"$or":[{"k":{"$gte":0}}]}`), Limit: 1000})
			require.Equal(t, scan, ids, when)
		}
		if err := db.DropCollection(context.Background(), "c"); err != nil {
			require.Equal(t, "not_found", errCode(err), "%s: %v", when, err)
		}
		for _, p := range [][]byte{keyenc.DocPrefix("c"), keyenc.IndexCollectionPrefix("c"), keyenc.StatsPrefix("c"), metaKey("c")} {
			it := db.engine.NewIter(&storage.IterOptions{Prefix: p})
			require.False(t, it.First(), "%s: a key with prefix %q is left", when, p)
			require.NoError(t, it.Close())
		}
		require.NoError(t, db.Close())
	}
}

// TestDropIndexDuringBuild drops an index while it builds: the build
// stops with an error and leaves no entry behind.
func TestDropIndexDuringBuild(t *testing.T) {
	db := openMem(t, nil)
	loadNumbered(t, db, 3000, nil)
	spec, _ := ParseIndexSpec([]byte(`{"name":"k_1","fields":["k"]}`))
	var dropErr error
	dropped := false
	err := db.CreateIndex(context.Background(), "c", spec, func(int64) {
		if !dropped {
			dropped = true
			dropErr = db.DropIndex(context.Background(), "c", "k_1")
		}
	})
	require.NoError(t, dropErr)
	require.Equal(t, "not_found", errCode(err), "%v", err)
	require.Empty(t, indexSpecs(t, db))
	it := db.engine.NewIter(&storage.IterOptions{Prefix: keyenc.IndexCollectionPrefix("c")})
	require.False(t, it.First(), "an entry of the dropped index is left")
	require.NoError(t, it.Close())
}

// TestCloseDuringResumedBuild closes the DB while a build resumed at open
// may still run: it stays building on disk and completes after the next
// open.
func TestCloseDuringResumedBuild(t *testing.T) {
	fs := vfs.NewMem()
	db, err := Open("/db", &Options{Storage: &storage.Options{FS: fs}})
	require.NoError(t, err)
	loadNumbered(t, db, 3000, nil)
	buildErr, crashed := buildAndCrash(t, db, fs)
	require.NoError(t, buildErr)
	require.NoError(t, db.Close())
	for range 2 {
		db, err = Open("/db", &Options{Storage: &storage.Options{FS: crashed}})
		require.NoError(t, err)
		require.NoError(t, db.Close())
	}
	db, err = Open("/db", &Options{Storage: &storage.Options{FS: crashed}})
	require.NoError(t, err)
	defer db.Close()
	spec, _ := ParseIndexSpec([]byte(`{"name":"k_u","fields":["k"],"unique":true}`))
	require.NoError(t, db.CreateIndex(context.Background(), "c", spec, nil))
	specs := indexSpecs(t, db)
	require.Len(t, specs, 1)
	require.False(t, specs[0].Building)
	_, err = db.InsertOne(context.Background(), "c", []byte(`{"_id":"dup","k":2999}`), WriteOptions{})
	require.Equal(t, "unique_violation", errCode(err))
}

// TestOpenRemovesLeftoversOfInterruptedDrops opens a database holding
// what a drop interrupted by a crash left in earlier releases (documents,
// counts and index entries without metadata) and the entries of an index
// whose drop was interrupted: Open deletes them, so a new collection of
// the same name starts empty and counts right, and a new index of the
// same name holds no stale entry.
func TestOpenRemovesLeftoversOfInterruptedDrops(t *testing.T) {
	fs := vfs.NewMem()
	db, err := Open("/db", &Options{Storage: &storage.Options{FS: fs}})
	require.NoError(t, err)
	loadNumbered(t, db, 1200, nil)
	spec, _ := ParseIndexSpec([]byte(`{"name":"k_1","fields":["k"]}`))
	require.NoError(t, db.CreateIndex(context.Background(), "c", spec, nil))
	_, err = db.InsertOne(context.Background(), "keep", []byte(`{"_id":"a","k":1}`), WriteOptions{})
	require.NoError(t, err)
	require.NoError(t, db.CreateIndex(context.Background(), "keep", spec, nil))
	// What the old DropCollection did before a crash: the metadata first.
	b := db.engine.NewBatch()
	b.Delete(metaKey("c"))
	require.NoError(t, db.engine.Apply(b))
	// And an interrupted DropIndex: the metadata without the index, its
	// entries still there.
	b = db.engine.NewBatch()
	b.Put(metaKey("keep"), []byte(`{"indexes":[]}`))
	require.NoError(t, db.engine.Apply(b))
	require.NoError(t, db.Close())

	db, err = Open("/db", &Options{Storage: &storage.Options{FS: fs}})
	require.NoError(t, err)
	for _, p := range [][]byte{keyenc.DocPrefix("c"), keyenc.IndexCollectionPrefix("c"), keyenc.StatsPrefix("c"), keyenc.IndexCollectionPrefix("keep")} {
		it := db.engine.NewIter(&storage.IterOptions{Prefix: p})
		require.False(t, it.First(), "a key with prefix %q is left", p)
		require.NoError(t, it.Close())
	}
	_, err = db.InsertOne(context.Background(), "c", []byte(`{"_id":"new","k":5}`), WriteOptions{})
	require.NoError(t, err)
	requireCountsMatchScan(t, db, "c", "a new collection over the leftovers")
	requireCountsMatchScan(t, db, "keep", "the collection kept")
	require.NoError(t, db.Close())
	db, err = Open("/db", &Options{Storage: &storage.Options{FS: fs}})
	require.NoError(t, err)
	requireCountsMatchScan(t, db, "c", "after reopening")
	require.NoError(t, db.Close())
}

// TestDumpHoldsBuildingIndex dumps while an index builds: the dump holds
// its definition, and restoring it builds the index.
func TestDumpHoldsBuildingIndex(t *testing.T) {
	db := openMem(t, nil)
	loadNumbered(t, db, 1200, nil)
	spec, _ := ParseIndexSpec([]byte(`{"name":"k_1","fields":["-k"]}`))
	var dump bytes.Buffer
	var dumpErr error
	require.NoError(t, db.CreateIndex(context.Background(), "c", spec, func(int64) {
		if dump.Len() == 0 {
			_, dumpErr = db.Dump(context.Background(), &dump)
		}
	}))
	require.NoError(t, dumpErr)
	require.True(t, bytes.Contains(dump.Bytes(), []byte(`{"collection":"c","index":{"name":"k_1","fields":[{"path":"k","desc":true}],"building":true}}`)),
		"the dump has no line for the building index")
	dst := openMem(t, nil)
	st, err := dst.Restore(context.Background(), &dump)
	require.NoError(t, err)
	require.Equal(t, 1, st.Indexes)
	require.Equal(t, int64(1200), st.Documents)
	specs, err := dst.ListIndexes("c")
	require.NoError(t, err)
	require.Equal(t, []IndexSpec{{Name: "k_1", Fields: []IndexField{{Path: "k", Desc: true}}}}, specs)
	ids, ex := findIDs(t, dst, "c", Query{Filter: []byte(`{"k":{"$gte":1198}}`)})
	require.Equal(t, "IXSCAN", ex.Plan)
	require.ElementsMatch(t, []string{"01198", "01199"}, ids)
}
