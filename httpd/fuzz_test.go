package httpd

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Bounds on FuzzHTTPHandler's work and allocation (RELIABILITY.md S11):
// inputs longer than fuzzMaxInput are skipped, and a worker's database is
// replaced by a freshly seeded one once fuzzEnvBytes have been written to
// it, so that neither its memory nor the per-request state hash grows with
// the length of the run.
const (
	fuzzMaxInput = 128 << 10 // above MaxBodyBytes, so 413 is reachable
	fuzzEnvBytes = 8 << 20
)

// FuzzHTTPHandler sends random requests: no 500, and no change to the
// database when the answer is 4xx (restoreDB and _import excepted: they
// document that lines before a bad one are stored).
func FuzzHTTPHandler(f *testing.F) {
	tb := &fuzzTB{TB: f}
	e := newFuzzEnv(tb)
	f.Cleanup(func() { tb.TB = f; tb.close() })
	methods := []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
	types := []string{"", "application/json", "application/x-www-form-urlencoded", "application/x-ndjson", "text/plain"}
	for _, s := range []struct {
		m, t uint8
		path string
		body string
		hdr  string
	}{
		{1, 1, "/api/products", `{"_id":"p1","name":"lamp"}`, ""},
		{2, 0, "/api/products/p1", `{"name":"desk"}`, "*"},
		{3, 2, "/api/products/p2", `{"$inc":{"price":1}}`, `"1"`},
		{1, 1, "/api/products/_insertMany", `[{"name":"x"},{"name":"x"}]`, ""},
		{1, 1, "/api/products/_find", `{"filter":{"price":{"$gt":1}},"sort":{"price":-1},"limit":2}`, ""},
		{1, 1, "/api/products/_search?limit=2&sort=-price", `{"name":{"$regex":"^l"}}`, ""},
		{1, 1, "/api/products/_update", `{"filter":{},"update":{"$inc":{"name":1}}}`, ""},
		{1, 1, "/api/products/_delete", `{"filter":{"$or":[]}}`, ""},
		{1, 3, "/api/restoreDB", `{"collection":"x","doc":{"a":1}}`, ""},
		{4, 0, "/api/products/_indexes/name_1", ``, ""},
		{0, 0, "/api/..%2Fx/%00", ``, ""},
		{1, 1, "/api/products", "{\"a\":\"\xff\"}", ""},
	} {
		f.Add(s.m, s.t, s.path, s.body, s.hdr)
	}
	f.Fuzz(func(t *testing.T, m, ct uint8, path, body, ifMatch string) {
		if len(path)+len(body)+len(ifMatch) > fuzzMaxInput {
			return
		}
		if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "/debug") {
			return
		}
		if _, err := url.ParseRequestURI(path); err != nil || strings.ContainsAny(path, " \r\n\t#") {
			return
		}
		tb.TB, e.t = t, t
		if e.db.Metrics().BytesIn > fuzzEnvBytes {
			tb.close()
			e = newFuzzEnv(tb)
		}
		method := methods[int(m)%len(methods)]
		hdr := []string{"Content-Type", types[int(ct)%len(types)]}
		if ifMatch != "" && printable(ifMatch) {
			hdr = append(hdr, "If-Match", ifMatch)
		}
		var b any
		if body != "" {
			b = body
		}
		before := e.state()
		r := e.do(method, path, b, hdr...)
		if r.status >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, path, body, r.status, r.body)
		}
		if r.status >= 400 && r.status != http.StatusNotModified {
			errorBody(t, r, r.status, "")
			if !strings.Contains(path, "restoreDB") && !strings.Contains(path, "_import") && e.state() != before {
				t.Fatalf("%s %s %q: %d changed the database", method, path, body, r.status)
			}
		}
	})
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// newFuzzEnv is FuzzHTTPHandler's server: the seeded products collection
// with a unique index on name.
func newFuzzEnv(tb *fuzzTB) *env {
	e := newEnv(tb, envOptions{cfg: Config{DebugOpen: false, MaxBodyBytes: 64 << 10}})
	e.seed()
	mustStatus(tb, e.do("POST", "/api/products/_indexes", `{"fields":["name"],"unique":true}`), http.StatusCreated)
	return e
}

// fuzzTB lets FuzzHTTPHandler replace its env from inside the fuzz
// function, where the *testing.F may not be used and each iteration's t
// ends with the iteration: it forwards to TB (the current iteration's t)
// but keeps the env's cleanups until close.
type fuzzTB struct {
	testing.TB
	cleanups []func()
}

func (tb *fuzzTB) Cleanup(fn func()) { tb.cleanups = append(tb.cleanups, fn) }

func (tb *fuzzTB) close() {
	for i := len(tb.cleanups) - 1; i >= 0; i-- {
		tb.cleanups[i]()
	}
	tb.cleanups = nil
}
