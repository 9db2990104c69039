package httpd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd/client/api"
	"github.com/minidbgo/minidbgo/storage"
	"github.com/minidbgo/minidbgo/storage/vfs"
)

// env is a server over a docstore on an in-memory filesystem, served by
// an httptest server on 127.0.0.1:0. Everything is closed by t.Cleanup.
type env struct {
	t   testing.TB
	db  *docstore.DB
	srv *Server
	ts  *httptest.Server
	url string
	hc  *http.Client
	key string // sent as Authorization: Bearer when set
}

type envOptions struct {
	cfg      Config
	storage  *storage.Options
	docstore *docstore.Options
	// configure adjusts the http.Server before it starts.
	configure func(*http.Server)
	// closeErrOK tolerates an error from closing the database (tests
	// that break the engine).
	closeErrOK bool
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	so := storage.Options{}
	if o.storage != nil {
		so = *o.storage
	}
	if so.FS == nil {
		so.FS = vfs.NewMem()
	}
	do := docstore.Options{}
	if o.docstore != nil {
		do = *o.docstore
	}
	do.Storage = &so
	db, err := docstore.Open("db", &do)
	require.NoError(t, err)
	cfg := o.cfg
	if cfg.StatsInterval == 0 {
		cfg.StatsInterval = -1
	}
	srv := New(db, cfg)
	ts := httptest.NewUnstartedServer(srv)
	ts.Config.ReadHeaderTimeout = 5 * time.Second
	ts.Config.MaxHeaderBytes = 64 << 10
	if o.configure != nil {
		o.configure(ts.Config)
	}
	ts.Listener = JSONErrors(ts.Listener)
	ts.Start()
	// Every response the test receives through e.hc is checked against
	// docs/openapi.yaml.
	hc := ts.Client()
	hc.Transport = &specTransport{t: t, base: hc.Transport}
	e := &env{t: t, db: db, srv: srv, ts: ts, url: ts.URL, hc: hc}
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
		if err := db.Close(); !o.closeErrOK {
			require.NoError(t, err)
		}
	})
	return e
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), "body: %s", r.body)
}

// do sends a request. body may be nil, a string or []byte; hdr pairs are
// header name, value.
func (e *env) do(method, path string, body any, hdr ...string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		rd = b
	default:
		e.t.Fatalf("body type %T", body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	require.NoError(e.t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if e.key != "" {
		req.Header.Set("Authorization", "Bearer "+e.key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := e.hc.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// mustStatus fails unless the response has the status.
func mustStatus(t testing.TB, r response, status int) response {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	return r
}

// errorBody checks a JSON error response: status, code, the body's
// status and a request id matching the X-Request-ID header.
func errorBody(t testing.TB, r response, status int, code string) api.Error {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	require.Equal(t, "application/json", r.header.Get("Content-Type"), "body: %s", r.body)
	var e api.Error
	require.NoError(t, json.Unmarshal(r.body, &e), "body: %s", r.body)
	require.Equal(t, status, e.Status)
	if code != "" {
		require.Equal(t, code, e.Code, "body: %s", r.body)
	}
	require.NotEmpty(t, e.Error)
	require.NotEmpty(t, e.RequestID)
	require.Equal(t, r.header.Get("X-Request-ID"), e.RequestID)
	require.NotContains(t, string(r.body), "goroutine ", "no stack traces in responses")
	return e
}

// state is a fingerprint of the whole database: the hash of a full dump
// and the engine's last sequence number (which any write advances).
func (e *env) state() string {
	e.t.Helper()
	h := sha256.New()
	_, err := e.db.Dump(context.Background(), h)
	require.NoError(e.t, err)
	return hex.EncodeToString(h.Sum(nil)) + "/" + jsonString(e.db.Metrics().LastSeq)
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// healthy checks that the server still answers.
func (e *env) healthy() {
	e.t.Helper()
	r := e.do("GET", "/api/health", nil)
	require.Equal(e.t, http.StatusOK, r.status)
	require.JSONEq(e.t, `{"status":"ok","version":"dev"}`, string(r.body))
}

// seed stores a few products.
func (e *env) seed() {
	e.t.Helper()
	for _, d := range []string{
		`{"_id":"p1","name":"lamp","category":"home","price":20}`,
		`{"_id":"p2","name":"desk","category":"home","price":150}`,
		`{"_id":"p3","name":"pen","category":"office","price":2}`,
		`{"_id":"p4","name":"chair","category":"office","price":90}`,
	} {
		mustStatus(e.t, e.do("POST", "/api/products", d), http.StatusCreated)
	}
}
