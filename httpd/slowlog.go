package httpd

import (
	"context"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/minidbgo/minidbgo/docstore"
)

// The slow-query log: every request has a queryInfo (in its reqState); a handler
// that ran a query records on it the plan and the work the query's cursor
// counted (noteQuery); a request slower than Config.SlowQuery is then
// logged once at WARN with them, and counted per route in
// minidbgo_http_slow_requests_total. The line holds the route, the
// collection, the plan, the keys and documents examined, the results and
// the duration: never a document, a filter or a path beyond the route
// pattern.

// queryInfo is what a request's query did. Handlers write it, observe
// reads it after the handler returned.
type queryInfo struct {
	set          bool
	plan         string // COLLSCAN, IXSCAN or IDSCAN
	index        string
	keysExamined int64
	docsExamined int64
	results      int64
	inMemorySort bool
}

// queryInfoOf returns the queryInfo of the request whose context ctx is
// (a scratch one when withRequestID did not run).
func queryInfoOf(ctx context.Context) *queryInfo {
	if st, _ := ctx.Value(ctxRequestID).(*reqState); st != nil {
		return &st.query
	}
	return new(queryInfo)
}

// noteQuery records the plan and the work of the request's query, as
// the query's cursor counted them (docstore.Cursor.Explain): the query is
// not run again.
func noteQuery(ctx context.Context, e docstore.Explanation) {
	st, _ := ctx.Value(ctxRequestID).(*reqState)
	if st == nil {
		return
	}
	qi := &st.query
	*qi = queryInfo{set: true, plan: e.Plan, index: e.Index, keysExamined: e.KeysExamined,
		docsExamined: e.DocsExamined, results: e.NReturned, inMemorySort: e.InMemorySort}
}

// explained returns a context under which a docstore Count, Distinct,
// UpdateMany or DeleteMany records its plan and cost
// (docstore.WithExplain), and the func that notes them for the slow-query
// log once the call returned.
func explained(ctx context.Context) (context.Context, func()) {
	e := new(docstore.Explanation)
	return docstore.WithExplain(ctx, e), func() {
		if e.Plan != "" {
			noteQuery(ctx, *e)
		}
	}
}

// slowRequests counts slow requests per route pattern.
type slowRequests struct {
	total  atomic.Uint64
	routes sync.Map // route -> *atomic.Uint64
}

func (c *slowRequests) add(route string) {
	c.total.Add(1)
	v, ok := c.routes.Load(route)
	if !ok {
		v, _ = c.routes.LoadOrStore(route, new(atomic.Uint64))
	}
	v.(*atomic.Uint64).Add(1)
}

// each calls f for each route's count, by route.
func (c *slowRequests) each(f func(route string, n uint64)) {
	var routes []string
	c.routes.Range(func(k, _ any) bool {
		routes = append(routes, k.(string))
		return true
	})
	sort.Strings(routes)
	for _, r := range routes {
		v, _ := c.routes.Load(r)
		f(r, v.(*atomic.Uint64).Load())
	}
}

// slowQuery logs and counts the request when it took d ≥ Config.SlowQuery.
func (s *Server) slowQuery(r *http.Request, route string, status int, d time.Duration, qi *queryInfo) {
	if s.cfg.SlowQuery < 0 || d < s.cfg.SlowQuery {
		return
	}
	if strings.HasSuffix(route, "/_changes") {
		return // a change feed waits by design
	}
	s.metrics.slow.add(route)
	attrs := []slog.Attr{
		slog.String("request_id", requestID(r.Context())),
		slog.String("method", r.Method),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
	}
	if col := chi.URLParam(r, "col"); col != "" {
		attrs = append(attrs, slog.String("collection", truncate(col, 128)))
	}
	if qi.set {
		attrs = append(attrs,
			slog.String("plan", qi.plan),
			slog.Int64("keys_examined", qi.keysExamined),
			slog.Int64("docs_examined", qi.docsExamined),
			slog.Int64("results", qi.results),
			slog.Bool("in_memory_sort", qi.inMemorySort))
		if qi.index != "" {
			attrs = append(attrs, slog.String("index", qi.index))
		}
	}
	s.logger.LogAttrs(r.Context(), slog.LevelWarn, "slow request", attrs...)
}
