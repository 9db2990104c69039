package httpd

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// hostDo sends a request with a chosen Host header.
func (e *env) hostDo(method, path, host, body string, hdr ...string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	require.NoError(e.t, err)
	if host != "" {
		req.Host = host
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.hc.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// TestCrossOriginWritesRefused is the CSRF of the default set-up: a page
// from another site posts a form-encoded body (a simple request, no
// preflight) to _delete. It is refused and nothing is deleted; the
// guide's curl -d (no Origin) and the server's own origin still work.
func TestCrossOriginWritesRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.seed()
	form := "Content-Type"
	r := e.do("POST", "/api/products/_delete", `{"filter":{}}`, form, "application/x-www-form-urlencoded", "Origin", "http://evil.example")
	errorBody(t, r, http.StatusForbidden, "cross_origin")
	r = e.do("DELETE", "/api/products/p1", nil, "Origin", "null")
	errorBody(t, r, http.StatusForbidden, "cross_origin")
	mustStatus(t, e.do("GET", "/api/products/p1", nil), http.StatusOK)

	// Reads are not refused (the browser keeps their answers from the page).
	mustStatus(t, e.do("GET", "/api/products/p1", nil, "Origin", "http://evil.example"), http.StatusOK)
	// curl -d: form-encoded, no Origin.
	mustStatus(t, e.do("POST", "/api/products", `{"_id":"p9"}`, form, "application/x-www-form-urlencoded"), http.StatusCreated)
	// The server's own origin.
	own := strings.TrimPrefix(e.url, "http://")
	mustStatus(t, e.do("DELETE", "/api/products/p9", nil, "Origin", "http://"+own), http.StatusOK)
	// A preflight from a foreign origin is refused too.
	r = e.do("OPTIONS", "/api/products/p1", nil, "Origin", "http://evil.example", "Access-Control-Request-Method", "DELETE")
	errorBody(t, r, http.StatusForbidden, "cross_origin")
}

// TestCORSOrigins: an origin listed in AllowedOrigins may write, gets the
// CORS headers, and its preflight is answered.
func TestCORSOrigins(t *testing.T) {
	e := newEnv(t, envOptions{cfg: Config{AllowedOrigins: []string{"https://app.example"}}})
	e.seed()
	r := e.do("OPTIONS", "/api/products/p1", nil, "Origin", "https://app.example", "Access-Control-Request-Method", "DELETE",
		"Access-Control-Request-Headers", "authorization,content-type")
	mustStatus(t, r, http.StatusNoContent)
	require.Equal(t, "https://app.example", r.header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, r.header.Get("Access-Control-Allow-Methods"), "DELETE")
	require.Contains(t, r.header.Get("Access-Control-Allow-Headers"), "Authorization")
	r = mustStatus(t, e.do("DELETE", "/api/products/p1", nil, "Origin", "https://app.example"), http.StatusOK)
	require.Equal(t, "https://app.example", r.header.Get("Access-Control-Allow-Origin"))
	errorBody(t, e.do("DELETE", "/api/products/p2", nil, "Origin", "https://other.example"), http.StatusForbidden, "cross_origin")
}

// TestHostCheckOnLoopback is DNS rebinding: a page at evil.example whose
// name now resolves to 127.0.0.1 reaches the server with Host:
// evil.example. On loopback, only the server's own names are served.
func TestHostCheckOnLoopback(t *testing.T) {
	e := newEnv(t, envOptions{cfg: Config{CheckHost: true, AllowedHosts: []string{"db.internal"}, DebugOpen: true}})
	e.seed()
	port := e.url[strings.LastIndex(e.url, ":"):]
	for _, path := range []string{"/debug/pprof/cmdline", "/api/products/p1", "/api/dumpDB"} {
		errorBody(t, e.hostDo("GET", path, "evil.example"+port, ""), http.StatusForbidden, "host_not_allowed")
	}
	errorBody(t, e.hostDo("POST", "/api/products/_delete", "evil.example"+port, `{"filter":{}}`), http.StatusForbidden, "host_not_allowed")
	for _, host := range []string{"localhost" + port, "127.0.0.1" + port, "[::1]" + port, "db.internal" + port, "LOCALHOST"} {
		mustStatus(t, e.hostDo("GET", "/api/products/p1", host, ""), http.StatusOK)
	}
	mustStatus(t, e.hostDo("GET", "/debug/pprof/cmdline", "localhost"+port, ""), http.StatusOK)

	// Off (a server on every interface, behind its own names): any Host.
	e2 := newEnv(t, envOptions{})
	mustStatus(t, e2.hostDo("GET", "/api/health", "evil.example", ""), http.StatusOK)
}

// TestNoFormJSON: with the option off, a form-encoded body is 415.
func TestNoFormJSON(t *testing.T) {
	e := newEnv(t, envOptions{cfg: Config{NoFormJSON: true}})
	errorBody(t, e.do("POST", "/api/products", `{"_id":"a"}`, "Content-Type", "application/x-www-form-urlencoded"),
		http.StatusUnsupportedMediaType, "unsupported_media_type")
	mustStatus(t, e.do("POST", "/api/products", `{"_id":"a"}`), http.StatusCreated)
}
