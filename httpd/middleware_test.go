package httpd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/storage"
)

func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(&lockedWriter{w: w}, nil))
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestConcurrencyLimit fills every slot with blocked requests: the next
// request is answered 503 with Retry-After at once, while health and
// readiness still answer.
func TestConcurrencyLimit(t *testing.T) {
	const limit = 4
	e := newEnv(t, envOptions{cfg: Config{MaxConcurrent: limit}})
	e.seed()
	entered := make(chan struct{}, limit)
	release := make(chan struct{})
	e.srv.testHook = func(r *http.Request) {
		if r.URL.Query().Get("block") != "" {
			entered <- struct{}{}
			<-release
		}
	}
	var wg sync.WaitGroup
	statuses := make(chan int, limit)
	for range limit {
		wg.Go(func() {
			statuses <- e.do("GET", "/api/products/p1?block=1", nil).status
		})
	}
	for range limit {
		<-entered
	}
	start := time.Now()
	r := errorBody(t, e.do("GET", "/api/products/p1", nil), http.StatusServiceUnavailable, "overloaded")
	_ = r
	r2 := e.do("POST", "/api/products", `{"_id":"p9"}`)
	require.Equal(t, http.StatusServiceUnavailable, r2.status)
	require.Equal(t, "1", r2.header.Get("Retry-After"))
	require.Less(t, time.Since(start), time.Second, "excess requests are refused at once, not queued")
	e.healthy()
	mustStatus(t, e.do("GET", "/api/ready", nil), http.StatusOK)

	close(release)
	wg.Wait()
	close(statuses)
	for s := range statuses {
		require.Equal(t, http.StatusOK, s)
	}
	mustStatus(t, e.do("GET", "/api/products/p1", nil), http.StatusOK)
	errorBody(t, e.do("GET", "/api/products/p9", nil), http.StatusNotFound, "not_found")
	var m struct {
		Busy uint64 `json:"http_rejected_busy"`
	}
	e.do("GET", "/api/metrics", nil).json(t, &m)
	require.Equal(t, uint64(2), m.Busy)
}

func TestRequestTimeout(t *testing.T) {
	e := newEnv(t, envOptions{cfg: Config{RequestTimeout: time.Nanosecond}})
	// A write past the timeout answers 504 and stores nothing.
	errorBody(t, e.do("POST", "/api/products", `{"_id":"p1","name":"lamp"}`), http.StatusGatewayTimeout, "timeout")
	_, err := e.db.Get(context.Background(), "products", "p1")
	require.ErrorIs(t, err, docstore.ErrNotFound)
	_, err = e.db.InsertOne(context.Background(), "products", []byte(`{"_id":"p1","name":"lamp"}`), docstore.WriteOptions{})
	require.NoError(t, err)
	errorBody(t, e.do("POST", "/api/products/_find", `{}`), http.StatusGatewayTimeout, "timeout")
	errorBody(t, e.do("POST", "/api/products/_search", `{}`), http.StatusGatewayTimeout, "timeout")
	e.healthy()
}

func TestRequestIDAndAccessLog(t *testing.T) {
	var logs bytes.Buffer
	e := newEnv(t, envOptions{cfg: Config{Logger: newTestLogger(&logs), AccessLog: true}})
	r := mustStatus(t, e.do("POST", "/api/c", `{"_id":"a","secret":"hunter2"}`, "X-Request-ID", "my-req.1"), http.StatusCreated)
	require.Equal(t, "my-req.1", r.header.Get("X-Request-ID"))
	errorBody(t, e.do("GET", "/api/c/zz", nil, "X-Request-ID", "bad id with spaces"), http.StatusNotFound, "not_found")
	e.do("GET", "/api/c/a", nil)

	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		if m["msg"] == "request" {
			lines = append(lines, m)
		}
	}
	require.Len(t, lines, 3)
	first := lines[0]
	require.Equal(t, "my-req.1", first["request_id"])
	require.Equal(t, "POST", first["method"])
	require.Equal(t, "/api/{col}", first["route"])
	require.Equal(t, float64(201), first["status"])
	require.Contains(t, first, "duration_ms")
	require.Positive(t, first["bytes"])
	require.NotEqual(t, "bad id with spaces", lines[1]["request_id"])
	require.Equal(t, "/api/{col}/{id}", lines[1]["route"])
	require.NotContains(t, logs.String(), "hunter2", "bodies are never logged")
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	e := newEnv(t, envOptions{})
	// GET / redirects to the web console (TestConsoleAssets).
	for _, p := range []string{"/nope", "/api", "/api/c/a/b/c", "/metrics/x", "/console/x/y"} {
		errorBody(t, e.do("GET", p, nil), http.StatusNotFound, "route_not_found")
	}
	r := e.do("PUT", "/api/c", `{}`)
	errorBody(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
	require.Equal(t, "GET, HEAD, POST, DELETE", r.header.Get("Allow"))
	r = e.do("GET", "/api/c/_indexes/x", nil)
	errorBody(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
	require.Equal(t, "DELETE", r.header.Get("Allow"))
	// A collection route's name is not a document id: another method is
	// 405 with the route's methods, not a read or write of a document
	// named "_insertMany" (PUT /api/c/_update must not store one). A
	// document with such an id is reached with the id escaped.
	for _, m := range []string{"GET", "PUT", "PATCH", "DELETE"} {
		before := e.state()
		r = e.do(m, "/api/c/_insertMany", `{"a":1}`)
		errorBody(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
		require.Equal(t, "POST", r.header.Get("Allow"), m)
		require.Equal(t, before, e.state(), m)
	}
	r = e.do("PUT", "/api/c/_indexes", `{}`)
	errorBody(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
	require.Equal(t, "GET, HEAD, POST", r.header.Get("Allow"))
	mustStatus(t, e.do("POST", "/api/c", `{"_id":"_update","v":1}`), http.StatusCreated)
	mustStatus(t, e.do("PUT", "/api/c/%5Fupdate", `{"v":2}`), http.StatusOK)
	r = mustStatus(t, e.do("GET", "/api/c/%5Fupdate", nil), http.StatusOK)
	require.Contains(t, string(r.body), `"v":2`)
	errorBody(t, e.do("GET", "/api/c/_other", nil), http.StatusNotFound, "not_found")
	r = e.do("PUT", "/api/_compact", nil)
	require.Equal(t, http.StatusMethodNotAllowed, r.status)
	require.Contains(t, r.header.Get("Allow"), "POST")
	r = e.do("POST", "/metrics", nil)
	errorBody(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
	require.Equal(t, "GET, HEAD", r.header.Get("Allow"))
	r = e.do("TRACE", "/api/health", nil)
	require.Equal(t, http.StatusMethodNotAllowed, r.status)
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t, envOptions{cfg: Config{MaxBodyBytes: 1000}})
	before := e.state()
	big := `{"a":"` + strings.Repeat("x", 1000) + `"}`
	errorBody(t, e.do("POST", "/api/c", big), http.StatusRequestEntityTooLarge, "body_too_large")
	// Chunked (no Content-Length): cut off while reading.
	req, err := http.NewRequest("POST", e.url+"/api/c", io.MultiReader(strings.NewReader(big)))
	require.NoError(t, err)
	req.ContentLength = -1
	resp, err := e.hc.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	errorBody(t, response{status: resp.StatusCode, header: resp.Header, body: b}, http.StatusRequestEntityTooLarge, "body_too_large")
	require.Equal(t, before, e.state())
	mustStatus(t, e.do("POST", "/api/c", `{"a":1}`), http.StatusCreated)
}

func TestStatusOf(t *testing.T) {
	req := httptest.NewRequest("GET", "/", nil)
	cases := []struct {
		err    error
		status int
		code   string
	}{
		{storage.ErrBusy, 503, "busy"},
		{storage.ErrReadOnly, 503, "unavailable"},
		{storage.ErrClosed, 503, "unavailable"},
		{context.DeadlineExceeded, 504, "timeout"},
		{errors.New("disk on fire"), 500, "internal"},
		{&http.MaxBytesError{Limit: 1}, 413, "body_too_large"},
		{docstore.ErrNotFound, 404, "not_found"},
		{&docstore.Error{Code: "unique_violation"}, 409, "unique_violation"},
		{&docstore.Error{Code: "exists"}, 409, "exists"},
		{&docstore.Error{Code: "document_too_large"}, 413, "document_too_large"},
		{&docstore.Error{Code: "history_lost"}, 410, "history_lost"},
		{&docstore.Error{Code: "anything_else"}, 400, "anything_else"},
		{reqErr(codeRateLimited, "x"), 429, codeRateLimited},
	}
	for _, c := range cases {
		st, code := statusOf(req, c.err)
		require.Equal(t, c.status, st, "%v", c.err)
		require.Equal(t, c.code, code, "%v", c.err)
	}
	st, _ := statusOf(httptest.NewRequest("GET", "/", nil), &docstore.Error{Code: "exists"})
	require.Equal(t, 409, st)

	// A client that went away: 499, not a server error; a Canceled error
	// with the client still there is one.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	st, code := statusOf(req.WithContext(ctx), fmt.Errorf("scan: %w", context.Canceled))
	require.Equal(t, 499, st)
	require.Equal(t, "client_closed_request", code)
	st, _ = statusOf(req, context.Canceled)
	require.Equal(t, 500, st)

	// Server errors do not leak their message.
	e := newEnv(t, envOptions{})
	w := httptest.NewRecorder()
	e.srv.writeError(w, req, errors.New("disk on fire at /secret/path"))
	require.Equal(t, 500, w.Code)
	require.NotContains(t, w.Body.String(), "secret")
	w = httptest.NewRecorder()
	e.srv.writeError(w, req, storage.ErrBusy)
	require.Equal(t, "1", w.Header().Get("Retry-After"))
}

// TestHead: HEAD is answered by the GET handler without a body (curl -I),
// with the same status and headers, and the streams are not run.
func TestHead(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.seed()
	get := e.do("GET", "/api/products/p1", nil)
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/api/health", 200}, {"/api/products/p1", 200}, {"/api/products/nope", 404},
		{"/api/products", 200}, {"/api/dumpDB", 200}, {"/api/products/_export", 200},
	} {
		r := e.do("HEAD", tc.path, nil)
		require.Equal(t, tc.status, r.status, tc.path)
		require.Empty(t, r.body, tc.path)
	}
	head := e.do("HEAD", "/api/products/p1", nil)
	require.Equal(t, get.header.Get("ETag"), head.header.Get("ETag"))
	require.Equal(t, "application/x-ndjson", e.do("HEAD", "/api/dumpDB", nil).header.Get("Content-Type"))
	require.Equal(t, http.StatusNotFound, e.do("HEAD", "/api/products/p1/x", nil).status)
}
