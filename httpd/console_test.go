package httpd

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/httpd/client/api"
	"github.com/minidbgo/minidbgo/httpd/console"
)

// TestConsoleAssets: every embedded file is served under /console/ with
// its content type, an ETag, Cache-Control: no-cache and the security
// headers; a matching If-None-Match is 304, an If-Match naming another
// ETag a JSON 412; / and /console redirect to
// /console/ (a relative Location: see TestConsoleUnderPrefix); an
// unknown file is a JSON 404.
func TestConsoleAssets(t *testing.T) {
	e := authEnv(t, Config{}) // the files need no key
	files := console.New(http.NotFoundHandler(), http.NotFoundHandler()).Files()
	for _, want := range []string{"index.html", "app.js", "api.js", "style.css", "page-live.js", "page-health.js", "charts.js"} {
		require.Contains(t, files, want)
	}
	types := map[string]string{".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
		".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
	importRE := regexp.MustCompile(`(?m)^import .* from '\./([^']+)';$`)
	for _, f := range files {
		path := "/console/" + f
		if f == "index.html" {
			path = "/console/"
		}
		r := mustStatus(t, e.do("GET", path, nil), http.StatusOK)
		ext := f[strings.LastIndexByte(f, '.'):]
		require.Equal(t, types[ext], r.header.Get("Content-Type"), f)
		require.Equal(t, "no-cache", r.header.Get("Cache-Control"), f)
		require.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"), f)
		require.Contains(t, r.header.Get("Content-Security-Policy"), "connect-src 'self'", f)
		etag := r.header.Get("ETag")
		require.Regexp(t, `^"[0-9a-f]{16}"$`, etag, f)
		require.NotEmpty(t, r.body, f)
		// Air-gapped hosts: nothing is loaded from elsewhere.
		for _, ext := range []string{`src="http`, `href="http`, `url(http`, `from 'http`, `fetch('http`, `@import`} {
			require.NotContains(t, string(r.body), ext, f)
		}
		// Every module a script imports is embedded.
		for _, m := range importRE.FindAllStringSubmatch(string(r.body), -1) {
			require.Contains(t, files, m[1], "%s imports %s", f, m[1])
		}
		nm := mustStatus(t, e.do("GET", path, nil, "If-None-Match", etag), http.StatusNotModified)
		require.Empty(t, nm.body)
		mustStatus(t, e.do("GET", path, nil, "If-None-Match", `"x", W/`+etag), http.StatusNotModified)
		mustStatus(t, e.do("GET", path, nil, "If-None-Match", `"x"`), http.StatusOK)
		// If-Match: the current ETag or * serves the file; another is a
		// JSON 412 (a weak tag never matches it); Range is ignored.
		mustStatus(t, e.do("GET", path, nil, "If-Match", `"x", `+etag), http.StatusOK)
		mustStatus(t, e.do("GET", path, nil, "If-Match", "*"), http.StatusOK)
		errorBody(t, e.do("GET", path, nil, "If-Match", "W/"+etag), http.StatusPreconditionFailed, "precondition_failed")
		errorBody(t, e.do("GET", path, nil, "If-Match", "0"), http.StatusPreconditionFailed, "precondition_failed")
		rg := mustStatus(t, e.do("GET", path, nil, "Range", "bytes=99999999-"), http.StatusOK)
		require.Equal(t, r.body, rg.body, f)
		h := mustStatus(t, e.do("HEAD", path, nil), http.StatusOK)
		require.Empty(t, h.body)
		require.Equal(t, etag, h.header.Get("ETag"))
	}
	index := string(e.do("GET", "/console/", nil).body)
	require.Contains(t, index, `<script type="module" src="app.js">`)
	require.Contains(t, index, `<label for="key">API key</label>`)

	noFollow := &http.Client{Transport: e.hc.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, p := range []string{"/", "/console"} {
		require.Equal(t, "/console/", redirectTarget(t, noFollow, e.url+p), p)
	}
	errorBody(t, e.do("GET", "/console/nope.js", nil), http.StatusNotFound, "route_not_found")
	errorBody(t, e.do("GET", "/console/..%2Fconsole.go", nil), http.StatusNotFound, "route_not_found")
}

// redirectTarget GETs url without following a redirect and returns the
// path its 302's Location resolves to, as a browser resolves it.
func redirectTarget(t *testing.T, hc *http.Client, url string) string {
	t.Helper()
	resp, err := hc.Get(url)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode, url)
	loc, err := resp.Location() // resolved against the request's URL
	require.NoError(t, err, url)
	return loc.Path
}

// absPathRE finds a string literal in a script (or an attribute in the
// page) that starts with an absolute path of the server's: the console
// must reach the server relative to where it is served (api.js), so that
// it works behind a reverse proxy that serves it under a path prefix.
var absPathRE = regexp.MustCompile("(?:['\"`]|(?:src|href|action)\\s*=\\s*)/(?:api|metrics|debug|console)(?:[/?#'\"`]|$)")

// TestConsoleRelativePaths: no embedded script or page names the API,
// /metrics or the console by an absolute path.
func TestConsoleRelativePaths(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, f := range console.New(http.NotFoundHandler(), http.NotFoundHandler()).Files() {
		if !strings.HasSuffix(f, ".js") && !strings.HasSuffix(f, ".html") {
			continue
		}
		body := string(mustStatus(t, e.do("GET", "/console/"+f, nil), http.StatusOK).body)
		for i, line := range strings.Split(body, "\n") {
			require.False(t, absPathRE.MatchString(line), "%s:%d names an absolute server path: %s", f, i+1, strings.TrimSpace(line))
		}
	}
	// The check itself finds what it must.
	for _, bad := range []string{"get('/api/_whoami')", "fetch(`/api/${c}/_changes`)", `fetch("/metrics")`, `href="/console/"`, "xhr.open('POST', '/api/restoreDB')"} {
		require.True(t, absPathRE.MatchString(bad), bad)
	}
	for _, ok := range []string{"get('api/_whoami')", "// GET /api/dumpDB", "'/s'", "'#/' + page", "location.hash.replace(/^#/, '')"} {
		require.False(t, absPathRE.MatchString(ok), ok)
	}
}

// TestConsoleUnderPrefix: behind a reverse proxy that serves the server
// under /db/ (nginx's location /db/ { proxy_pass http://server/; }), the
// redirects of /db/ and /db/console lead to /db/console/, which is the
// page.
func TestConsoleUnderPrefix(t *testing.T) {
	e := newEnv(t, envOptions{})
	target, err := url.Parse(e.url)
	require.NoError(t, err)
	proxy := httptest.NewServer(http.StripPrefix("/db", httputil.NewSingleHostReverseProxy(target)))
	t.Cleanup(proxy.Close)

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, p := range []string{"/db/", "/db/console"} {
		require.Equal(t, "/db/console/", redirectTarget(t, noFollow, proxy.URL+p), p)
	}
	// Followed, as a browser does, the redirects end at the page.
	page := mustStatus(t, e.do("GET", "/console/", nil), http.StatusOK).body
	for _, p := range []string{"/db/", "/db/console", "/db/console/"} {
		resp, err := http.Get(proxy.URL + p)
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, p)
		require.Equal(t, "/db/console/", resp.Request.URL.Path, p)
		require.Equal(t, page, b, p)
	}
}

// TestWhoami: each key learns its scope, which is what the console draws
// its controls from; a read key's writes are 403, a missing key 401.
func TestWhoami(t *testing.T) {
	e := authEnv(t, Config{})
	for key, role := range map[string]string{readKey: "read", writeKey: "write", adminKey: "admin"} {
		e.key = key
		var w api.Whoami
		mustStatus(t, e.do("GET", "/api/_whoami", nil), http.StatusOK).json(t, &w)
		require.Equal(t, api.Whoami{Role: role, Auth: true}, w)
	}
	e.key = ""
	errorBody(t, e.do("GET", "/api/_whoami", nil), http.StatusUnauthorized, "unauthorized")

	e.key = readKey
	before := e.state()
	errorBody(t, e.do("POST", "/api/_collections", `{"name":"things"}`), http.StatusForbidden, "forbidden")
	errorBody(t, e.do("POST", "/api/things", `{"_id":"a"}`), http.StatusForbidden, "forbidden")
	errorBody(t, e.do("POST", "/api/things/_indexes", `{"fields":["a"]}`), http.StatusForbidden, "forbidden")
	errorBody(t, e.do("DELETE", "/api/things", nil), http.StatusForbidden, "forbidden")
	require.Equal(t, before, e.state())

	open := newEnv(t, envOptions{})
	var w api.Whoami
	mustStatus(t, open.do("GET", "/api/_whoami", nil), http.StatusOK).json(t, &w)
	require.Equal(t, api.Whoami{Role: "admin", Auth: false}, w)
}

// TestCreateCollection: POST /api/_collections makes an empty collection
// (201), and again changes nothing (200); bad bodies are 400 and change
// nothing.
func TestCreateCollection(t *testing.T) {
	e := newEnv(t, envOptions{})
	var c api.Collection
	mustStatus(t, e.do("POST", "/api/_collections", `{"name":"empty"}`), http.StatusCreated).json(t, &c)
	require.Equal(t, api.Collection{Name: "empty"}, c)
	before := e.state()
	mustStatus(t, e.do("POST", "/api/_collections", `{"name":"empty"}`), http.StatusOK)
	var cols []api.Collection
	mustStatus(t, e.do("GET", "/api/_collections", nil), http.StatusOK).json(t, &cols)
	require.Equal(t, []api.Collection{{Name: "empty"}}, cols)
	errorBody(t, e.do("POST", "/api/_collections", `{"name":"bad/name"}`), http.StatusBadRequest, "invalid_name")
	errorBody(t, e.do("POST", "/api/_collections", `{"name":""}`), http.StatusBadRequest, "invalid_name")
	errorBody(t, e.do("POST", "/api/_collections", `{"nom":"x"}`), http.StatusBadRequest, "")
	errorBody(t, e.do("POST", "/api/_collections", `{"name":"x"`), http.StatusBadRequest, "")
	errorBody(t, e.do("POST", "/api/_collections", ``), http.StatusBadRequest, "empty_body")
	require.Equal(t, before, e.state())
}
