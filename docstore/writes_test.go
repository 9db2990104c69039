package docstore

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func getJSON(t *testing.T, db *DB, col, id string) string {
	t.Helper()
	d, err := db.Get(context.Background(), col, id)
	require.NoError(t, err)
	return string(d.JSON)
}

// TestInsertNewIsAtomic: an insert-only batch meeting an existing _id
// fails with duplicate_key naming it and its position, and writes none of
// the batch.
func TestInsertNewIsAtomic(t *testing.T) {
	db := openMem(t, nil)
	_, err := db.InsertOne(context.Background(), "c", []byte(`{"_id":"b","v":"old"}`), WriteOptions{})
	require.NoError(t, err)

	_, err = db.InsertNew(context.Background(), "c", [][]byte{[]byte(`{"_id":"a"}`), []byte(`{"_id":"b","v":"new"}`)})
	require.Equal(t, "duplicate_key", errCode(err))
	require.ErrorContains(t, err, `"b"`)
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, 1, e.Index)
	_, err = db.Get(context.Background(), "c", "a")
	require.Equal(t, "not_found", errCode(err), "nothing of a failed batch is written")
	require.Equal(t, `{"_id":"b","v":"old"}`, getJSON(t, db, "c", "b"))
	st, err := db.Stats("c")
	require.NoError(t, err)
	require.EqualValues(t, 1, st.DocCount)

	res, err := db.InsertNew(context.Background(), "c", [][]byte{[]byte(`{"_id":"a"}`), []byte(`{"v":1}`)})
	require.NoError(t, err)
	require.True(t, res[0].Created)
	require.True(t, res[1].Created)

	// InsertOne insert-only.
	_, err = db.InsertOne(context.Background(), "c", []byte(`{"_id":"a","x":1}`), WriteOptions{Insert: true})
	require.Equal(t, "duplicate_key", errCode(err))
	require.Equal(t, `{"_id":"a"}`, getJSON(t, db, "c", "a"))

	// InsertMany still replaces, and says which it did.
	res, err = db.InsertMany(context.Background(), "c", [][]byte{[]byte(`{"_id":"a","x":2}`), []byte(`{"_id":"z"}`)})
	require.NoError(t, err)
	require.False(t, res[0].Created)
	require.True(t, res[1].Created)
}

// TestMergePatch: RFC 7396 semantics (the RFC's appendix examples that
// apply to objects), _id protection, upsert and preconditions.
func TestMergePatch(t *testing.T) {
	db := openMem(t, nil)
	_, err := db.InsertOne(context.Background(), "c", []byte(`{"_id":"d","title":"Goodbye!","author":{"givenName":"John","familyName":"Doe"},"tags":["example","sample"],"content":"This will be unchanged"}`), WriteOptions{})
	require.NoError(t, err)
	res, err := db.MergePatch(context.Background(), "c", "d", []byte(`{"title":"Hello!","phoneNumber":"+01-123-456-7890","author":{"familyName":null},"tags":["example"]}`), WriteOptions{})
	require.NoError(t, err)
	require.False(t, res.Created)
	require.Equal(t, `{"_id":"d","title":"Hello!","author":{"givenName":"John"},"tags":["example"],"content":"This will be unchanged","phoneNumber":"+01-123-456-7890"}`,
		getJSON(t, db, "c", "d"))

	for _, tc := range []struct{ doc, patch, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`{"e":null}`, `{"a":1}`, `{"e":null,"a":1}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
	} {
		_, err := db.Replace(context.Background(), "c", "x", []byte(tc.doc), WriteOptions{})
		require.NoError(t, err)
		_, err = db.MergePatch(context.Background(), "c", "x", []byte(tc.patch), WriteOptions{})
		require.NoError(t, err, tc.patch)
		var want string
		if tc.want == `{}` {
			want = `{"_id":"x"}`
		} else {
			want = `{"_id":"x",` + tc.want[1:]
		}
		require.Equal(t, want, getJSON(t, db, "c", "x"), "%s + %s", tc.doc, tc.patch)
	}

	_, err = db.MergePatch(context.Background(), "c", "x", []byte(`{"_id":null}`), WriteOptions{})
	require.Equal(t, "id_mismatch", errCode(err))
	_, err = db.MergePatch(context.Background(), "c", "x", []byte(`{"_id":"y"}`), WriteOptions{})
	require.Equal(t, "id_mismatch", errCode(err))
	_, err = db.MergePatch(context.Background(), "c", "x", []byte(`[1]`), WriteOptions{})
	require.Equal(t, "document_must_be_object", errCode(err))
	_, err = db.MergePatch(context.Background(), "c", "missing", []byte(`{"a":1}`), WriteOptions{})
	require.Equal(t, "not_found", errCode(err))
	res, err = db.MergePatch(context.Background(), "c", "new", []byte(`{"a":1,"b":null}`), WriteOptions{Upsert: true})
	require.NoError(t, err)
	require.True(t, res.Created)
	require.Equal(t, `{"_id":"new","a":1}`, getJSON(t, db, "c", "new"))
	_, err = db.MergePatch(context.Background(), "c", "new", []byte(`{"a":2}`), WriteOptions{IfMatch: res.Rev + 100})
	require.ErrorIs(t, err, ErrPrecondition)
	_, err = db.MergePatch(context.Background(), "c", "new", []byte(`{"$set":{"a":2}}`), WriteOptions{})
	require.Equal(t, "invalid_patch", errCode(err))

	// Patch: operators update, anything else merge-patches.
	_, err = db.Patch(context.Background(), "c", "new", []byte(`{"$inc":{"a":1}}`), WriteOptions{})
	require.NoError(t, err)
	_, err = db.Patch(context.Background(), "c", "new", []byte(`{"b":2}`), WriteOptions{})
	require.NoError(t, err)
	require.Equal(t, `{"_id":"new","a":2,"b":2}`, getJSON(t, db, "c", "new"))
	_, err = db.Patch(context.Background(), "c", "new", []byte(`{"b":`), WriteOptions{})
	require.Equal(t, "invalid_json", errCode(err))
}

// TestUpsertMany: no match creates one document from the filter's
// equalities, the update and $setOnInsert; a match updates and leaves
// $setOnInsert alone.
func TestUpsertMany(t *testing.T) {
	db := openMem(t, nil)
	res, err := db.UpsertMany(context.Background(), "c", []byte(`{"name":"ada","$and":[{"o.k":{"$eq":3}},{"age":{"$gt":5}}],"$or":[{"z":1}]}`),
		[]byte(`{"$set":{"n":1},"$setOnInsert":{"created":true}}`))
	require.NoError(t, err)
	require.Len(t, res.UpsertedID, 24)
	require.EqualValues(t, 0, res.Matched)
	require.Equal(t, `{"_id":"`+res.UpsertedID+`","name":"ada","o":{"k":3},"n":1,"created":true}`, getJSON(t, db, "c", res.UpsertedID))

	res, err = db.UpsertMany(context.Background(), "c", []byte(`{"name":"ada"}`), []byte(`{"$set":{"n":2},"$setOnInsert":{"created":false}}`))
	require.NoError(t, err)
	require.Empty(t, res.UpsertedID)
	require.EqualValues(t, 1, res.Matched)
	require.EqualValues(t, 1, res.Modified)
	st, err := db.Stats("c")
	require.NoError(t, err)
	require.EqualValues(t, 1, st.DocCount)

	// The _id comes from the filter.
	res, err = db.UpsertMany(context.Background(), "c", []byte(`{"_id":"k1"}`), []byte(`{"$inc":{"n":1}}`))
	require.NoError(t, err)
	require.Equal(t, "k1", res.UpsertedID)
	require.Equal(t, `{"_id":"k1","n":1}`, getJSON(t, db, "c", "k1"))

	// An _id that exists but does not match the filter: duplicate_key.
	_, err = db.UpsertMany(context.Background(), "c", []byte(`{"_id":"k1","n":5}`), []byte(`{"$set":{"m":1}}`))
	require.Equal(t, "duplicate_key", errCode(err))
	require.Equal(t, `{"_id":"k1","n":1}`, getJSON(t, db, "c", "k1"))

	_, err = db.UpsertMany(context.Background(), "c", []byte(`{"_id":"k2"}`), []byte(`{"m":1}`))
	require.Equal(t, "invalid_update", errCode(err))
	_, err = db.UpsertMany(context.Background(), "c", []byte(`{"_id":7}`), []byte(`{"$set":{"m":1}}`))
	require.Equal(t, "invalid_id", errCode(err))

	// Update (by _id) with Upsert applies $setOnInsert only on create.
	wr, err := db.Update(context.Background(), "c", "u", []byte(`{"$inc":{"n":1},"$setOnInsert":{"first":true}}`), WriteOptions{Upsert: true})
	require.NoError(t, err)
	require.True(t, wr.Created)
	require.Equal(t, `{"_id":"u","n":1,"first":true}`, getJSON(t, db, "c", "u"))
	_, err = db.Update(context.Background(), "c", "u", []byte(`{"$inc":{"n":1},"$setOnInsert":{"first":false}}`), WriteOptions{Upsert: true})
	require.NoError(t, err)
	require.Equal(t, `{"_id":"u","n":2,"first":true}`, getJSON(t, db, "c", "u"))
}
