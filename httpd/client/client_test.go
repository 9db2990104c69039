package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd"
	"github.com/minidbgo/minidbgo/httpd/api"
	"github.com/minidbgo/minidbgo/httpd/client"
	"github.com/minidbgo/minidbgo/storage"
	"github.com/minidbgo/minidbgo/storage/vfs"
)

func newServer(t *testing.T, cfg httpd.Config) *client.Client {
	t.Helper()
	db, err := docstore.Open("db", &docstore.Options{Storage: &storage.Options{FS: vfs.NewMem()}})
	require.NoError(t, err)
	cfg.StatsInterval = -1
	srv := httpd.New(db, cfg)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
		require.NoError(t, db.Close())
	})
	c := client.New(ts.URL + "/")
	c.HTTPClient = ts.Client()
	return c
}

func TestClient(t *testing.T) {
	ctx := context.Background()
	c := newServer(t, httpd.Config{DebugOpen: true})

	h, err := c.Health(ctx)
	require.NoError(t, err)
	require.Equal(t, "ok", h.Status)
	rd, err := c.Ready(ctx)
	require.NoError(t, err)
	require.Equal(t, "ready", rd.Status)

	// Documents.
	wr, err := c.Insert(ctx, "products", map[string]any{"_id": "p1", "name": "lamp", "price": 20}, nil)
	require.NoError(t, err)
	require.Equal(t, api.WriteResult{ID: "p1", Rev: wr.Rev, Created: true}, wr)
	_, err = c.Insert(ctx, "products", []byte(`{"_id":"p1"}`), &client.WriteOptions{IfNoneMatch: true})
	var ce *client.Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, http.StatusPreconditionFailed, ce.Status)
	require.Equal(t, "exists", ce.Code)
	require.NotEmpty(t, ce.RequestID)
	require.Contains(t, ce.Error(), "412 exists")

	doc, rev, err := c.Get(ctx, "products", "p1")
	require.NoError(t, err)
	require.JSONEq(t, `{"_id":"p1","name":"lamp","price":20}`, string(doc))
	require.Equal(t, wr.Rev, rev)
	_, _, err = c.Get(ctx, "products", "nope")
	require.True(t, client.IsNotFound(err))

	pr, err := c.Put(ctx, "products", "a/b", `{"name":"slash"}`, nil)
	require.NoError(t, err)
	require.True(t, pr.Created)
	doc, _, err = c.Get(ctx, "products", "a/b")
	require.NoError(t, err)
	require.JSONEq(t, `{"_id":"a/b","name":"slash"}`, string(doc))
	_, err = c.Put(ctx, "products", "a/b", `{}`, &client.WriteOptions{IfMatch: 1})
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "precondition_failed", ce.Code)

	up, err := c.Patch(ctx, "products", "p1", json.RawMessage(`{"$inc":{"price":5}}`), &client.WriteOptions{IfMatch: rev})
	require.NoError(t, err)
	require.Greater(t, up.Rev, rev)
	up, err = c.Patch(ctx, "products", "p9", `{"$set":{"name":"new"}}`, &client.WriteOptions{Upsert: true})
	require.NoError(t, err)
	require.True(t, up.Created)
	require.NoError(t, c.Delete(ctx, "products", "p9", nil))
	require.True(t, client.IsNotFound(c.Delete(ctx, "products", "p9", nil)))

	im, err := c.InsertMany(ctx, "products", []json.RawMessage{
		json.RawMessage(`{"_id":"p2","name":"desk","price":150}`),
		json.RawMessage(`{"_id":"p3","name":"pen","price":2}`),
	})
	require.NoError(t, err)
	require.Equal(t, 2, im.Inserted)
	_, err = c.InsertMany(ctx, "products", []json.RawMessage{json.RawMessage(`{}`), json.RawMessage(`{"a":1,"a":2}`)})
	require.ErrorAs(t, err, &ce)
	require.Equal(t, 1, ce.Index)

	// Queries.
	docs, next, err := c.Search(ctx, "products", `{"price":{"$gt":1}}`, client.SearchOptions{Limit: 2, Sort: "-price", Fields: "name"})
	require.NoError(t, err)
	require.Len(t, docs, 2)
	require.NotEmpty(t, next)
	docs, next, err = c.Search(ctx, "products", `{"price":{"$gt":1}}`, client.SearchOptions{Limit: 2, Sort: "-price", Fields: "name", Cursor: next})
	require.NoError(t, err)
	require.Len(t, docs, 1)
	require.Empty(t, next)
	docs, _, err = c.Search(ctx, "products", nil, client.SearchOptions{Skip: 1})
	require.NoError(t, err)
	require.Len(t, docs, 3)

	fr, err := c.Find(ctx, "products", api.FindRequest{Filter: json.RawMessage(`{"price":{"$lt":100}}`), Sort: json.RawMessage(`{"price":1}`), Limit: 1})
	require.NoError(t, err)
	require.Len(t, fr.Docs, 1)
	require.NotEmpty(t, fr.Cursor)
	// The cursor alone continues its query, a page of one at a time.
	got := []json.RawMessage{fr.Docs[0]}
	for fr.Cursor != "" {
		fr, err = c.Find(ctx, "products", api.FindRequest{Cursor: fr.Cursor})
		require.NoError(t, err)
		require.LessOrEqual(t, len(fr.Docs), 1)
		got = append(got, fr.Docs...)
	}
	all, err := c.Find(ctx, "products", api.FindRequest{Filter: json.RawMessage(`{"price":{"$lt":100}}`), Sort: json.RawMessage(`{"price":1}`)})
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(all.Docs), 2)
	require.Equal(t, all.Docs, got)
	// A cursor alone for _search too.
	_, next, err = c.Search(ctx, "products", `{"price":{"$gt":1}}`, client.SearchOptions{Limit: 2, Sort: "-price"})
	require.NoError(t, err)
	docs, next, err = c.Search(ctx, "products", nil, client.SearchOptions{Cursor: next})
	require.NoError(t, err)
	require.Len(t, docs, 1)
	require.Empty(t, next)
	n, err := c.Count(ctx, "products", nil)
	require.NoError(t, err)
	require.Equal(t, int64(4), n)
	n, err = c.Count(ctx, "products", json.RawMessage(`{"price":{"$gte":100}}`))
	require.NoError(t, err)
	vals, err := c.Distinct(ctx, "products", "price", json.RawMessage(`{"price":{"$lt":100}}`))
	require.NoError(t, err)
	require.Equal(t, []json.RawMessage{json.RawMessage(`2`), json.RawMessage(`25`)}, vals)
	_, err = c.Distinct(ctx, "products", "", nil)
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "invalid_body", ce.Code)
	require.Equal(t, int64(1), n)
	ur, err := c.UpdateMany(ctx, "products", json.RawMessage(`{}`), json.RawMessage(`{"$set":{"sale":true}}`))
	require.NoError(t, err)
	require.Equal(t, api.UpdateResult{Matched: 4, Modified: 4}, ur)

	ix, err := c.CreateIndex(ctx, "products", api.IndexRequest{Fields: []string{"price"}})
	require.NoError(t, err)
	require.Equal(t, "price_1", ix.Name)
	ixs, err := c.Indexes(ctx, "products")
	require.NoError(t, err)
	require.Len(t, ixs, 1)
	ex, err := c.Explain(ctx, "products", api.FindRequest{Filter: json.RawMessage(`{"price":20}`)})
	require.NoError(t, err)
	require.Equal(t, "IXSCAN", ex.Plan)
	require.NoError(t, c.DropIndex(ctx, "products", "price_1"))
	require.True(t, client.IsNotFound(c.DropIndex(ctx, "products", "price_1")))

	// Collections, export and import.
	cols, err := c.Collections(ctx)
	require.NoError(t, err)
	require.Len(t, cols, 1)
	col, err := c.Collection(ctx, "products")
	require.NoError(t, err)
	require.Equal(t, int64(4), col.DocCount)
	var exp bytes.Buffer
	_, err = c.Export(ctx, "products", &exp)
	require.NoError(t, err)
	require.Equal(t, 4, strings.Count(exp.String(), "\n"))
	ir, err := c.Import(ctx, "copy", bytes.NewReader(exp.Bytes()))
	require.NoError(t, err)
	require.Equal(t, int64(4), ir.Imported)
	_, err = c.Import(ctx, "copy", strings.NewReader(`{"a":`))
	require.ErrorAs(t, err, &ce)
	require.Equal(t, http.StatusBadRequest, ce.Status)

	// Dump and restore.
	var dump bytes.Buffer
	_, err = c.Dump(ctx, &dump)
	require.NoError(t, err)
	c2 := newServer(t, httpd.Config{})
	st, err := c2.Restore(ctx, bytes.NewReader(dump.Bytes()))
	require.NoError(t, err)
	require.Equal(t, int64(8), st.Documents)
	var dump2 bytes.Buffer
	_, err = c2.Dump(ctx, &dump2)
	require.NoError(t, err)
	require.Equal(t, dump.String(), dump2.String())

	n, err = c.DeleteMany(ctx, "copy", json.RawMessage(`{}`))
	require.NoError(t, err)
	require.Equal(t, int64(4), n)
	require.NoError(t, c.DropCollection(ctx, "copy"))
	require.True(t, client.IsNotFound(c.DropCollection(ctx, "copy")))

	// Admin.
	m, err := c.Metrics(ctx)
	require.NoError(t, err)
	require.Positive(t, m.Puts)
	prom, err := c.PrometheusMetrics(ctx)
	require.NoError(t, err)
	require.Contains(t, string(prom), "minidbgo_engine_puts_total")
	sts, err := c.Stats(ctx)
	require.NoError(t, err)
	require.Positive(t, sts.GoNumGoroutine)
	cs, err := c.Compact(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, cs.Status)
	_, err = c.GC(ctx)
	require.NoError(t, err)
	_, err = c2.GC(ctx)
	require.ErrorAs(t, err, &ce)
	require.Equal(t, http.StatusForbidden, ce.Status)
}

func TestClientAuth(t *testing.T) {
	ctx := context.Background()
	keys, err := httpd.ParseKeys("client-key-0123456789:write")
	require.NoError(t, err)
	c := newServer(t, httpd.Config{Keys: keys})
	_, err = c.Collections(ctx)
	var ce *client.Error
	require.True(t, errors.As(err, &ce))
	require.Equal(t, http.StatusUnauthorized, ce.Status)
	require.Equal(t, "unauthorized", ce.Code)
	c.APIKey = "client-key-0123456789"
	_, err = c.Collections(ctx)
	require.NoError(t, err)
	_, err = c.Compact(ctx)
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "forbidden", ce.Code)

	// A non-JSON error body (not from this server) still becomes an Error.
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad gateway", http.StatusBadGateway)
	}))
	defer ts.Close()
	_, err = client.New(ts.URL).Health(ctx)
	require.ErrorAs(t, err, &ce)
	require.Equal(t, http.StatusBadGateway, ce.Status)
	require.Equal(t, "http_502", ce.Code)
	require.Equal(t, "bad gateway", ce.Message)
}
