package docstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/minidbgo/minidbgo/storage"
	"github.com/minidbgo/minidbgo/storage/vfs"
	"github.com/stretchr/testify/require"
)

func errCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return string(e.Code)
	}
	return ""
}

func TestInsertGetReplaceDelete(t *testing.T) {
	db := openMem(t, nil)
	res, err := db.InsertOne(context.Background(), "products", []byte(`{"name":"Laptop","price":1200}`), WriteOptions{})
	require.NoError(t, err)
	require.Len(t, res.ID, 24)
	require.True(t, res.Created)
	d, err := db.Get(context.Background(), "products", res.ID)
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf(`{"_id":"%s","name":"Laptop","price":1200}`, res.ID), string(d.JSON))

	// Upsert semantics of POST with an explicit _id.
	r1, err := db.InsertOne(context.Background(), "products", []byte(`{"_id":"p1","name":"A"}`), WriteOptions{})
	require.NoError(t, err)
	require.True(t, r1.Created)
	r2, err := db.InsertOne(context.Background(), "products", []byte(`{"name":"B","_id":"p1"}`), WriteOptions{})
	require.NoError(t, err)
	require.False(t, r2.Created)
	require.Greater(t, r2.Rev, r1.Rev)
	d, err = db.Get(context.Background(), "products", "p1")
	require.NoError(t, err)
	require.Equal(t, `{"_id":"p1","name":"B"}`, string(d.JSON))

	_, err = db.Create(context.Background(), "products", []byte(`{"_id":"p1"}`))
	require.ErrorIs(t, err, ErrExists)

	// Optimistic concurrency.
	_, err = db.Replace(context.Background(), "products", "p1", []byte(`{"name":"C"}`), WriteOptions{IfMatch: r1.Rev})
	require.ErrorIs(t, err, ErrPrecondition)
	_, err = db.Replace(context.Background(), "products", "p1", []byte(`{"name":"C"}`), WriteOptions{IfMatch: r2.Rev})
	require.NoError(t, err)
	_, err = db.Replace(context.Background(), "products", "p1", []byte(`{"_id":"other"}`), WriteOptions{})
	require.Equal(t, "id_mismatch", errCode(err))

	require.NoError(t, db.Delete(context.Background(), "products", "p1", WriteOptions{}))
	_, err = db.Get(context.Background(), "products", "p1")
	require.ErrorIs(t, err, ErrNotFound)
	require.ErrorIs(t, db.Delete(context.Background(), "products", "p1", WriteOptions{}), ErrNotFound)

	// Ids with separators and NUL are safe and stay in their collection.
	for _, id := range []string{"a:b", "a/b", "x\x00y", "products"} {
		_, err := db.Replace(context.Background(), "weird", id, []byte(`{"v":1}`), WriteOptions{})
		require.NoError(t, err)
		d, err := db.Get(context.Background(), "weird", id)
		require.NoError(t, err)
		require.Equal(t, id, d.ID)
	}
	n, err := db.Count(context.Background(), "weird", nil)
	require.NoError(t, err)
	require.Equal(t, int64(4), n)
	ex, err := db.Explain(context.Background(), "weird", Query{Filter: []byte(`{"_id":"a/b"}`)})
	require.NoError(t, err)
	require.Equal(t, "IDSCAN", ex.Plan)
	require.Equal(t, int64(1), ex.DocsExamined)
	require.Equal(t, int64(1), ex.NReturned)
}

func TestBadDocuments(t *testing.T) {
	db := openMem(t, nil)
	for _, tc := range []struct{ body, code string }{
		{`{"a":`, "invalid_json"},
		{``, "empty_body"},
		{`{"a":1}{"b":2}`, "trailing_data"},
		{`{"a":1,"a":2}`, "duplicate_key"},
		{"{\"a\":\"\xff\"}", "invalid_utf8"},
		{`{"a":"\ud800"}`, "invalid_utf8"},
		{strings.Repeat("[", 10001), "too_deep"},
		{strings.Repeat(`{"a":`, 65) + "1" + strings.Repeat("}", 65), "too_deep"},
		{`{"a":1e400}`, "number_out_of_range"},
		{`{"a":NaN}`, "invalid_json"},
		{`[]`, "document_must_be_object"},
		{`"x"`, "document_must_be_object"},
		{`null`, "document_must_be_object"},
		{`{"_id":5}`, "invalid_id"},
		{`{"` + strings.Repeat("k", 5000) + `":1}`, "key_too_long"},
		{`{` + strings.Repeat(`"a":1,`, 0) + manyFields(10001) + `}`, "too_many_fields"},
	} {
		_, err := db.InsertOne(context.Background(), "c", []byte(tc.body), WriteOptions{})
		require.Error(t, err, tc.body)
		require.Equal(t, tc.code, errCode(err), "%.40q: %v", tc.body, err)
	}
	_, err := db.InsertOne(context.Background(), "bad/name", []byte(`{}`), WriteOptions{})
	require.ErrorIs(t, err, ErrInvalidName)
	for _, name := range []string{"", "..", "a b", strings.Repeat("x", 65), "x\x00"} {
		_, err := db.InsertOne(context.Background(), name, []byte(`{}`), WriteOptions{})
		require.ErrorIs(t, err, ErrInvalidName, "%q", name)
	}
	// Exact numbers survive.
	_, err = db.InsertOne(context.Background(), "c", []byte(`{"_id":"n","v":9007199254740993}`), WriteOptions{})
	require.NoError(t, err)
	d, err := db.Get(context.Background(), "c", "n")
	require.NoError(t, err)
	require.Contains(t, string(d.JSON), "9007199254740993")
	// Nothing but "n" was written.
	n, err := db.Count(context.Background(), "c", nil)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
}

func TestInsertManyAtomic(t *testing.T) {
	db := openMem(t, &Options{MaxBatchDocs: 5})
	_, err := db.InsertMany(context.Background(), "c", [][]byte{[]byte(`{"_id":"a"}`), []byte(`{"_id":"b"}`), []byte(`{"_id":`), []byte(`{"_id":"d"}`)})
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, 2, e.Index)
	_, err = db.Get(context.Background(), "c", "a")
	require.ErrorIs(t, err, ErrNotFound)

	_, err = db.InsertMany(context.Background(), "c", [][]byte{[]byte(`{}`), []byte(`{}`), []byte(`{}`), []byte(`{}`), []byte(`{}`), []byte(`{}`)})
	require.Equal(t, "too_many_documents", errCode(err))

	res, err := db.InsertMany(context.Background(), "c", [][]byte{[]byte(`{"_id":"a"}`), []byte(`{"x":1}`)})
	require.NoError(t, err)
	require.Len(t, res, 2)
	require.Equal(t, "a", res[0].ID)
	info, err := db.Stats("c")
	require.NoError(t, err)
	require.Equal(t, int64(2), info.DocCount)
}

// TestConcurrentIncNoLostUpdates has many goroutines $inc one counter.
func TestConcurrentIncNoLostUpdates(t *testing.T) {
	db := openMem(t, nil)
	_, err := db.InsertOne(context.Background(), "c", []byte(`{"_id":"ctr","n":0}`), WriteOptions{})
	require.NoError(t, err)
	const workers, each = 16, 50
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				if _, err := db.Update(context.Background(), "c", "ctr", []byte(`{"$inc":{"n":1}}`), WriteOptions{}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	d, err := db.Get(context.Background(), "c", "ctr")
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf(`{"_id":"ctr","n":%d}`, workers*each), string(d.JSON))
}

func TestUniqueIndex(t *testing.T) {
	db := openMem(t, nil)
	_, err := db.InsertOne(context.Background(), "u", []byte(`{"_id":"1","email":"a@x"}`), WriteOptions{})
	require.NoError(t, err)
	_, err = db.InsertOne(context.Background(), "u", []byte(`{"_id":"2","email":"a@x"}`), WriteOptions{})
	require.NoError(t, err)
	spec, err := ParseIndexSpec([]byte(`{"name":"email","fields":["email"],"unique":true}`))
	require.NoError(t, err)
	require.ErrorIs(t, db.CreateIndex(context.Background(), "u", spec, nil), ErrUniqueViolation)
	specs, err := db.ListIndexes("u")
	require.NoError(t, err)
	require.Empty(t, specs)

	require.NoError(t, db.Delete(context.Background(), "u", "2", WriteOptions{}))
	require.NoError(t, db.CreateIndex(context.Background(), "u", spec, nil))
	_, err = db.InsertOne(context.Background(), "u", []byte(`{"_id":"3","email":"a@x"}`), WriteOptions{})
	require.ErrorIs(t, err, ErrUniqueViolation)
	_, err = db.InsertOne(context.Background(), "u", []byte(`{"_id":"1","email":"a@x","v":2}`), WriteOptions{})
	require.NoError(t, err, "rewriting the holder keeps its value")
	_, err = db.InsertMany(context.Background(), "u", [][]byte{[]byte(`{"_id":"4","email":"b@x"}`), []byte(`{"_id":"5","email":"b@x"}`)})
	require.ErrorIs(t, err, ErrUniqueViolation)

	// Concurrent inserts of one value: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 8 {
		wg.Go(func() {
			_, err := db.InsertOne(context.Background(), "u", []byte(fmt.Sprintf(`{"_id":"c%d","email":"race@x"}`, i)), WriteOptions{})
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Equal(t, 1, wins)
}

func TestDumpRestoreRoundTrip(t *testing.T) {
	src := openMem(t, nil)
	for i := range 300 {
		col := []string{"a", "b"}[i%2]
		_, err := src.InsertOne(context.Background(), col, []byte(fmt.Sprintf(`{"_id":"%04d","n":%d,"s":"x\ny"}`, i, i)), WriteOptions{})
		require.NoError(t, err)
	}
	spec, _ := ParseIndexSpec([]byte(`{"fields":["n"]}`))
	require.NoError(t, src.CreateIndex(context.Background(), "a", spec, nil))
	var buf bytes.Buffer
	st, err := src.Dump(context.Background(), &buf)
	require.NoError(t, err)
	require.Equal(t, int64(300), st.Documents)
	require.Equal(t, 1, st.Indexes)

	require.NoError(t, src.createCollection("empty"))
	buf.Reset()
	st, err = src.Dump(context.Background(), &buf)
	require.NoError(t, err)
	require.Contains(t, buf.String(), `{"collection":"empty"}`+"\n")

	dst := openMem(t, &Options{MaxBatchDocs: 50})
	rst, err := dst.Restore(context.Background(), bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	require.Equal(t, int64(300), rst.Documents)
	var again bytes.Buffer
	ast, err := dst.Dump(context.Background(), &again)
	require.NoError(t, err)
	require.Equal(t, dumpBody(t, buf.String(), st.Seq), dumpBody(t, again.String(), ast.Seq))
	specs, err := dst.ListIndexes("a")
	require.NoError(t, err)
	require.Len(t, specs, 1)
	_, err = dst.Stats("empty")
	require.NoError(t, err, "an empty collection survives dump and restore")

	// A bad line names its number; earlier lines are stored.
	bad := "{\"collection\":\"z\",\"doc\":{\"_id\":\"1\"}}\n{\"collection\":\"z\",\"doc\":{\"_id\":}\n"
	_, err = dst.Restore(context.Background(), strings.NewReader(bad))
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, 2, e.Index)
	require.Contains(t, err.Error(), "line 2")
}

func TestCursorPagingSorted(t *testing.T) {
	db := openMem(t, &Options{MaxLimit: 10})
	for i := range 95 {
		_, err := db.InsertOne(context.Background(), "c", []byte(fmt.Sprintf(`{"_id":"%03d","k":%d}`, i, i%7)), WriteOptions{})
		require.NoError(t, err)
	}
	for _, indexed := range []bool{false, true} {
		if indexed {
			spec, _ := ParseIndexSpec([]byte(`{"fields":["k"]}`))
			require.NoError(t, db.CreateIndex(context.Background(), "c", spec, nil))
		}
		var got []string
		tok := ""
		pages := 0
		for {
			cur, err := db.Find(context.Background(), "c", Query{Sort: []byte(`{"k":1}`), Limit: 1000, Cursor: tok})
			require.NoError(t, err)
			for cur.Next() {
				got = append(got, cur.ID())
			}
			require.NoError(t, cur.Err())
			tok = cur.NextToken()
			cur.Close()
			pages++
			if tok == "" {
				break
			}
		}
		require.Len(t, got, 95)
		require.Equal(t, 10, pages)
		for i := 1; i < len(got); i++ {
			var a, b int
			fmt.Sscanf(got[i-1], "%d", &a)
			fmt.Sscanf(got[i], "%d", &b)
			require.True(t, a%7 < b%7 || (a%7 == b%7 && a < b), "order %s then %s", got[i-1], got[i])
		}
	}
}

// TestCrashKeepsCountsAndIndexes writes through the docstore, simulates a
// power loss, and checks that counts and index entries agree with the
// documents that survived.
func TestCrashKeepsCountsAndIndexes(t *testing.T) {
	fs := vfs.NewMem()
	db, err := Open("/db", &Options{Storage: &storage.Options{FS: fs, MemTableRecords: 50}})
	require.NoError(t, err)
	spec, _ := ParseIndexSpec([]byte(`{"fields":["k"]}`))
	require.NoError(t, db.CreateIndex(context.Background(), "c", spec, nil))
	for i := range 400 {
		_, err := db.InsertOne(context.Background(), "c", []byte(fmt.Sprintf(`{"_id":"%d","k":%d}`, i%120, i%9)), WriteOptions{})
		require.NoError(t, err)
		if i%5 == 0 {
			_ = db.Delete(context.Background(), "c", fmt.Sprintf("%d", (i*7)%120), WriteOptions{})
		}
	}
	crashed := fs.CrashClone(vfs.CrashCloneOptions{})
	_ = db.Close()
	db, err = Open("/db", &Options{Storage: &storage.Options{FS: crashed}})
	require.NoError(t, err)
	defer db.Close()
	ids, _ := findIDs(t, db, "c", Query{Limit: 1000})
	info, err := db.Stats("c")
	require.NoError(t, err)
	require.Equal(t, int64(len(ids)), info.DocCount)
	for k := range 9 {
		scan, sx := findIDs(t, db, "c", Query{Filter: []byte(fmt.Sprintf(`{"$or":[{"k":%d}]}`, k)), Limit: 1000})
		require.Equal(t, "COLLSCAN", sx.Plan)
		ix, ex := findIDs(t, db, "c", Query{Filter: []byte(fmt.Sprintf(`{"k":%d}`, k)), Limit: 1000})
		require.Equal(t, "IXSCAN", ex.Plan)
		require.ElementsMatch(t, scan, ix)
	}
}

// TestRestoreWithoutNewlines restores a dump whose newlines were stripped,
// as curl -d @backup.json sends it.
func TestRestoreWithoutNewlines(t *testing.T) {
	src := openMem(t, nil)
	for i := range 20 {
		_, err := src.InsertOne(context.Background(), "c", []byte(fmt.Sprintf(`{"_id":"%d","s":"a}b{c\"d"}`, i)), WriteOptions{})
		require.NoError(t, err)
	}
	var buf bytes.Buffer
	_, err := src.Dump(context.Background(), &buf)
	require.NoError(t, err)
	stripped := strings.ReplaceAll(buf.String(), "\n", "")
	dst := openMem(t, nil)
	st, err := dst.Restore(context.Background(), strings.NewReader(stripped))
	require.NoError(t, err)
	require.Equal(t, int64(20), st.Documents)
	n, err := dst.Import(context.Background(), "d", strings.NewReader(`{"_id":"x"}{"_id":"y"}`+"\n"+`{"_id":"z"}`))
	require.NoError(t, err)
	require.Equal(t, int64(3), n)
	_, err = dst.Import(context.Background(), "d", strings.NewReader("{\"_id\":\"q\"}\n\n[1]"))
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, 3, e.Index)
}

func manyFields(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"f%d":1`, i)
	}
	return b.String()
}

// TestWritesRaceUniqueIndexCreation writes while a unique index appears:
// writers that started without it must retry serialised, without
// releasing their document locks twice.
func TestWritesRaceUniqueIndexCreation(t *testing.T) {
	for round := range 20 {
		db := openMem(t, nil)
		var wg sync.WaitGroup
		var done atomic.Bool
		var n atomic.Int64
		for w := range 4 {
			wg.Go(func() {
				for i := 0; !done.Load(); i++ {
					_, err := db.InsertOne(context.Background(), "c", []byte(fmt.Sprintf(`{"_id":"w%d-%d","u":"%d-%d-%d"}`, w, i, round, w, i)), WriteOptions{})
					if err != nil {
						t.Error(err)
						return
					}
					n.Add(1)
				}
			})
		}
		for n.Load() < 20 {
			runtime.Gosched()
		}
		spec, _ := ParseIndexSpec([]byte(`{"fields":["u"],"unique":true}`))
		require.NoError(t, db.CreateIndex(context.Background(), "c", spec, nil))
		for target := n.Load() + 50; n.Load() < target; {
			runtime.Gosched()
		}
		done.Store(true)
		wg.Wait()
		count, err := db.Count(context.Background(), "c", nil)
		require.NoError(t, err)
		require.Equal(t, n.Load(), count)
	}
}

// TestHugeSkipWithUnindexedSort: skip+limit near MaxInt overflowed the
// in-memory sort's bound check and panicked; it must be a clear error.
func TestHugeSkipWithUnindexedSort(t *testing.T) {
	db := openMem(t, nil)
	for i := range 5 {
		_, err := db.InsertOne(context.Background(), "c", fmt.Appendf(nil, `{"_id":"%d","n":%d}`, i, i), WriteOptions{})
		require.NoError(t, err)
	}
	for _, skip := range []int{1<<63 - 1, 1<<63 - 2, 1 << 62} {
		_, err := db.Find(context.Background(), "c", Query{Sort: []byte(`{"n":1}`), Skip: skip, Limit: 10})
		require.Error(t, err, "skip %d", skip)
		require.Equal(t, "bad_request", errCode(err))
		require.Contains(t, err.Error(), "over the limit")
	}
	cur, err := db.Find(context.Background(), "c", Query{Sort: []byte(`{"n":1}`), Skip: 3, Limit: 10})
	require.NoError(t, err)
	n := 0
	for cur.Next() {
		n++
	}
	require.NoError(t, cur.Close())
	require.Equal(t, 2, n)
}

// TestCoveredCount: a count that index keys answer alone (scalar
// equalities on leading index fields, no arrays) must equal the count of
// matching documents, across number spellings, nested paths, missing
// fields and types, and must stop being used once a document puts an
// array along the index's path.
func TestCoveredCount(t *testing.T) {
	db := openMem(t, nil)
	for _, spec := range []string{`{"fields":["n"]}`, `{"fields":["c","-n"]}`, `{"fields":["a.b"]}`} {
		s, err := ParseIndexSpec([]byte(spec))
		require.NoError(t, err)
		require.NoError(t, db.CreateIndex(context.Background(), "c", s, nil))
	}
	docs := []string{
		`{"_id":"1","n":5,"c":"x","a":{"b":true}}`,
		`{"_id":"2","n":5.0,"c":"x","a":{"b":1}}`,
		`{"_id":"3","n":5e0,"c":"y"}`,
		`{"_id":"4","n":"5","c":"x","a":{"b":"1"}}`,
		`{"_id":"5","c":"x","a":{"b":true}}`,
		`{"_id":"6","n":null,"c":"x"}`,
		`{"_id":"7","n":{"v":5},"c":"x"}`,
		`{"_id":"8","n":6,"c":"x","a":{"b":true}}`,
		`{"_id":"9","n":9007199254740993,"c":"x"}`,
		`{"_id":"10","n":9007199254740992,"c":"x"}`,
	}
	for _, d := range docs {
		_, err := db.InsertOne(context.Background(), "c", []byte(d), WriteOptions{})
		require.NoError(t, err)
	}
	require.NoError(t, db.Delete(context.Background(), "c", "8", WriteOptions{}))
	filters := []string{
		`{"n":5}`, `{"n":5.0}`, `{"n":"5"}`, `{"n":{"$eq":5}}`, `{"c":"x"}`, `{"c":"x","n":5}`,
		`{"$and":[{"c":"x"},{"n":5}]}`, `{"a.b":true}`, `{"a.b":1}`, `{"n":6}`,
		`{"n":9007199254740993}`, `{"n":9007199254740992}`, `{"c":"z"}`,
	}
	brute := func(filter string) int64 {
		cur, err := db.Find(context.Background(), "c", Query{Filter: []byte(filter), Limit: 1000})
		require.NoError(t, err)
		var n int64
		for cur.Next() {
			n++
		}
		require.NoError(t, cur.Close())
		return n
	}
	covered := func(filter string) bool {
		f, _, _, err := db.parseQueryParts(Query{Filter: []byte(filter)})
		require.NoError(t, err)
		return coveredByIndex(db.makePlan(db.getCollection("c"), "c", f, nil))
	}
	for _, f := range filters {
		n, err := db.Count(context.Background(), "c", []byte(f))
		require.NoError(t, err)
		require.Equal(t, brute(f), n, "count %s", f)
		require.True(t, covered(f), "%s should be counted from the index", f)
	}
	for _, f := range []string{`{"n":null}`, `{"n":{"$gt":4}}`, `{"c":"x","zz":1}`, `{"n":{"v":5}}`, `{"$or":[{"n":5}]}`} {
		require.False(t, covered(f), "%s must read the documents", f)
		n, err := db.Count(context.Background(), "c", []byte(f))
		require.NoError(t, err)
		require.Equal(t, brute(f), n, "count %s", f)
	}

	// An array along n: one document, several keys. Counting keys would
	// be wrong; the count must read documents again.
	_, err := db.InsertOne(context.Background(), "c", []byte(`{"_id":"arr","n":[5,5.0,7],"c":"x"}`), WriteOptions{})
	require.NoError(t, err)
	require.False(t, covered(`{"n":5}`))
	n, err := db.Count(context.Background(), "c", []byte(`{"n":5}`))
	require.NoError(t, err)
	require.Equal(t, brute(`{"n":5}`), n)
}
