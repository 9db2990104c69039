package httpd

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd/client/api"
)

func TestInsertOne(t *testing.T) {
	e := newEnv(t, envOptions{})

	// 201 created, with the revision as the ETag and the document's URL.
	r := mustStatus(t, e.do("POST", "/api/products", `{"_id":"p1","name":"test"}`), http.StatusCreated)
	var wr api.WriteResult
	r.json(t, &wr)
	require.Equal(t, "p1", wr.ID)
	require.True(t, wr.Created)
	require.Equal(t, etag(wr.Rev), r.header.Get("ETag"))
	require.Equal(t, "/api/products/p1", r.header.Get("Location"))
	require.Contains(t, string(r.body), `"rev":"`, "revisions are strings: they exceed 2^53")

	// 200 replaced (the seed's upsert).
	r = mustStatus(t, e.do("POST", "/api/products", `{"_id":"p1","name":"again"}`), http.StatusOK)
	var wr2 api.WriteResult
	r.json(t, &wr2)
	require.False(t, wr2.Created)
	require.Greater(t, wr2.Rev, wr.Rev)

	// A generated _id.
	r = mustStatus(t, e.do("POST", "/api/products", `{"name":"anon"}`), http.StatusCreated)
	r.json(t, &wr)
	require.Len(t, wr.ID, 24)
	got := mustStatus(t, e.do("GET", "/api/products/"+wr.ID, nil), http.StatusOK)
	require.JSONEq(t, `{"_id":"`+wr.ID+`","name":"anon"}`, string(got.body))

	// Ids that need escaping in a path.
	for _, id := range []string{"a/b", "a:b", "x y", "ü", "a%2Fb", "..", "?q#f"} {
		body := fmt.Sprintf(`{"_id":%q,"v":1}`, id)
		r := mustStatus(t, e.do("POST", "/api/odd", body), http.StatusCreated)
		loc := r.header.Get("Location")
		got := mustStatus(t, e.do("GET", loc, nil), http.StatusOK)
		require.JSONEq(t, body, string(got.body), "id %q via %s", id, loc)
	}

	// Errors.
	errorBody(t, e.do("POST", "/api/products", `{"_id":5}`), http.StatusBadRequest, "invalid_id")
	errorBody(t, e.do("POST", "/api/products", `{"a":`), http.StatusBadRequest, "invalid_json")
	errorBody(t, e.do("POST", "/api/bad.name", `{}`), http.StatusBadRequest, "invalid_name")
	errorBody(t, e.do("POST", "/api/products", `{}`, "Content-Type", "text/plain"), http.StatusUnsupportedMediaType, "unsupported_media_type")
	errorBody(t, e.do("POST", "/api/products", `{"_id":"p1"}`, "If-None-Match", "*"), http.StatusPreconditionFailed, "exists")
	errorBody(t, e.do("POST", "/api/products", `{"_id":"p1"}`, "If-None-Match", `"1"`), http.StatusBadRequest, "invalid_parameter")
	errorBody(t, e.do("POST", "/api/products", `{"_id":"p1"}`, "If-Match", `"1"`), http.StatusPreconditionFailed, "precondition_failed")
	errorBody(t, e.do("POST", "/api/products", `{"_id":"p1"}`, "If-Match", `*`), http.StatusBadRequest, "invalid_parameter")

	// If-Match with the current revision, and create-only success.
	mustStatus(t, e.do("POST", "/api/products", `{"_id":"p1","n":3}`, "If-Match", etag(wr2.Rev)), http.StatusOK)
	mustStatus(t, e.do("POST", "/api/products", `{"_id":"new"}`, "If-None-Match", "*"), http.StatusCreated)
}

func TestGetDoc(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.seed()
	r := mustStatus(t, e.do("GET", "/api/products/p1", nil), http.StatusOK)
	require.JSONEq(t, `{"_id":"p1","name":"lamp","category":"home","price":20}`, string(r.body))
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	tag := r.header.Get("ETag")
	require.Regexp(t, `^"\d+"$`, tag)

	// Conditional GET.
	r = mustStatus(t, e.do("GET", "/api/products/p1", nil, "If-None-Match", tag), http.StatusNotModified)
	require.Empty(t, r.body)
	mustStatus(t, e.do("GET", "/api/products/p1", nil, "If-None-Match", `"1"`), http.StatusOK)

	errorBody(t, e.do("GET", "/api/products/nope", nil), http.StatusNotFound, "not_found")
	errorBody(t, e.do("GET", "/api/nocol/p1", nil), http.StatusNotFound, "not_found")
	errorBody(t, e.do("GET", "/api/bad$/p1", nil), http.StatusBadRequest, "invalid_name")
	errorBody(t, e.do("GET", "/api/products/"+strings.Repeat("x", 1025), nil), http.StatusBadRequest, "invalid_id")
	errorBody(t, e.do("GET", "/api/products/%FF", nil), http.StatusBadRequest, "invalid_id")
}

func TestPutDoc(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := mustStatus(t, e.do("PUT", "/api/c/a", `{"v":1}`), http.StatusCreated)
	tag1 := r.header.Get("ETag")
	r = mustStatus(t, e.do("PUT", "/api/c/a", `{"_id":"a","v":2}`), http.StatusOK)
	tag2 := r.header.Get("ETag")
	require.NotEqual(t, tag1, tag2)
	got := mustStatus(t, e.do("GET", "/api/c/a", nil), http.StatusOK)
	require.JSONEq(t, `{"_id":"a","v":2}`, string(got.body))

	// Optimistic concurrency.
	errorBody(t, e.do("PUT", "/api/c/a", `{"v":3}`, "If-Match", tag1), http.StatusPreconditionFailed, "precondition_failed")
	mustStatus(t, e.do("PUT", "/api/c/a", `{"v":3}`, "If-Match", tag2), http.StatusOK)
	mustStatus(t, e.do("PUT", "/api/c/a", `{"v":4}`, "If-Match", "*"), http.StatusOK)
	errorBody(t, e.do("PUT", "/api/c/zz", `{"v":4}`, "If-Match", "*"), http.StatusPreconditionFailed, "precondition_failed")
	cur := e.do("GET", "/api/c/a", nil).header.Get("ETag")
	mustStatus(t, e.do("PUT", "/api/c/a", `{"v":5}`, "If-Match", `"1", `+cur), http.StatusOK)
	errorBody(t, e.do("PUT", "/api/c/a", `{"v":5}`, "If-Match", `"1", "2"`), http.StatusPreconditionFailed, "precondition_failed")
	errorBody(t, e.do("PUT", "/api/c/a", `{"v":5}`, "If-Match", `garbage`), http.StatusPreconditionFailed, "precondition_failed")
	errorBody(t, e.do("PUT", "/api/c/a", `{}`, "If-None-Match", "*"), http.StatusPreconditionFailed, "exists")
	mustStatus(t, e.do("PUT", "/api/c/b", `{}`, "If-None-Match", "*"), http.StatusCreated)

	errorBody(t, e.do("PUT", "/api/c/a", `{"_id":"other"}`), http.StatusBadRequest, "id_mismatch")
	errorBody(t, e.do("PUT", "/api/c/a", ``), http.StatusBadRequest, "empty_body")
	errorBody(t, e.do("PUT", "/api/c/a", `[]`), http.StatusBadRequest, "document_must_be_object")
	errorBody(t, e.do("PUT", "/api/c/a", `{}`, "Content-Type", "application/xml"), http.StatusUnsupportedMediaType, "")
}

func TestPatchDoc(t *testing.T) {
	e := newEnv(t, envOptions{})
	mustStatus(t, e.do("PUT", "/api/c/a", `{"n":1,"tags":["x"]}`), http.StatusCreated)
	r := mustStatus(t, e.do("PATCH", "/api/c/a", `{"$inc":{"n":1},"$push":{"tags":"y"}}`), http.StatusOK)
	var wr api.WriteResult
	r.json(t, &wr)
	require.False(t, wr.Created)
	got := mustStatus(t, e.do("GET", "/api/c/a", nil), http.StatusOK)
	require.JSONEq(t, `{"_id":"a","n":2,"tags":["x","y"]}`, string(got.body))

	// A body without operators is a JSON merge patch (RFC 7396), not a
	// replacement: the fields it does not name stay.
	mustStatus(t, e.do("PATCH", "/api/c/a", `{"m":1}`), http.StatusOK)
	got = mustStatus(t, e.do("GET", "/api/c/a", nil), http.StatusOK)
	require.JSONEq(t, `{"_id":"a","n":2,"tags":["x","y"],"m":1}`, string(got.body))

	errorBody(t, e.do("PATCH", "/api/c/missing", `{"$set":{"a":1}}`), http.StatusNotFound, "not_found")
	mustStatus(t, e.do("PATCH", "/api/c/missing?upsert=true", `{"$set":{"a":1}}`), http.StatusCreated)
	errorBody(t, e.do("PATCH", "/api/c/a?upsert=maybe", `{"$set":{"a":1}}`), http.StatusBadRequest, "invalid_parameter")
	errorBody(t, e.do("PATCH", "/api/c/a", `{"$bogus":{"a":1}}`), http.StatusBadRequest, "invalid_update")
	errorBody(t, e.do("PATCH", "/api/c/a", `{"$set":{"_id":"b"}}`), http.StatusBadRequest, "invalid_update")
	errorBody(t, e.do("PATCH", "/api/c/a", `{"$set":{"a":1}}`, "If-Match", `"7"`), http.StatusPreconditionFailed, "precondition_failed")
	tag := e.do("GET", "/api/c/a", nil).header.Get("ETag")
	mustStatus(t, e.do("PATCH", "/api/c/a", `{"$set":{"a":1}}`, "If-Match", tag), http.StatusOK)
}

func TestDeleteDoc(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.seed()
	tag := e.do("GET", "/api/products/p1", nil).header.Get("ETag")
	errorBody(t, e.do("DELETE", "/api/products/p1", nil, "If-Match", `"1"`), http.StatusPreconditionFailed, "precondition_failed")
	r := mustStatus(t, e.do("DELETE", "/api/products/p1", nil, "If-Match", tag), http.StatusOK)
	require.JSONEq(t, `{"_id":"p1","deleted":true}`, string(r.body))
	errorBody(t, e.do("GET", "/api/products/p1", nil), http.StatusNotFound, "not_found")
	errorBody(t, e.do("DELETE", "/api/products/p1", nil), http.StatusNotFound, "not_found")
	errorBody(t, e.do("DELETE", "/api/nocol/p1", nil), http.StatusNotFound, "not_found")
	mustStatus(t, e.do("DELETE", "/api/products/p2", nil), http.StatusOK)
}

func TestInsertMany(t *testing.T) {
	e := newEnv(t, envOptions{docstore: &docstore.Options{MaxBatchDocs: 5}})
	r := mustStatus(t, e.do("POST", "/api/c/_insertMany", `[{"_id":"a"},{"_id":"b","n":9007199254740993},{"x":1}]`), http.StatusCreated)
	var res api.InsertManyResult
	r.json(t, &res)
	require.Equal(t, 3, res.Inserted)
	require.Len(t, res.Results, 3)
	require.Equal(t, "a", res.Results[0].ID)
	require.True(t, res.Results[2].Created)
	got := mustStatus(t, e.do("GET", "/api/c/b", nil), http.StatusOK)
	require.Equal(t, `{"_id":"b","n":9007199254740993}`+"\n", string(got.body))

	before := e.state()
	// Atomic: a bad document fails the batch, naming its index.
	er := errorBody(t, e.do("POST", "/api/c/_insertMany", `[{"_id":"new1"},{"_id":"x","a":1,"a":2}]`), http.StatusBadRequest, "duplicate_key")
	require.NotNil(t, er.Index)
	require.Equal(t, 1, *er.Index)
	errorBody(t, e.do("POST", "/api/c/_insertMany", `[{"_id":"d"},{"_id":"d"}]`), http.StatusBadRequest, "duplicate_id")
	errorBody(t, e.do("POST", "/api/c/_insertMany", `[{"_id":"d"},[]]`), http.StatusBadRequest, "document_must_be_object")
	errorBody(t, e.do("POST", "/api/c/_insertMany", `{"_id":"d"}`), http.StatusBadRequest, "body_must_be_array")
	errorBody(t, e.do("POST", "/api/c/_insertMany", `[]`), http.StatusBadRequest, "bad_request")
	errorBody(t, e.do("POST", "/api/c/_insertMany", `[{}`), http.StatusBadRequest, "invalid_json")
	errorBody(t, e.do("POST", "/api/c/_insertMany", ``), http.StatusBadRequest, "empty_body")
	errorBody(t, e.do("POST", "/api/c/_insertMany", `[{}] [{}]`), http.StatusBadRequest, "invalid_json")
	errorBody(t, e.do("POST", "/api/c/_insertMany", "[{\"a\":\"\xff\"}]"), http.StatusBadRequest, "invalid_utf8")
	errorBody(t, e.do("POST", "/api/c/_insertMany", strings.Repeat("[", 20000)), http.StatusBadRequest, "too_deep")
	errorBody(t, e.do("POST", "/api/c/_insertMany", `[{},{},{},{},{},{}]`), http.StatusRequestEntityTooLarge, "too_many_documents")
	require.Equal(t, before, e.state())
}
