package docstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// countingBudget is a MemoryBudget with a cap, recording what it lent.
type countingBudget struct {
	mu       sync.Mutex
	cap, out int64
	peak     int64
}

var errBudget = errors.New("budget exhausted")

func (b *countingBudget) Reserve(n int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.out+n > b.cap {
		return errBudget
	}
	b.out += n
	b.peak = max(b.peak, b.out)
	return nil
}

func (b *countingBudget) Release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.out -= n
}

func insertPadded(t *testing.T, db *DB, col string, n, pad int) {
	t.Helper()
	var docs [][]byte
	for i := range n {
		docs = append(docs, fmt.Appendf(nil, `{"_id":"d%05d","n":%d,"pad":"%0*d"}`, i, n-i, pad, i))
		if len(docs) == 500 || i == n-1 {
			_, err := db.InsertMany(context.Background(), col, docs)
			require.NoError(t, err)
			docs = docs[:0]
		}
	}
}

// An unindexed sort whose skip+limit documents exceed the byte limit
// fails with sort_too_large (although skip+limit is under MaxSortDocs),
// and one within it succeeds.
func TestSortBytesLimit(t *testing.T) {
	db := openMem(t, &Options{MaxSortBytes: 256 << 10})
	insertPadded(t, db, "c", 2000, 200)

	cur, err := db.Find(context.Background(), "c", Query{Sort: []byte(`{"n":1}`), Skip: 1900, Limit: 10})
	require.NoError(t, err)
	require.False(t, cur.Next())
	var de *Error
	require.ErrorAs(t, cur.Err(), &de)
	require.Equal(t, CodeSortTooLarge, de.Code)
	require.Contains(t, de.Msg, "262144 bytes")
	require.Contains(t, de.Msg, "index")
	_ = cur.Close()

	// A small sort fits; a per-query limit replaces the database's.
	cur, err = db.Find(context.Background(), "c", Query{Sort: []byte(`{"n":1}`), Skip: 10, Limit: 5})
	require.NoError(t, err)
	require.True(t, cur.Next())
	require.Equal(t, "d01989", cur.ID())
	require.NoError(t, cur.Close())
	cur, err = db.Find(context.Background(), "c", Query{Sort: []byte(`{"n":1}`), Skip: 10, Limit: 5, MaxSortBytes: 1024})
	require.NoError(t, err)
	require.False(t, cur.Next())
	require.ErrorAs(t, cur.Err(), &de)
	require.Equal(t, CodeSortTooLarge, de.Code)
	_ = cur.Close()
	cur, err = db.Find(context.Background(), "c", Query{Sort: []byte(`{"n":1}`), Skip: 1900, Limit: 10, MaxSortBytes: 64 << 20})
	require.NoError(t, err)
	require.True(t, cur.Next())
	require.Equal(t, "d00099", cur.ID())
	require.NoError(t, cur.Close())
}

// A sort reserves its memory from the query's MemoryBudget, gives it
// back at Close, and stops with the budget's error when it runs out.
func TestSortMemoryBudget(t *testing.T) {
	db := openMem(t, nil)
	insertPadded(t, db, "c", 2000, 200)

	b := &countingBudget{cap: 64 << 20}
	cur, err := db.Find(context.Background(), "c", Query{Sort: []byte(`{"n":-1}`), Skip: 1500, Limit: 10, Memory: b})
	require.NoError(t, err)
	require.True(t, cur.Next())
	require.Equal(t, "d01500", cur.ID())
	require.Greater(t, b.peak, int64(1500*200))
	require.NoError(t, cur.Close())
	require.Zero(t, b.out, "Close gives the sort's memory back")

	small := &countingBudget{cap: 300 << 10}
	cur, err = db.Find(context.Background(), "c", Query{Sort: []byte(`{"n":-1}`), Skip: 1500, Limit: 10, Memory: small})
	require.NoError(t, err)
	require.False(t, cur.Next())
	require.ErrorIs(t, cur.Err(), errBudget)
	_ = cur.Close()
	require.Zero(t, small.out)
}

// Import and Restore batch by bytes as well as by count: large documents
// are not held MaxBatchDocs at a time.
func TestStreamBatchBytes(t *testing.T) {
	db := openMem(t, nil)
	var in bytes.Buffer
	for i := range 12 {
		fmt.Fprintf(&in, `{"_id":"d%d","pad":"%0*d"}`+"\n", i, 256<<10, i)
	}
	before := db.Metrics().Batches
	n, err := db.Import(context.Background(), "c", bytes.NewReader(in.Bytes()))
	require.NoError(t, err)
	require.Equal(t, int64(12), n)
	// 12 documents of 256 KiB in batches of at most 1 MiB + one document.
	require.GreaterOrEqual(t, db.Metrics().Batches-before, uint64(12*256/(1024+256)))

	var dump bytes.Buffer
	_, err = db.Dump(context.Background(), &dump)
	require.NoError(t, err)
	db2 := openMem(t, nil)
	before = db2.Metrics().Batches
	st, err := db2.Restore(context.Background(), bytes.NewReader(dump.Bytes()))
	require.NoError(t, err)
	require.Equal(t, int64(12), st.Documents)
	require.GreaterOrEqual(t, db2.Metrics().Batches-before, uint64(12*256/(1024+256)))
}

// A page ended before its current document continues with it: walking
// the pages returns every document once, in order, sorted or not.
func TestEndPageBefore(t *testing.T) {
	db := openMem(t, nil)
	insertPadded(t, db, "c", 50, 10)
	for _, q := range []Query{
		{Limit: 10},
		{Limit: 10, Sort: []byte(`{"n":1}`)},
		{Limit: 10, Sort: []byte(`{"_id":-1}`), Skip: 3},
	} {
		var got []string
		tok := ""
		for pages := 0; ; pages++ {
			require.Less(t, pages, 100)
			qq := q
			if tok != "" {
				qq = Query{Cursor: tok}
			}
			cur, err := db.Find(context.Background(), "c", qq)
			require.NoError(t, err)
			n := 0
			for cur.Next() {
				n++
				if n == 4 { // the page "has no room" for its 4th document
					require.True(t, cur.EndPageBefore())
					require.False(t, cur.Next())
					break
				}
				got = append(got, cur.ID())
			}
			require.NoError(t, cur.Err())
			tok = cur.NextToken()
			require.NoError(t, cur.Close())
			if tok == "" {
				break
			}
		}
		// The same walk without ending pages early.
		var want []string
		cur, err := db.Find(context.Background(), "c", Query{Limit: 50, Sort: q.Sort, Skip: q.Skip})
		require.NoError(t, err)
		for cur.Next() {
			want = append(want, cur.ID())
		}
		require.NoError(t, cur.Close())
		require.Equal(t, want, got, "%+v", q)
	}

	cur, err := db.Find(context.Background(), "c", Query{Limit: 10})
	require.NoError(t, err)
	require.True(t, cur.Next())
	require.False(t, cur.EndPageBefore(), "a page is never empty")
	require.True(t, cur.Next())
	require.NoError(t, cur.Close())
}
