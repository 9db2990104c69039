// Package config is the configuration of MiniDBGo's REST server: the
// environment variables of the guide and the newer ones, their flags,
// their defaults and their validation, and what they make — the
// httpd.Config that httpd.Serve takes, the docstore and storage options,
// the API keys, the Go runtime limits and the logger. minidbgo-server,
// the shell's MODE=server and --http, and loadtest's embedded target all
// read their settings here, so that the same variable means the same
// thing to each.
//
//	s, err := config.Parse("minidbgo-server", os.Args[1:], os.Getenv) // env, then flags
//	s, err := config.FromEnv(os.Getenv)                               // env only; then s.Validate()
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/minidbgo/minidbgo/storage"
)

// Settings is the server's configuration: each field from its environment
// variable (the guide's names) or default, then from its flag. Durations
// set to 0 through the environment or a flag turn that timeout off.
type Settings struct {
	// Each field is the variable named beside it (docs/operations.md,
	// Configuration, says what each sets).
	Mode              string        // MODE
	DBPath            string        // DB_PATH
	Listen            string        // LISTEN; host or host:port
	Port              int           // PORT
	Durability        string        // DURABILITY
	FlushSize         int           // FLUSH_SIZE
	MaxMemMB          int           // MAX_MEM_MB
	MaxImmutable      int           // MAX_IMMUTABLE
	MemLimit          string        // GOMEMLIMIT
	GOGC              string        // GOGC
	MaxConcurrent     int           // MAX_CONCURRENT
	MaxFeeds          int           // MAX_FEEDS
	MaxBodyMB         int           // MAX_BODY_MB
	MaxInflightMB     int           // MAX_INFLIGHT_MB; 0: GOMEMLIMIT / 8 (httpd.Config.MaxInflightBytes)
	MaxSortMB         int           // MAX_SORT_MB; 0: MAX_INFLIGHT_MB / 2
	MinTransferRate   int64         // MIN_TRANSFER_RATE, bytes/s; 0 turns it off
	TransferWindow    time.Duration // TRANSFER_WINDOW
	TTLInterval       time.Duration // TTL_INTERVAL: how often expired documents are deleted
	MaxBatch          int           // MAX_BATCH
	MaxPage           int           // MAX_PAGE
	ReadHeaderTimeout time.Duration // READ_HEADER_TIMEOUT
	ReadTimeout       time.Duration // READ_TIMEOUT
	WriteTimeout      time.Duration // WRITE_TIMEOUT
	IdleTimeout       time.Duration // IDLE_TIMEOUT
	RequestTimeout    time.Duration // REQUEST_TIMEOUT
	ShutdownTimeout   time.Duration // SHUTDOWN_TIMEOUT
	APIKeys           string        // MINIDBGO_API_KEYS (env only: flags show in ps)
	KeyFile           string        // MINIDBGO_API_KEY_FILE
	TLSCert           string        // TLS_CERT
	TLSKey            string        // TLS_KEY
	RateLimit         float64       // RATE_LIMIT
	RateBurst         int           // RATE_BURST
	LogLevel          string        // LOG_LEVEL
	AccessLog         bool          // ACCESS_LOG
	Init              bool          // INIT; create a new database even where the marker says one existed
	CORSOrigins       string        // CORS_ORIGINS
	AllowedHosts      string        // ALLOWED_HOSTS
	FormAsJSON        bool          // FORM_AS_JSON
	CompressMinBytes  int           // COMPRESS_MIN_BYTES
	SlowQuery         time.Duration // SLOW_QUERY_MS; 0 turns the slow-query log off
	ChangesRetention  time.Duration // CHANGES_RETENTION; 0: no limit by age
	ChangesRecords    int64         // CHANGES_RETENTION_RECORDS; 0: no limit by count
	LogFormat         string        // LOG_FORMAT: text, json or auto (env only)
	AggMaxMemoryMB    int           // AGG_MAX_MEMORY_MB: memory of each blocking aggregation stage before it spills
	AggSpill          bool          // AGG_SPILL: spill blocking aggregation stages to DB_PATH/agg-tmp (false: 400 too_large)
	NodeID            string        // NODE_ID; with RAFT_ADDR: cluster mode
	RaftAddr          string        // RAFT_ADDR: host:port for Raft traffic
	Join              string        // JOIN: the nodes' HTTP base URLs, comma-separated
	AdvertiseURL      string        // ADVERTISE_URL; default http(s)://<LISTEN>:<PORT>
	BootstrapExpect   int           // BOOTSTRAP_EXPECT: bootstrap once this many nodes are known
}

// writeMargin is how much longer than REQUEST_TIMEOUT the default
// WRITE_TIMEOUT is: time to write the reply of a request that ran to its
// deadline.
const writeMargin = 5 * time.Second

// writeTimeoutUnset is WRITE_TIMEOUT's placeholder until FromEnv (then Parse)
// derives it from REQUEST_TIMEOUT (when neither the variable nor the flag
// set it).
const writeTimeoutUnset time.Duration = 0

// env reads the environment through getenv (os.Getenv in a program).
type env func(string) string

// EnvString reads the variable name through getenv, trimmed; def when it
// is unset or blank. The shell reads its own settings with it.
func EnvString(getenv func(string) string, name, def string) string {
	return env(getenv).str(name, def)
}

// EnvInt reads the integer variable name through getenv; def when it is
// unset or blank. A value that is not an integer appends an error naming
// the variable to errs and gives def.
func EnvInt(getenv func(string) string, name string, def int, errs *[]error) int {
	return env(getenv).int(name, def, errs)
}

func (e env) str(name, def string) string {
	if v := strings.TrimSpace(e(name)); v != "" {
		return v
	}
	return def
}

func (e env) int(name string, def int, errs *[]error) int {
	v := strings.TrimSpace(e(name))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%s=%q: not an integer", name, v))
		return def
	}
	return n
}

func (e env) float(name string, def float64, errs *[]error) float64 {
	v := strings.TrimSpace(e(name))
	if v == "" {
		return def
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%s=%q: not a number", name, v))
		return def
	}
	return n
}

func (e env) dur(name string, def time.Duration, errs *[]error) time.Duration {
	v := strings.TrimSpace(e(name))
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		// Bare numbers are seconds.
		if n, nerr := strconv.Atoi(v); nerr == nil {
			return time.Duration(n) * time.Second
		}
		*errs = append(*errs, fmt.Errorf("%s=%q: not a duration (e.g. 15s)", name, v))
		return def
	}
	return d
}

func (e env) bool(name string, def bool, errs *[]error) bool {
	v := strings.TrimSpace(e(name))
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%s=%q: not a boolean", name, v))
		return def
	}
	return b
}

// FromEnv reads the settings from the environment (through getenv,
// os.Getenv in a program), with the defaults for the variables unset. It
// reports values that do not parse, naming the variable; call Validate
// after changing fields.
func FromEnv(getenv func(string) string) (Settings, error) {
	e := env(getenv)
	var errs []error
	c := Settings{
		Mode:              e.str("MODE", "server"),
		DBPath:            e.str("DB_PATH", "data/MiniDBGo"),
		NodeID:            e.str("NODE_ID", ""),
		RaftAddr:          e.str("RAFT_ADDR", ""),
		Join:              e.str("JOIN", ""),
		AdvertiseURL:      e.str("ADVERTISE_URL", ""),
		BootstrapExpect:   e.int("BOOTSTRAP_EXPECT", 0, &errs),
		Listen:            e.str("LISTEN", "127.0.0.1"),
		Port:              e.int("PORT", 6866, &errs),
		Durability:        e.str("DURABILITY", "group"),
		FlushSize:         e.int("FLUSH_SIZE", 10000, &errs),
		MaxMemMB:          e.int("MAX_MEM_MB", 50, &errs),
		MaxImmutable:      e.int("MAX_IMMUTABLE", 3, &errs),
		MemLimit:          e.str("GOMEMLIMIT", ""),
		GOGC:              e.str("GOGC", ""),
		MaxConcurrent:     e.int("MAX_CONCURRENT", 100, &errs),
		MaxFeeds:          e.int("MAX_FEEDS", 1000, &errs),
		MaxBodyMB:         e.int("MAX_BODY_MB", 10, &errs),
		MaxInflightMB:     e.int("MAX_INFLIGHT_MB", 0, &errs),
		MaxSortMB:         e.int("MAX_SORT_MB", 0, &errs),
		MinTransferRate:   int64(e.int("MIN_TRANSFER_RATE", 16384, &errs)),
		TransferWindow:    e.dur("TRANSFER_WINDOW", 10*time.Second, &errs),
		TTLInterval:       e.dur("TTL_INTERVAL", 60*time.Second, &errs),
		MaxBatch:          e.int("MAX_BATCH", 1000, &errs),
		MaxPage:           e.int("MAX_PAGE", 1000, &errs),
		ReadHeaderTimeout: e.dur("READ_HEADER_TIMEOUT", 5*time.Second, &errs),
		ReadTimeout:       e.dur("READ_TIMEOUT", 15*time.Second, &errs),
		WriteTimeout:      e.dur("WRITE_TIMEOUT", writeTimeoutUnset, &errs),
		IdleTimeout:       e.dur("IDLE_TIMEOUT", 60*time.Second, &errs),
		RequestTimeout:    e.dur("REQUEST_TIMEOUT", 30*time.Second, &errs),
		ShutdownTimeout:   e.dur("SHUTDOWN_TIMEOUT", 30*time.Second, &errs),
		APIKeys:           e.str("MINIDBGO_API_KEYS", ""),
		KeyFile:           e.str("MINIDBGO_API_KEY_FILE", ""),
		TLSCert:           e.str("TLS_CERT", ""),
		TLSKey:            e.str("TLS_KEY", ""),
		RateLimit:         e.float("RATE_LIMIT", 0, &errs),
		RateBurst:         e.int("RATE_BURST", 0, &errs),
		LogLevel:          e.str("LOG_LEVEL", "info"),
		AccessLog:         e.bool("ACCESS_LOG", true, &errs),
		Init:              e.bool("INIT", false, &errs),
		CORSOrigins:       e.str("CORS_ORIGINS", ""),
		AllowedHosts:      e.str("ALLOWED_HOSTS", ""),
		FormAsJSON:        e.bool("FORM_AS_JSON", true, &errs),
		CompressMinBytes:  e.int("COMPRESS_MIN_BYTES", 1024, &errs),
		SlowQuery:         time.Duration(e.int("SLOW_QUERY_MS", 100, &errs)) * time.Millisecond,
		ChangesRetention:  e.dur("CHANGES_RETENTION", 24*time.Hour, &errs),
		ChangesRecords:    int64(e.int("CHANGES_RETENTION_RECORDS", 0, &errs)),
		LogFormat:         e.str("LOG_FORMAT", "auto"),
		AggMaxMemoryMB:    e.int("AGG_MAX_MEMORY_MB", 32, &errs),
		AggSpill:          e.bool("AGG_SPILL", true, &errs),
	}
	if strings.TrimSpace(getenv("WRITE_TIMEOUT")) == "" {
		c.WriteTimeout = c.effectiveRequestTimeout() + writeMargin
	}
	return c, errors.Join(errs...)
}

// Defaults returns the settings of an empty environment.
func Defaults() Settings {
	s, _ := FromEnv(func(string) string { return "" })
	return s
}

// Parse reads the environment, then the flags in args (flag set name,
// for its usage message), and validates the result. -h answers
// flag.ErrHelp.
func Parse(name string, args []string, getenv func(string) string) (Settings, error) {
	c, err := FromEnv(getenv)
	if err != nil {
		return c, err
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&c.Mode, "mode", c.Mode, "MODE: server (the shell, MODE=cli, is the minidbgo binary)")
	fs.StringVar(&c.DBPath, "db", c.DBPath, "DB_PATH: data directory")
	fs.StringVar(&c.NodeID, "node-id", c.NodeID, "NODE_ID: this node's id in a cluster (with -raft-addr: cluster mode)")
	fs.StringVar(&c.RaftAddr, "raft-addr", c.RaftAddr, "RAFT_ADDR: host:port for Raft traffic, as the other nodes reach it")
	fs.StringVar(&c.Join, "join", c.Join, "JOIN: comma-separated HTTP base URLs of the cluster's nodes")
	fs.StringVar(&c.AdvertiseURL, "advertise-url", c.AdvertiseURL, "ADVERTISE_URL: this node's HTTP base URL as the others reach it")
	fs.IntVar(&c.BootstrapExpect, "bootstrap-expect", c.BootstrapExpect, "BOOTSTRAP_EXPECT: bootstrap a new cluster once this many nodes are known")
	fs.StringVar(&c.Listen, "listen", c.Listen, "LISTEN: address to listen on, host or host:port (0.0.0.0 for every interface)")
	fs.IntVar(&c.Port, "port", c.Port, "PORT: port, unless -listen names one")
	fs.StringVar(&c.Durability, "durability", c.Durability, "DURABILITY: sync, group, periodic:<duration> or none")
	fs.IntVar(&c.FlushSize, "flush-size", c.FlushSize, "FLUSH_SIZE: records before a memtable flush")
	fs.IntVar(&c.MaxMemMB, "max-mem-mb", c.MaxMemMB, "MAX_MEM_MB: memtable size in MiB before a flush")
	fs.IntVar(&c.MaxImmutable, "max-immutable", c.MaxImmutable, "MAX_IMMUTABLE: memtables queued for flushing before writes stall")
	fs.StringVar(&c.MemLimit, "gomemlimit", c.MemLimit, "GOMEMLIMIT: Go memory limit (default 200MiB)")
	fs.StringVar(&c.GOGC, "gogc", c.GOGC, "GOGC: GC percentage, or off (default: tuned from the live heap, 50 on a large heap)")
	fs.IntVar(&c.MaxConcurrent, "max-concurrent", c.MaxConcurrent, "MAX_CONCURRENT: requests served at once (excess: 503)")
	fs.IntVar(&c.MaxFeeds, "max-feeds", c.MaxFeeds, "MAX_FEEDS: change feeds (longpoll, continuous, eventsource) open at once (excess: 503)")
	fs.IntVar(&c.MaxBodyMB, "max-body-mb", c.MaxBodyMB, "MAX_BODY_MB: request body limit in MiB (excess: 413)")
	fs.IntVar(&c.MaxInflightMB, "max-inflight-mb", c.MaxInflightMB, "MAX_INFLIGHT_MB: memory for request bodies and sorts in flight, in MiB (excess: 503; default GOMEMLIMIT/8)")
	fs.IntVar(&c.MaxSortMB, "max-sort-mb", c.MaxSortMB, "MAX_SORT_MB: memory of one unindexed sort, in MiB (excess: 400 sort_too_large; default MAX_INFLIGHT_MB/2)")
	fs.Int64Var(&c.MinTransferRate, "min-transfer-rate", c.MinTransferRate, "MIN_TRANSFER_RATE: slowest body upload or download, bytes/s over each -transfer-window (0: off)")
	fs.DurationVar(&c.TransferWindow, "transfer-window", c.TransferWindow, "TRANSFER_WINDOW: the window MIN_TRANSFER_RATE is measured over")
	fs.DurationVar(&c.TTLInterval, "ttl-interval", c.TTLInterval, "TTL_INTERVAL: how often expired documents (TTL indexes, _expiresAt) are deleted, e.g. 60s or 1s")
	fs.IntVar(&c.MaxBatch, "max-batch", c.MaxBatch, "MAX_BATCH: documents per _insertMany")
	fs.IntVar(&c.MaxPage, "max-page", c.MaxPage, "MAX_PAGE: documents per query page")
	fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", c.ReadHeaderTimeout, "READ_HEADER_TIMEOUT")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", c.ReadTimeout, "READ_TIMEOUT")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", c.WriteTimeout, "WRITE_TIMEOUT: deadline for writing a reply; longer than REQUEST_TIMEOUT (default REQUEST_TIMEOUT + 5s)")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "IDLE_TIMEOUT")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", c.RequestTimeout, "REQUEST_TIMEOUT: per-request deadline (504 beyond)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "SHUTDOWN_TIMEOUT: drain, flush and close within this")
	fs.StringVar(&c.KeyFile, "key-file", c.KeyFile, "MINIDBGO_API_KEY_FILE: API keys, one key:scope per line (keys also from MINIDBGO_API_KEYS)")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "TLS_CERT: certificate file (with -tls-key: serve HTTPS)")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "TLS_KEY: private key file")
	fs.Float64Var(&c.RateLimit, "rate-limit", c.RateLimit, "RATE_LIMIT: requests per second per API key or client IP (0: off)")
	fs.IntVar(&c.RateBurst, "rate-burst", c.RateBurst, "RATE_BURST: burst for -rate-limit")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "LOG_LEVEL: debug, info, warn or error")
	fs.BoolVar(&c.AccessLog, "access-log", c.AccessLog, "ACCESS_LOG: one JSON line per request")
	fs.StringVar(&c.CORSOrigins, "cors-origins", c.CORSOrigins, "CORS_ORIGINS: comma-separated origins (https://app.example.com, or *) whose web pages may write; others' writes are refused")
	fs.StringVar(&c.AllowedHosts, "allowed-hosts", c.AllowedHosts, "ALLOWED_HOSTS: comma-separated Host names served besides localhost and loopback addresses; checked while listening on loopback, or whenever set")
	fs.BoolVar(&c.FormAsJSON, "form-as-json", c.FormAsJSON, "FORM_AS_JSON: read application/x-www-form-urlencoded bodies as JSON (curl -d)")
	fs.IntVar(&c.CompressMinBytes, "compress-min-bytes", c.CompressMinBytes, "COMPRESS_MIN_BYTES: compress JSON, NDJSON and metrics responses from this size (zstd or gzip, as the client accepts; 0: off)")
	fs.IntVar(&c.AggMaxMemoryMB, "agg-max-memory-mb", c.AggMaxMemoryMB, "AGG_MAX_MEMORY_MB: memory of each blocking aggregation stage ($group, $sort) in MiB before it spills to disk")
	fs.BoolVar(&c.AggSpill, "agg-spill", c.AggSpill, "AGG_SPILL: let blocking aggregation stages spill to DB_PATH/agg-tmp (false: 400 too_large beyond AGG_MAX_MEMORY_MB)")
	slowMS := int(c.SlowQuery / time.Millisecond)
	fs.IntVar(&slowMS, "slow-query-ms", slowMS, "SLOW_QUERY_MS: log requests slower than this many milliseconds at WARN, with their plan and the keys and documents examined (0: off)")
	fs.DurationVar(&c.ChangesRetention, "changes-retention", c.ChangesRetention, "CHANGES_RETENTION: how long the change feed keeps a change, e.g. 24h (0: no limit by age; a since older than what is kept answers 410 history_lost)")
	fs.Int64Var(&c.ChangesRecords, "changes-retention-records", c.ChangesRecords, "CHANGES_RETENTION_RECORDS: how many changes the change feed keeps at most (0: no limit by count)")
	fs.BoolVar(&c.Init, "init", c.Init, "INIT: create a new, empty database even though the marker beside DB_PATH says one existed there (it was deleted, or its volume is not mounted)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	c.SlowQuery = time.Duration(slowMS) * time.Millisecond
	writeSet := strings.TrimSpace(getenv("WRITE_TIMEOUT")) != ""
	fs.Visit(func(f *flag.Flag) { writeSet = writeSet || f.Name == "write-timeout" })
	if !writeSet {
		c.WriteTimeout = c.effectiveRequestTimeout() + writeMargin
	}
	return c, c.Validate()
}

// Validate checks the settings together; each error names the setting
// (its environment variable) that is wrong.
func (c Settings) Validate() error {
	var errs []error
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("PORT %d out of range", c.Port))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("TLS_CERT and TLS_KEY must be set together"))
	}
	if (c.NodeID == "") != (c.RaftAddr == "") {
		errs = append(errs, errors.New("NODE_ID and RAFT_ADDR must be set together (cluster mode)"))
	}
	if c.BootstrapExpect < 0 {
		errs = append(errs, fmt.Errorf("BOOTSTRAP_EXPECT %d must not be negative", c.BootstrapExpect))
	}
	if c.Clustered() {
		errs = append(errs, c.validateClusterURLs()...)
	}
	for _, v := range []struct {
		name string
		n    int
	}{{"FLUSH_SIZE", c.FlushSize}, {"MAX_MEM_MB", c.MaxMemMB}, {"MAX_CONCURRENT", c.MaxConcurrent},
		{"MAX_FEEDS", c.MaxFeeds},
		{"MAX_BODY_MB", c.MaxBodyMB}, {"MAX_BATCH", c.MaxBatch}, {"MAX_PAGE", c.MaxPage}, {"MAX_IMMUTABLE", c.MaxImmutable},
		{"AGG_MAX_MEMORY_MB", c.AggMaxMemoryMB}} {
		if v.n <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %d", v.name, v.n))
		}
	}
	// The reply to a request that ran to its deadline (a 504, or a slow
	// success) is written after REQUEST_TIMEOUT: a write deadline at or
	// before it would cut the reply off, and the client would see an
	// empty reply for work that was done. (Zero turns a timeout off.)
	if rt := c.effectiveRequestTimeout(); c.WriteTimeout > 0 && c.WriteTimeout <= rt {
		errs = append(errs, fmt.Errorf("WRITE_TIMEOUT (%v) must be longer than REQUEST_TIMEOUT (%v), or replies to slow requests are cut off; leave WRITE_TIMEOUT unset for REQUEST_TIMEOUT + %v",
			c.WriteTimeout, rt, writeMargin))
	}
	for _, o := range splitList(c.CORSOrigins) {
		if o == "*" {
			continue
		}
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			errs = append(errs, fmt.Errorf("CORS_ORIGINS: %q is not an origin (scheme://host[:port], e.g. https://app.example.com)", o))
		}
	}
	if c.CompressMinBytes < 0 {
		errs = append(errs, fmt.Errorf("COMPRESS_MIN_BYTES must be 0 (off) or positive, got %d", c.CompressMinBytes))
	}
	if c.MaxInflightMB < 0 || c.MaxSortMB < 0 || c.MinTransferRate < 0 {
		errs = append(errs, fmt.Errorf("MAX_INFLIGHT_MB, MAX_SORT_MB and MIN_TRANSFER_RATE must not be negative (0 selects the default)"))
	}
	if c.MaxInflightMB > 0 && c.MaxInflightMB < c.MaxBodyMB {
		errs = append(errs, fmt.Errorf("MAX_INFLIGHT_MB=%d is less than MAX_BODY_MB=%d: a body of the maximum size could never be admitted", c.MaxInflightMB, c.MaxBodyMB))
	}
	if c.MaxInflightMB > 0 && c.MaxSortMB > c.MaxInflightMB {
		errs = append(errs, fmt.Errorf("MAX_SORT_MB=%d is more than MAX_INFLIGHT_MB=%d", c.MaxSortMB, c.MaxInflightMB))
	}
	if c.TTLInterval <= 0 {
		errs = append(errs, fmt.Errorf("TTL_INTERVAL must be a positive duration such as 60s or 1s, got %s", c.TTLInterval))
	}
	if c.TransferWindow <= 0 {
		errs = append(errs, fmt.Errorf("TRANSFER_WINDOW must be positive, got %s", c.TransferWindow))
	}
	if c.ChangesRetention < 0 || c.ChangesRecords < 0 {
		errs = append(errs, fmt.Errorf("CHANGES_RETENTION and CHANGES_RETENTION_RECORDS must be 0 (no limit) or positive, got %s and %d", c.ChangesRetention, c.ChangesRecords))
	}
	if c.SlowQuery < 0 {
		errs = append(errs, fmt.Errorf("SLOW_QUERY_MS must be 0 (off) or positive, got %d", c.SlowQuery.Milliseconds()))
	}
	if f := strings.ToLower(c.LogFormat); f != "auto" && f != "text" && f != "json" {
		errs = append(errs, fmt.Errorf("LOG_FORMAT=%q: want text, json or auto", c.LogFormat))
	}
	if _, err := c.level(); err != nil {
		errs = append(errs, err)
	}
	if _, err := storage.ParseDurability(c.Durability); err != nil {
		errs = append(errs, fmt.Errorf("DURABILITY: %w", err))
	}
	if c.Mode != "server" && c.Mode != "cli" {
		errs = append(errs, fmt.Errorf("MODE=%q: want server or cli", c.Mode))
	}
	return errors.Join(errs...)
}

// effectiveRequestTimeout is REQUEST_TIMEOUT as the server applies it: 0
// (or less) selects httpd's default, 30 s.
func (c Settings) effectiveRequestTimeout() time.Duration {
	if c.RequestTimeout <= 0 {
		return 30 * time.Second
	}
	return c.RequestTimeout
}

// splitList splits a comma-separated setting, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// validateClusterURLs checks ADVERTISE_URL and JOIN, which other nodes
// and forwarded requests use as HTTP base URLs.
func (c Settings) validateClusterURLs() []error {
	var errs []error
	if c.AdvertiseURL != "" {
		if err := checkBaseURL(c.AdvertiseURL); err != nil {
			errs = append(errs, fmt.Errorf("ADVERTISE_URL %q: %v", c.AdvertiseURL, err))
		}
	} else if host, _, err := net.SplitHostPort(c.Addr()); err == nil {
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			errs = append(errs, fmt.Errorf("ADVERTISE_URL must be set in cluster mode when LISTEN is %q (every interface): the other nodes cannot reach the default http://%s", c.Listen, c.Addr()))
		}
	}
	for _, u := range c.JoinURLs() {
		if err := checkBaseURL(u); err != nil {
			errs = append(errs, fmt.Errorf("JOIN entry %q: %v", u, err))
		}
	}
	return errs
}

// checkBaseURL reports what keeps s from being an HTTP base URL such as
// http://10.0.0.1:6866.
func checkBaseURL(s string) error {
	const want = "want an http:// or https:// base URL such as http://10.0.0.1:6866"
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("not a URL; %s", want)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return errors.New(want)
	case strings.TrimRight(u.Path, "/") != "", u.RawQuery != "", u.Fragment != "", u.User != nil:
		return fmt.Errorf("no path, query or user info: %s", want)
	}
	return nil
}

// Addr returns the address to listen on: LISTEN, with PORT unless LISTEN
// names a port.
func (c Settings) Addr() string {
	if _, _, err := net.SplitHostPort(c.Listen); err == nil {
		return c.Listen
	}
	return net.JoinHostPort(strings.Trim(c.Listen, "[]"), strconv.Itoa(c.Port))
}

// parseBytes parses a GOMEMLIMIT value: a number with an optional unit
// B, KiB, MiB, GiB or TiB.
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad memory limit %q (e.g. 200MiB)", s)
	}
	return n * mult, nil
}

// Clustered reports whether the settings ask for cluster mode.
func (c Settings) Clustered() bool { return c.NodeID != "" && c.RaftAddr != "" }

// JoinURLs returns JOIN's URLs.
func (c Settings) JoinURLs() []string {
	var out []string
	for _, u := range strings.Split(c.Join, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// Advertise returns ADVERTISE_URL, or the URL made from the address the
// server listens on (addr, host:port) and TLS.
func (c Settings) Advertise(addr string) string {
	if c.AdvertiseURL != "" {
		return strings.TrimRight(c.AdvertiseURL, "/")
	}
	scheme := "http"
	if c.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + addr
}
