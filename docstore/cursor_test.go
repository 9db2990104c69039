package docstore

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// pageAll runs q page by page, each page continuing with the previous
// page's token and, when alone is set, with nothing but the token. It
// returns the ids of every page in order.
func pageAll(t *testing.T, db *DB, col string, q Query, alone bool) []string {
	t.Helper()
	ids := []string{}
	next := q
	for pages := 0; ; pages++ {
		require.Less(t, pages, 100000, "paging does not end")
		cur, err := db.Find(context.Background(), col, next)
		require.NoError(t, err, "page %d of %s", pages, q.Filter)
		for cur.Next() {
			ids = append(ids, cur.ID())
		}
		require.NoError(t, cur.Err())
		tok := cur.NextToken()
		require.NoError(t, cur.Close())
		if tok == "" {
			return ids
		}
		if alone {
			next = Query{Cursor: tok, Limit: q.Limit}
		} else {
			next = q
			next.Cursor, next.Skip = tok, 0
		}
	}
}

// TestMultikeyPagingReturnsEachDocumentOnce is issue 12's first wrong
// answer: every document holds two in-range entries of a multikey index,
// and a page used to forget the documents earlier pages returned.
func TestMultikeyPagingReturnsEachDocumentOnce(t *testing.T) {
	db := openMem(t, nil)
	docs := make([][]byte, 0, 500)
	for i := range 1500 {
		docs = append(docs, fmt.Appendf(nil, `{"_id":"d%04d","tags":["blue","red"]}`, i))
		if len(docs) == 500 {
			_, err := db.InsertMany(context.Background(), "c", docs)
			require.NoError(t, err)
			docs = docs[:0]
		}
	}
	spec, err := ParseIndexSpec([]byte(`{"fields":["tags"]}`))
	require.NoError(t, err)
	require.NoError(t, db.CreateIndex(context.Background(), "c", spec, nil))

	for _, filter := range []string{
		`{"tags":{"$gte":"blue"}}`,
		`{"tags":{"$elemMatch":{"$gt":"b"}}}`,
		`{"tags":{"$in":["red","blue"]}}`,
		`{"$or":[{"tags":"red"},{"tags":"blue"}]}`,
	} {
		for _, limit := range []int{0, 100, 333} {
			t.Run(fmt.Sprintf("%s/limit=%d", filter, limit), func(t *testing.T) {
				ex, err := db.Explain(context.Background(), "c", Query{Filter: []byte(filter), Limit: limit})
				require.NoError(t, err)
				if !strings.Contains(filter, "$or") {
					require.Equal(t, "IXSCAN", ex.Plan)
				}
				ids := pageAll(t, db, "c", Query{Filter: []byte(filter), Limit: limit}, false)
				require.Equal(t, 1500, len(ids), "documents returned")
				sorted := slices.Clone(ids)
				slices.Sort(sorted)
				require.Equal(t, 1500, len(slices.Compact(slices.Clone(sorted))), "a document came back twice")

				if limit == 100 {
					// Sorted by _id, the order is the one without an index.
					q := Query{Filter: []byte(filter), Limit: limit, Sort: []byte(`{"_id":1}`)}
					require.True(t, slices.Equal(sorted, pageAll(t, db, "c", q, false)), "sorted by _id")
				}
				n, err := db.Count(context.Background(), "c", []byte(filter))
				require.NoError(t, err)
				require.EqualValues(t, 1500, n)
			})
		}
	}
}

// TestCursorAloneContinuesItsQuery is issue 12's second wrong answer: a
// cursor carries its query, so it alone continues it, and a cursor sent
// with another query is refused.
func TestCursorAloneContinuesItsQuery(t *testing.T) {
	db := openMem(t, nil)
	for i := range 50 {
		_, err := db.InsertOne(context.Background(), "c", fmt.Appendf(nil, `{"_id":"d%02d","age":%d,"name":"n%02d","tags":["x","y"]}`, i, i%9, (i*7)%50), WriteOptions{})
		require.NoError(t, err)
	}
	spec, err := ParseIndexSpec([]byte(`{"fields":["tags"]}`))
	require.NoError(t, err)
	require.NoError(t, db.CreateIndex(context.Background(), "c", spec, nil))
	for _, q := range []Query{
		{Limit: 7},
		{Filter: []byte(`{"age":{"$gte":3}}`), Limit: 4},
		{Sort: []byte(`{"age":-1}`), Limit: 6},
		{SortString: "name", Fields: "name", Limit: 5},
		{Filter: []byte(`{"tags":{"$gte":"x"}}`), Projection: []byte(`{"age":0}`), Limit: 3},
		{Filter: []byte(`{"tags":"y"}`), Sort: []byte(`{"age":1}`), Limit: 11},
	} {
		full := pageAll(t, db, "c", Query{Filter: q.Filter, Sort: q.Sort, SortString: q.SortString, Projection: q.Projection, Fields: q.Fields, Limit: 1000}, false)
		require.Equal(t, full, pageAll(t, db, "c", q, true), "cursor alone for %+v", q)
		require.Equal(t, full, pageAll(t, db, "c", q, false), "cursor with its query for %+v", q)
	}

	// The first page of {"sort":{"age":-1}}.
	cur, err := db.Find(context.Background(), "c", Query{Sort: []byte(`{"age":-1}`), Limit: 5})
	require.NoError(t, err)
	for cur.Next() {
	}
	tok := cur.NextToken()
	require.NoError(t, cur.Close())
	require.NotEmpty(t, tok)

	// A cursor alone pages at the size of its first page.
	cur, err = db.Find(context.Background(), "c", Query{Cursor: tok})
	require.NoError(t, err)
	n := 0
	for cur.Next() {
		n++
	}
	require.NoError(t, cur.Close())
	require.Equal(t, 5, n)

	// The same sort written another way is the same query.
	for _, q := range []Query{
		{Sort: []byte(`{ "age" : -1 }`), Cursor: tok},
		{SortString: "-age", Cursor: tok},
		{Filter: []byte(`{}`), Sort: []byte(`{"age":-1}`), Cursor: tok, Limit: 2},
	} {
		cur, err := db.Find(context.Background(), "c", q)
		require.NoError(t, err, "%+v", q)
		require.NoError(t, cur.Close())
	}

	// Another query, or another collection, is refused.
	_, err = db.InsertOne(context.Background(), "other", []byte(`{"_id":"x"}`), WriteOptions{})
	require.NoError(t, err)
	for _, c := range []struct {
		col string
		q   Query
	}{
		{"c", Query{Sort: []byte(`{"name":1}`), Cursor: tok}},
		{"c", Query{Sort: []byte(`{"age":1}`), Cursor: tok}},
		{"c", Query{Filter: []byte(`{"age":1}`), Sort: []byte(`{"age":-1}`), Cursor: tok}},
		{"c", Query{Filter: []byte(`{"age":1}`), Cursor: tok}},
		{"c", Query{Sort: []byte(`{"age":-1}`), Fields: "name", Cursor: tok}},
		{"other", Query{Cursor: tok}},
	} {
		_, err := db.Find(context.Background(), c.col, c.q)
		requireCode(t, err, "invalid_cursor")
	}
}

// TestCursorTamperedOrTruncated checks that a cursor is authenticated: a
// changed or cut token is invalid_cursor, and the message does not echo
// what it decoded.
func TestCursorTamperedOrTruncated(t *testing.T) {
	db := openMem(t, nil)
	for i := range 20 {
		_, err := db.InsertOne(context.Background(), "c", fmt.Appendf(nil, `{"_id":"secret%02d","age":%d}`, i, i), WriteOptions{})
		require.NoError(t, err)
	}
	for _, q := range []Query{{Limit: 3}, {Sort: []byte(`{"age":-1}`), Limit: 3}} {
		cur, err := db.Find(context.Background(), "c", q)
		require.NoError(t, err)
		for cur.Next() {
		}
		tok := cur.NextToken()
		require.NoError(t, cur.Close())
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		require.NoError(t, err)

		var bad []string
		for i := 0; i < len(raw); i += max(1, len(raw)/40) {
			b := slices.Clone(raw)
			b[i] ^= 0x20
			bad = append(bad, base64.RawURLEncoding.EncodeToString(b))
		}
		for _, n := range []int{0, 1, len(raw) / 2, len(raw) - 1} {
			bad = append(bad, base64.RawURLEncoding.EncodeToString(raw[:n]))
		}
		bad = append(bad, tok+"A", tok[:len(tok)-1], "!!!", `{"sig":"_id","key":"ZHNlY3JldDA1"}`,
			base64.RawURLEncoding.EncodeToString([]byte(`{"sig":"_id","key":"ZHNlY3JldDA1"}`)))
		for _, b := range bad {
			if b == "" {
				continue // no cursor: a first page
			}
			_, err := db.Find(context.Background(), "c", Query{Cursor: b, Limit: q.Limit, Sort: q.Sort})
			requireCode(t, err, "invalid_cursor")
			require.NotContains(t, err.Error(), "secret", "the message echoes the cursor's content")
			require.NotContains(t, err.Error(), "age", "the message echoes the cursor's content")
		}
	}

	// A cursor from another database (or from before a restart) is
	// refused: the key that signs cursors is the database's own.
	other := openMem(t, nil)
	cur, err := other.Find(context.Background(), "c", Query{Limit: 3})
	require.NoError(t, err)
	for cur.Next() {
	}
	require.NoError(t, cur.Close())
	_, err = other.InsertOne(context.Background(), "c", []byte(`{"_id":"x"}`), WriteOptions{})
	require.NoError(t, err)
	tok := pageTok(t, db, Query{Limit: 3})
	_, err = other.Find(context.Background(), "c", Query{Cursor: tok})
	requireCode(t, err, "invalid_cursor")
}

func pageTok(t *testing.T, db *DB, q Query) string {
	t.Helper()
	cur, err := db.Find(context.Background(), "c", q)
	require.NoError(t, err)
	for cur.Next() {
	}
	tok := cur.NextToken()
	require.NoError(t, cur.Close())
	require.NotEmpty(t, tok)
	return tok
}

func requireCode(t *testing.T, err error, code string) {
	t.Helper()
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, code, string(e.Code), "%v", err)
}

// TestCursorKeepsItsPlan checks that later pages read the access path the
// first page chose: an index created between pages does not move the
// cursor, and a dropped index makes it invalid_cursor.
func TestCursorKeepsItsPlan(t *testing.T) {
	db := openMem(t, nil)
	for i := range 30 {
		_, err := db.InsertOne(context.Background(), "c", fmt.Appendf(nil, `{"_id":"d%02d","tags":["t%d","t%d"],"age":%d}`, i, i%4, (i+1)%4, i%5), WriteOptions{})
		require.NoError(t, err)
	}
	filter := []byte(`{"tags":{"$gte":"t1"}}`)
	want := pageAll(t, db, "c", Query{Filter: filter, Limit: 1000}, false)
	require.Len(t, want, 30)

	// A collection scan, then an index appears: the cursor goes on
	// scanning, and every document still comes once.
	cur, err := db.Find(context.Background(), "c", Query{Filter: filter, Limit: 10})
	require.NoError(t, err)
	var got []string
	for cur.Next() {
		got = append(got, cur.ID())
	}
	tok := cur.NextToken()
	require.NoError(t, cur.Close())
	spec, err := ParseIndexSpec([]byte(`{"name":"tags_1","fields":["tags"]}`))
	require.NoError(t, err)
	require.NoError(t, db.CreateIndex(context.Background(), "c", spec, nil))
	got = append(got, pageAll(t, db, "c", Query{Cursor: tok}, true)...)
	require.Equal(t, want, got)

	// An index scan whose index is dropped: refused, not a wrong page.
	ex, err := db.Explain(context.Background(), "c", Query{Filter: filter})
	require.NoError(t, err)
	require.Equal(t, "IXSCAN", ex.Plan)
	tok = pageTok(t, db, Query{Filter: filter, Limit: 10})
	require.NoError(t, db.DropIndex(context.Background(), "c", "tags_1"))
	_, err = db.Find(context.Background(), "c", Query{Cursor: tok})
	requireCode(t, err, "invalid_cursor")
	// An index of the same name on other fields is another index.
	spec, err = ParseIndexSpec([]byte(`{"name":"tags_1","fields":["age"]}`))
	require.NoError(t, err)
	require.NoError(t, db.CreateIndex(context.Background(), "c", spec, nil))
	_, err = db.Find(context.Background(), "c", Query{Cursor: tok})
	requireCode(t, err, "invalid_cursor")
}
