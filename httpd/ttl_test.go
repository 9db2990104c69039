package httpd

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd/client"
	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// TestTTLOverHTTP: a TTL index is created and listed with its
// expireAfterSeconds; bad values are 400 naming the option; an expired
// document is 404 and absent from _find and _count before any reaper
// runs.
func TestTTLOverHTTP(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixMilli())
	e := newEnv(t, envOptions{docstore: &docstore.Options{TTLInterval: -1, Now: func() time.Time { return time.UnixMilli(now.Load()) }}})

	for body, want := range map[string]string{
		`{"fields":["seen"],"expireAfterSeconds":-1}`:     "expireAfterSeconds",
		`{"fields":["seen"],"expireAfterSeconds":"1h"}`:   "expireAfterSeconds",
		`{"fields":["seen"],"expireAfterSeconds":2.5}`:    "expireAfterSeconds",
		`{"fields":["seen","n"],"expireAfterSeconds":60}`: "one field",
		`{"fields":["seen"],"expireAfterSeconds":1e10}`:   "expireAfterSeconds",
		`{"fields":["seen"],"expireAfterSecs":60}`:        "expireAfterSecs",
	} {
		eb := errorBody(t, e.do("POST", "/api/s/_indexes", body), http.StatusBadRequest, "bad_request")
		require.Contains(t, eb.Error, want, body)
	}
	var ix api.Index
	mustStatus(t, e.do("POST", "/api/s/_indexes", `{"name":"seen_ttl","fields":["seen"],"expireAfterSeconds":60}`), http.StatusCreated).json(t, &ix)
	require.NotNil(t, ix.ExpireAfterSeconds)
	require.Equal(t, int64(60), *ix.ExpireAfterSeconds)
	var list []api.Index
	mustStatus(t, e.do("GET", "/api/s/_indexes", nil), http.StatusOK).json(t, &list)
	require.Len(t, list, 1)
	require.Equal(t, int64(60), *list[0].ExpireAfterSeconds)

	t0 := now.Load()
	mustStatus(t, e.do("POST", "/api/s", fmt.Sprintf(`{"_id":"a","seen":%d}`, t0)), http.StatusCreated)
	mustStatus(t, e.do("POST", "/api/s", fmt.Sprintf(`{"_id":"b","_expiresAt":%q}`, time.UnixMilli(t0+30_000).UTC().Format(time.RFC3339))), http.StatusCreated)
	mustStatus(t, e.do("POST", "/api/s", `{"_id":"c"}`), http.StatusCreated)
	findIDs := func() []string {
		var fr api.FindResult
		mustStatus(t, e.do("POST", "/api/s/_find", `{"sort":"_id"}`), http.StatusOK).json(t, &fr)
		return ids(t, fr.Docs)
	}
	count := func() int64 {
		var cr api.CountResult
		mustStatus(t, e.do("POST", "/api/s/_count", `{}`), http.StatusOK).json(t, &cr)
		return cr.Count
	}
	require.Equal(t, []string{"a", "b", "c"}, findIDs())
	mustStatus(t, e.do("GET", "/api/s/b", nil), http.StatusOK)

	now.Add(30_000) // b expires
	errorBody(t, e.do("GET", "/api/s/b", nil), http.StatusNotFound, "not_found")
	require.Equal(t, []string{"a", "c"}, findIDs())
	require.Equal(t, int64(2), count())
	now.Add(30_000) // a expires
	errorBody(t, e.do("GET", "/api/s/a", nil), http.StatusNotFound, "not_found")
	require.Equal(t, []string{"c"}, findIDs())
	require.Equal(t, int64(1), count())

	n, err := e.db.ReapExpired(t.Context())
	require.NoError(t, err)
	require.Equal(t, int64(2), n)
	var col api.Collection
	mustStatus(t, e.do("GET", "/api/s", nil), http.StatusOK).json(t, &col)
	require.Equal(t, int64(1), col.DocCount)
}

// TestTTLReaperOverHTTP: with a short TTL interval the server's reaper
// deletes an expired document on its own.
func TestTTLReaperOverHTTP(t *testing.T) {
	e := newEnv(t, envOptions{docstore: &docstore.Options{TTLInterval: 10 * time.Millisecond}})
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano)
	mustStatus(t, e.do("POST", "/api/s", fmt.Sprintf(`{"_id":"old","_expiresAt":%q}`, past)), http.StatusCreated)
	mustStatus(t, e.do("POST", "/api/s", `{"_id":"keep"}`), http.StatusCreated)
	errorBody(t, e.do("GET", "/api/s/old", nil), http.StatusNotFound, "not_found")
	require.Eventually(t, func() bool {
		var col api.Collection
		mustStatus(t, e.do("GET", "/api/s", nil), http.StatusOK).json(t, &col)
		return col.DocCount == 1
	}, 10*time.Second, 10*time.Millisecond)
}

// TestTTLIndexWithGoClient: the Go client creates a TTL index and reads
// its option back.
func TestTTLIndexWithGoClient(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := client.New(e.url + "/")
	n := int64(86400)
	ix, err := c.CreateIndex(t.Context(), "sessions", api.IndexRequest{Fields: []string{"lastSeen"}, ExpireAfterSeconds: &n})
	require.NoError(t, err)
	require.NotNil(t, ix.ExpireAfterSeconds)
	require.Equal(t, n, *ix.ExpireAfterSeconds)
	list, err := c.Indexes(t.Context(), "sessions")
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, n, *list[0].ExpireAfterSeconds)
	bad := int64(-1)
	_, err = c.CreateIndex(t.Context(), "sessions", api.IndexRequest{Name: "bad", Fields: []string{"x"}, ExpireAfterSeconds: &bad})
	require.ErrorContains(t, err, "expireAfterSeconds")
}
