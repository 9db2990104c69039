// Package httpd is MiniDBGo's REST server: the guide's API and more over a
// docstore.DB, with the limits, authentication and error bodies that make
// it safe to expose. It holds no storage or query logic: every request is
// parsed, checked against the limits and handed to package docstore.
//
// # Basics
//
//	db, err := docstore.Open("data/MiniDBGo", nil)
//	ln, err := net.Listen("tcp", "127.0.0.1:6866")
//	err = httpd.Serve(ctx, ln, db, httpd.Config{Logger: logger}) // until ctx is done; closes db
//
// Serve (serve.go) owns the http.Server and the shutdown; package
// httpd/config reads a Config from the environment and flags. A Server
// (New) is also an http.Handler for tests and in-process use.
//
// The routes are in routes.go, the statuses every error maps to in
// respond.go, and the whole API in docs/openapi.yaml. Package api holds
// the wire types and package client a Go client.
//
// # Errors
//
// Every error, including unknown routes (404), wrong methods (405, with
// Allow) and panics (500, no stack trace), is a JSON body
//
//	{"error": "<message>", "status": <code>, "code": "<machine_code>", "request_id": "…"}
//
// # Caveats
//
// A Server does not own the docstore.DB: close the DB after Close. Serve
// is the exception: it closes the DB when it returns.
package httpd

import (
	"context"
	"errors"

	"github.com/go-chi/chi/v5"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/storage"
)

// Config holds the server's limits and security settings. A zero field
// selects the default, which is the guide's.
type Config struct {
	// MaxConcurrent bounds the requests served at once; the excess is
	// answered 503 with Retry-After at once. Default 100. Health and
	// readiness checks are not counted.
	MaxConcurrent int
	// MaxBodyBytes bounds a request body (413 beyond). Default 10 MiB.
	// restoreDB and _import stream and bound each document instead.
	MaxBodyBytes int64
	// RequestTimeout bounds a request's handling (504 beyond). Default
	// 30 s. Streaming routes (dumpDB, restoreDB, _export, _import) are
	// bounded instead by ReadTimeout/WriteTimeout between chunks.
	RequestTimeout time.Duration
	// ReadTimeout and WriteTimeout are the http.Server's; a streaming
	// route extends its connection's deadlines by them as it progresses.
	// ReadTimeout defaults to 15 s; WriteTimeout to RequestTimeout + 5 s,
	// since the reply of a request that ran to its deadline is written
	// after it (a shorter http.Server.WriteTimeout cuts that reply off).
	ReadTimeout, WriteTimeout time.Duration
	// AllowedOrigins are the origins (as "https://app.example.com", or
	// "*") whose pages may send state-changing requests, with CORS
	// headers; other origins' state-changing requests are 403
	// cross_origin. The server's own origin is always allowed. See guard.
	AllowedOrigins []string
	// CheckHost refuses (403 host_not_allowed) a Host header other than
	// localhost, a loopback address, the ListenAddr host or one of
	// AllowedHosts: set it when the server listens on loopback only,
	// against DNS rebinding.
	CheckHost    bool
	ListenAddr   string
	AllowedHosts []string
	// NoFormJSON refuses application/x-www-form-urlencoded bodies (415),
	// which are otherwise read as JSON for the guide's curl -d.
	NoFormJSON bool
	// MaxInflightBytes bounds the memory of request bodies and of
	// unindexed sorts in flight at once (503 with Retry-After beyond).
	// Default: an eighth of the Go memory limit (GOMEMLIMIT), or 128 MiB
	// without one, and at least MaxBodyBytes. See admission.go.
	MaxInflightBytes int64
	// MaxSortBytes bounds the memory one unindexed sort may hold (400
	// sort_too_large beyond). Default: MaxInflightBytes / 2.
	MaxSortBytes int64
	// AggMaxMemoryBytes bounds the memory each blocking stage of an
	// aggregation ($group, $sort, …) holds before it spills to
	// AggSpillDir. Default 32 MiB (docstore.DefaultAggMaxMemory).
	AggMaxMemoryBytes int64
	// AggSpillDir is where aggregations spill; New empties it. Empty
	// turns spilling off: a blocking stage over AggMaxMemoryBytes is 400
	// too_large.
	AggSpillDir string
	// MinTransferRate is the slowest a request body, an upload or a
	// download may move, in bytes per second averaged over each
	// TransferWindow (408 client_too_slow, or a cut stream, below it).
	// Default 16 KiB/s over 10 s; negative turns the minimum off.
	MinTransferRate int64
	TransferWindow  time.Duration
	// Keys are the API keys; nil turns authentication off.
	Keys *Keys
	// DebugOpen admits the debug endpoints (debug/gc, pprof, expvar)
	// without an admin key when authentication is off. Set it only when
	// the server listens on loopback.
	DebugOpen bool
	// RateLimit is the requests per second allowed per API key (per
	// client IP with authentication off), with bursts of RateBurst
	// (default: RateLimit). Zero turns rate limiting off.
	RateLimit float64
	RateBurst int
	// AuthFailRate is how many failed authentications (a missing or
	// wrong API key) per second one client address may make once it has
	// spent a burst of AuthFailBurst; beyond, it is answered 429 with
	// Retry-After. It is on by default, whatever RateLimit says: 0.5 per
	// second after a burst of 10. A negative AuthFailRate turns it off.
	// At most maxBuckets addresses are tracked.
	AuthFailRate  float64
	AuthFailBurst int
	// StatsInterval is how often CPU and RSS are sampled for /api/stats.
	// Default 1 s; negative disables sampling.
	StatsInterval time.Duration
	// Logger receives the access log (one line per request, when
	// AccessLog is set) and errors. Default: discard.
	Logger    *slog.Logger
	AccessLog bool
	// Version is reported by /api/health.
	Version string
	// CompressMinBytes is the size from which JSON, NDJSON and metrics
	// responses are compressed (zstd or gzip, as the client's
	// Accept-Encoding asks). Default 1,024; negative turns compression
	// off.
	CompressMinBytes int
	// MaxFeeds bounds the change feeds that wait (longpoll, continuous,
	// eventsource) open at once; the excess is answered 503
	// too_many_feeds with Retry-After. Default 1,000. A feed holds one of
	// the MaxConcurrent slots only while it reads and sends a page.
	MaxFeeds int
	// SlowQuery is the duration from which a request is logged once at
	// WARN as a slow query (with its plan and the keys and documents it
	// examined, never document contents or filter values) and counted in
	// minidbgo_http_slow_requests_total. Default 100 ms; negative turns
	// it off.
	SlowQuery time.Duration

	// The settings below are Serve's: the http.Server's and the
	// shutdown's. New ignores them.

	// ReadHeaderTimeout and IdleTimeout are the http.Server's. Defaults
	// 5 s and 60 s; negative turns them off. (Serve gives the http.Server
	// ReadTimeout and WriteTimeout above too, and turns them off when
	// negative; the streaming routes then use their defaults.)
	ReadHeaderTimeout, IdleTimeout time.Duration
	// TLSCertFile and TLSKeyFile, when set, make Serve serve HTTPS (TLS
	// 1.2 or later).
	TLSCertFile, TLSKeyFile string
	// ShutdownTimeout bounds Serve's drain, flush and close once its
	// context is done: two thirds of it for draining requests, the rest
	// for flushing and closing. Default 30 s.
	ShutdownTimeout time.Duration
	// ListenFileDir, when set, is the data directory in which Serve
	// records the address it serves (WriteListenFile), removed before the
	// database closes.
	ListenFileDir string
	// Cluster, in cluster mode, is the node's Raft cluster (package
	// httpd/cluster); nil on a single node.
	Cluster Cluster
}

func (c Config) withDefaults() Config {
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = 100
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 10 << 20
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 15 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = c.RequestTimeout + 5*time.Second
	}
	if c.StatsInterval == 0 {
		c.StatsInterval = time.Second
	}
	if c.CompressMinBytes == 0 {
		c.CompressMinBytes = defaultCompressMinBytes
	}
	if c.AuthFailRate == 0 {
		c.AuthFailRate = 0.5
	}
	if c.AuthFailBurst <= 0 {
		c.AuthFailBurst = 10
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.SlowQuery == 0 {
		c.SlowQuery = 100 * time.Millisecond
	}
	if c.MaxFeeds <= 0 {
		c.MaxFeeds = 1000
	}
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = 5 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 60 * time.Second
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	return c.admissionDefaults()
}

// Server is the REST API over a docstore.DB. It is an http.Handler, safe
// for concurrent use. Close stops its background work.
type Server struct {
	db      *docstore.DB
	cfg     Config
	raw     Config // cfg before its defaults (Serve's http.Server timeouts)
	logger  *slog.Logger
	access  *slog.Logger // the access log's, or nil when it is off
	alog    *accessLog
	router  chi.Router
	started time.Time

	tokens  chan struct{} // concurrency limit
	mem     *memBudget    // in-flight memory (admission.go)
	limiter *limiter
	// failLimiter limits failed authentications per client IP.
	failLimiter *limiter
	metrics     serverMetrics
	stats       *sampler
	compactor   compactor

	mu       sync.Mutex // protects draining
	draining bool

	// Change feeds (changes.go): how many are open, and the context
	// whose end (BeginShutdown, Close) ends them.
	openFeeds atomic.Int64
	feedCtx   context.Context
	stopFeeds context.CancelFunc
	feedWG    sync.WaitGroup // detached streams (changes.go)

	// testHook, when set, runs inside the concurrency limit before the
	// handler (tests block requests with it).
	testHook func(*http.Request)
}

// New returns a server over db.
func New(db *docstore.DB, cfg Config) *Server {
	raw := cfg
	cfg = cfg.withDefaults()
	s := &Server{
		db:          db,
		cfg:         cfg,
		raw:         raw,
		logger:      cfg.Logger,
		started:     time.Now(),
		tokens:      make(chan struct{}, cfg.MaxConcurrent),
		mem:         &memBudget{limit: cfg.MaxInflightBytes},
		limiter:     newLimiter(cfg.RateLimit, cfg.RateBurst),
		failLimiter: newLimiter(cfg.AuthFailRate, cfg.AuthFailBurst),
		stats:       newSampler(cfg.StatsInterval),
	}
	if cfg.AggSpillDir != "" {
		if err := docstore.CleanSpillDir(cfg.AggSpillDir); err != nil {
			// Spilling is off until the directory can be used.
			s.logger.Warn("aggregation spill directory unusable; spilling is off", "error", err.Error())
			s.cfg.AggSpillDir = ""
		}
	}
	s.feedCtx, s.stopFeeds = context.WithCancel(context.Background())
	s.compactor.db = db
	s.compactor.logger = cfg.Logger
	if cfg.AccessLog {
		s.alog = newAccessLog(cfg.Logger, accessBufferBytes, accessFlushBytes)
		s.access = s.alog.logger
	}
	s.router = s.routes()
	return s
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.router.ServeHTTP(w, r)
}

// BeginShutdown makes /api/ready answer 503, so that load balancers stop
// sending requests while the http.Server drains, and ends the open change
// feeds (a longpoll answers what it has, a stream ends).
func (s *Server) BeginShutdown() {
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
	s.stopFeeds() // open change feeds end, so the drain need not wait for them
}

// Close ends the open change feeds, stops the background sampler, writes
// the access log's buffered lines and waits for a compaction started
// through the API to finish. Close the docstore.DB after it.
func (s *Server) Close() {
	s.stopFeeds()
	s.feedWG.Wait()
	s.stats.Close()
	if s.alog != nil {
		s.alog.Close()
	}
	s.compactor.wait()
}

func (s *Server) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}

// compactor runs POST /api/_compact requests in the background, one at a
// time.
type compactor struct {
	db     *docstore.DB
	logger *slog.Logger
	wg     sync.WaitGroup

	mu       sync.Mutex // protects the fields below
	running  bool
	runs     uint64
	failures uint64
	lastErr  string
	lastMS   int64
}

type compactStatus struct {
	running  bool
	runs     uint64
	failures uint64
	lastErr  string
	lastMS   int64
}

// start begins a compaction unless one is running; it reports whether it
// started one.
func (c *compactor) start() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		return false
	}
	c.running = true
	c.runs++
	c.wg.Go(func() {
		t := time.Now()
		err := c.db.Compact()
		d := time.Since(t)
		c.mu.Lock()
		c.running = false
		c.lastMS = d.Milliseconds()
		c.lastErr = ""
		if err != nil {
			c.failures++
			c.lastErr = err.Error()
		}
		c.mu.Unlock()
		if err != nil && !errors.Is(err, storage.ErrClosed) {
			c.logger.Error("compaction failed", "error", err)
		} else {
			c.logger.Info("compaction done", "duration_ms", d.Milliseconds())
		}
	})
	return true
}

func (c *compactor) status() compactStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return compactStatus{running: c.running, runs: c.runs, failures: c.failures, lastErr: c.lastErr, lastMS: c.lastMS}
}

func (c *compactor) wait() { c.wg.Wait() }
