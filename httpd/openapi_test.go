package httpd

import (
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/minidbgo/minidbgo/httpd/client/api"
)

const openAPIPath = "../docs/openapi.yaml"

func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(openAPIPath)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(b, &doc))
	require.Equal(t, "3.1.0", doc["openapi"])
	return doc
}

// TestOpenAPIMatchesRoutes fails when a route is in the router but not in
// docs/openapi.yaml, or the reverse.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	var inYAML []string
	for path, item := range doc["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
				inYAML = append(inYAML, strings.ToUpper(method)+" "+path)
			}
		}
	}
	sort.Strings(inYAML)

	e := newEnv(t, envOptions{})
	var inRouter []string
	err := chi.Walk(e.srv.router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		inRouter = append(inRouter, method+" "+route)
		return nil
	})
	require.NoError(t, err)
	sort.Strings(inRouter)
	require.Equal(t, inRouter, inYAML, "docs/openapi.yaml and routes.go disagree")
}

// TestOpenAPIRefs checks that every $ref resolves and that the Stats and
// Metrics schemas list exactly the fields the server writes.
func TestOpenAPIRefs(t *testing.T) {
	doc := loadOpenAPI(t)
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				require.True(t, strings.HasPrefix(ref, "#/"), ref)
				var cur any = doc
				for _, part := range strings.Split(ref[2:], "/") {
					m, ok := cur.(map[string]any)
					require.True(t, ok, "bad $ref %s", ref)
					cur, ok = m[part]
					require.True(t, ok, "dangling $ref %s", ref)
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(doc)

	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	for name, v := range map[string]any{"Stats": api.Stats{}, "Metrics": api.Metrics{}, "Collection": api.Collection{},
		"WriteResult": api.WriteResult{}, "FindRequest": api.FindRequest{}, "Explanation": api.Explanation{}, "Error": api.Error{}} {
		props := schemas[name].(map[string]any)["properties"].(map[string]any)
		var want, got []string
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			tag, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			want = append(want, tag)
		}
		for k := range props {
			got = append(got, k)
		}
		sort.Strings(want)
		sort.Strings(got)
		require.Equal(t, want, got, "schema %s", name)
	}
}

// errorCodePatterns find the machine codes the server and the docstore
// can answer with, in their sources.
var errorCodePatterns = []*regexp.Regexp{
	regexp.MustCompile(`Code: +"([a-z_]+)"`),
	regexp.MustCompile(`(?:errf|queryError|reqErr)\("([a-z_]+)"`),
	regexp.MustCompile(`(?m)^\s+[cC]ode[A-Z]\w* += "([a-z_]+)"`),
}

// TestOpenAPIListsErrorCodes fails when a code the server or the docstore
// can return is missing from the list in docs/openapi.yaml.
func TestOpenAPIListsErrorCodes(t *testing.T) {
	spec, err := os.ReadFile(openAPIPath)
	require.NoError(t, err)
	var files []string
	for _, glob := range []string{"*.go", "../docstore/*.go", "../docstore/internal/*/*.go"} {
		m, err := filepath.Glob(glob)
		require.NoError(t, err)
		files = append(files, m...)
	}
	codes := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, re := range errorCodePatterns {
			for _, m := range re.FindAllStringSubmatch(string(src), -1) {
				codes[m[1]] = f
			}
		}
	}
	require.Greater(t, len(codes), 30, "the patterns no longer find the codes")
	for code, file := range codes {
		require.Contains(t, string(spec), "`"+code+"`", "error code %q (from %s) is not listed in docs/openapi.yaml", code, file)
	}
}
