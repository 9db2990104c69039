package docstore

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// findAll returns the JSON of every document a query's first page holds.
func findAll(t *testing.T, db *DB, col string, q Query) []string {
	t.Helper()
	cur, err := db.Find(context.Background(), col, q)
	require.NoError(t, err)
	defer cur.Close()
	var out []string
	for cur.Next() {
		out = append(out, string(cur.Doc()))
	}
	require.NoError(t, cur.Err())
	return out
}

// TestIncBigNumbersExact is issue 12 item 3: $inc on an integer beyond
// float64's 53 bits stored a rounded number.
func TestIncBigNumbersExact(t *testing.T) {
	db := openMem(t, nil)
	_, err := db.InsertOne(context.Background(), "c", []byte(`{"_id":"a","big":12345678901234567890,"dec":0.1}`), WriteOptions{})
	require.NoError(t, err)
	_, err = db.Update(context.Background(), "c", "a", []byte(`{"$inc":{"big":1,"dec":0.2}}`), WriteOptions{})
	require.NoError(t, err)
	d, err := db.Get(context.Background(), "c", "a")
	require.NoError(t, err)
	require.Equal(t, `{"_id":"a","big":12345678901234567891,"dec":0.3}`, string(d.JSON))

	res, err := db.UpdateMany(context.Background(), "c", []byte(`{}`), []byte(`{"$mul":{"big":1e300}}`))
	require.Equal(t, "invalid_update", errCode(err), "%v", err)
	require.Zero(t, res.Modified)
	d, err = db.Get(context.Background(), "c", "a")
	require.NoError(t, err)
	require.Equal(t, `{"_id":"a","big":12345678901234567891,"dec":0.3}`, string(d.JSON))
}

// TestPositionalUpdate checks that UpdateMany gives the filter to the
// positional operator $, and that Update (by _id) refuses it.
func TestPositionalUpdate(t *testing.T) {
	db := openMem(t, nil)
	_, err := db.InsertMany(context.Background(), "s", [][]byte{
		[]byte(`{"_id":"1","grades":[80,85,90]}`),
		[]byte(`{"_id":"2","grades":[88,70]}`),
		[]byte(`{"_id":"3","grades":[10]}`),
	})
	require.NoError(t, err)
	res, err := db.UpdateMany(context.Background(), "s", []byte(`{"grades":{"$gte":85}}`), []byte(`{"$set":{"grades.$":100}}`))
	require.NoError(t, err)
	require.Equal(t, ManyResult{Matched: 2, Modified: 2}, res)
	res, err = db.UpdateMany(context.Background(), "s", []byte(`{}`), []byte(`{"$inc":{"grades.$[]":1}}`))
	require.NoError(t, err)
	require.Equal(t, int64(3), res.Modified)
	require.Equal(t, []string{
		`{"_id":"1","grades":[81,101,91]}`,
		`{"_id":"2","grades":[101,71]}`,
		`{"_id":"3","grades":[11]}`,
	}, findAll(t, db, "s", Query{}))

	_, err = db.Update(context.Background(), "s", "1", []byte(`{"$set":{"grades.$":0}}`), WriteOptions{})
	require.Equal(t, "invalid_update", errCode(err))
	require.Contains(t, err.Error(), "positional operator $")
	_, err = db.UpdateMany(context.Background(), "s", []byte(`{"_id":"1"}`), []byte(`{"$set":{"grades.$":0}}`))
	require.Equal(t, "invalid_update", errCode(err))
}

// TestQueryOperatorsThroughFind runs $mod, projection $slice and
// $currentDate through the document layer.
func TestQueryOperatorsThroughFind(t *testing.T) {
	db := openMem(t, nil)
	_, err := db.InsertMany(context.Background(), "n", [][]byte{
		[]byte(`{"_id":"a","n":7,"l":[1,2,3]}`),
		[]byte(`{"_id":"b","n":8,"l":[4,5]}`),
	})
	require.NoError(t, err)
	require.NoError(t, db.CreateIndex(context.Background(), "n", IndexSpec{Name: "n_1", Fields: []IndexField{{Path: "n"}}}, nil))
	require.Equal(t, []string{`{"_id":"a","l":[3]}`},
		findAll(t, db, "n", Query{Filter: []byte(`{"n":{"$mod":[4,3]}}`), Projection: []byte(`{"n":0,"l":{"$slice":-1}}`)}))
	_, err = db.Find(context.Background(), "n", Query{Projection: []byte(`{"l":{"$slice":[0,0]}}`)})
	require.Equal(t, "invalid_projection", errCode(err))
	_, err = db.Find(context.Background(), "n", Query{Filter: []byte(`{"n":{"$mod":[0,1]}}`)})
	require.Equal(t, "invalid_query", errCode(err))

	_, err = db.Update(context.Background(), "n", "a", []byte(`{"$currentDate":{"at":true}}`), WriteOptions{})
	require.NoError(t, err)
	d, err := db.Get(context.Background(), "n", "a")
	require.NoError(t, err)
	at := string(d.JSON)[strings.Index(string(d.JSON), `"at":"`)+6:]
	require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"}$`, at)
}
