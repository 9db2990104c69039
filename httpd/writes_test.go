package httpd

import (
	"net/http"
	"testing"

	"github.com/minidbgo/minidbgo/httpd/client/api"
	"github.com/stretchr/testify/require"
)

// TestPatchMergePatch: PATCH without operators is an RFC 7396 merge
// patch, as is any body sent as application/merge-patch+json.
func TestPatchMergePatch(t *testing.T) {
	e := newEnv(t, envOptions{})
	mustStatus(t, e.do("PUT", "/api/c/a", `{"name":"ada","o":{"x":1,"y":2},"tags":["a"],"gone":true}`), http.StatusCreated)
	mustStatus(t, e.do("PATCH", "/api/c/a", `{"o":{"y":null,"z":3},"gone":null,"tags":["b"]}`), http.StatusOK)
	got := mustStatus(t, e.do("GET", "/api/c/a", nil), http.StatusOK)
	require.JSONEq(t, `{"_id":"a","name":"ada","o":{"x":1,"z":3},"tags":["b"]}`, string(got.body))

	mustStatus(t, e.do("PATCH", "/api/c/a", `{"name":"bob"}`, "Content-Type", "application/merge-patch+json"), http.StatusOK)
	got = mustStatus(t, e.do("GET", "/api/c/a", nil), http.StatusOK)
	require.JSONEq(t, `{"_id":"a","name":"bob","o":{"x":1,"z":3},"tags":["b"]}`, string(got.body))

	// Operators stay an update, unless the body is declared a merge patch.
	mustStatus(t, e.do("PATCH", "/api/c/a", `{"$unset":{"o":""}}`), http.StatusOK)
	got = mustStatus(t, e.do("GET", "/api/c/a", nil), http.StatusOK)
	require.JSONEq(t, `{"_id":"a","name":"bob","tags":["b"]}`, string(got.body))
	before := e.state()
	errorBody(t, e.do("PATCH", "/api/c/a", `{"$set":{"a":1}}`, "Content-Type", "application/merge-patch+json"), http.StatusBadRequest, "invalid_patch")
	errorBody(t, e.do("PATCH", "/api/c/a", `{"_id":"b"}`), http.StatusBadRequest, "id_mismatch")
	errorBody(t, e.do("PATCH", "/api/c/a", `{"_id":null}`), http.StatusBadRequest, "id_mismatch")
	errorBody(t, e.do("PATCH", "/api/c/a", `[1]`), http.StatusBadRequest, "document_must_be_object")
	errorBody(t, e.do("PATCH", "/api/c/nope", `{"a":1}`), http.StatusNotFound, "not_found")
	errorBody(t, e.do("POST", "/api/c", `{"a":1}`, "Content-Type", "application/merge-patch+json"), http.StatusUnsupportedMediaType, "unsupported_media_type")
	require.Equal(t, before, e.state())

	r := mustStatus(t, e.do("PATCH", "/api/c/nope?upsert=true", `{"a":1,"b":null}`), http.StatusCreated)
	var wr api.WriteResult
	r.json(t, &wr)
	require.True(t, wr.Created)
	got = mustStatus(t, e.do("GET", "/api/c/nope", nil), http.StatusOK)
	require.JSONEq(t, `{"_id":"nope","a":1}`, string(got.body))
}

// TestInsertManyCountsReplaced: _insertMany tells created documents from
// replaced ones; ?upsert=false refuses existing _ids atomically.
func TestInsertManyCountsReplaced(t *testing.T) {
	e := newEnv(t, envOptions{})
	mustStatus(t, e.do("POST", "/api/c", `{"_id":"a","v":1}`), http.StatusCreated)
	r := mustStatus(t, e.do("POST", "/api/c/_insertMany", `[{"_id":"a","v":2},{"_id":"b"}]`), http.StatusCreated)
	var res api.InsertManyResult
	r.json(t, &res)
	require.Equal(t, 1, res.Inserted)
	require.Equal(t, 1, res.Replaced)
	require.False(t, res.Results[0].Created)
	require.True(t, res.Results[1].Created)
	require.Contains(t, string(r.body), `"replaced":1`)

	before := e.state()
	er := errorBody(t, e.do("POST", "/api/c/_insertMany?upsert=false", `[{"_id":"c"},{"_id":"b"}]`), http.StatusConflict, "duplicate_key")
	require.Contains(t, er.Error, `"b"`)
	require.NotNil(t, er.Index)
	require.Equal(t, 1, *er.Index)
	errorBody(t, e.do("POST", "/api/c?upsert=false", `{"_id":"a","v":3}`), http.StatusConflict, "duplicate_key")
	errorBody(t, e.do("POST", "/api/c?upsert=no", `{"_id":"a","v":3}`), http.StatusBadRequest, "invalid_parameter")
	require.Equal(t, before, e.state())

	r = mustStatus(t, e.do("POST", "/api/c/_insertMany?upsert=false", `[{"_id":"c"},{"_id":"d"}]`), http.StatusCreated)
	r.json(t, &res)
	require.Equal(t, 2, res.Inserted)
	require.Equal(t, 0, res.Replaced)
	mustStatus(t, e.do("POST", "/api/c?upsert=false", `{"_id":"e"}`), http.StatusCreated)
	// The JSON parser's duplicate_key (a repeated key) stays a 400.
	errorBody(t, e.do("POST", "/api/c", `{"a":1,"a":2}`), http.StatusBadRequest, "duplicate_key")
}

// TestUpdateUpsert: _update with "upsert": true creates a document from
// the filter when none matches, with $setOnInsert only then.
func TestUpdateUpsert(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := mustStatus(t, e.do("POST", "/api/c/_update", `{"filter":{"sku":"x1"},"update":{"$inc":{"n":1},"$setOnInsert":{"first":true}},"upsert":true}`), http.StatusOK)
	var res api.UpdateResult
	r.json(t, &res)
	require.EqualValues(t, 0, res.Matched)
	require.Len(t, res.UpsertedID, 24)
	got := mustStatus(t, e.do("GET", "/api/c/"+res.UpsertedID, nil), http.StatusOK)
	require.JSONEq(t, `{"_id":"`+res.UpsertedID+`","sku":"x1","n":1,"first":true}`, string(got.body))

	r = mustStatus(t, e.do("POST", "/api/c/_update", `{"filter":{"sku":"x1"},"update":{"$inc":{"n":1},"$setOnInsert":{"first":false}},"upsert":true}`), http.StatusOK)
	res = api.UpdateResult{}
	r.json(t, &res)
	require.Equal(t, api.UpdateResult{Matched: 1, Modified: 1}, res)
	require.NotContains(t, string(r.body), "upserted_id")

	// Without upsert nothing is created; $setOnInsert alone changes nothing.
	r = mustStatus(t, e.do("POST", "/api/c/_update", `{"filter":{"sku":"x2"},"update":{"$set":{"n":1}}}`), http.StatusOK)
	require.JSONEq(t, `{"matched":0,"modified":0}`, string(r.body))
	r = mustStatus(t, e.do("POST", "/api/c/_update", `{"filter":{"sku":"x1"},"update":{"$setOnInsert":{"n":100}}}`), http.StatusOK)
	require.JSONEq(t, `{"matched":1,"modified":0}`, string(r.body))

	errorBody(t, e.do("POST", "/api/c/_update", `{"filter":{},"update":{"a":1},"upsert":true}`), http.StatusBadRequest, "invalid_update")
	errorBody(t, e.do("POST", "/api/c/_update", `{"filter":{},"update":{"$set":{"a":1}},"upsert":"yes"}`), http.StatusBadRequest, "")
}
