package httpd

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"runtime"
	"runtime/debug"
	rpprof "runtime/pprof"
	"strconv"
	"strings"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// health serves GET /api/health: liveness. It answers whenever the
// process serves HTTP, outside the concurrency limit and authentication.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, api.Health{Status: "ok", Version: s.cfg.Version})
}

// ready serves GET /api/ready: readiness. 503 while the server shuts
// down, after an I/O error made the engine read-only, or once a damaged
// table degraded it (the reason names the table).
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	var de *docstore.DegradedError
	err := s.db.Ready()
	switch {
	case s.isDraining():
		writeJSON(w, http.StatusServiceUnavailable, api.Ready{Status: "not_ready", Reason: "shutting down"})
	case errors.As(err, &de):
		names := make([]string, len(de.Tables))
		for i, ce := range de.Tables {
			names[i] = dataFileName(ce.File)
			if ce.Offset >= 0 {
				names[i] += " (offset " + strconv.FormatInt(ce.Offset, 10) + ")"
			}
		}
		writeJSON(w, http.StatusServiceUnavailable, api.Ready{Status: "not_ready",
			Reason: "degraded: damaged table " + strings.Join(names, ", ") +
				"; undamaged data is served, reads of the damaged blocks fail and writes stop once L0 is full; stop the server and run minidbgo check (docs/operations.md, Damaged data)"})
	case err != nil:
		writeJSON(w, http.StatusServiceUnavailable, api.Ready{Status: "not_ready", Reason: readOnlyReason(err)})
	default:
		writeJSON(w, http.StatusOK, api.Ready{Status: "ready"})
	}
}

// metricsHandler serves GET /api/metrics: the guide's counters (puts,
// gets, deletes, flushes, compacts) and every other engine and server
// counter, as JSON.
func (s *Server) metricsHandler(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.apiMetrics())
}

// compact serves POST /api/_compact: 202 at once; the compaction runs in
// the background, one at a time, its progress in the metrics
// (compact_running, compactions_running).
func (s *Server) compact(w http.ResponseWriter, r *http.Request) {
	status := "running"
	if s.compactor.start() {
		status = "started"
	}
	writeJSON(w, http.StatusAccepted, api.CompactStatus{Status: status})
}

// dumpDB serves GET /api/dumpDB: every collection's indexes and documents
// as NDJSON, streamed from one consistent snapshot, in memory bounded
// whatever the database's size.
func (s *Server) dumpDB(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", `attachment; filename="minidbgo-dump.ndjson"`)
	if r.Method == http.MethodHead {
		return // the headers only: do not stream the database into nothing
	}
	dw := s.downloadWriter(w)
	st, err := s.db.Dump(r.Context(), dw)
	s.endStream(w, r, dw, err, slog.Int64("documents", st.Documents))
}

// restoreDB serves POST /api/restoreDB: what dumpDB wrote, streamed,
// with or without newlines between objects (curl -d @backup.json strips
// them). Documents are upserted; a bad line stops the restore with 400
// and its line number as "index", the lines before it stored.
func (s *Server) restoreDB(w http.ResponseWriter, r *http.Request) {
	if err := checkContentType(r, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	st, err := s.db.Restore(r.Context(), s.uploadReader(w, r.Body))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.DumpStats{Collections: st.Collections, Documents: st.Documents, Indexes: st.Indexes, Bytes: st.Bytes})
}

// gc serves POST /api/debug/gc: a forced garbage collection that returns
// memory to the OS (for debugging only).
func (s *Server) gc(w http.ResponseWriter, r *http.Request) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	debug.FreeOSMemory()
	runtime.ReadMemStats(&ms)
	writeJSON(w, http.StatusOK, api.GCResult{HeapAllocBeforeMB: before / mib, HeapAllocAfterMB: ms.HeapAlloc / mib})
}

// pprofProfile serves GET /debug/pprof/{profile}: a named runtime profile
// (heap, goroutine, allocs, block, mutex, threadcreate).
func (s *Server) pprofProfile(w http.ResponseWriter, r *http.Request) {
	name, _ := pathParam(r, "profile")
	if rpprof.Lookup(name) == nil {
		s.writeError(w, r, reqErr(codeNotFoundRoute, "unknown profile "+quote(name)))
		return
	}
	pprof.Handler(name).ServeHTTP(w, r)
}
