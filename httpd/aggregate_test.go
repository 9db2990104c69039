package httpd

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/minidbgo/minidbgo/httpd/client"
	"github.com/minidbgo/minidbgo/httpd/client/api"
	"github.com/stretchr/testify/require"
)

// TestAggregateRoute runs pipelines through POST /api/{col}/_aggregate
// (which once answered 405: "_aggregate" was taken as a document id),
// pages them with the cursor, and checks the errors.
func TestAggregateRoute(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.seed()
	r := mustStatus(t, e.do("POST", "/api/products/_aggregate",
		`{"pipeline":[{"$group":{"_id":"$category","total":{"$sum":"$price"},"n":{"$sum":1}}},{"$sort":{"total":-1}}]}`), http.StatusOK)
	require.JSONEq(t, `{"docs":[{"_id":"home","total":170,"n":2},{"_id":"office","total":92,"n":2}]}`, string(r.body))

	// A bare array, paged.
	r = mustStatus(t, e.do("POST", "/api/products/_aggregate?", `[{"$sort":{"price":1}},{"$project":{"_id":0,"name":1}}]`), http.StatusOK)
	require.JSONEq(t, `{"docs":[{"name":"pen"},{"name":"lamp"},{"name":"chair"},{"name":"desk"}]}`, string(r.body))
	var page api.FindResult
	mustStatus(t, e.do("POST", "/api/products/_aggregate", `{"pipeline":[{"$sort":{"price":1}},{"$project":{"_id":0,"name":1}}],"limit":3}`), http.StatusOK).json(t, &page)
	require.Len(t, page.Docs, 3)
	require.NotEmpty(t, page.Cursor)
	r = mustStatus(t, e.do("POST", "/api/products/_aggregate", `{"cursor":"`+page.Cursor+`"}`), http.StatusOK)
	require.JSONEq(t, `{"docs":[{"name":"desk"}]}`, string(r.body))

	// $count of nothing is no document.
	r = mustStatus(t, e.do("POST", "/api/products/_aggregate", `[{"$match":{"price":{"$gt":1000}}},{"$count":"n"}]`), http.StatusOK)
	require.JSONEq(t, `{"docs":[]}`, string(r.body))

	errorBody(t, e.do("POST", "/api/products/_aggregate", `[{"$match":{}},{"$out":"x"}]`), http.StatusBadRequest, "invalid_pipeline")
	er := errorBody(t, e.do("POST", "/api/products/_aggregate", `[{"$project":{"y":{"$year":"$name"}}}]`), http.StatusBadRequest, "invalid_expression")
	require.Contains(t, er.Error, "$year")
	errorBody(t, e.do("POST", "/api/products/_aggregate", `{"stages":[]}`), http.StatusBadRequest, "invalid_body")
	errorBody(t, e.do("POST", "/api/products/_aggregate", `{}`), http.StatusBadRequest, "invalid_pipeline")
	errorBody(t, e.do("POST", "/api/products/_aggregate", `[{"$match":`), http.StatusBadRequest, "invalid_json")
	errorBody(t, e.do("POST", "/api/products/_aggregate", `{"cursor":"bogus"}`), http.StatusBadRequest, "invalid_cursor")
	// _aggregate is a route, not a document: GET is 405 (POST only).
	r = e.do("GET", "/api/products/_aggregate", nil)
	errorBody(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
	require.Equal(t, "POST", r.header.Get("Allow"))

	// _explain of a pipeline.
	mustStatus(t, e.do("POST", "/api/products/_indexes", `{"name":"by_price","fields":["price"]}`), http.StatusCreated)
	var x api.AggExplanation
	mustStatus(t, e.do("POST", "/api/products/_explain", `{"pipeline":[{"$match":{"price":{"$gt":50}}},{"$sort":{"price":1}},{"$limit":1}]}`), http.StatusOK).json(t, &x)
	require.Equal(t, "IXSCAN", x.Source.Plan)
	require.Equal(t, "by_price", x.Source.Index)
	require.Equal(t, []string{"$match", "$sort", "$limit"}, x.Stages)
	require.Equal(t, 2, x.PushedDown)
	// A find body still explains a find.
	var fx api.Explanation
	mustStatus(t, e.do("POST", "/api/products/_explain", `{"filter":{"price":{"$gt":50}}}`), http.StatusOK).json(t, &fx)
	require.Equal(t, "IXSCAN", fx.Plan)
}

// TestAggregateSpillConfig checks AGG_MAX_MEMORY_MB's effect: over it a
// blocking stage spills into AggSpillDir (emptied at start, and left
// empty), or is 400 too_large without one.
func TestAggregateSpillConfig(t *testing.T) {
	dir := t.TempDir()
	stale := dir + "/agg-stale.run"
	require.NoError(t, os.WriteFile(stale, []byte("x"), 0o644))
	e := newEnv(t, envOptions{cfg: Config{AggMaxMemoryBytes: 1 << 10, AggSpillDir: dir}})
	_, err := os.Stat(stale)
	require.True(t, os.IsNotExist(err), "New empties the spill directory")
	for i := range 40 {
		mustStatus(t, e.do("PUT", "/api/c/d"+string(rune('a'+i%26))+string(rune('a'+i/26)), `{"g":`+string(rune('0'+i%10))+`}`), http.StatusCreated)
	}
	pipe := `[{"$group":{"_id":"$_id","g":{"$first":"$g"}}},{"$group":{"_id":"$g","n":{"$sum":1}}},{"$sort":{"_id":1}},{"$limit":2}]`
	r := mustStatus(t, e.do("POST", "/api/c/_aggregate", pipe), http.StatusOK)
	require.JSONEq(t, `{"docs":[{"_id":0,"n":4},{"_id":1,"n":4}]}`, string(r.body))
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, ents)

	e2 := newEnv(t, envOptions{cfg: Config{AggMaxMemoryBytes: 1 << 10}})
	for i := range 40 {
		mustStatus(t, e2.do("PUT", "/api/c/d"+string(rune('a'+i%26))+string(rune('a'+i/26)), `{"g":1}`), http.StatusCreated)
	}
	errorBody(t, e2.do("POST", "/api/c/_aggregate", pipe), http.StatusBadRequest, "too_large")
}

// TestClientAggregate runs a pipeline through the Go client, over pages.
func TestClientAggregate(t *testing.T) {
	c, e := newClient(t, Config{})
	e.seed()
	ctx := t.Context()
	pipe := []map[string]any{{"$sort": map[string]any{"price": -1}}, {"$project": map[string]any{"price": 1}}}
	var got []string
	for d, err := range c.AggregateAll(ctx, "products", pipe, client.AggregateOptions{Limit: 3}) {
		require.NoError(t, err)
		got = append(got, string(d))
	}
	require.Equal(t, []string{`{"_id":"p2","price":150}`, `{"_id":"p4","price":90}`, `{"_id":"p1","price":20}`, `{"_id":"p3","price":2}`}, got)
	x, err := c.ExplainAggregate(ctx, "products", `[{"$match":{"_id":"p1"}}]`)
	require.NoError(t, err)
	require.Equal(t, "IDSCAN", x.Source.Plan)
	_, err = c.Aggregate(ctx, "products", `[{"$bogus":1}]`, client.AggregateOptions{})
	var ce *client.Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "invalid_pipeline", ce.Code)
}

// TestAggregateInflightBudget checks that blocking stages take their
// memory from the server's in-flight budget: with no room and no
// spilling the answer is 503 overloaded; with spilling, the stage spills
// early and answers.
func TestAggregateInflightBudget(t *testing.T) {
	pipe := `[{"$group":{"_id":"$_id","v":{"$push":"$pad"}}},{"$count":"n"}]`
	load := func(e *env) {
		var docs []string
		for i := range 3000 {
			docs = append(docs, fmt.Sprintf(`{"_id":"d%05d","pad":"%0200d"}`, i, i))
			if len(docs) == 500 {
				mustStatus(t, e.do("POST", "/api/c/_insertMany", "["+strings.Join(docs, ",")+"]"), http.StatusCreated)
				docs = nil
			}
		}
	}
	cfg := Config{MaxBodyBytes: 256 << 10, MaxInflightBytes: 512 << 10, AggMaxMemoryBytes: 16 << 20}
	e := newEnv(t, envOptions{cfg: cfg})
	load(e)
	errorBody(t, e.do("POST", "/api/c/_aggregate", pipe), http.StatusServiceUnavailable, "overloaded")
	require.Zero(t, e.srv.mem.used.Load(), "the reservation outlived the request")

	cfg.AggSpillDir = t.TempDir()
	e = newEnv(t, envOptions{cfg: cfg})
	load(e)
	r := mustStatus(t, e.do("POST", "/api/c/_aggregate", pipe), http.StatusOK)
	require.JSONEq(t, `{"docs":[{"n":3000}]}`, string(r.body))
	require.Zero(t, e.srv.mem.used.Load())
}
