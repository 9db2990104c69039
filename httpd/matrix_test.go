package httpd

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// bodyRoutes are the routes that read a request body.
var bodyRoutes = []struct{ method, path string }{
	{"POST", "/api/c"},
	{"PUT", "/api/c/a"},
	{"PATCH", "/api/c/a"},
	{"POST", "/api/c/_insertMany"},
	{"POST", "/api/c/_search"},
	{"POST", "/api/c/_find"},
	{"POST", "/api/c/_count"},
	{"POST", "/api/c/_distinct"},
	{"POST", "/api/c/_explain"},
	{"POST", "/api/c/_update"},
	{"POST", "/api/c/_delete"},
	{"POST", "/api/c/_indexes"},
	{"POST", "/api/c/_import"},
	{"POST", "/api/restoreDB"},
}

// colRoutes are the routes with a {col} parameter.
var colRoutes = []struct{ method, path, body string }{
	{"POST", "/api/%s", `{}`},
	{"GET", "/api/%s", ``},
	{"DELETE", "/api/%s", ``},
	{"GET", "/api/%s/a", ``},
	{"PUT", "/api/%s/a", `{}`},
	{"PATCH", "/api/%s/a", `{"$set":{"x":1}}`},
	{"DELETE", "/api/%s/a", ``},
	{"POST", "/api/%s/_insertMany", `[{}]`},
	{"POST", "/api/%s/_search", `{}`},
	{"POST", "/api/%s/_find", `{}`},
	{"POST", "/api/%s/_count", `{}`},
	{"POST", "/api/%s/_distinct", `{"field":"x"}`},
	{"POST", "/api/%s/_explain", `{}`},
	{"POST", "/api/%s/_update", `{"filter":{},"update":{"$set":{"x":1}}}`},
	{"POST", "/api/%s/_delete", `{"filter":{}}`},
	{"GET", "/api/%s/_indexes", ``},
	{"POST", "/api/%s/_indexes", `{"fields":["x"]}`},
	{"DELETE", "/api/%s/_indexes/x", ``},
	{"GET", "/api/%s/_export", ``},
	{"POST", "/api/%s/_import", `{}`},
}

// TestStatusMatrix sends every body route a wrong content type (415) and
// an oversized body (413), and every collection route a bad name (400),
// checking the JSON error and that nothing changed.
func TestStatusMatrix(t *testing.T) {
	e := newEnv(t, envOptions{cfg: Config{MaxBodyBytes: 4 << 10}})
	e.seed()
	mustStatus(t, e.do("PUT", "/api/c/a", `{"x":0}`), http.StatusCreated)
	before := e.state()
	big := `{"filter":{"a":"` + strings.Repeat("x", 5<<10) + `"}}`
	for _, rt := range bodyRoutes {
		errorBody(t, e.do(rt.method, rt.path, `{}`, "Content-Type", "text/plain"), http.StatusUnsupportedMediaType, "unsupported_media_type")
		errorBody(t, e.do(rt.method, rt.path, `{}`, "Content-Type", "application/xml"), http.StatusUnsupportedMediaType, "unsupported_media_type")
		if rt.path != "/api/restoreDB" && rt.path != "/api/c/_import" { // streams bound each document instead
			errorBody(t, e.do(rt.method, rt.path, big), http.StatusRequestEntityTooLarge, "body_too_large")
		}
	}
	for _, rt := range colRoutes {
		for _, bad := range []string{"b%2Fd", "b.d", "b%00d", strings.Repeat("x", 65), "%C3%BC"} {
			var body any
			if rt.body != "" {
				body = rt.body
			}
			path := strings.Replace(rt.path, "%s", bad, 1)
			errorBody(t, e.do(rt.method, path, body), http.StatusBadRequest, "invalid_name")
		}
	}
	require.Equal(t, before, e.state())
	e.healthy()
}

// TestConflictsOnEveryWriteRoute checks 409 for a unique index violation
// on each route that writes documents.
func TestConflictsOnEveryWriteRoute(t *testing.T) {
	e := newEnv(t, envOptions{})
	mustStatus(t, e.do("POST", "/api/u/_indexes", `{"fields":["email"],"unique":true}`), http.StatusCreated)
	mustStatus(t, e.do("PUT", "/api/u/a", `{"email":"a@x"}`), http.StatusCreated)
	mustStatus(t, e.do("PUT", "/api/u/b", `{"email":"b@x"}`), http.StatusCreated)
	before := e.state()
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/api/u", `{"_id":"c","email":"a@x"}`},
		{"PUT", "/api/u/b", `{"email":"a@x"}`},
		{"PATCH", "/api/u/b", `{"$set":{"email":"a@x"}}`},
		{"POST", "/api/u/_insertMany", `[{"_id":"c","email":"a@x"}]`},
		{"POST", "/api/u/_update", `{"filter":{"_id":"b"},"update":{"$set":{"email":"a@x"}}}`},
		{"POST", "/api/u/_import", `{"_id":"c","email":"a@x"}`},
		{"POST", "/api/restoreDB", `{"collection":"u","doc":{"_id":"c","email":"a@x"}}`},
	} {
		errorBody(t, e.do(c.method, c.path, c.body), http.StatusConflict, "unique_violation")
	}
	require.Equal(t, before, e.state())
}
