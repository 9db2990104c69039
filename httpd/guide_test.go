package httpd

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// curl sends these with every request; -d adds the form content type.
var curlHeaders = []string{"User-Agent", "curl/8.5.0", "Accept", "*/*", "Content-Type", ""}

func curl(e *env, method, path string, body any, extra ...string) response {
	hdr := append([]string(nil), curlHeaders...)
	if body != nil {
		hdr = append(hdr, "Content-Type", "application/x-www-form-urlencoded")
	}
	return e.do(method, path, body, append(hdr, extra...)...)
}

// TestGuideCurlLines runs each curl line of the production guide, in the
// guide's order, as the HTTP request curl sends, against a server set up
// as `make run` starts it (no API keys, listening on loopback).
func TestGuideCurlLines(t *testing.T) {
	e := newEnv(t, envOptions{cfg: Config{DebugOpen: true, StatsInterval: -1, CheckHost: true, ListenAddr: "127.0.0.1:6866"}})

	// curl http://localhost:6866/api/health
	r := mustStatus(t, curl(e, "GET", "/api/health", nil), http.StatusOK)
	require.JSONEq(t, `{"status":"ok","version":"dev"}`, string(r.body))

	// curl http://localhost:6866/api/metrics
	r = mustStatus(t, curl(e, "GET", "/api/metrics", nil), http.StatusOK)
	var metrics map[string]any
	r.json(t, &metrics)
	for _, k := range []string{"puts", "gets", "deletes", "flushes", "compacts"} {
		require.Contains(t, metrics, k)
	}

	// curl http://localhost:6866/api/stats
	r = mustStatus(t, curl(e, "GET", "/api/stats", nil), http.StatusOK)
	var stats map[string]any
	r.json(t, &stats)
	require.Len(t, stats, 10)

	// curl -X POST http://localhost:6866/api/_compact
	r = mustStatus(t, curl(e, "POST", "/api/_compact", nil), http.StatusAccepted)
	require.Contains(t, string(r.body), `"status"`)

	// curl http://localhost:6866/api/dumpDB
	mustStatus(t, curl(e, "GET", "/api/dumpDB", nil), http.StatusOK)

	// curl http://localhost:6866/api/stats | jq '.go_num_gc'
	r = mustStatus(t, curl(e, "GET", "/api/stats", nil), http.StatusOK)
	var gc struct {
		NumGC *uint32 `json:"go_num_gc"`
	}
	r.json(t, &gc)
	require.NotNil(t, gc.NumGC)

	// curl --retry 3 --retry-delay 1 -X POST -d '{"_id":"p1","name":"test"}' http://localhost:6866/api/products
	r = mustStatus(t, curl(e, "POST", "/api/products", `{"_id":"p1","name":"test"}`), http.StatusCreated)
	var wr api.WriteResult
	r.json(t, &wr)
	require.Equal(t, "p1", wr.ID)
	// curl retries on 503 (Retry-After); a retry of the same POST upserts.
	mustStatus(t, curl(e, "POST", "/api/products", `{"_id":"p1","name":"test"}`), http.StatusOK)

	// curl -X POST http://localhost:6866/api/debug/gc
	mustStatus(t, curl(e, "POST", "/api/debug/gc", nil), http.StatusOK)

	// curl http://localhost:6866/api/stats | jq '.go_num_goroutine'  (should be < 50)
	r = mustStatus(t, curl(e, "GET", "/api/stats", nil), http.StatusOK)
	var gr struct {
		N int `json:"go_num_goroutine"`
	}
	r.json(t, &gr)
	require.Positive(t, gr.N)

	// hey -m POST -H "Content-Type: application/json" -d '{"_id":"test-${RANDOM}","data":"test"}' http://localhost:6866/api/products
	// (single quotes: the id is the literal text, so every request upserts it)
	for i := range 3 {
		r = e.do("POST", "/api/products", `{"_id":"test-${RANDOM}","data":"test"}`, "Content-Type", "application/json")
		require.Contains(t, []int{http.StatusCreated, http.StatusOK}, r.status, "request %d: %s", i, r.body)
	}
	// hey -n 10000 -c 50 http://localhost:6866/api/products/p1
	r = mustStatus(t, e.do("GET", "/api/products/p1", nil), http.StatusOK)
	require.JSONEq(t, `{"_id":"p1","name":"test"}`, string(r.body))

	// 1. curl http://old-server:6866/api/dumpDB > backup.json
	mustStatus(t, e.do("POST", "/api/products/_indexes", `{"fields":["name"]}`), http.StatusCreated)
	mustStatus(t, e.do("POST", "/api/users/_insertMany", `[{"_id":"u1","tags":["a","b"]},{"_id":"u2","n":1e3}]`), http.StatusCreated)
	backup := mustStatus(t, curl(e, "GET", "/api/dumpDB", nil), http.StatusOK).body
	require.Equal(t, 6, bytes.Count(backup, []byte("\n")), "the header, one index line and four documents")

	// 4. curl -X POST -d @backup.json http://localhost:6866/api/restoreDB
	// curl -d @file strips newlines and sends the form content type.
	fresh := newEnv(t, envOptions{cfg: Config{DebugOpen: true}})
	stripped := bytes.ReplaceAll(bytes.ReplaceAll(backup, []byte("\r"), nil), []byte("\n"), nil)
	r = mustStatus(t, curl(fresh, "POST", "/api/restoreDB", stripped), http.StatusOK)
	var st api.DumpStats
	r.json(t, &st)
	require.Equal(t, int64(4), st.Documents)
	require.Equal(t, 1, st.Indexes)
	require.Equal(t, dumpBody(t, backup), dumpBody(t, mustStatus(t, fresh.do("GET", "/api/dumpDB", nil), http.StatusOK).body))

	// 5. curl http://localhost:6866/api/_collections
	r = mustStatus(t, curl(fresh, "GET", "/api/_collections", nil), http.StatusOK)
	var cols []api.Collection
	r.json(t, &cols)
	require.Len(t, cols, 2)
	require.Equal(t, "products", cols[0].Name)
	require.Equal(t, int64(2), cols[0].DocCount)
	require.Equal(t, "users", cols[1].Name)
	require.Equal(t, int64(2), cols[1].DocCount)
	var raw []map[string]json.RawMessage
	r.json(t, &raw)
	require.ElementsMatch(t, []string{"name", "docCount", "byteSize"}, keysOf(raw[0]))

	// curl localhost:6866/api/stats (the guide's "Check metrics")
	mustStatus(t, curl(fresh, "GET", "/api/stats", nil), http.StatusOK)
	require.False(t, strings.Contains(string(r.body), "error"))
}

func keysOf(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
