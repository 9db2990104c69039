package httpd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/httpd/client/api"
	"github.com/minidbgo/minidbgo/storage"
	"github.com/minidbgo/minidbgo/storage/vfs"
	"github.com/minidbgo/minidbgo/storage/vfs/errorfs"
)

func TestHealthAndReady(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.healthy()
	r := mustStatus(t, e.do("GET", "/api/ready", nil), http.StatusOK)
	require.JSONEq(t, `{"status":"ready"}`, string(r.body))
	e.srv.BeginShutdown()
	r = mustStatus(t, e.do("GET", "/api/ready", nil), http.StatusServiceUnavailable)
	require.JSONEq(t, `{"status":"not_ready","reason":"shutting down"}`, string(r.body))
	e.healthy() // liveness is not readiness
}

// TestReadOnlyEngine breaks the WAL's fsync: the write fails with 503
// (the engine turns read-only), later writes too, reads still work, and
// readiness reports it.
func TestReadOnlyEngine(t *testing.T) {
	efs := errorfs.Wrap(vfs.NewMem(), nil)
	e := newEnv(t, envOptions{storage: &storage.Options{FS: efs}, closeErrOK: true})
	e.seed()
	efs.SetInjector(errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind == errorfs.OpFileSync {
			return errorfs.ErrInjected
		}
		return nil
	}))
	errorBody(t, e.do("POST", "/api/products", `{"_id":"x"}`), http.StatusServiceUnavailable, "unavailable")
	r := e.do("POST", "/api/products", `{"_id":"y"}`)
	errorBody(t, r, http.StatusServiceUnavailable, "unavailable")
	require.Empty(t, r.header.Get("Retry-After"), "a read-only engine needs a restart, not a retry")
	errorBody(t, e.do("DELETE", "/api/products/p1", nil), http.StatusServiceUnavailable, "unavailable")
	mustStatus(t, e.do("GET", "/api/products/p1", nil), http.StatusOK)
	rr := mustStatus(t, e.do("GET", "/api/ready", nil), http.StatusServiceUnavailable)
	require.Contains(t, string(rr.body), "read-only")
	var m api.Metrics
	mustStatus(t, e.do("GET", "/api/metrics", nil), http.StatusOK).json(t, &m)
	require.True(t, m.ReadOnly)
	e.healthy()
}

// TestEngineBusy stalls the flush worker so that writers get ErrBusy:
// 503 with Retry-After, and nothing written.
func TestEngineBusy(t *testing.T) {
	release := make(chan struct{})
	efs := errorfs.Wrap(vfs.NewMem(), nil)
	e := newEnv(t, envOptions{storage: &storage.Options{FS: efs, MemTableRecords: 1,
		MaxImmutableMemTables: 1, WriteStallTimeout: 20 * time.Millisecond}})
	efs.SetInjector(errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind == errorfs.OpCreate && strings.HasSuffix(op.Path, ".sst") {
			<-release
		}
		return nil
	}))
	defer func() {
		efs.SetInjector(nil)
		close(release)
	}()
	busy := false
	for i := 0; i < 20 && !busy; i++ {
		r := e.do("PUT", "/api/c/k"+itoa(i), `{"v":1}`)
		if r.status == http.StatusServiceUnavailable {
			errorBody(t, r, http.StatusServiceUnavailable, "busy")
			require.Equal(t, "1", r.header.Get("Retry-After"))
			busy = true
			// The refused write is not there.
			errorBody(t, e.do("GET", "/api/c/k"+itoa(i), nil), http.StatusNotFound, "not_found")
		} else {
			require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
		}
	}
	require.True(t, busy, "the stalled flush must make writes busy")
	e.healthy()
}

func TestAPIMetrics(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.seed()
	mustStatus(t, e.do("GET", "/api/products/p1", nil), http.StatusOK)
	mustStatus(t, e.do("DELETE", "/api/products/p1", nil), http.StatusOK)
	r := mustStatus(t, e.do("GET", "/api/metrics", nil), http.StatusOK)
	var raw map[string]any
	r.json(t, &raw)
	for _, k := range []string{"puts", "gets", "deletes", "flushes", "compacts", "wal_syncs", "busy_rejections",
		"block_cache_hits", "bloom_skips", "levels", "memtable_bytes", "http_requests", "compact_running"} {
		require.Contains(t, raw, k)
	}
	var m api.Metrics
	r.json(t, &m)
	require.GreaterOrEqual(t, m.Puts, uint64(4))
	require.GreaterOrEqual(t, m.Gets, uint64(1))
	require.GreaterOrEqual(t, m.Deletes, uint64(1))
	require.Len(t, m.Levels, 7)
	require.GreaterOrEqual(t, m.HTTPRequests, uint64(6))
	// The guide's five come first.
	require.True(t, strings.HasPrefix(string(r.body), `{"puts":`))
}

func TestPrometheus(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.seed()
	mustStatus(t, e.do("GET", "/api/products/p1", nil), http.StatusOK)
	errorBody(t, e.do("GET", "/api/products/zz", nil), http.StatusNotFound, "not_found")
	r := mustStatus(t, e.do("GET", "/metrics", nil), http.StatusOK)
	// The text format as promhttp sends it, to a scraper that does not ask for OpenMetrics.
	require.Regexp(t, `^text/plain; version=0\.0\.4; charset=utf-8(; escaping=underscores)?$`, r.header.Get("Content-Type"))
	body := string(r.body)
	for _, want := range []string{
		`minidbgo_http_requests_total{route="/api/{col}",method="POST",status="201"} 4`,
		`minidbgo_http_requests_total{route="/api/{col}/{id}",method="GET",status="200"} 1`,
		`minidbgo_http_requests_total{route="/api/{col}/{id}",method="GET",status="404"} 1`,
		`minidbgo_http_request_duration_seconds_bucket{route="/api/{col}/{id}",method="GET",status="200",le="+Inf"} 1`,
		`minidbgo_http_request_duration_seconds_count{route="/api/{col}",method="POST",status="201"} 4`,
		"# TYPE minidbgo_http_request_duration_seconds histogram",
		"# TYPE minidbgo_engine_puts_total counter",
		"minidbgo_engine_puts_total ",
		"# TYPE minidbgo_engine_memtable_bytes gauge",
		`minidbgo_engine_level_files{level="0"} 0`,
		"minidbgo_compact_running 0",
		"go_goroutines ",
		"minidbgo_process_memory_limit_bytes ",
	} {
		require.Contains(t, body, want)
	}
	// Every line is a comment or "name{labels} value".
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			require.Regexp(t, `^# (HELP|TYPE) [a-z_:][a-z0-9_:]* `, line)
			continue
		}
		require.Regexp(t, `^[a-z_:][a-z0-9_:]*(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [-+0-9.e]+$|^[a-z_:][a-z0-9_:]*(\{.*le="\+Inf"\}) [0-9.e+]+$`, line)
	}
}

func TestStats(t *testing.T) {
	e := newEnv(t, envOptions{cfg: Config{StatsInterval: 20 * time.Millisecond}})
	time.Sleep(60 * time.Millisecond) // a couple of samples
	start := time.Now()
	r := mustStatus(t, e.do("GET", "/api/stats", nil), http.StatusOK)
	require.Less(t, time.Since(start), 900*time.Millisecond, "stats never blocks (the seed slept 1 s to measure CPU)")
	var raw map[string]json.RawMessage
	r.json(t, &raw)
	fields := []string{"process_cpu_percent", "process_rss_mb", "process_rss_limit_mb", "go_num_goroutine", "go_alloc_mb",
		"go_sys_mb", "go_heap_alloc_mb", "go_heap_inuse_mb", "go_num_gc", "system_cpu_percent"}
	require.Len(t, raw, len(fields), "exactly the guide's fields")
	for _, f := range fields {
		require.Contains(t, raw, f)
	}
	var st api.Stats
	r.json(t, &st)
	require.Positive(t, st.ProcessRSSMB)
	require.Positive(t, st.ProcessRSSLimitMB)
	require.Positive(t, st.GoNumGoroutine)
	require.Positive(t, st.GoSysMB)
}

func TestCompact(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.seed()
	r := mustStatus(t, e.do("POST", "/api/_compact", nil), http.StatusAccepted)
	var cs api.CompactStatus
	r.json(t, &cs)
	require.Contains(t, []string{"started", "running"}, cs.Status)
	require.Eventually(t, func() bool {
		var m api.Metrics
		e.do("GET", "/api/metrics", nil).json(t, &m)
		return !m.CompactRunning && m.CompactRequests >= 1
	}, 5*time.Second, 5*time.Millisecond)
	var m api.Metrics
	e.do("GET", "/api/metrics", nil).json(t, &m)
	require.Empty(t, m.CompactLastError)
	require.GreaterOrEqual(t, m.Flushes, uint64(1), "a compaction flushes the memtable first")

	// One at a time: a second request while one runs says so.
	block := make(chan struct{})
	e.srv.compactor.mu.Lock()
	e.srv.compactor.running = true
	e.srv.compactor.mu.Unlock()
	mustStatus(t, e.do("POST", "/api/_compact", `{}`), http.StatusAccepted).json(t, &cs)
	require.Equal(t, "running", cs.Status)
	e.srv.compactor.mu.Lock()
	e.srv.compactor.running = false
	e.srv.compactor.mu.Unlock()
	close(block)
	mustStatus(t, e.do("GET", "/api/products/p1", nil), http.StatusOK)
}

func TestDebugEndpoints(t *testing.T) {
	open := newEnv(t, envOptions{cfg: Config{DebugOpen: true}})
	var gc api.GCResult
	mustStatus(t, open.do("POST", "/api/debug/gc", nil), http.StatusOK).json(t, &gc)
	r := mustStatus(t, open.do("GET", "/debug/pprof/", nil), http.StatusOK)
	require.Contains(t, string(r.body), "goroutine")
	r = mustStatus(t, open.do("GET", "/debug/pprof/heap?debug=1", nil), http.StatusOK)
	require.Contains(t, string(r.body), "heap profile")
	mustStatus(t, open.do("GET", "/debug/pprof/goroutine?debug=1", nil), http.StatusOK)
	mustStatus(t, open.do("GET", "/debug/pprof/cmdline", nil), http.StatusOK)
	mustStatus(t, open.do("GET", "/debug/pprof/symbol", nil), http.StatusOK)
	mustStatus(t, open.do("GET", "/debug/pprof/profile?seconds=1", nil), http.StatusOK)
	mustStatus(t, open.do("GET", "/debug/pprof/trace?seconds=0.05", nil), http.StatusOK)
	errorBody(t, open.do("GET", "/debug/pprof/nope", nil), http.StatusNotFound, "route_not_found")
	errorBody(t, open.do("GET", "/debug/nope/x", nil), http.StatusNotFound, "route_not_found")
	errorBody(t, open.do("POST", "/debug/vars", nil), http.StatusMethodNotAllowed, "method_not_allowed")
	r = mustStatus(t, open.do("GET", "/debug/vars", nil), http.StatusOK)
	require.Contains(t, string(r.body), "memstats")

	// Auth off but not on loopback only: closed.
	closed := newEnv(t, envOptions{})
	errorBody(t, closed.do("POST", "/api/debug/gc", nil), http.StatusForbidden, "forbidden")
	errorBody(t, closed.do("GET", "/debug/pprof/", nil), http.StatusForbidden, "forbidden")
	errorBody(t, closed.do("GET", "/debug/vars", nil), http.StatusForbidden, "forbidden")
	errorBody(t, closed.do("GET", "/debug/pprof/heap", nil), http.StatusForbidden, "forbidden")
}

func TestRecoverer(t *testing.T) {
	var logs bytes.Buffer
	e := newEnv(t, envOptions{cfg: Config{Logger: newTestLogger(&logs)}})
	e.srv.testHook = func(r *http.Request) {
		if r.URL.Query().Get("panic") != "" {
			panic("boom: secret internals")
		}
	}
	r := errorBody(t, e.do("GET", "/api/_collections?panic=1", nil), http.StatusInternalServerError, "internal")
	require.Equal(t, "internal server error", r.Error)
	raw := e.do("GET", "/api/_collections?panic=1", nil)
	require.NotContains(t, string(raw.body), "secret")
	require.NotContains(t, string(raw.body), "goroutine")
	require.Contains(t, logs.String(), "boom: secret internals", "the panic is logged")
	require.Contains(t, logs.String(), `"stack"`)
	e.srv.testHook = nil
	e.healthy()
	mustStatus(t, e.do("GET", "/api/_collections", nil), http.StatusOK)
}
