package httpd

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
)

// The OpenAPI document, loaded and validated by kin-openapi once per test
// binary, and a router over its paths.
var spec struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

// specDoc returns docs/openapi.yaml, loaded and validated.
func specDoc(t testing.TB) (*openapi3.T, routers.Router) {
	t.Helper()
	spec.once.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromFile(openAPIPath)
		if err != nil {
			spec.err = fmt.Errorf("load %s: %w", openAPIPath, err)
			return
		}
		if err := doc.Validate(loader.Context, openapi3.EnableSchemaPatternValidation(), openapi3.EnableSchemaFormatValidation()); err != nil {
			spec.err = fmt.Errorf("%s is not a valid OpenAPI document: %w", openAPIPath, err)
			return
		}
		spec.doc = doc
		spec.router, spec.err = gorillamux.NewRouter(doc)
	})
	require.NoError(t, spec.err)
	return spec.doc, spec.router
}

// TestOpenAPIValid loads docs/openapi.yaml with kin-openapi and validates
// it as an OpenAPI 3.1 document, its examples against their schemas.
func TestOpenAPIValid(t *testing.T) {
	doc, _ := specDoc(t)
	require.True(t, doc.IsOpenAPI31OrLater())
	// Every schema is closed or says why not: a key that a YAML slip
	// turned into a stray property (an unquoted ": " in a description)
	// shows up as a property with no type and no description.
	for name, ref := range doc.Components.Schemas {
		for prop, p := range ref.Value.Properties {
			v := p.Value
			require.False(t, p.Ref == "" && v.Type == nil && v.Description == "" && len(v.OneOf) == 0 && len(v.AnyOf) == 0 && v.Items == nil && v.Const == nil,
				"schema %s: property %q has neither type nor description (a stray key?)", name, prop)
		}
	}
}

// specTransport checks every response a test receives against
// docs/openapi.yaml: the route's operation must list the status, and a
// JSON body must match the response's schema. Bodies of other media
// (NDJSON streams, the Prometheus text) are checked for status and
// content type only, and are not buffered.
type specTransport struct {
	t    testing.TB
	base http.RoundTripper
}

func (s *specTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if msg := checkResponse(s.t, req, resp); msg != "" {
		uri := req.URL.RequestURI()
		if len(uri) > 80 {
			uri = uri[:80] + "…"
		}
		s.t.Errorf("%s %s answered %d, which docs/openapi.yaml does not describe: %s", req.Method, uri, resp.StatusCode, msg)
	}
	return resp, nil
}

// checkResponse validates resp; it returns what is wrong, or "".
func checkResponse(t testing.TB, req *http.Request, resp *http.Response) string {
	doc, router := specDoc(t)
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var body []byte
	if ct == "application/json" && req.Method != http.MethodHead {
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b))
		if err != nil {
			return "" // the test sees the read error itself
		}
		if body, err = decoded(resp.Header.Get("Content-Encoding"), b); err != nil {
			return err.Error()
		}
	}
	// Route the request as the document's server would see it.
	r := req.Clone(context.Background())
	u := *req.URL
	u.Scheme, u.Host = "http", "localhost:6866"
	r.URL, r.Host = &u, u.Host
	if r.Method == http.MethodHead {
		r.Method = http.MethodGet // HEAD is GET without the body
	}
	route, params, err := router.FindRoute(r)
	if err == nil && resp.StatusCode == http.StatusRequestHeaderFieldsTooLarge {
		// The listener answers 431 before any route (the document's
		// description says so): only the body is checked.
		err = fmt.Errorf("answered before routing")
	}
	if err != nil && req.Method == http.MethodOptions && resp.StatusCode < 500 {
		// A CORS preflight, answered by the middleware before any route,
		// as the document's description says.
		return ""
	}
	if err != nil {
		// No operation (404/405 from the router, or a path the document
		// does not have): any error body must still be an Error.
		if resp.StatusCode < 400 {
			return fmt.Sprintf("no operation in the document: %v", err)
		}
		if body == nil {
			return ""
		}
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return "invalid JSON body: " + err.Error()
		}
		if err := doc.Components.Schemas["Error"].Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
			return "error body is not an Error: " + err.Error()
		}
		return ""
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			ExcludeResponseBody:   body == nil,
			MultiError:            true,
		},
	}
	if body == nil {
		// Check the media type alone.
		op := route.Operation
		rr := op.Responses.Status(resp.StatusCode)
		if rr == nil {
			rr = op.Responses.Default()
		}
		if rr == nil {
			return fmt.Sprintf("status %d is not a response of %s", resp.StatusCode, op.OperationID)
		}
		if ct != "" && rr.Value != nil && len(rr.Value.Content) > 0 && rr.Value.Content.Get(ct) == nil {
			return fmt.Sprintf("content type %s is not one of %s's %d responses", ct, op.OperationID, resp.StatusCode)
		}
		in.Options.ExcludeResponseBody = true
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return strings.ReplaceAll(err.Error(), "\n", " | ")
	}
	return ""
}

// TestSpecTransportRejects: the response check fails a body the
// document does not describe (a renamed or extra field, a wrong type), a
// status the operation does not list and a wrong media type, and passes
// the server's real answers.
func TestSpecTransportRejects(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.seed()
	check := func(method, path string, status int, ct, body string) string {
		req, err := http.NewRequest(method, e.url+path, nil)
		require.NoError(t, err)
		resp := &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body))}
		if ct != "" {
			resp.Header.Set("Content-Type", ct)
		}
		return checkResponse(t, req, resp)
	}
	for _, bad := range []struct {
		method, path string
		status       int
		ct, body     string
	}{
		{"GET", "/api/health", 200, "application/json", `{"status":"ok","uptime":3}`},
		{"GET", "/api/health", 200, "application/json", `{"status":"fine"}`},
		{"GET", "/api/products", 200, "application/json", `{"name":"products","docCount":"4","byteSize":10}`},
		{"GET", "/api/products", 200, "application/json", `{"name":"products","doc_count":4,"byteSize":10}`},
		{"POST", "/api/products/_count", 200, "application/json", `{"n":4}`},
		{"POST", "/api/products/_count", 404, "application/json", `{"error":"x","status":404,"code":"not_found","request_id":"r"}`},
		{"POST", "/api/products/_count", 400, "application/json", `{"error":"x","status":400,"code":"bad"}`},
		{"GET", "/api/products/p1", 200, "text/plain", `lamp`},
		{"GET", "/api/stats", 200, "application/json", `{"process_cpu_percent":"high"}`},
		{"GET", "/api/nothing/here/at/all", 404, "application/json", `{"message":"no"}`},
	} {
		require.NotEmpty(t, check(bad.method, bad.path, bad.status, bad.ct, bad.body), "%+v passed", bad)
	}
	// The real answers pass (checked by e.hc's transport as well).
	for _, path := range []string{"/api/health", "/api/products", "/api/products/p1", "/api/stats", "/api/metrics"} {
		r := mustStatus(t, e.do("GET", path, nil), http.StatusOK)
		require.Empty(t, check("GET", path, r.status, r.header.Get("Content-Type"), string(r.body)), path)
	}
	r := e.do("POST", "/api/products/_count", `{"filter":{"price":{"$gt":10}}}`)
	require.Empty(t, check("POST", "/api/products/_count", r.status, r.header.Get("Content-Type"), string(r.body)))
}

// decoded returns a body as it was before its Content-Encoding.
func decoded(encoding string, b []byte) ([]byte, error) {
	switch encoding {
	case "", "identity":
		return b, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("gzip body: %w", err)
		}
		return io.ReadAll(zr)
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("zstd body: %w", err)
		}
		defer zr.Close()
		return io.ReadAll(zr)
	}
	return nil, fmt.Errorf("unknown Content-Encoding %q", encoding)
}
