package httpd

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	readKey  = "read-key-0123456789"
	writeKey = "write-key-0123456789"
	adminKey = "admin-key-0123456789"
)

func authEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	keys, err := ParseKeys(readKey + ":read," + writeKey + ":write," + adminKey + ":admin")
	require.NoError(t, err)
	cfg.Keys = keys
	return newEnv(t, envOptions{cfg: cfg})
}

// withoutRequestID removes request_id so that bodies can be compared.
func withoutRequestID(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	delete(m, "request_id")
	return m
}

func TestAuth(t *testing.T) {
	e := authEnv(t, Config{})
	// Health and readiness are open.
	e.healthy()
	mustStatus(t, e.do("GET", "/api/ready", nil), http.StatusOK)

	// Missing, malformed and wrong keys, and keys in the URL: 401 with
	// WWW-Authenticate and the same body.
	var bodies []map[string]any
	before := e.state()
	for _, c := range []struct {
		path string
		hdr  []string
	}{
		{"/api/_collections", nil},
		{"/api/_collections", []string{"Authorization", "Bearer wrong-key-0123456789"}},
		{"/api/_collections", []string{"Authorization", "Bearer " + readKey + "x"}},
		{"/api/_collections", []string{"Authorization", "Basic " + readKey}},
		{"/api/_collections", []string{"Authorization", "Bearer"}},
		{"/api/_collections?api_key=" + adminKey, nil},
		{"/api/_collections?api_key=" + adminKey, []string{"Authorization", "Bearer " + adminKey}},
	} {
		r := e.do("GET", c.path, nil, c.hdr...)
		errorBody(t, r, http.StatusUnauthorized, "unauthorized")
		require.Equal(t, `Bearer realm="minidbgo"`, r.header.Get("WWW-Authenticate"))
		bodies = append(bodies, withoutRequestID(t, r.body))
	}
	for _, b := range bodies[1:] {
		require.Equal(t, bodies[0], b, "401 bodies must not tell the cases apart")
	}
	errorBody(t, e.do("POST", "/api/c", `{"_id":"a"}`), http.StatusUnauthorized, "unauthorized")
	errorBody(t, e.do("GET", "/metrics", nil), http.StatusUnauthorized, "unauthorized")
	errorBody(t, e.do("GET", "/api/dumpDB", nil), http.StatusUnauthorized, "unauthorized")
	require.Equal(t, before, e.state())

	// Scopes.
	e.key = writeKey
	mustStatus(t, e.do("POST", "/api/c", `{"_id":"a"}`), http.StatusCreated)
	mustStatus(t, e.do("DELETE", "/api/c/a", nil), http.StatusOK)
	mustStatus(t, e.do("POST", "/api/c", `{"_id":"a"}`), http.StatusCreated)
	errorBody(t, e.do("POST", "/api/_compact", nil), http.StatusForbidden, "forbidden")
	errorBody(t, e.do("POST", "/api/restoreDB", `{}`), http.StatusForbidden, "forbidden")
	errorBody(t, e.do("POST", "/api/debug/gc", nil), http.StatusForbidden, "forbidden")
	errorBody(t, e.do("GET", "/debug/pprof/", nil), http.StatusForbidden, "forbidden")

	e.key = readKey
	before = e.state()
	mustStatus(t, e.do("GET", "/api/c/a", nil), http.StatusOK)
	mustStatus(t, e.do("POST", "/api/c/_search", `{}`), http.StatusOK)
	mustStatus(t, e.do("POST", "/api/c/_find", `{}`), http.StatusOK)
	mustStatus(t, e.do("POST", "/api/c/_count", `{}`), http.StatusOK)
	mustStatus(t, e.do("GET", "/api/_collections", nil), http.StatusOK)
	mustStatus(t, e.do("GET", "/api/metrics", nil), http.StatusOK)
	mustStatus(t, e.do("GET", "/api/stats", nil), http.StatusOK)
	mustStatus(t, e.do("GET", "/metrics", nil), http.StatusOK)
	mustStatus(t, e.do("GET", "/api/dumpDB", nil), http.StatusOK)
	mustStatus(t, e.do("GET", "/api/c/_export", nil), http.StatusOK)
	for _, c := range []struct{ method, path, body string }{
		{"DELETE", "/api/c/a", ""},
		{"DELETE", "/api/c", ""},
		{"POST", "/api/c", `{"_id":"b"}`},
		{"PUT", "/api/c/a", `{}`},
		{"PATCH", "/api/c/a", `{"$set":{"x":1}}`},
		{"POST", "/api/c/_insertMany", `[{}]`},
		{"POST", "/api/c/_update", `{"filter":{},"update":{"$set":{"x":1}}}`},
		{"POST", "/api/c/_delete", `{"filter":{}}`},
		{"POST", "/api/c/_indexes", `{"fields":["x"]}`},
		{"DELETE", "/api/c/_indexes/x", ""},
		{"POST", "/api/c/_import", `{}`},
		{"POST", "/api/restoreDB", `{}`},
		{"POST", "/api/_compact", ""},
		{"POST", "/api/debug/gc", ""},
	} {
		var body any
		if c.body != "" {
			body = c.body
		}
		errorBody(t, e.do(c.method, c.path, body), http.StatusForbidden, "forbidden")
	}
	require.Equal(t, before, e.state())

	e.key = adminKey
	mustStatus(t, e.do("POST", "/api/_compact", nil), http.StatusAccepted)
	mustStatus(t, e.do("POST", "/api/debug/gc", nil), http.StatusOK)
	mustStatus(t, e.do("GET", "/debug/pprof/", nil), http.StatusOK)
	mustStatus(t, e.do("POST", "/api/restoreDB", ``), http.StatusOK)
	mustStatus(t, e.do("DELETE", "/api/c", nil), http.StatusOK)
}

func TestRateLimit(t *testing.T) {
	e := authEnv(t, Config{RateLimit: 0.05, RateBurst: 3, AuthFailRate: 0.01, AuthFailBurst: 3})
	e.key = readKey
	for range 3 {
		mustStatus(t, e.do("GET", "/api/_collections", nil), http.StatusOK)
	}
	r := errorBody(t, e.do("GET", "/api/_collections", nil), http.StatusTooManyRequests, "rate_limited")
	_ = r
	require.Equal(t, "1", e.do("GET", "/api/_collections", nil).header.Get("Retry-After"))
	// Per key: another key has its own budget; health is never limited.
	e.key = writeKey
	mustStatus(t, e.do("GET", "/api/_collections", nil), http.StatusOK)
	e.key = ""
	for range 5 {
		e.healthy()
	}
	// Failed authentications are limited per client IP, on their own terms.
	e.key = "wrong-key-0123456789"
	codes := map[int]int{}
	for range 6 {
		codes[e.do("GET", "/api/_collections", nil).status]++
	}
	require.Equal(t, 3, codes[http.StatusUnauthorized])
	require.Equal(t, 3, codes[http.StatusTooManyRequests])
}

func TestKeyParsing(t *testing.T) {
	k, err := ParseKeys(" k-000000000000001:read , k-000000000000002:WRITE,k-000000000000003:admin,k-0000000000000004")
	require.NoError(t, err)
	require.Equal(t, 4, k.Len())
	got, ok := k.lookup("k-000000000000002")
	require.True(t, ok)
	require.Equal(t, ScopeWrite, got.scope)
	got, ok = k.lookup("k-0000000000000004")
	require.True(t, ok)
	require.Equal(t, ScopeRead, got.scope, "no scope: read-only")
	_, ok = k.lookup("k-000000000000009")
	require.False(t, ok)
	for _, kk := range k.keys {
		require.NotContains(t, string(kk.hash[:]), "k-00000", "only hashes are kept")
	}

	_, err = ParseKeys("short:read")
	require.Error(t, err)
	_, err = ParseKeys("k-000000000000001:root")
	require.Error(t, err)
	_, err = ParseKeys(" , ")
	require.Error(t, err)

	path := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, os.WriteFile(path, []byte("# operators\nk-000000000000001:admin\n\nk-000000000000002:read\n"), 0o600))
	fk, err := LoadKeyFile(path)
	require.NoError(t, err)
	require.Equal(t, 2, fk.Len())
	require.Equal(t, 6, k.Merge(fk).Len())
	var nilKeys *Keys
	require.Equal(t, fk, nilKeys.Merge(fk))
	_, err = LoadKeyFile(filepath.Join(t.TempDir(), "missing"))
	require.Error(t, err)
}

// TestFailedAuthLimitedByDefault: without RATE_LIMIT, failed
// authentications from one address are limited after a small burst, with
// a Retry-After that says when the next attempt is allowed; a valid key
// from the same address is not affected.
func TestFailedAuthLimitedByDefault(t *testing.T) {
	e := authEnv(t, Config{})
	e.key = "wrong-key-0123456789"
	// A burst of 10, then 429 (a slow machine may earn a token or two
	// back meanwhile: one every 2 s).
	failed := 0
	var r response
	for range 40 {
		if r = e.do("GET", "/api/_collections", nil); r.status != http.StatusUnauthorized {
			break
		}
		failed++
	}
	require.GreaterOrEqual(t, failed, 10)
	errorBody(t, r, http.StatusTooManyRequests, "rate_limited")
	require.Contains(t, []string{"1", "2"}, r.header.Get("Retry-After"), "the next attempt is allowed within 2 s")
	e.key = ""
	errorBody(t, e.do("GET", "/api/_collections", nil), http.StatusTooManyRequests, "rate_limited")
	e.key = readKey
	for range 20 {
		mustStatus(t, e.do("GET", "/api/_collections", nil), http.StatusOK)
	}

	off := authEnv(t, Config{AuthFailRate: -1})
	off.key = "wrong-key-0123456789"
	for range 30 {
		errorBody(t, off.do("GET", "/api/_collections", nil), http.StatusUnauthorized, "unauthorized")
	}
}

// TestLimiterMemoryBounded: however many addresses fail at once, the
// limiter tracks at most maxBuckets of them.
func TestLimiterMemoryBounded(t *testing.T) {
	l := newLimiter(0.001, 2)
	for i := range 3 * maxBuckets {
		l.allow("10.0."+strconv.Itoa(i), 1)
		require.LessOrEqual(t, len(l.buckets), maxBuckets)
	}
	// An address that spent its burst is still limited while it is
	// tracked.
	require.True(t, l.allow("a", 1))
	require.True(t, l.allow("a", 1))
	require.False(t, l.allow("a", 1))
}
