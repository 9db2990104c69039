package httpd

import (
	"bufio"
	"fmt"
	"io"
	"runtime"
	"runtime/metrics"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minidbgo/minidbgo/httpd/client/api"
	"github.com/minidbgo/minidbgo/storage"
)

// latencyBuckets are the upper bounds, in seconds, of the request latency
// histogram.
var latencyBuckets = [...]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// serverMetrics are the HTTP server's counters. Safe for concurrent use.
type serverMetrics struct {
	requests     atomic.Uint64
	inFlight     atomic.Int64
	rejectedBusy atomic.Uint64
	rejectedRate atomic.Uint64
	serverErrors atomic.Uint64
	slow         slowRequests // Config.SlowQuery (slowlog.go)

	routes sync.Map // routeKey -> *routeStats
}

type routeKey struct {
	route, method string
	status        int
}

type routeStats struct {
	count    atomic.Uint64
	sumNanos atomic.Uint64
	buckets  [len(latencyBuckets)]atomic.Uint64 // non-cumulative
}

func (m *serverMetrics) observe(route, method string, status int, d time.Duration) {
	m.requests.Add(1)
	if status >= 500 {
		m.serverErrors.Add(1)
	}
	k := routeKey{route, method, status}
	v, ok := m.routes.Load(k)
	if !ok {
		v, _ = m.routes.LoadOrStore(k, new(routeStats))
	}
	rs := v.(*routeStats)
	rs.count.Add(1)
	rs.sumNanos.Add(uint64(d))
	sec := d.Seconds()
	for i, ub := range latencyBuckets {
		if sec <= ub {
			rs.buckets[i].Add(1)
			break
		}
	}
}

// apiMetrics builds the body of GET /api/metrics.
func (s *Server) apiMetrics() api.Metrics {
	em := s.db.Metrics()
	m := api.Metrics{
		Puts: em.Puts, Gets: em.Gets, Deletes: em.Deletes, Flushes: em.Flushes, Compacts: em.Compactions,
		Batches: em.Batches, CommitGroups: em.CommitGroups, WALSyncs: em.WALSyncs, WALBytes: em.WALBytes,
		BytesIn: em.BytesIn, BytesFlushed: em.BytesFlushed, ManualCompactions: em.ManualCompactions,
		TrivialMoves: em.TrivialMoves, CompactionBytesIn: em.CompactionBytesIn, CompactionBytesOut: em.CompactionBytesOut,
		CompactionsRunning: em.CompactionsRunning, WriteStalls: em.WriteStalls, BusyRejections: em.BusyRejections,
		L0Stalls: em.L0Stalls, BackgroundErrors: em.BackgroundErrors, ReadOnly: em.ReadOnly,
		Degraded: em.Degraded, DamagedTables: em.DamagedTables, CorruptionErrors: em.CorruptionErrors, DegradedRejections: em.DegradedRejections,
		MemTableRecords: em.MemTableRecords, MemTableBytes: em.MemTableBytes, ImmutableMemTables: em.ImmutableMemTables,
		Snapshots: em.Snapshots, BlockCacheHits: em.BlockCacheHits, BlockCacheMisses: em.BlockCacheMisses,
		BlockCacheBytes: em.BlockCacheBytes, BlockCacheCapacity: em.BlockCacheCapacity, OpenTables: em.OpenTables,
		BloomSkips: em.BloomSkips, TableReads: em.TableReads, IteratorsCreated: em.IteratorsCreated,
		LastSeq: em.LastSeq, TotalTables: em.TotalTables, TotalTableBytes: em.TotalTableBytes,
		ReadAmplification: em.ReadAmplification,

		HTTPRequests: s.metrics.requests.Load(), HTTPInFlight: s.metrics.inFlight.Load(),
		HTTPRejectedBusy: s.metrics.rejectedBusy.Load(), HTTPRejectedRate: s.metrics.rejectedRate.Load(),
		HTTPServerErrors: s.metrics.serverErrors.Load(), HTTPSlowRequests: s.metrics.slow.total.Load(),
		HTTPInflightBytes: s.mem.used.Load(), HTTPInflightLimit: s.mem.limit,
		HTTPRejectedMemory: s.mem.rejected.Load(), HTTPTooSlow: s.mem.tooSlow.Load(),
		UptimeSeconds: int64(time.Since(s.started).Seconds()),
	}
	m.Levels = make([]api.LevelMetrics, 0, len(em.Levels))
	for l, lm := range em.Levels {
		m.Levels = append(m.Levels, api.LevelMetrics{Level: l, Files: lm.Files, Bytes: lm.Bytes})
	}
	cs := s.compactor.status()
	m.CompactRunning, m.CompactRequests, m.CompactLastError, m.CompactLastMS = cs.running, cs.runs, cs.lastErr, cs.lastMS
	return m
}

// promWriter writes the Prometheus text exposition format (version 0.0.4).
type promWriter struct {
	w *bufio.Writer
}

func (p promWriter) header(name, typ, help string) {
	fmt.Fprintf(p.w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func (p promWriter) sample(name, labels string, v float64) {
	p.w.WriteString(name)
	if labels != "" {
		p.w.WriteByte('{')
		p.w.WriteString(labels)
		p.w.WriteByte('}')
	}
	p.w.WriteByte(' ')
	p.w.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	p.w.WriteByte('\n')
}

func (p promWriter) metric(name, typ, help string, v float64) {
	p.header(name, typ, help)
	p.sample(name, "", v)
}

// labelEscaper escapes a label value: backslash, double quote and newline.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func label(name, value string) string {
	return name + `="` + labelEscaper.Replace(value) + `"`
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// writePrometheus writes every metric: HTTP requests and latencies by
// route, method and status; the engine's counters and gauges; the
// process's.
func (s *Server) writePrometheus(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := promWriter{bw}

	type entry struct {
		k  routeKey
		rs *routeStats
	}
	var entries []entry
	s.metrics.routes.Range(func(k, v any) bool {
		entries = append(entries, entry{k.(routeKey), v.(*routeStats)})
		return true
	})
	sort.Slice(entries, func(i, j int) bool {
		a, b := entries[i].k, entries[j].k
		if a.route != b.route {
			return a.route < b.route
		}
		if a.method != b.method {
			return a.method < b.method
		}
		return a.status < b.status
	})
	labelsOf := func(k routeKey) string {
		return label("route", k.route) + "," + label("method", k.method) + "," + label("status", strconv.Itoa(k.status))
	}
	p.header("minidbgo_http_requests_total", "counter", "HTTP requests by route pattern, method and status.")
	for _, e := range entries {
		p.sample("minidbgo_http_requests_total", labelsOf(e.k), float64(e.rs.count.Load()))
	}
	p.header("minidbgo_http_request_duration_seconds", "histogram", "HTTP request latency by route pattern, method and status.")
	for _, e := range entries {
		ls := labelsOf(e.k)
		var cum uint64
		for i, ub := range latencyBuckets {
			cum += e.rs.buckets[i].Load()
			p.sample("minidbgo_http_request_duration_seconds_bucket", ls+","+label("le", strconv.FormatFloat(ub, 'g', -1, 64)), float64(cum))
		}
		n := e.rs.count.Load()
		p.sample("minidbgo_http_request_duration_seconds_bucket", ls+`,le="+Inf"`, float64(max(n, cum)))
		p.sample("minidbgo_http_request_duration_seconds_sum", ls, float64(e.rs.sumNanos.Load())/1e9)
		p.sample("minidbgo_http_request_duration_seconds_count", ls, float64(n))
	}
	p.metric("minidbgo_http_requests_in_flight", "gauge", "HTTP requests being served.", float64(s.metrics.inFlight.Load()))
	p.header("minidbgo_http_slow_requests_total", "counter", "HTTP requests slower than SLOW_QUERY_MS, by route pattern (each logged at WARN).")
	s.metrics.slow.each(func(route string, n uint64) {
		p.sample("minidbgo_http_slow_requests_total", label("route", route), float64(n))
	})
	p.header("minidbgo_http_rejected_total", "counter", "HTTP requests refused before their handler, by reason.")
	p.sample("minidbgo_http_rejected_total", `reason="overloaded"`, float64(s.metrics.rejectedBusy.Load()))
	p.sample("minidbgo_http_rejected_total", `reason="rate_limited"`, float64(s.metrics.rejectedRate.Load()))
	p.sample("minidbgo_http_rejected_total", `reason="memory"`, float64(s.mem.rejected.Load()))
	p.sample("minidbgo_http_rejected_total", `reason="too_slow"`, float64(s.mem.tooSlow.Load()))
	p.metric("minidbgo_http_inflight_bytes", "gauge", "Memory reserved by request bodies and sorts in flight (admission).", float64(s.mem.used.Load()))
	p.metric("minidbgo_http_inflight_bytes_limit", "gauge", "The in-flight memory budget, MAX_INFLIGHT_MB.", float64(s.mem.limit))
	p.metric("minidbgo_http_access_log_dropped_total", "counter", "Access log lines dropped because the log's destination was slower than the requests (ACCESS_LOG).", float64(s.alog.droppedLines()))

	em := s.db.Metrics()
	writeEngineMetrics(p, em)

	cs := s.compactor.status()
	p.metric("minidbgo_compact_running", "gauge", "1 while a compaction requested through POST /api/_compact runs.", b2f(cs.running))
	p.metric("minidbgo_compact_requests_total", "counter", "Compactions started through POST /api/_compact.", float64(cs.runs))
	p.metric("minidbgo_compact_failures_total", "counter", "Compactions started through POST /api/_compact that failed.", float64(cs.failures))

	st := s.stats.snapshot()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	p.metric("minidbgo_process_cpu_percent", "gauge", "Process CPU use, sampled in the background (deprecated: rate(process_cpu_seconds_total)).", st.processCPU)
	p.metric("minidbgo_system_cpu_percent", "gauge", "System CPU use, sampled in the background.", st.systemCPU)
	p.metric("minidbgo_process_resident_memory_bytes", "gauge", "Resident set size, sampled in the background (deprecated: process_resident_memory_bytes).", float64(st.rss))
	p.metric("minidbgo_process_memory_limit_bytes", "gauge", "Memory limit: cgroup v2, cgroup v1 or the host's memory.", float64(s.stats.limitBytes))
	// go_goroutines and go_memstats_* are the Go collector's (metrics_std.go).
	p.metric("go_gc_cycles_total", "counter", "Completed GC cycles (deprecated: go_gc_duration_seconds_count).", float64(ms.NumGC))
	gcCPU := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(gcCPU)
	if gcCPU[0].Value.Kind() == metrics.KindFloat64 {
		p.metric("minidbgo_gc_cpu_seconds_total", "counter", "CPU time the Go runtime estimates it spent collecting garbage (runtime/metrics /cpu/classes/gc/total:cpu-seconds); against process_cpu_seconds_total, the share of CPU spent in GC.", gcCPU[0].Value.Float64())
	}
	p.metric("minidbgo_uptime_seconds", "gauge", "Seconds since the server started.", time.Since(s.started).Seconds())
	if s.cfg.Cluster != nil {
		writeClusterMetrics(p, s.cfg.Cluster.Metrics())
	}
	return bw.Flush()
}

// writeClusterMetrics writes a cluster node's minidbgo_cluster_* figures
// (cluster mode only): alert on minidbgo_cluster_has_leader == 0, or on
// minidbgo_cluster_applied_index falling behind the leader's.
func writeClusterMetrics(p promWriter, m ClusterMetrics) {
	p.metric("minidbgo_cluster_leader", "gauge", "1 while this node is the Raft leader.", b2f(m.Leader))
	p.metric("minidbgo_cluster_has_leader", "gauge", "1 while this node knows a leader (0: no quorum, or an election).", b2f(m.HasLeader))
	p.metric("minidbgo_cluster_term", "gauge", "The Raft term (it grows with every election).", float64(m.Term))
	p.metric("minidbgo_cluster_commit_index", "gauge", "The Raft log's commit index as this node knows it.", float64(m.CommitIndex))
	p.metric("minidbgo_cluster_applied_index", "gauge", "The last log index this node's data applied.", float64(m.AppliedIndex))
	p.metric("minidbgo_cluster_voters", "gauge", "Voters in the cluster's configuration.", float64(m.Voters))
	p.metric("minidbgo_cluster_nodes", "gauge", "Members of the cluster's configuration.", float64(m.Nodes))
	p.metric("minidbgo_cluster_last_contact_seconds", "gauge", "Seconds since this node last heard from a leader (0 on the leader).", m.LastContact.Seconds())
}

func writeEngineMetrics(p promWriter, em storage.Metrics) {
	counters := []struct {
		name, help string
		v          uint64
	}{
		{"puts", "Puts acknowledged (a batch counts each entry).", em.Puts},
		{"gets", "Point reads.", em.Gets},
		{"deletes", "Deletes acknowledged.", em.Deletes},
		{"batches", "Atomic batches applied.", em.Batches},
		{"commit_groups", "Group commits (WAL appends).", em.CommitGroups},
		{"wal_syncs", "WAL fsyncs.", em.WALSyncs},
		{"wal_bytes", "Bytes appended to the WAL.", em.WALBytes},
		{"bytes_in", "User key and value bytes written.", em.BytesIn},
		{"flushes", "Memtables written to L0.", em.Flushes},
		{"bytes_flushed", "Bytes written by flushes.", em.BytesFlushed},
		{"compactions", "Merging compactions completed.", em.Compactions},
		{"manual_compactions", "Manual compactions run.", em.ManualCompactions},
		{"trivial_moves", "Tables moved down a level without rewriting.", em.TrivialMoves},
		{"compaction_bytes_in", "Bytes read by compactions.", em.CompactionBytesIn},
		{"compaction_bytes_out", "Bytes written by compactions.", em.CompactionBytesOut},
		{"write_stalls", "Times a writer waited for the immutable memtable queue.", em.WriteStalls},
		{"busy_rejections", "Writes refused with ErrBusy.", em.BusyRejections},
		{"l0_stalls", "Times flushing waited for L0 compaction.", em.L0Stalls},
		{"background_errors", "Failed flushes and compactions (retried unless a damaged table failed them).", em.BackgroundErrors},
		{"corruption_errors", "Corruption errors met by reads and compactions (checksum failures in tables).", em.CorruptionErrors},
		{"degraded_rejections", "Writes refused because a damaged table blocks the compaction they wait for.", em.DegradedRejections},
		{"block_cache_hits", "Block cache hits.", em.BlockCacheHits},
		{"block_cache_misses", "Block cache misses.", em.BlockCacheMisses},
		{"bloom_skips", "Table reads avoided by a bloom filter.", em.BloomSkips},
		{"table_reads", "Table point lookups that passed the bloom filter.", em.TableReads},
		{"iterators_created", "Iterators created.", em.IteratorsCreated},
	}
	for _, c := range counters {
		p.metric("minidbgo_engine_"+c.name+"_total", "counter", c.help, float64(c.v))
	}
	gauges := []struct {
		name, help string
		v          float64
	}{
		{"compactions_running", "Compactions running now.", float64(em.CompactionsRunning)},
		{"read_only", "1 when an I/O error made the engine read-only.", b2f(em.ReadOnly)},
		{"degraded", "1 once a damaged table was found; GET /api/ready names it.", b2f(em.Degraded)},
		{"damaged_tables", "Tables found damaged since the engine opened.", float64(em.DamagedTables)},
		{"memtable_records", "Records in the active memtable.", float64(em.MemTableRecords)},
		{"memtable_bytes", "Bytes in the active memtable.", float64(em.MemTableBytes)},
		{"immutable_memtables", "Frozen memtables waiting for the flush worker.", float64(em.ImmutableMemTables)},
		{"snapshots", "Open snapshots.", float64(em.Snapshots)},
		{"block_cache_bytes", "Bytes in the block cache.", float64(em.BlockCacheBytes)},
		{"block_cache_capacity_bytes", "Block cache capacity.", float64(em.BlockCacheCapacity)},
		{"open_tables", "Open SSTable readers.", float64(em.OpenTables)},
		{"tables", "Live SSTables.", float64(em.TotalTables)},
		{"table_bytes", "Bytes in live SSTables.", float64(em.TotalTableBytes)},
		{"read_amplification", "Memtables, L0 tables and non-empty deeper levels a read may visit.", float64(em.ReadAmplification)},
		{"last_seq", "Last visible sequence number.", float64(em.LastSeq)},
	}
	for _, g := range gauges {
		p.metric("minidbgo_engine_"+g.name, "gauge", g.help, g.v)
	}
	p.header("minidbgo_engine_level_files", "gauge", "SSTables per level.")
	for l, lm := range em.Levels {
		p.sample("minidbgo_engine_level_files", label("level", strconv.Itoa(l)), float64(lm.Files))
	}
	p.header("minidbgo_engine_level_bytes", "gauge", "Bytes per level.")
	for l, lm := range em.Levels {
		p.sample("minidbgo_engine_level_bytes", label("level", strconv.Itoa(l)), float64(lm.Bytes))
	}
}
