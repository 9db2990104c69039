// Package soak runs minidbgo-load's soak test: the minidbgo-server binary
// as a child process under GOMEMLIMIT=200MiB, driven for a long time by a
// mixed workload at many clients while compactions are requested and a
// full dump and a collection export stream without pause, its RSS sampled
// every second. The run passes when the peak RSS stays under a limit (the
// guide's 150 MB) and no request failed other than by a deliberate 503
// (the concurrency limit, "overloaded", or write backpressure, "busy").
//
// Run is called by "minidbgo-load soak" (make soak, 10 minutes) and by the
// package's test (60 s, part of make test).
package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minidbgo/minidbgo/loadtest/internal/runner"
	"github.com/minidbgo/minidbgo/loadtest/internal/target"
)

// Config configures a soak run. A zero field selects its default.
type Config struct {
	// ServerBin is the minidbgo-server binary. Required.
	ServerBin string
	// Duration of the mixed load. Default 10m.
	Duration time.Duration
	// Clients is the number of closed-loop workers. Default 50.
	Clients int
	// RSSLimitMB is the peak RSS (MiB) the run must stay under. Default 150.
	RSSLimitMB float64
	// MemLimit is the server's GOMEMLIMIT. Default "200MiB".
	MemLimit string
	// FlushSize and MaxMemMB are the server's FLUSH_SIZE and MAX_MEM_MB:
	// small, so that flushes and compactions happen all through the run.
	// Defaults 5000 and 30 (the guide's "high write load" profile).
	FlushSize int
	MaxMemMB  int
	// ServerEnv adds KEY=VALUE variables to the server's environment
	// (after the above, so they win).
	ServerEnv []string
	// Collection holds the documents. Default "soak".
	Collection string
	// MaxDocs caps the data set: once the window of live ids holds this
	// many, inserts turn into deletes of the oldest documents. Default
	// 50,000.
	MaxDocs int
	// Preload documents are inserted before the load starts. Default
	// MaxDocs/2.
	Preload int
	// DocSize is the approximate document size in bytes. Default 1024.
	DocSize int
	// Batch is the documents per _insertMany. Default 20.
	Batch int
	// CompactEvery is the interval of POST /api/_compact; the first is
	// sent after half of it (or a third of Duration if sooner). Default
	// 20s.
	CompactEvery time.Duration
	// SampleEvery is the interval of the RSS samples. Default 1s.
	SampleEvery time.Duration
	// RequestTimeout bounds one request of the mixed load (the server's
	// own REQUEST_TIMEOUT, 30 s, answers 504 first). Default 60s.
	RequestTimeout time.Duration
	// Seed makes the operation mix reproducible. Default 1.
	Seed uint64
	// Status, when set, receives a one-line status every StatusEvery
	// (default 30s).
	Status      io.Writer
	StatusEvery time.Duration
	// ProfileDir, when set, receives heap profiles of the server
	// (/debug/pprof/heap): heap-peak.pprof at each new RSS peak above 80%
	// of the limit (at most every 10 s) and heap-end.pprof at the end.
	ProfileDir string
	// ServerLog, when set, receives the server's whole log (JSON lines).
	ServerLog io.Writer
}

func (c Config) withDefaults() Config {
	if c.Duration <= 0 {
		c.Duration = 10 * time.Minute
	}
	if c.Clients <= 0 {
		c.Clients = 50
	}
	if c.RSSLimitMB <= 0 {
		c.RSSLimitMB = 150
	}
	if c.MemLimit == "" {
		c.MemLimit = "200MiB"
	}
	if c.FlushSize <= 0 {
		c.FlushSize = 5000
	}
	if c.MaxMemMB <= 0 {
		c.MaxMemMB = 30
	}
	if c.Collection == "" {
		c.Collection = "soak"
	}
	if c.MaxDocs <= 0 {
		c.MaxDocs = 50000
	}
	if c.Preload <= 0 {
		c.Preload = c.MaxDocs / 2
	}
	c.Preload = min(c.Preload, c.MaxDocs)
	if c.DocSize <= 0 {
		c.DocSize = 1024
	}
	if c.Batch <= 0 {
		c.Batch = 20
	}
	if c.CompactEvery <= 0 {
		c.CompactEvery = 20 * time.Second
	}
	if c.SampleEvery <= 0 {
		c.SampleEvery = time.Second
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 60 * time.Second
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.StatusEvery <= 0 {
		c.StatusEvery = 30 * time.Second
	}
	return c
}

// serverEnv is the environment the server runs with, beyond MODE, LISTEN,
// PORT and DB_PATH.
func (c Config) serverEnv() []string {
	env := []string{
		"GOMEMLIMIT=" + c.MemLimit,
		"FLUSH_SIZE=" + strconv.Itoa(c.FlushSize),
		"MAX_MEM_MB=" + strconv.Itoa(c.MaxMemMB),
		// One line per request would be ~2 GB of log in ten minutes;
		// warnings and errors are still logged (and counted).
		"ACCESS_LOG=false",
	}
	return append(env, c.ServerEnv...)
}

// Result is what a soak run measured, and its verdict.
type Result struct {
	Command     string   `json:"command,omitempty"`
	ServerBin   string   `json:"server_bin"`
	ServerEnv   []string `json:"server_env"`
	ServerStart string   `json:"server_settings,omitempty"` // gomemlimit, gogc… from its start-up line
	Clients     int      `json:"clients"`
	DurationSec float64  `json:"duration_s"`
	ElapsedSec  float64  `json:"elapsed_s"`
	MaxDocs     int      `json:"max_docs"`
	DocSize     int      `json:"doc_size"`
	Preloaded   int      `json:"preloaded"`

	// Requests counts every request sent during the run (the mixed load,
	// dumps, exports, compaction requests and the samplers' polls).
	Requests int64 `json:"requests"`
	// Ops holds the figures of each kind of request.
	Ops map[string]*OpResult `json:"ops"`
	// Status counts responses by status ("503 busy" for 5xx, with the
	// error body's code).
	Status map[string]int64 `json:"status"`
	// Deliberate503 counts the 503s the server sends on purpose
	// ("overloaded": MAX_CONCURRENT reached; "busy": write backpressure).
	Deliberate503 int64 `json:"deliberate_503"`
	// Unexpected5xx counts every other 5xx.
	Unexpected5xx int64 `json:"unexpected_5xx"`
	// Errors counts requests without a response (transport errors,
	// truncated streams) while the server was up.
	Errors       int64            `json:"errors"`
	ErrorSamples map[string]int64 `json:"error_samples,omitempty"`

	RSSLimitMB float64 `json:"rss_limit_mb"`
	// PeakRSSMB is the larger of the highest 1 s sample of VmRSS and the
	// kernel's high-water mark VmHWM, in MiB.
	PeakRSSMB    float64 `json:"peak_rss_mb"`
	PeakSampleMB float64 `json:"peak_rss_sampled_mb"`
	PeakRSSAtSec float64 `json:"peak_rss_at_s"`
	HWMMB        float64 `json:"vm_hwm_mb"`
	FinalRSSMB   float64 `json:"final_rss_mb"`
	RSSSamples   int     `json:"rss_samples"`
	MaxHeapMB    float64 `json:"max_heap_inuse_mb"`
	MaxGoSysMB   float64 `json:"max_go_sys_mb"`
	PeakDiskMB   float64 `json:"peak_disk_mb"`
	FinalDocs    int64   `json:"final_docs"`

	GC         *GCStats           `json:"gc,omitempty"`
	Server     map[string]float64 `json:"server_metrics_delta,omitempty"`
	Compaction StreamStats        `json:"compactions"`
	Dumps      StreamStats        `json:"dumps"`
	Exports    StreamStats        `json:"exports"`

	ServerLogWarnings int      `json:"server_log_warnings"`
	ServerLogErrors   int      `json:"server_log_errors"`
	ServerLogSamples  []string `json:"server_log_samples,omitempty"`
	ServerExit        string   `json:"server_exit"`

	// Failures lists why the run failed; empty when it passed.
	Failures []string `json:"failures"`
	Pass     bool     `json:"pass"`

	// Timeline holds one sample per SampleEvery (WriteCSV prints it).
	Timeline []Sample `json:"-"`
}

// OpResult is the figures of one kind of request.
type OpResult struct {
	Requests int64            `json:"requests"`
	Rate     float64          `json:"requests_per_s"`
	P50US    float64          `json:"p50_us"`
	P99US    float64          `json:"p99_us"`
	P999US   float64          `json:"p99_9_us"`
	MaxUS    float64          `json:"max_us"`
	Status   map[string]int64 `json:"status"`
	Errors   int64            `json:"errors,omitempty"`
	BytesIn  int64            `json:"bytes_in"`
	BytesOut int64            `json:"bytes_out"`
}

// StreamStats counts the background activities: compactions requested
// and completed, dumps and exports streamed to the end.
type StreamStats struct {
	Requested int     `json:"requested"`
	Completed int     `json:"completed"`
	Failed    int     `json:"failed"`
	Bytes     int64   `json:"bytes,omitempty"`
	LastBytes int64   `json:"last_bytes,omitempty"`
	MaxSec    float64 `json:"max_s"`
	LastError string  `json:"last_error,omitempty"`
}

// GCStats are the server's garbage-collector figures at the end of the
// run (runtime.MemStats via /debug/vars).
type GCStats struct {
	NumGC         uint32  `json:"num_gc"`
	PauseTotalMS  float64 `json:"pause_total_ms"`
	MaxPauseMS    float64 `json:"max_recent_pause_ms"`
	GCCPUFraction float64 `json:"gc_cpu_fraction"`
	HeapSysMB     float64 `json:"heap_sys_mb"`
	SysMB         float64 `json:"sys_mb"`
	NextGCMB      float64 `json:"next_gc_mb"`
}

// Sample is one row of the timeline.
type Sample struct {
	T           float64 // seconds since the load started (negative: preload)
	RSSMB       float64
	HWMMB       float64
	HeapInuseMB float64 // -1: not answered
	GoSysMB     float64
	NumGC       int64
	Goroutines  int64
	Requests    int64 // mixed-load requests completed so far
	Flushes     int64
	Compacts    int64
	Tables      int64
	Immutable   int64
	DiskMB      float64
}

// Run performs a soak run. It returns an error when the run could not be
// carried out (no binary, the server would not start); a run that was
// carried out returns its Result, whose Failures say whether it passed.
// Cancelling ctx ends the load early; the run is then reported as such.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg = cfg.withDefaults()
	if cfg.ServerBin == "" {
		return nil, errors.New("soak: no server binary")
	}
	if _, err := os.Stat(cfg.ServerBin); err != nil {
		return nil, fmt.Errorf("soak: server binary: %w", err)
	}
	dir, err := os.MkdirTemp("", "minidbgo-soak-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	logs := &logFilter{next: cfg.ServerLog}
	env := cfg.serverEnv()
	child, err := target.StartChildWith(target.ChildConfig{Bin: cfg.ServerBin, Dir: dir, Env: env, Log: logs})
	if err != nil {
		return nil, err
	}
	s := newSoak(cfg, child, dir, logs)
	res := &Result{
		ServerBin: cfg.ServerBin, ServerEnv: env, ServerStart: logs.startSettings(),
		Clients: cfg.Clients, DurationSec: cfg.Duration.Seconds(), MaxDocs: cfg.MaxDocs, DocSize: cfg.DocSize,
		RSSLimitMB: cfg.RSSLimitMB,
	}
	err = s.run(ctx, res)
	closeErr := child.Close()
	s.client.CloseIdleConnections()
	exit := child.ExitErr()
	switch {
	case closeErr != nil:
		res.ServerExit = closeErr.Error()
	case s.diedAt.Load() != 0:
		res.ServerExit = fmt.Sprintf("died during the run: %v", exit)
	case exit != nil:
		res.ServerExit = "after SIGTERM: " + exit.Error()
	default:
		res.ServerExit = "clean (SIGTERM, exit status 0)"
	}
	if closeErr != nil || (exit != nil && s.diedAt.Load() == 0) { // a death is reported by run
		res.Failures = append(res.Failures, "server exit: "+res.ServerExit)
	}
	res.ServerLogWarnings, res.ServerLogErrors, res.ServerLogSamples = logs.counts()
	if err != nil {
		return res, err
	}
	res.Pass = len(res.Failures) == 0
	if res.Failures == nil {
		res.Failures = []string{} // [] in JSON
	}
	return res, nil
}

// soak is one run's state.
type soak struct {
	cfg    Config
	child  *target.Child
	dir    string
	logs   *logFilter
	base   string
	col    string // "/api/<collection>"
	client *http.Client
	start  time.Time
	diedAt atomic.Int64 // unix nanoseconds when the child was seen dead

	ops  map[string]*opStats
	load *loadGen

	mu       sync.Mutex // protects the fields below
	timeline []Sample
	compact  StreamStats
	dumps    StreamStats
	exports  StreamStats
	lastProf time.Time
	peakProf float64
}

func newSoak(cfg Config, child *target.Child, dir string, logs *logFilter) *soak {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        cfg.Clients + 16,
		MaxIdleConnsPerHost: cfg.Clients + 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	s := &soak{
		cfg: cfg, child: child, dir: dir, logs: logs, base: child.URL(),
		col:    "/api/" + cfg.Collection,
		client: &http.Client{Transport: tr},
		ops:    map[string]*opStats{},
	}
	for _, k := range opKinds {
		s.ops[k] = newOpStats()
	}
	s.load = newLoadGen(cfg)
	return s
}

// run preloads, runs the load with its background activities, and fills
// res.
func (s *soak) run(ctx context.Context, res *Result) error {
	if err := s.setup(ctx); err != nil {
		return fmt.Errorf("soak: setup: %w\n%s", err, s.child.LogTail())
	}
	res.Preloaded = s.cfg.Preload
	before := s.metrics(ctx)

	// Watch the child: a dead server ends the run at once.
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	go func() {
		select {
		case <-s.child.Exited():
			s.diedAt.Store(time.Now().UnixNano())
			cancelRun()
		case <-runCtx.Done():
		}
	}()

	s.start = time.Now()
	rn, err := runner.New(runner.Config{Concurrency: s.cfg.Clients, Duration: s.cfg.Duration}, s.load.op(s))
	if err != nil {
		return err
	}
	// Background activities stop when the load does; streams under way
	// then finish (their own deadline bounds them).
	bgStop := make(chan struct{})
	var bg sync.WaitGroup
	g := &serverGauges{}
	s.poll(runCtx, g)
	bg.Go(func() { s.poller(runCtx, bgStop, g) })
	bg.Go(func() { s.sampler(runCtx, bgStop, g, rn.Done) })
	bg.Go(func() { s.compactor(runCtx, bgStop) })
	bg.Go(func() { s.streamLoop(runCtx, bgStop, "dump", "/api/dumpDB", &s.dumps) })
	bg.Go(func() { s.streamLoop(runCtx, bgStop, "export", s.col+"/_export", &s.exports) })
	if s.cfg.Status != nil {
		bg.Go(func() { s.statusLoop(runCtx, bgStop, g, rn.Done) })
	}
	_, runErr := rn.Run(runCtx)
	elapsed := time.Since(s.start)
	close(bgStop)
	bg.Wait()
	res.ElapsedSec = round(elapsed.Seconds(), 3)

	died := s.diedAt.Load() != 0
	if !died {
		s.poll(ctx, g)
		s.sample(ctx, g, rn.Done) // the last sample, after everything settled
		after := s.metrics(ctx)
		res.Server = delta(before, after)
		res.GC = s.gcStats(ctx)
		res.FinalDocs = s.docCount(ctx)
		if s.cfg.ProfileDir != "" {
			s.saveHeap(ctx, "heap-end.pprof")
		}
	}
	s.fill(res, elapsed)
	switch {
	case died:
		res.Failures = append(res.Failures, fmt.Sprintf("server died %.1fs into the run: %v", time.Duration(s.diedAt.Load()-s.start.UnixNano()).Seconds(), s.child.ExitErr()))
	case ctx.Err() != nil:
		res.Failures = append(res.Failures, "interrupted after "+elapsed.Round(time.Second).String())
	case runErr != nil && !errors.Is(runErr, context.Canceled):
		res.Failures = append(res.Failures, "load: "+runErr.Error())
	}
	return nil
}

// fill computes res's figures and failures from what was recorded.
func (s *soak) fill(res *Result, elapsed time.Duration) {
	res.Ops = map[string]*OpResult{}
	res.Status = map[string]int64{}
	res.ErrorSamples = map[string]int64{}
	for kind, st := range s.ops {
		r := st.result(elapsed)
		if r.Requests == 0 {
			continue
		}
		res.Ops[kind] = r
		res.Requests += r.Requests
		res.Errors += r.Errors
		for code, n := range r.Status {
			res.Status[code] += n
			switch {
			case isDeliberate503(code):
				res.Deliberate503 += n
			case code >= "500":
				res.Unexpected5xx += n
			}
		}
		for msg, n := range st.samples {
			res.ErrorSamples[kind+": "+msg] += n
		}
	}
	if len(res.ErrorSamples) == 0 {
		res.ErrorSamples = nil
	}
	s.mu.Lock()
	res.Timeline = s.timeline
	res.Compaction, res.Dumps, res.Exports = s.compact, s.dumps, s.exports
	s.mu.Unlock()
	for _, smp := range res.Timeline {
		res.RSSSamples++
		if smp.RSSMB > res.PeakSampleMB {
			res.PeakSampleMB, res.PeakRSSAtSec = smp.RSSMB, smp.T
		}
		res.HWMMB = max(res.HWMMB, smp.HWMMB)
		res.MaxHeapMB = max(res.MaxHeapMB, smp.HeapInuseMB)
		res.MaxGoSysMB = max(res.MaxGoSysMB, smp.GoSysMB)
		res.PeakDiskMB = max(res.PeakDiskMB, smp.DiskMB)
		res.FinalRSSMB = smp.RSSMB
	}
	res.PeakRSSMB = max(res.PeakSampleMB, res.HWMMB)

	fail := func(format string, args ...any) { res.Failures = append(res.Failures, fmt.Sprintf(format, args...)) }
	if res.RSSSamples == 0 {
		fail("no RSS sample succeeded")
	} else if res.PeakRSSMB >= res.RSSLimitMB {
		fail("peak RSS %.1f MiB ≥ limit %.0f MiB (sampled peak %.1f MiB at %.0fs, VmHWM %.1f MiB)",
			res.PeakRSSMB, res.RSSLimitMB, res.PeakSampleMB, res.PeakRSSAtSec, res.HWMMB)
	}
	if res.Unexpected5xx > 0 {
		fail("%d unexpected 5xx responses (%s)", res.Unexpected5xx, statusLine(only5xx(res.Status)))
	}
	if res.Errors > 0 {
		fail("%d requests failed without a response", res.Errors)
	}
	if res.Compaction.Failed > 0 {
		fail("%d compactions failed", res.Compaction.Failed)
	}
	if res.Compaction.Completed == 0 {
		fail("no compaction requested with POST /api/_compact completed")
	}
	if res.Dumps.Failed > 0 || res.Exports.Failed > 0 {
		fail("%d dumps and %d exports failed", res.Dumps.Failed, res.Exports.Failed)
	}
	if res.Dumps.Completed == 0 {
		fail("no full dump (GET /api/dumpDB) completed")
	}
	if res.Exports.Completed == 0 {
		fail("no collection export completed")
	}
}

func isDeliberate503(code string) bool { return code == "503 overloaded" || code == "503 busy" }

func only5xx(m map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range m {
		if k >= "500" && !isDeliberate503(k) {
			out[k] = v
		}
	}
	return out
}

// setup creates the index and preloads documents.
func (s *soak) setup(ctx context.Context) error {
	for _, f := range []string{"city"} {
		body, _ := json.Marshal(map[string]any{"fields": []string{f}})
		st, resp, err := s.do(ctx, "POST", s.col+"/_indexes", body)
		if err != nil {
			return fmt.Errorf("create index on %s: %w", f, err)
		}
		if st/100 != 2 && st != 409 {
			return fmt.Errorf("create index on %s: HTTP %d: %s", f, st, strings.TrimSpace(string(resp)))
		}
	}
	const batch = 1000
	for k := 0; k < s.cfg.Preload; k += batch {
		body := s.load.batchBody(uint64(k), uint64(min(batch, s.cfg.Preload-k)))
		for attempt := 0; ; attempt++ {
			st, resp, err := s.do(ctx, "POST", s.col+"/_insertMany", body)
			if err != nil {
				return fmt.Errorf("preload: %w", err)
			}
			if st == 503 && attempt < 30 { // backpressure while preloading: wait
				time.Sleep(time.Second)
				continue
			}
			if st/100 != 2 {
				return fmt.Errorf("preload: HTTP %d: %s", st, strings.TrimSpace(string(resp)))
			}
			break
		}
	}
	return nil
}

// do sends one request outside the measured load and returns its status
// and body.
func (s *soak) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	req, err := newRequest(ctx, s.base, method, path, body)
	if err != nil {
		return 0, nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return resp.StatusCode, b, err
}

// metrics fetches the /api/metrics counters the report shows.
func (s *soak) metrics(ctx context.Context) map[string]float64 {
	var m map[string]any
	if !s.getJSON(ctx, "metrics", "/api/metrics", s.cfg.RequestTimeout, &m) {
		return nil
	}
	out := map[string]float64{}
	for k, v := range m {
		if f, ok := v.(float64); ok {
			out[k] = f
		}
	}
	return out
}

// serverCounters are the /api/metrics counters whose change over the
// run the report shows.
var serverCounters = []string{
	"puts", "gets", "deletes", "flushes", "compacts", "manual_compactions", "trivial_moves",
	"compaction_bytes_in", "compaction_bytes_out", "write_stalls", "busy_rejections", "l0_stalls",
	"background_errors", "http_rejected_busy", "http_server_errors", "wal_syncs", "bytes_flushed",
}

func delta(before, after map[string]float64) map[string]float64 {
	if before == nil || after == nil {
		return nil
	}
	d := map[string]float64{}
	for _, k := range serverCounters {
		a, okA := after[k]
		b, okB := before[k]
		if okA && okB {
			d[k] = a - b
		}
	}
	return d
}

// getJSON GETs path into v, recorded under kind; false when it failed.
func (s *soak) getJSON(ctx context.Context, kind, path string, timeout time.Duration, v any) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, body, err := s.ops[kind].send(ctx, s, "GET", path, nil, true)
	if err != nil || st != 200 {
		return false
	}
	return json.Unmarshal(body, v) == nil
}

// gcStats reads runtime.MemStats from /debug/vars (open on loopback
// without API keys).
func (s *soak) gcStats(ctx context.Context) *GCStats {
	var vars struct {
		MemStats *struct {
			NumGC         uint32
			PauseTotalNs  uint64
			PauseNs       [256]uint64
			GCCPUFraction float64
			HeapSys       uint64
			Sys           uint64
			NextGC        uint64
		} `json:"memstats"`
	}
	if !s.getJSON(ctx, "stats", "/debug/vars", s.cfg.RequestTimeout, &vars) || vars.MemStats == nil {
		return nil
	}
	m := vars.MemStats
	var maxPause uint64
	for _, p := range m.PauseNs {
		maxPause = max(maxPause, p)
	}
	const mib = 1 << 20
	return &GCStats{
		NumGC: m.NumGC, PauseTotalMS: round(float64(m.PauseTotalNs)/1e6, 1), MaxPauseMS: round(float64(maxPause)/1e6, 2),
		GCCPUFraction: round(m.GCCPUFraction, 4), HeapSysMB: round(float64(m.HeapSys)/mib, 1),
		SysMB: round(float64(m.Sys)/mib, 1), NextGCMB: round(float64(m.NextGC)/mib, 1),
	}
}

// docCount returns the collection's document count, -1 when unknown.
func (s *soak) docCount(ctx context.Context) int64 {
	var c struct {
		DocCount int64 `json:"docCount"`
	}
	if !s.getJSON(ctx, "stats", s.col, s.cfg.RequestTimeout, &c) {
		return -1
	}
	return c.DocCount
}

// saveHeap writes the server's heap profile into the profile directory.
func (s *soak) saveHeap(ctx context.Context, name string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, body, err := s.do(ctx, "GET", "/debug/pprof/heap", nil)
	if err != nil || st != 200 {
		return
	}
	if os.MkdirAll(s.cfg.ProfileDir, 0o755) == nil {
		_ = os.WriteFile(filepath.Join(s.cfg.ProfileDir, name), body, 0o644)
	}
}

func newRequest(ctx context.Context, base, method, path string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

func round(v float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	if v < 0 {
		return -float64(int64(-v*p+0.5)) / p
	}
	return float64(int64(v*p+0.5)) / p
}

// statusLine formats status counts as "200×9990 503 busy×10".
func statusLine(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"×"+strconv.FormatInt(m[k], 10))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}
