package httpd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/docstore"
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
	require.NotContains(t, body, "minidbgo_cluster_", "a single node has no cluster figures")
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

// TestDegradedByDamagedTable damages a data block of an L0 table under a
// stopped server, then serves it: /api/ready is 503 naming the table once
// a compaction met the damage, writes end with 503 "degraded" (not a
// permanent "busy"), reads of the damaged block answer 500
// "data_corruption" naming the table, other reads work, and the metrics
// report it.
func TestDegradedByDamagedTable(t *testing.T) {
	fs := vfs.NewMem()
	doc := func(id string, i int) []byte {
		return []byte(fmt.Sprintf(`{"_id":%q,"n":%d,"pad":%q}`, id, i, strings.Repeat("p", 60)))
	}
	db, err := docstore.Open("db", &docstore.Options{Storage: &storage.Options{FS: fs, BlockSize: 1024,
		DisableAutomaticCompactions: true}})
	require.NoError(t, err)
	_, err = db.InsertOne(context.Background(), "c", doc("seed", 0), docstore.WriteOptions{})
	require.NoError(t, err)
	require.NoError(t, db.Flush())
	for _, p := range []string{"k", "m"} { // one table each
		for i := range 200 {
			_, err := db.InsertOne(context.Background(), "c", doc(fmt.Sprintf("%s%04d", p, i), i), docstore.WriteOptions{})
			require.NoError(t, err)
		}
		require.NoError(t, db.Flush())
	}
	require.NoError(t, db.Close())
	names, err := fs.List("db/sst")
	require.NoError(t, err)
	require.Len(t, names, 3)
	victim := "sst/" + names[1] // the k* documents
	data, err := fs.ReadFile("db/" + victim)
	require.NoError(t, err)
	data[20] ^= 0x5a // the first data block
	require.NoError(t, fs.WriteFile("db/"+victim, data))

	e := newEnv(t, envOptions{storage: &storage.Options{FS: fs, BlockSize: 1024, MemTableRecords: 40,
		MaxImmutableMemTables: 1, L0CompactionThreshold: 4, L0StopWritesThreshold: 6,
		WriteStallTimeout: 2 * time.Second}})
	// The server opens: docstore's sweep for crash leftovers at open reads
	// the first block of every table, meets the damage and degrades the
	// engine instead of refusing to start.
	r0 := mustStatus(t, e.do("GET", "/api/ready", nil), http.StatusServiceUnavailable)
	require.Contains(t, string(r0.body), victim)

	// Write documents inside the damaged table's key range (so that
	// compaction must read it) until the server refuses.
	// (A stall that began before the compaction found the damage may
	// end in one "busy" on a slow machine; it must not stay that way.)
	var last response
	busy := 0
	for i := 0; i < 2000; i++ {
		last = e.do("PUT", fmt.Sprintf("/api/c/k0150-%05d", i), `{"v":1}`)
		if last.status == http.StatusServiceUnavailable && strings.Contains(string(last.body), `"busy"`) && busy < 3 {
			busy++
			i--
			continue
		}
		if last.status != http.StatusCreated {
			break
		}
	}
	eb := errorBody(t, last, http.StatusServiceUnavailable, "degraded")
	require.Contains(t, eb.Error, victim)
	require.NotContains(t, eb.Error, "db/sst", "no server path")
	require.Empty(t, last.header.Get("Retry-After"), "retrying does not help")

	r := mustStatus(t, e.do("GET", "/api/ready", nil), http.StatusServiceUnavailable)
	var ready api.Ready
	r.json(t, &ready)
	require.Equal(t, "not_ready", ready.Status)
	require.Contains(t, ready.Reason, victim)
	t.Logf("write: %s", last.body)
	t.Logf("ready: %s", r.body)

	// The damaged block's documents report it; the others are served.
	r = e.do("GET", "/api/c/k0000", nil)
	eb = errorBody(t, r, http.StatusInternalServerError, "data_corruption")
	require.Contains(t, eb.Error, victim)
	t.Logf("read: %s", r.body)
	mustStatus(t, e.do("GET", "/api/c/m0000", nil), http.StatusOK)
	mustStatus(t, e.do("GET", "/api/c/k0199", nil), http.StatusOK)
	mustStatus(t, e.do("GET", "/api/c/seed", nil), http.StatusOK)

	var m api.Metrics
	mustStatus(t, e.do("GET", "/api/metrics", nil), http.StatusOK).json(t, &m)
	require.True(t, m.Degraded)
	require.Equal(t, 1, m.DamagedTables)
	require.NotZero(t, m.CorruptionErrors)
	require.NotZero(t, m.DegradedRejections)
	require.False(t, m.ReadOnly)
	prom := string(mustStatus(t, e.do("GET", "/metrics", nil), http.StatusOK).body)
	require.Contains(t, prom, "minidbgo_engine_degraded 1\n")
	require.Contains(t, prom, "minidbgo_engine_damaged_tables 1\n")
	e.healthy()
}

// TestDataFileNameHidesPaths: a damaged file is named to clients by its
// place in the data directory, never by a server path.
func TestDataFileNameHidesPaths(t *testing.T) {
	for in, want := range map[string]string{
		"sst/000012.sst":                      "sst/000012.sst",
		"/var/lib/minidbgo/db/sst/000012.sst": "sst/000012.sst",
		`C:\data\db\wal\000003.log`:           "wal/000003.log",
		"CURRENT":                             "CURRENT",
	} {
		require.Equal(t, want, dataFileName(in), in)
	}
}

// TestRestoreOnFullDisk fills the disk under a restoreDB: the answer is
// 507 insufficient_storage, not a 400 blaming a dump line, and no answer
// names a server file (the engine's errors carry paths).
func TestRestoreOnFullDisk(t *testing.T) {
	efs := errorfs.Wrap(vfs.NewMem(), nil)
	e := newEnv(t, envOptions{storage: &storage.Options{FS: efs}, closeErrOK: true})
	e.seed()
	dump := mustStatus(t, e.do("GET", "/api/dumpDB", nil), http.StatusOK)
	efs.SetInjector(errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind == errorfs.OpFileWrite || op.Kind == errorfs.OpFileSync || op.Kind == errorfs.OpCreate {
			return errorfs.ErrNoSpace
		}
		return nil
	}))
	for _, req := range []struct{ method, path, body string }{
		{"POST", "/api/restoreDB", string(dump.body)},
		// The first batch is written when the second collection starts:
		// its failure must not be blamed on line 3.
		{"POST", "/api/restoreDB", "{\"collection\":\"a\",\"doc\":{\"_id\":\"1\"}}\n{\"collection\":\"a\",\"doc\":{\"_id\":\"2\"}}\n{\"collection\":\"b\",\"doc\":{\"_id\":\"1\"}}\n"},
		{"POST", "/api/products", `{"_id":"z"}`},
		{"POST", "/api/products/_insertMany", `[{"_id":"z1"},{"_id":"z2"}]`},
		{"POST", "/api/c2/_import", "{\"_id\":\"a\"}\n"},
	} {
		r := e.do(req.method, req.path, req.body)
		eb := errorBody(t, r, http.StatusInsufficientStorage, "insufficient_storage")
		require.Nil(t, eb.Index, "%s %s: the dump is not at fault: %s", req.method, req.path, r.body)
		for _, leak := range []string{"db/", "wal", ".log", ".sst", "MANIFEST", "errorfs"} {
			require.NotContains(t, eb.Error, leak, "%s %s", req.method, req.path)
		}
	}
	rr := mustStatus(t, e.do("GET", "/api/ready", nil), http.StatusServiceUnavailable)
	require.NotContains(t, string(rr.body), "db/")
	mustStatus(t, e.do("GET", "/api/products/p1", nil), http.StatusOK)
}

// TestDataDirRemoved deletes the data directory under the server (rm
// -rf): writes are answered 503 unavailable naming the reason, none is
// acknowledged into the deleted files, readiness turns 503, reads go on,
// and no answer names a server path.
func TestDataDirRemoved(t *testing.T) {
	mem := vfs.NewMem()
	e := newEnv(t, envOptions{storage: &storage.Options{FS: mem, DirCheckInterval: -1}, closeErrOK: true})
	e.seed()
	require.NoError(t, mem.RemoveAll("/db"))
	for _, req := range []struct{ method, path, body string }{
		{"POST", "/api/products", `{"_id":"x"}`},
		{"PUT", "/api/products/p1", `{"name":"y"}`},
		{"POST", "/api/products/_insertMany", `[{"_id":"z1"}]`},
	} {
		r := e.do(req.method, req.path, req.body)
		eb := errorBody(t, r, http.StatusServiceUnavailable, "unavailable")
		require.Contains(t, eb.Error, "data directory was removed or replaced")
		require.NotContains(t, eb.Error, "/db")
		require.NotContains(t, eb.Error, "LOCK")
	}
	rr := mustStatus(t, e.do("GET", "/api/ready", nil), http.StatusServiceUnavailable)
	require.Contains(t, string(rr.body), "data directory was removed or replaced")
	mustStatus(t, e.do("GET", "/api/products/p1", nil), http.StatusOK)
	mustStatus(t, e.do("GET", "/api/products/x", nil), http.StatusNotFound)
}

// TestDataDirRefusesFiles makes the data directory refuse new files (as
// chmod -R a-w does for a non-root server): the write that needs a new
// WAL is answered 503, not 500, and so is every later one, without a
// new file number each; readiness reports it.
func TestDataDirRefusesFiles(t *testing.T) {
	efs := errorfs.Wrap(vfs.NewMem(), nil)
	e := newEnv(t, envOptions{storage: &storage.Options{FS: efs, MemTableRecords: 3, DirCheckInterval: -1}, closeErrOK: true})
	efs.SetInjector(errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind == errorfs.OpCreate {
			return syscall.EACCES
		}
		return nil
	}))
	refused := 0
	var next uint64
	for i := 0; i < 20; i++ {
		r := e.do("PUT", "/api/c/k"+itoa(i), `{"v":1}`)
		if r.status == http.StatusOK || r.status == http.StatusCreated {
			require.Zero(t, refused, "nothing is accepted once refused")
			continue
		}
		errorBody(t, r, http.StatusServiceUnavailable, "unavailable")
		if refused == 0 {
			next = e.db.Metrics().NextFileNumber
		}
		refused++
	}
	require.Positive(t, refused)
	require.Equal(t, next, e.db.Metrics().NextFileNumber, "no file number per failed request")
	mustStatus(t, e.do("GET", "/api/ready", nil), http.StatusServiceUnavailable)
}
