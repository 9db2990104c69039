package httpd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/storage"
	"github.com/minidbgo/minidbgo/storage/vfs"
)

// The allocations of one request through the whole handler chain
// (Server.ServeHTTP: router, middleware, handler, docstore and the
// engine on its in-memory filesystem), as testing.AllocsPerRun counts
// them. net/http's own per-connection and per-request allocations (the
// Request read off the wire, the response's header map and buffers) are
// not in them: the request is built once and the ResponseWriter reused.
// docs/benchmarks.md keeps the table; maxGetAllocs and maxPostAllocs
// bound the counts (they are deterministic, up to a sync.Pool emptied
// by a collection).
const (
	maxGetAllocs  = 15
	maxPostAllocs = 50
)

// benchWriter is a reusable http.ResponseWriter that keeps nothing.
type benchWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *benchWriter) Header() http.Header { return w.h }

func (w *benchWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *benchWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(b)
	return len(b), nil
}

// SetReadDeadline and SetWriteDeadline do nothing: they are there for
// http.ResponseController, as net/http's ResponseWriter has them.
func (w *benchWriter) SetReadDeadline(time.Time) error  { return nil }
func (w *benchWriter) SetWriteDeadline(time.Time) error { return nil }

func (w *benchWriter) reset() {
	clear(w.h)
	w.status, w.n = 0, 0
}

// rewindBody is a request body that can be refilled without allocating.
type rewindBody struct {
	b   []byte
	off int
}

func (r *rewindBody) Read(p []byte) (int, error) {
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

func (r *rewindBody) Close() error { return nil }

// allocServer is a server as the guide runs it (its defaults, the
// access log on into a discarding logger) over an in-memory database
// holding products/p1.
func allocServer(tb testing.TB) *Server {
	tb.Helper()
	db, err := docstore.Open("db", &docstore.Options{Storage: &storage.Options{FS: vfs.NewMem()}})
	require.NoError(tb, err)
	_, err = db.InsertOne(context.Background(), "products", []byte(`{"_id":"p1","name":"lamp","price":12.5,"tags":["home","light"]}`), docstore.WriteOptions{})
	require.NoError(tb, err)
	srv := New(db, Config{StatsInterval: -1, AccessLog: true, Logger: discardJSONLogger()})
	tb.Cleanup(func() {
		srv.Close()
		require.NoError(tb, db.Close())
	})
	return srv
}

// discardJSONLogger is the server's JSON logger (NewLogHandler, as
// LOG_FORMAT=json makes it) writing to io.Discard.
func discardJSONLogger() *slog.Logger {
	h, err := NewLogHandler(io.Discard, "json", nil)
	if err != nil {
		panic(err)
	}
	return slog.New(h)
}

// getRun returns a func serving one hot GET /api/products/p1.
func getRun(tb testing.TB, srv *Server) func() {
	r := httptest.NewRequest(http.MethodGet, "/api/products/p1", nil)
	r.RemoteAddr = "192.0.2.1:40000"
	r.Header.Set("Accept-Encoding", "gzip")
	w := &benchWriter{h: make(http.Header)}
	return func() {
		w.reset()
		srv.ServeHTTP(w, r)
		if w.status != http.StatusOK {
			tb.Fatalf("GET: status %d", w.status)
		}
	}
}

// postRun returns a func serving one POST /api/products of a new
// document of about 200 bytes (n of them prepared).
func postRun(tb testing.TB, srv *Server, n int) func() {
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = fmt.Appendf(nil, `{"_id":"w1-%08d","name":"product %d","price":%d.5,"tags":["home","light","sale"],"note":%q}`,
			i, i, i%1000, strings.Repeat("x", 80))
	}
	body := &rewindBody{}
	r := httptest.NewRequest(http.MethodPost, "/api/products", nil)
	r.RemoteAddr = "192.0.2.1:40000"
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept-Encoding", "gzip")
	w := &benchWriter{h: make(http.Header)}
	i := 0
	return func() {
		body.b, body.off = bodies[i%n], 0
		i++
		r.Body, r.ContentLength = body, int64(len(body.b))
		w.reset()
		srv.ServeHTTP(w, r)
		if w.status != http.StatusCreated {
			tb.Fatalf("POST: status %d", w.status)
		}
	}
}

// TestAllocsPerRequest bounds the allocations of a hot GET and of a
// POST of a new document through the whole handler chain.
func TestAllocsPerRequest(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	srv := allocServer(t)
	get := getRun(t, srv)
	get()
	g := testing.AllocsPerRun(200, get)
	p := testing.AllocsPerRun(200, postRun(t, srv, 201))
	t.Logf("allocations per request: GET %v, POST %v", g, p)
	require.LessOrEqual(t, g, float64(maxGetAllocs), "GET /api/products/p1")
	require.LessOrEqual(t, p, float64(maxPostAllocs), "POST /api/products")
}

func BenchmarkServeGET(b *testing.B) {
	run := getRun(b, allocServer(b))
	b.ReportAllocs()
	for b.Loop() {
		run()
	}
}

func BenchmarkServePOST(b *testing.B) {
	run := postRun(b, allocServer(b), 1<<16)
	b.ReportAllocs()
	for b.Loop() {
		run()
	}
}
