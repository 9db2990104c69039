package httpd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/httpd/client"
	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// newClient starts a server (newEnv) and returns a client of it, which
// sends its requests through the env's HTTP client.
func newClient(t *testing.T, cfg Config) (*client.Client, *env) {
	t.Helper()
	e := newEnv(t, envOptions{cfg: cfg})
	c := client.New(e.url + "/")
	c.HTTPClient = e.hc
	return c, e
}

func newServer(t *testing.T, cfg Config) *client.Client {
	t.Helper()
	c, _ := newClient(t, cfg)
	return c
}

func TestClient(t *testing.T) {
	ctx := context.Background()
	c := newServer(t, Config{DebugOpen: true})

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

	var doc json.RawMessage
	rev, err := c.Get(ctx, "products", "p1", &doc)
	require.NoError(t, err)
	require.JSONEq(t, `{"_id":"p1","name":"lamp","price":20}`, string(doc))
	require.Equal(t, wr.Rev, rev)
	_, err = c.Get(ctx, "products", "nope", nil)
	require.True(t, client.IsNotFound(err))

	pr, err := c.Put(ctx, "products", "a/b", `{"name":"slash"}`, nil)
	require.NoError(t, err)
	require.True(t, pr.Created)
	_, err = c.Get(ctx, "products", "a/b", &doc)
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

	fr, err := c.Find(ctx, "products", client.Query{Filter: json.RawMessage(`{"price":{"$lt":100}}`), Sort: map[string]int{"price": 1}, Limit: 1})
	require.NoError(t, err)
	require.Len(t, fr.Docs, 1)
	require.NotEmpty(t, fr.Cursor)
	// The cursor alone continues its query, a page of one at a time.
	got := []json.RawMessage{fr.Docs[0]}
	for fr.Cursor != "" {
		fr, err = c.Find(ctx, "products", client.Query{Cursor: fr.Cursor})
		require.NoError(t, err)
		require.LessOrEqual(t, len(fr.Docs), 1)
		got = append(got, fr.Docs...)
	}
	all, err := c.Find(ctx, "products", client.Query{Filter: `{"price":{"$lt":100}}`, Sort: "price"})
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
	ex, err := c.Explain(ctx, "products", client.Query{Filter: map[string]any{"price": 20}})
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
	c2 := newServer(t, Config{})
	st, err := c2.Restore(ctx, bytes.NewReader(dump.Bytes()))
	require.NoError(t, err)
	require.Equal(t, int64(8), st.Documents)
	var dump2 bytes.Buffer
	_, err = c2.Dump(ctx, &dump2)
	require.NoError(t, err)
	require.Equal(t, dumpBody(t, dump.Bytes()), dumpBody(t, dump2.Bytes()))

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
	keys, err := ParseKeys("client-key-0123456789:write")
	require.NoError(t, err)
	c := newServer(t, Config{Keys: keys})
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

// TestClientWhoamiCreateCollection: Whoami reports the key's scope (and
// admin without keys); CreateCollection makes an empty collection, again
// is no error, and a bad name or a read key is the server's error.
func TestClientWhoamiCreateCollection(t *testing.T) {
	ctx := context.Background()
	keys, err := ParseKeys("client-read-0123456789:read,client-write-0123456789:write")
	require.NoError(t, err)
	c := newServer(t, Config{Keys: keys})
	var ce *client.Error
	_, err = c.Whoami(ctx)
	require.ErrorAs(t, err, &ce)
	require.Equal(t, http.StatusUnauthorized, ce.Status)

	c.APIKey = "client-read-0123456789"
	w, err := c.Whoami(ctx)
	require.NoError(t, err)
	require.Equal(t, api.Whoami{Role: "read", Auth: true}, w)
	_, err = c.CreateCollection(ctx, "empty")
	require.ErrorAs(t, err, &ce)
	require.Equal(t, http.StatusForbidden, ce.Status)

	c.APIKey = "client-write-0123456789"
	w, err = c.Whoami(ctx)
	require.NoError(t, err)
	require.Equal(t, api.Whoami{Role: "write", Auth: true}, w)
	col, err := c.CreateCollection(ctx, "empty")
	require.NoError(t, err)
	require.Equal(t, api.Collection{Name: "empty"}, col)
	col, err = c.CreateCollection(ctx, "empty")
	require.NoError(t, err, "creating an existing collection is no error")
	require.Equal(t, "empty", col.Name)
	cols, err := c.Collections(ctx)
	require.NoError(t, err)
	require.Equal(t, []api.Collection{{Name: "empty"}}, cols)
	_, err = c.CreateCollection(ctx, "bad/name")
	require.ErrorAs(t, err, &ce)
	require.Equal(t, http.StatusBadRequest, ce.Status)
	require.Equal(t, "invalid_name", ce.Code)

	// Without keys, everyone is admin.
	open := newServer(t, Config{})
	w, err = open.Whoami(ctx)
	require.NoError(t, err)
	require.Equal(t, api.Whoami{Role: "admin", Auth: false}, w)
}

type product struct {
	ID    string  `json:"_id"`
	Name  string  `json:"name"`
	Price float64 `json:"price"`
}

// TestClientTypedValues: documents, filters and updates are any value
// encoded to JSON, or JSON text; Get decodes into a struct.
func TestClientTypedValues(t *testing.T) {
	ctx := context.Background()
	c := newServer(t, Config{})

	_, err := c.Insert(ctx, "products", product{ID: "p1", Name: "lamp", Price: 20}, nil)
	require.NoError(t, err)
	im, err := c.InsertMany(ctx, "products", []product{{ID: "p2", Name: "desk", Price: 150}, {ID: "p3", Name: "pen", Price: 2}})
	require.NoError(t, err)
	require.Equal(t, 2, im.Inserted)
	_, err = c.InsertNew(ctx, "products", []json.RawMessage{json.RawMessage(`{"_id":"p4","name":"chair","price":90}`)})
	require.NoError(t, err)

	var p product
	rev, err := c.Get(ctx, "products", "p2", &p)
	require.NoError(t, err)
	require.Positive(t, rev)
	require.Equal(t, product{ID: "p2", Name: "desk", Price: 150}, p)
	var m map[string]any
	_, err = c.Get(ctx, "products", "p3", &m)
	require.NoError(t, err)
	require.Equal(t, "pen", m["name"])

	type gt struct {
		Gt float64 `json:"$gt"`
	}
	n, err := c.Count(ctx, "products", map[string]gt{"price": {10}})
	require.NoError(t, err)
	require.Equal(t, int64(3), n)
	n, err = c.Count(ctx, "products", `{"price": {"$gt": 10}}`)
	require.NoError(t, err)
	require.Equal(t, int64(3), n)
	n, err = c.Count(ctx, "products", json.RawMessage(nil))
	require.NoError(t, err)
	require.Equal(t, int64(4), n)
	vals, err := c.Distinct(ctx, "products", "name", map[string]any{"price": map[string]any{"$lt": 100}})
	require.NoError(t, err)
	require.Len(t, vals, 3)
	ur, err := c.UpdateMany(ctx, "products", map[string]any{}, map[string]any{"$inc": map[string]int{"price": 1}})
	require.NoError(t, err)
	require.Equal(t, int64(4), ur.Modified)
	ur, err = c.UpsertMany(ctx, "products", map[string]string{"_id": "p9"}, map[string]any{"$set": map[string]string{"name": "new"}})
	require.NoError(t, err)
	require.Equal(t, "p9", ur.UpsertedID)
	_, err = c.Get(ctx, "products", "p2", &p)
	require.NoError(t, err)
	require.Equal(t, 151.0, p.Price)
	del, err := c.DeleteMany(ctx, "products", map[string]any{"price": map[string]any{"$gt": 100}})
	require.NoError(t, err)
	require.Equal(t, int64(1), del)

	// A document that cannot be encoded is the caller's error, sent nowhere.
	_, err = c.Insert(ctx, "products", map[string]any{"f": func() {}}, nil)
	require.ErrorContains(t, err, "encode request")
	// A body that is not the type asked for fails to decode, with the route named.
	var wrong []int
	_, err = c.Get(ctx, "products", "p1", &wrong)
	require.ErrorContains(t, err, "decode products/p1")
}

// TestClientDocuments: the iterator walks every page of a query, stops
// when the loop breaks, and yields the server's error.
func TestClientDocuments(t *testing.T) {
	ctx := context.Background()
	c := newServer(t, Config{})
	var docs []product
	for i := range 25 {
		docs = append(docs, product{ID: fmt.Sprintf("p%02d", i), Price: float64(i)})
	}
	_, err := c.InsertMany(ctx, "products", docs)
	require.NoError(t, err)

	var got []string
	for doc, err := range c.Documents(ctx, "products", client.Query{Filter: `{"price": {"$gte": 3}}`, Sort: "-price", Fields: "price", Limit: 4}) {
		require.NoError(t, err)
		var p product
		require.NoError(t, json.Unmarshal(doc, &p))
		got = append(got, p.ID)
	}
	require.Len(t, got, 22)
	require.Equal(t, "p24", got[0])
	require.Equal(t, "p03", got[21])

	n := 0
	for _, err := range c.Documents(ctx, "products", client.Query{Limit: 2}) {
		require.NoError(t, err)
		if n++; n == 3 {
			break
		}
	}
	require.Equal(t, 3, n)

	var errs []error
	for doc, err := range c.Documents(ctx, "products", client.Query{Filter: `{"$bogus": 1}`}) {
		require.Nil(t, doc)
		errs = append(errs, err)
	}
	require.Len(t, errs, 1)
	var ce *client.Error
	require.ErrorAs(t, errs[0], &ce)
	require.Equal(t, http.StatusBadRequest, ce.Status)
}

// TestClientRetry: a 503 carries its Retry-After as a duration; with a
// retry policy the client resends the refused request until the server
// has room, without one it returns the 503.
func TestClientRetry(t *testing.T) {
	ctx := context.Background()
	c, e := newClient(t, Config{MaxConcurrent: 1})
	hold, held := make(chan struct{}), make(chan struct{})
	e.srv.testHook = func(r *http.Request) {
		if r.URL.Path == "/api/blocker" {
			close(held)
			<-hold
		}
	}
	blocked := make(chan error, 1)
	go func() {
		_, err := c.Collection(ctx, "blocker")
		blocked <- err
	}()
	<-held

	_, err := c.Insert(ctx, "products", product{ID: "p1"}, nil)
	var ce *client.Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, http.StatusServiceUnavailable, ce.Status)
	require.Equal(t, "overloaded", ce.Code)
	require.Equal(t, time.Second, ce.RetryAfter)

	c.Retry = &client.Retry{Attempts: 1000, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
	done := make(chan error, 1)
	go func() {
		_, err := c.Insert(ctx, "products", product{ID: "p2", Name: "retried"}, nil)
		done <- err
	}()
	// Let the retrying client be refused at least twice, then make room.
	before := e.srv.metrics.rejectedBusy.Load()
	for e.srv.metrics.rejectedBusy.Load() < before+2 {
		time.Sleep(time.Millisecond)
	}
	close(hold)
	require.NoError(t, <-done)
	require.True(t, client.IsNotFound(<-blocked))
	var p product
	_, err = c.Get(ctx, "products", "p2", &p)
	require.NoError(t, err)
	require.Equal(t, "retried", p.Name)

	// A 4xx is not retried.
	_, err = c.Get(ctx, "products", "nope", nil)
	require.True(t, client.IsNotFound(err))
}

// TestClientModuleStandsAlone: the client is a module of its own whose
// go.mod requires and replaces nothing, and whose packages import only
// the standard library and each other, so `go get` resolves it and a
// program that uses it does not link the server.
func TestClientModuleStandsAlone(t *testing.T) {
	mod, err := os.ReadFile("client/go.mod")
	require.NoError(t, err, "httpd/client must be a module")
	require.Contains(t, string(mod), "module github.com/minidbgo/minidbgo/httpd/client\n")
	require.NotContains(t, string(mod), "require")
	require.NotContains(t, string(mod), "replace")
	files, err := filepath.Glob("client/*.go")
	require.NoError(t, err)
	more, err := filepath.Glob("client/*/*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	for _, f := range append(files, more...) {
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		require.NoError(t, err)
		for _, im := range af.Imports {
			path := strings.Trim(im.Path.Value, `"`)
			first, _, _ := strings.Cut(path, "/")
			if strings.Contains(first, ".") {
				require.True(t, strings.HasPrefix(path, "github.com/minidbgo/minidbgo/httpd/client"),
					"%s imports %s: the client module must depend on nothing else", f, path)
			}
		}
	}
}

// TestClientExample runs the steps of the client module's Example
// (httpd/client/example_test.go, which needs a running server and so is
// only compiled there) against a real server, checking what it prints.
func TestClientExample(t *testing.T) {
	ctx := context.Background()
	keys, err := ParseKeys("example-key-0123456789:write")
	require.NoError(t, err)
	c, _ := newClient(t, Config{Keys: keys})
	c.APIKey = "example-key-0123456789"
	c.Retry = &client.Retry{Attempts: 5}

	_, err = c.Insert(ctx, "products", product{ID: "p1", Name: "lamp", Price: 20}, nil)
	require.NoError(t, err)
	_, err = c.InsertMany(ctx, "products", []product{{ID: "p2", Name: "desk", Price: 150}, {ID: "p3", Name: "pen", Price: 2}})
	require.NoError(t, err)
	var p product
	rev, err := c.Get(ctx, "products", "p1", &p)
	require.NoError(t, err)
	require.Equal(t, "lamp 20", fmt.Sprintln(p.Name, p.Price)[:7])
	_, err = c.Patch(ctx, "products", "p1", map[string]any{"$inc": map[string]any{"price": 5}}, &client.WriteOptions{IfMatch: rev})
	require.NoError(t, err)
	_, err = c.Patch(ctx, "products", "p1", map[string]any{"$inc": map[string]any{"price": 5}}, &client.WriteOptions{IfMatch: rev})
	var e *client.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, http.StatusPreconditionFailed, e.Status)
	n, err := c.Count(ctx, "products", `{"price": {"$gt": 10}}`)
	require.NoError(t, err)
	require.Equal(t, int64(2), n)
	var lines []string
	for doc, err := range c.Documents(ctx, "products", client.Query{Filter: map[string]any{}, Sort: "-price", Limit: 100}) {
		require.NoError(t, err)
		lines = append(lines, string(doc))
	}
	require.Equal(t, []string{
		`{"_id":"p2","name":"desk","price":150}`,
		`{"_id":"p1","name":"lamp","price":25}`,
		`{"_id":"p3","name":"pen","price":2}`,
	}, lines)
	_, err = c.Get(ctx, "products", "nope", nil)
	require.ErrorAs(t, err, &e)
	require.Equal(t, "404 not_found", fmt.Sprint(e.Status, " ", e.Code))
}

// TestClientRouteNamedIDs: documents whose ids are collection route
// names (_find, _indexes, …) are read, replaced, patched and deleted
// through the client, which escapes their leading underscore.
func TestClientRouteNamedIDs(t *testing.T) {
	ctx := context.Background()
	c, _ := newClient(t, Config{})
	for _, id := range []string{"_find", "_indexes", "_x", "_"} {
		_, err := c.Insert(ctx, "products", product{ID: id, Name: "a"}, nil)
		require.NoError(t, err, id)
		var p product
		_, err = c.Get(ctx, "products", id, &p)
		require.NoError(t, err, id)
		require.Equal(t, "a", p.Name, id)
		_, err = c.Put(ctx, "products", id, product{ID: id, Name: "b"}, nil)
		require.NoError(t, err, id)
		_, err = c.Patch(ctx, "products", id, map[string]any{"$set": map[string]any{"price": 2}}, nil)
		require.NoError(t, err, id)
		_, err = c.Get(ctx, "products", id, &p)
		require.NoError(t, err, id)
		require.Equal(t, product{ID: id, Name: "b", Price: 2}, p, id)
		require.NoError(t, c.Delete(ctx, "products", id, nil), id)
		_, err = c.Get(ctx, "products", id, &p)
		require.True(t, client.IsNotFound(err), "%s: %v", id, err)
	}
}
