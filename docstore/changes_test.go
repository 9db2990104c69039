package docstore

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minidbgo/minidbgo/docstore/internal/keyenc"
	"github.com/minidbgo/minidbgo/storage"
	"github.com/minidbgo/minidbgo/storage/vfs"
	"github.com/stretchr/testify/require"
)

// allChanges reads the whole feed (of col, or of every collection), a
// small page at a time, checking that seqs ascend across pages.
func allChanges(t *testing.T, db *DB, col string) []Change {
	t.Helper()
	var out []Change
	var since uint64
	for {
		page, err := db.Changes(context.Background(), ChangesOptions{Collection: col, Since: since, Limit: 7})
		require.NoError(t, err)
		for _, ch := range page.Changes {
			require.Greater(t, ch.Seq, since)
			since = ch.Seq
		}
		out = append(out, page.Changes...)
		require.GreaterOrEqual(t, page.LastSeq, since)
		if len(page.Changes) < 7 {
			require.Equal(t, page.LastSeq, max(since, db.FeedSeq()), "a short page ends at the feed's end")
			return out
		}
		require.Equal(t, since, page.LastSeq, "a full page ends at its last change")
	}
}

// brief renders changes as "op col/id@rev" (rev as "r" when non-zero).
func brief(chs []Change) []string {
	var out []string
	for _, ch := range chs {
		s := string(ch.Op) + " " + ch.Collection + "/" + ch.ID
		if ch.Rev != 0 {
			s += " r"
		}
		out = append(out, s)
	}
	return out
}

// TestChangesRecordEveryWrite: every kind of write appends exactly one
// record per document it writes, with the right op, _id and revision, in
// the order the writes were made.
func TestChangesRecordEveryWrite(t *testing.T) {
	ctx := context.Background()
	db := openMem(t, nil)
	var revs []uint64 // the revisions the writes returned, in order
	must := func(r WriteResult, err error) {
		t.Helper()
		require.NoError(t, err)
		revs = append(revs, r.Rev)
	}
	must(db.InsertOne(ctx, "a", []byte(`{"_id":"1","n":1}`), WriteOptions{}))              // insert
	must(db.InsertOne(ctx, "a", []byte(`{"_id":"1","n":2}`), WriteOptions{}))              // replace
	must(db.Replace(ctx, "a", "1", []byte(`{"n":3}`), WriteOptions{}))                     // replace
	must(db.Update(ctx, "a", "1", []byte(`{"$set":{"n":4}}`), WriteOptions{}))             // update
	must(db.Update(ctx, "a", "1", []byte(`{"n":5}`), WriteOptions{}))                      // replacement: replace
	must(db.MergePatch(ctx, "a", "1", []byte(`{"m":1}`), WriteOptions{}))                  // update
	must(db.Update(ctx, "a", "2", []byte(`{"$set":{"n":1}}`), WriteOptions{Upsert: true})) // upsert: insert
	must(db.Create(ctx, "b", []byte(`{"_id":"x"}`)))                                       // insert, another collection
	require.NoError(t, db.Delete(ctx, "a", "2", WriteOptions{}))                           // delete
	revs = append(revs, 0)
	rs, err := db.InsertMany(ctx, "a", [][]byte{[]byte(`{"_id":"1"}`), []byte(`{"_id":"3"}`)}) // replace, insert
	require.NoError(t, err)
	for _, r := range rs {
		revs = append(revs, r.Rev)
	}
	_, err = db.UpdateMany(ctx, "a", []byte(`{}`), []byte(`{"$set":{"k":1}}`)) // update ×2
	require.NoError(t, err)
	_, err = db.UpdateMany(ctx, "a", []byte(`{}`), []byte(`{"$set":{"k":1}}`)) // modifies nothing: no record
	require.NoError(t, err)
	_, err = db.UpsertMany(ctx, "a", []byte(`{"_id":"4"}`), []byte(`{"$set":{"k":2}}`)) // insert
	require.NoError(t, err)
	_, err = db.DeleteMany(ctx, "a", []byte(`{"k":2}`)) // delete
	require.NoError(t, err)
	_, err = db.Restore(ctx, strings.NewReader(`{"collection":"b","doc":{"_id":"x"}}`+"\n"+`{"collection":"b","doc":{"_id":"y"}}`+"\n")) // replace, insert
	require.NoError(t, err)
	_, err = db.Import(ctx, "b", strings.NewReader(`{"_id":"z"}`+"\n")) // insert
	require.NoError(t, err)
	require.NoError(t, db.DropCollection(ctx, "b"))               // one drop
	require.Error(t, db.Delete(ctx, "a", "nope", WriteOptions{})) // fails: no record

	want := []string{
		"insert a/1 r", "replace a/1 r", "replace a/1 r", "update a/1 r", "replace a/1 r", "update a/1 r",
		"insert a/2 r", "insert b/x r", "delete a/2",
		"replace a/1 r", "insert a/3 r",
		"update a/1 r", "update a/3 r",
		"insert a/4 r", "delete a/4",
		"replace b/x r", "insert b/y r", "insert b/z r",
		"drop b/",
	}
	all := allChanges(t, db, "")
	require.Equal(t, want, brief(all))
	for i, r := range revs {
		require.Equal(t, r, all[i].Rev, "change %d (%s) carries the revision the write returned", i, want[i])
	}

	// A collection's feed is the same records, filtered.
	var wantA, wantB []string
	for _, s := range want {
		if strings.Contains(s, " a/") {
			wantA = append(wantA, s)
		} else {
			wantB = append(wantB, s)
		}
	}
	a := allChanges(t, db, "a")
	require.Equal(t, wantA, brief(a))
	require.Equal(t, wantB, brief(allChanges(t, db, "b")))
	for _, ch := range a {
		require.Contains(t, all, ch, "a collection's record has the seq of the feed's")
	}
	require.Empty(t, allChanges(t, db, "none"))
	_, err = db.Changes(ctx, ChangesOptions{Collection: "bad name"})
	require.Equal(t, "invalid_name", errCode(err))

	// Paging: Since skips what was read; a reopened DB has the same feed.
	page, err := db.Changes(ctx, ChangesOptions{Since: all[4].Seq, Limit: 2})
	require.NoError(t, err)
	require.Equal(t, all[5:7], page.Changes)
	require.Equal(t, all[6].Seq, page.LastSeq)
	require.Equal(t, all[0].Seq, page.OldestSeq)
	require.GreaterOrEqual(t, db.FeedSeq(), all[len(all)-1].Seq)
}

// TestChangesSurviveReopen: the feed is durable, and its end and oldest
// record are recovered at open.
func TestChangesSurviveReopen(t *testing.T) {
	fs := vfs.NewMem()
	open := func() *DB {
		db, err := Open("/db", &Options{Storage: &storage.Options{FS: fs, MemTableRecords: 50}})
		require.NoError(t, err)
		return db
	}
	db := open()
	for i := range 100 {
		_, err := db.InsertOne(context.Background(), "c", []byte(fmt.Sprintf(`{"_id":"%d"}`, i%30)), WriteOptions{})
		require.NoError(t, err)
	}
	before := allChanges(t, db, "")
	require.Len(t, before, 100)
	end := db.FeedSeq()
	require.NoError(t, db.Close())
	db = open()
	defer db.Close()
	require.Equal(t, before, allChanges(t, db, ""))
	require.GreaterOrEqual(t, db.FeedSeq(), end)
	page, err := db.Changes(context.Background(), ChangesOptions{Since: db.FeedSeq()})
	require.NoError(t, err)
	require.Empty(t, page.Changes)
	require.Equal(t, before[0].Seq, page.OldestSeq)
}

// TestInsertManyAtomicWithChanges: a batch that fails, or is cancelled,
// leaves no record; one that commits leaves one per document.
func TestInsertManyAtomicWithChanges(t *testing.T) {
	ctx := context.Background()
	db := openMem(t, nil)
	spec, _ := ParseIndexSpec([]byte(`{"fields":["u"],"unique":true}`))
	require.NoError(t, db.CreateIndex(ctx, "c", spec, nil))
	_, err := db.InsertMany(ctx, "c", [][]byte{[]byte(`{"_id":"a","u":1}`), []byte(`{"_id":"b","u":1}`)})
	require.Equal(t, "unique_violation", errCode(err))
	_, err = db.InsertMany(ctx, "c", [][]byte{[]byte(`{"_id":"a"}`), []byte(`{"_id":"a"}`)})
	require.Equal(t, "duplicate_id", errCode(err))
	_, err = db.InsertOne(ctx, "c", []byte(`{"_id":"x","u":9}`), WriteOptions{})
	require.NoError(t, err)
	_, err = db.InsertNew(ctx, "c", [][]byte{[]byte(`{"_id":"y","u":2}`), []byte(`{"_id":"x","u":3}`)})
	require.Equal(t, "duplicate_key", errCode(err))
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = db.InsertMany(cctx, "c", [][]byte{[]byte(`{"_id":"z"}`)})
	require.Error(t, err)
	require.Equal(t, []string{"insert c/x r"}, brief(allChanges(t, db, "")))

	_, err = db.InsertMany(ctx, "c", [][]byte{[]byte(`{"_id":"p","u":4}`), []byte(`{"_id":"q","u":5}`)})
	require.NoError(t, err)
	all := allChanges(t, db, "")
	require.Equal(t, []string{"insert c/x r", "insert c/p r", "insert c/q r"}, brief(all))
}

// TestChangesCrashHoldsExactlyTheWrites takes crash images all through
// concurrent writes: each opens with a feed holding exactly one record
// per write present (for every document, its records replay to the
// revision it has), and no record of a write that is absent.
func TestChangesCrashHoldsExactlyTheWrites(t *testing.T) {
	fs := vfs.NewMem()
	db, err := Open("/db", &Options{Storage: &storage.Options{FS: fs, MemTableRecords: 300}})
	require.NoError(t, err)
	var clones []*vfs.MemFS
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for len(clones) < 30 {
			select {
			case <-stop:
				return
			default:
			}
			clones = append(clones, fs.CrashClone(vfs.CrashCloneOptions{}))
			time.Sleep(time.Millisecond)
		}
	}()
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for i := range 200 {
				id := fmt.Sprintf("w%d-%d", w, i%40)
				var err error
				switch i % 5 {
				case 0, 1:
					_, err = db.InsertOne(ctx, "c", []byte(fmt.Sprintf(`{"_id":%q,"i":%d}`, id, i)), WriteOptions{})
				case 2:
					_, err = db.Update(ctx, "c", id, []byte(`{"$inc":{"i":1}}`), WriteOptions{Upsert: true})
				case 3:
					err = db.Delete(ctx, "c", id, WriteOptions{})
					if errCode(err) == "not_found" {
						err = nil
					}
				case 4:
					_, err = db.InsertMany(ctx, "c", [][]byte{
						[]byte(fmt.Sprintf(`{"_id":"w%d-m%d"}`, w, i)), []byte(fmt.Sprintf(`{"_id":"w%d-n%d"}`, w, i))})
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-done
	clones = append(clones, fs.CrashClone(vfs.CrashCloneOptions{}))
	require.NoError(t, db.Close())
	t.Logf("%d crash images", len(clones))
	for i, clone := range clones {
		db, err := Open("/db", &Options{Storage: &storage.Options{FS: clone}})
		require.NoError(t, err)
		when := fmt.Sprintf("crash image %d", i)
		// Replay the feed: each document's last record must be what it
		// is now (present at that revision, or deleted), and every rev
		// recorded must be unique (no write recorded twice).
		state := map[string]uint64{} // id → rev, 0 = deleted
		revSeen := map[uint64]bool{}
		for _, ch := range allChanges(t, db, "") {
			switch ch.Op {
			case OpInsert, OpReplace, OpUpdate:
				require.False(t, revSeen[ch.Rev], "%s: rev %d recorded twice", when, ch.Rev)
				revSeen[ch.Rev] = true
				if ch.Op == OpInsert {
					require.Zero(t, state[ch.ID], "%s: insert of %s, which exists", when, ch.ID)
				} else {
					require.NotZero(t, state[ch.ID], "%s: %s of %s, which does not exist", when, ch.Op, ch.ID)
				}
				state[ch.ID] = ch.Rev
			case OpDelete:
				require.NotZero(t, state[ch.ID], "%s: delete of %s, which does not exist", when, ch.ID)
				state[ch.ID] = 0
			default:
				t.Fatalf("%s: unexpected op %s", when, ch.Op)
			}
		}
		present := map[string]uint64{}
		it := db.engine.NewIter(&storage.IterOptions{Prefix: keyenc.DocPrefix("c")})
		for ok := it.First(); ok; ok = it.Next() {
			id, err := keyenc.DocIDFromKey(it.Key(), "c")
			require.NoError(t, err)
			rev, _, err := decodeStored(it.Value())
			require.NoError(t, err)
			present[id] = rev
		}
		require.NoError(t, it.Close())
		for id, rev := range state {
			if rev == 0 {
				delete(state, id)
			}
		}
		require.Equal(t, present, state, "%s: the feed replays to the documents present", when)
		require.NoError(t, db.Close())
	}
}

// TestChangesCommitOrder: concurrent writers; a reader following the feed
// never finds a seq at or below one it has already passed, and each
// writer's records are in its acknowledgement order.
func TestChangesCommitOrder(t *testing.T) {
	db := openMem(t, &Options{Storage: &storage.Options{MemTableRecords: 400}})
	const writers, per = 4, 150
	var wg sync.WaitGroup
	acked := make([][]uint64, writers) // revs, in acknowledgement order
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				r, err := db.InsertOne(context.Background(), "c", []byte(fmt.Sprintf(`{"_id":"w%d-%d"}`, w, i)), WriteOptions{})
				if err != nil {
					t.Error(err)
					return
				}
				acked[w] = append(acked[w], r.Rev)
			}
		}()
	}
	var finished atomic.Bool
	go func() { wg.Wait(); finished.Store(true) }()
	var followed []Change
	var since uint64
	for {
		last := finished.Load()
		page, err := db.Changes(context.Background(), ChangesOptions{Since: since, Limit: 50})
		require.NoError(t, err)
		followed = append(followed, page.Changes...)
		since = page.LastSeq
		if last && len(page.Changes) == 0 {
			break
		}
	}
	// What the follower saw is the whole feed, as read at the end: no
	// record appeared behind it.
	require.Equal(t, allChanges(t, db, ""), followed)
	require.Len(t, followed, writers*per)
	byWriter := make([][]uint64, writers)
	for _, ch := range followed {
		var w, i int
		_, err := fmt.Sscanf(ch.ID, "w%d-%d", &w, &i)
		require.NoError(t, err)
		byWriter[w] = append(byWriter[w], ch.Rev)
	}
	for w := range writers {
		require.Equal(t, acked[w], byWriter[w], "writer %d", w)
	}
}

// fakeClock is a settable Options.Now.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// TestChangesRetentionByAge trims the records older than the retention
// (by a fake clock); a Since before the trimmed window is history_lost,
// and the horizon survives a reopen.
func TestChangesRetentionByAge(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{}
	clock.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	fs := vfs.NewMem()
	opts := &Options{Storage: &storage.Options{FS: fs}, ChangesRetention: time.Hour, Now: clock.now}
	db, err := Open("/db", opts)
	require.NoError(t, err)
	for i := range 10 {
		_, err := db.InsertOne(ctx, "c", []byte(fmt.Sprintf(`{"_id":"old%d"}`, i)), WriteOptions{})
		require.NoError(t, err)
	}
	clock.advance(40 * time.Minute)
	for i := range 5 {
		_, err := db.InsertOne(ctx, "d", []byte(fmt.Sprintf(`{"_id":"new%d"}`, i)), WriteOptions{})
		require.NoError(t, err)
	}
	all := allChanges(t, db, "")
	n, err := db.trimChanges()
	require.NoError(t, err)
	require.Zero(t, n, "nothing is an hour old yet")
	clock.advance(30 * time.Minute)
	n, err = db.trimChanges()
	require.NoError(t, err)
	require.Equal(t, 10, n)

	for _, since := range []uint64{0, all[0].Seq, all[8].Seq} {
		_, err = db.Changes(ctx, ChangesOptions{Since: since})
		require.Equal(t, "history_lost", errCode(err), "since %d", since)
		_, err = db.Changes(ctx, ChangesOptions{Collection: "d", Since: since})
		require.Equal(t, "history_lost", errCode(err), "since %d, one collection", since)
	}
	page, err := db.Changes(ctx, ChangesOptions{Since: all[9].Seq})
	require.NoError(t, err)
	require.Equal(t, all[10:], page.Changes)
	require.Equal(t, all[10].Seq, page.OldestSeq)
	page, err = db.Changes(ctx, ChangesOptions{Collection: "c", Since: all[9].Seq})
	require.NoError(t, err)
	require.Empty(t, page.Changes, "the collection keys were trimmed too")

	require.NoError(t, db.Close())
	db, err = Open("/db", opts)
	require.NoError(t, err)
	_, err = db.Changes(ctx, ChangesOptions{Since: all[8].Seq})
	require.Equal(t, "history_lost", errCode(err), "after reopening")
	page, err = db.Changes(ctx, ChangesOptions{Since: all[9].Seq})
	require.NoError(t, err)
	require.Equal(t, all[10:], page.Changes)
	require.Equal(t, all[10].Seq, page.OldestSeq)

	// Everything trimmed: the feed is empty, its end stays.
	clock.advance(time.Hour)
	_, err = db.trimChanges()
	require.NoError(t, err)
	page, err = db.Changes(ctx, ChangesOptions{Since: all[14].Seq})
	require.NoError(t, err)
	require.Empty(t, page.Changes)
	require.Zero(t, page.OldestSeq)
	_, err = db.InsertOne(ctx, "c", []byte(`{"_id":"later"}`), WriteOptions{})
	require.NoError(t, err)
	page, err = db.Changes(ctx, ChangesOptions{Since: all[14].Seq})
	require.NoError(t, err)
	require.Equal(t, []string{"insert c/later r"}, brief(page.Changes))
	require.Equal(t, page.Changes[0].Seq, page.OldestSeq)
	require.NoError(t, db.Close())
}

// TestChangesRetentionByCount keeps the newest N records, trimmed by the
// background trimmer once a write goes over.
func TestChangesRetentionByCount(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewMem()
	opts := &Options{Storage: &storage.Options{FS: fs}, ChangesRetentionRecords: 20}
	db, err := Open("/db", opts)
	require.NoError(t, err)
	for i := range 50 {
		_, err := db.InsertOne(ctx, "c", []byte(fmt.Sprintf(`{"_id":"%d"}`, i)), WriteOptions{})
		require.NoError(t, err)
	}
	// The trimmer runs in the background, nudged by the writes.
	require.Eventually(t, func() bool {
		page, err := db.Changes(ctx, ChangesOptions{Since: db.feed.horizon.Load()})
		return err == nil && len(page.Changes) == 20
	}, 10*time.Second, time.Millisecond)
	page, err := db.Changes(ctx, ChangesOptions{Since: db.feed.horizon.Load()})
	require.NoError(t, err)
	require.Equal(t, "insert c/30 r", brief(page.Changes)[0])
	_, err = db.Changes(ctx, ChangesOptions{})
	require.Equal(t, "history_lost", errCode(err))
	require.NoError(t, db.Close())

	// The count is recovered at open.
	db, err = Open("/db", opts)
	require.NoError(t, err)
	defer db.Close()
	require.Equal(t, int64(20), db.feed.count.Load())
	for i := range 5 {
		_, err := db.InsertOne(ctx, "c", []byte(fmt.Sprintf(`{"_id":"more%d"}`, i)), WriteOptions{})
		require.NoError(t, err)
	}
	_, err = db.trimChanges()
	require.NoError(t, err)
	page, err = db.Changes(ctx, ChangesOptions{Since: db.feed.horizon.Load()})
	require.NoError(t, err)
	require.Len(t, page.Changes, 20)
	require.Equal(t, "insert c/35 r", brief(page.Changes)[0])
}

// TestWaitChange wakes on a commit, returns at once when the feed is
// already past, and returns the context's error when it ends.
func TestWaitChange(t *testing.T) {
	db := openMem(t, nil)
	ctx := context.Background()
	_, err := db.InsertOne(ctx, "c", []byte(`{"_id":"first"}`), WriteOptions{})
	require.NoError(t, err)
	end := db.FeedSeq()
	require.NoError(t, db.WaitChange(ctx, end-1), "the feed is already past")
	woke := make(chan error, 3)
	for range 3 {
		go func() { woke <- db.WaitChange(ctx, end) }()
	}
	time.Sleep(20 * time.Millisecond)
	select {
	case err := <-woke:
		t.Fatalf("WaitChange returned before any write: %v", err)
	default:
	}
	// A write that records no change (an index) does not wake it.
	spec, _ := ParseIndexSpec([]byte(`{"fields":["n"]}`))
	require.NoError(t, db.CreateIndex(ctx, "other", spec, nil))
	select {
	case err := <-woke:
		t.Fatalf("WaitChange returned after a write without a change: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	_, err = db.InsertOne(ctx, "c", []byte(`{"_id":"a"}`), WriteOptions{})
	require.NoError(t, err)
	for range 3 {
		select {
		case err := <-woke:
			require.NoError(t, err)
		case <-time.After(5 * time.Second):
			t.Fatal("WaitChange did not wake on a commit")
		}
	}
	require.Greater(t, db.FeedSeq(), end)

	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, db.WaitChange(cctx, db.FeedSeq()), context.DeadlineExceeded)
}

// TestDumpHeaderSeq: a dump starts with the feed seq its snapshot was
// taken at; restoring it writes change records like any write.
func TestDumpHeaderSeq(t *testing.T) {
	ctx := context.Background()
	src := openMem(t, nil)
	_, err := src.InsertMany(ctx, "c", [][]byte{[]byte(`{"_id":"a"}`), []byte(`{"_id":"b"}`)})
	require.NoError(t, err)
	var buf bytes.Buffer
	st, err := src.Dump(ctx, &buf)
	require.NoError(t, err)
	all := allChanges(t, src, "")
	require.GreaterOrEqual(t, st.Seq, all[len(all)-1].Seq)
	first, _, _ := strings.Cut(buf.String(), "\n")
	require.Equal(t, fmt.Sprintf(`{"dump":1,"seq":%d}`, st.Seq), first)
	// Changes after the dump are exactly those after its seq.
	_, err = src.InsertOne(ctx, "c", []byte(`{"_id":"later"}`), WriteOptions{})
	require.NoError(t, err)
	page, err := src.Changes(ctx, ChangesOptions{Since: st.Seq})
	require.NoError(t, err)
	require.Equal(t, []string{"insert c/later r"}, brief(page.Changes))

	dst := openMem(t, nil)
	rst, err := dst.Restore(ctx, bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	require.Equal(t, st.Seq, rst.Seq, "restore reports the dump's seq")
	require.Equal(t, []string{"insert c/a r", "insert c/b r"}, brief(allChanges(t, dst, "")))
	_, err = dst.Restore(ctx, strings.NewReader(`{"dump":2,"seq":1}`))
	require.Equal(t, "bad_request", errCode(err))
}

// dumpBody checks that a dump starts with its header, of feed seq seq,
// and returns the rest.
func dumpBody(t *testing.T, dump string, seq uint64) string {
	t.Helper()
	header, body, _ := strings.Cut(dump, "\n")
	require.Equal(t, fmt.Sprintf(`{"dump":1,"seq":%d}`, seq), header)
	return body
}
