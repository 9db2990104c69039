package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// config is the server's configuration: each field from its environment
// variable (the guide's names) or default, then from its flag.
type config struct {
	mode           string
	dbPath         string
	listen         string // host or host:port
	port           int
	durability     string
	flushSize      int
	maxMemMB       int
	maxImmutable   int
	memLimit       string // GOMEMLIMIT
	gogc           string // GOGC
	maxConcurrent  int
	maxBodyMB      int
	maxBatch       int
	maxPage        int
	readHeader     time.Duration
	readTimeout    time.Duration
	writeTimeout   time.Duration
	idleTimeout    time.Duration
	requestTimeout time.Duration
	shutdown       time.Duration
	apiKeys        string // MINIDBGO_API_KEYS (env only: flags show in ps)
	keyFile        string
	tlsCert        string
	tlsKey         string
	rateLimit      float64
	rateBurst      int
	logLevel       string
	accessLog      bool
	init           bool // create a new database even where the marker says one existed
	corsOrigins    string
	allowedHosts   string
	formAsJSON     bool
	compressMin    int
}

// writeMargin is how much longer than REQUEST_TIMEOUT the default
// WRITE_TIMEOUT is: time to write the reply of a request that ran to its
// deadline.
const writeMargin = 5 * time.Second

// writeTimeoutUnset is WRITE_TIMEOUT's placeholder until parseConfig
// derives it from REQUEST_TIMEOUT (when neither the variable nor the flag
// set it).
const writeTimeoutUnset time.Duration = 0

// env reads the environment through getenv (os.Getenv in main).
type env func(string) string

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

// parseConfig reads the environment, then the flags in args.
func parseConfig(args []string, getenv func(string) string) (config, error) {
	e := env(getenv)
	var errs []error
	c := config{
		mode:           e.str("MODE", "server"),
		dbPath:         e.str("DB_PATH", "data/MiniDBGo"),
		listen:         e.str("LISTEN", "127.0.0.1"),
		port:           e.int("PORT", 6866, &errs),
		durability:     e.str("DURABILITY", "group"),
		flushSize:      e.int("FLUSH_SIZE", 10000, &errs),
		maxMemMB:       e.int("MAX_MEM_MB", 50, &errs),
		maxImmutable:   e.int("MAX_IMMUTABLE", 3, &errs),
		memLimit:       e.str("GOMEMLIMIT", ""),
		gogc:           e.str("GOGC", ""),
		maxConcurrent:  e.int("MAX_CONCURRENT", 100, &errs),
		maxBodyMB:      e.int("MAX_BODY_MB", 10, &errs),
		maxBatch:       e.int("MAX_BATCH", 1000, &errs),
		maxPage:        e.int("MAX_PAGE", 1000, &errs),
		readHeader:     e.dur("READ_HEADER_TIMEOUT", 5*time.Second, &errs),
		readTimeout:    e.dur("READ_TIMEOUT", 15*time.Second, &errs),
		writeTimeout:   e.dur("WRITE_TIMEOUT", writeTimeoutUnset, &errs),
		idleTimeout:    e.dur("IDLE_TIMEOUT", 60*time.Second, &errs),
		requestTimeout: e.dur("REQUEST_TIMEOUT", 30*time.Second, &errs),
		shutdown:       e.dur("SHUTDOWN_TIMEOUT", 30*time.Second, &errs),
		apiKeys:        e.str("MINIDBGO_API_KEYS", ""),
		keyFile:        e.str("MINIDBGO_API_KEY_FILE", ""),
		tlsCert:        e.str("TLS_CERT", ""),
		tlsKey:         e.str("TLS_KEY", ""),
		rateLimit:      e.float("RATE_LIMIT", 0, &errs),
		rateBurst:      e.int("RATE_BURST", 0, &errs),
		logLevel:       e.str("LOG_LEVEL", "info"),
		accessLog:      e.bool("ACCESS_LOG", true, &errs),
		init:           e.bool("INIT", false, &errs),
		corsOrigins:    e.str("CORS_ORIGINS", ""),
		allowedHosts:   e.str("ALLOWED_HOSTS", ""),
		formAsJSON:     e.bool("FORM_AS_JSON", true, &errs),
		compressMin:    e.int("COMPRESS_MIN_BYTES", 1024, &errs),
	}
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	fs := flag.NewFlagSet("minidbgo-server", flag.ContinueOnError)
	fs.StringVar(&c.mode, "mode", c.mode, "MODE: server (the shell, MODE=cli, is the minidbgo binary)")
	fs.StringVar(&c.dbPath, "db", c.dbPath, "DB_PATH: data directory")
	fs.StringVar(&c.listen, "listen", c.listen, "LISTEN: address to listen on, host or host:port (0.0.0.0 for every interface)")
	fs.IntVar(&c.port, "port", c.port, "PORT: port, unless -listen names one")
	fs.StringVar(&c.durability, "durability", c.durability, "DURABILITY: sync, group, periodic:<duration> or none")
	fs.IntVar(&c.flushSize, "flush-size", c.flushSize, "FLUSH_SIZE: records before a memtable flush")
	fs.IntVar(&c.maxMemMB, "max-mem-mb", c.maxMemMB, "MAX_MEM_MB: memtable size in MiB before a flush")
	fs.IntVar(&c.maxImmutable, "max-immutable", c.maxImmutable, "MAX_IMMUTABLE: memtables queued for flushing before writes stall")
	fs.StringVar(&c.memLimit, "gomemlimit", c.memLimit, "GOMEMLIMIT: Go memory limit (default 200MiB)")
	fs.StringVar(&c.gogc, "gogc", c.gogc, "GOGC: GC percentage (default 50)")
	fs.IntVar(&c.maxConcurrent, "max-concurrent", c.maxConcurrent, "MAX_CONCURRENT: requests served at once (excess: 503)")
	fs.IntVar(&c.maxBodyMB, "max-body-mb", c.maxBodyMB, "MAX_BODY_MB: request body limit in MiB (excess: 413)")
	fs.IntVar(&c.maxBatch, "max-batch", c.maxBatch, "MAX_BATCH: documents per _insertMany")
	fs.IntVar(&c.maxPage, "max-page", c.maxPage, "MAX_PAGE: documents per query page")
	fs.DurationVar(&c.readHeader, "read-header-timeout", c.readHeader, "READ_HEADER_TIMEOUT")
	fs.DurationVar(&c.readTimeout, "read-timeout", c.readTimeout, "READ_TIMEOUT")
	fs.DurationVar(&c.writeTimeout, "write-timeout", c.writeTimeout, "WRITE_TIMEOUT: deadline for writing a reply; longer than REQUEST_TIMEOUT (default REQUEST_TIMEOUT + 5s)")
	fs.DurationVar(&c.idleTimeout, "idle-timeout", c.idleTimeout, "IDLE_TIMEOUT")
	fs.DurationVar(&c.requestTimeout, "request-timeout", c.requestTimeout, "REQUEST_TIMEOUT: per-request deadline (504 beyond)")
	fs.DurationVar(&c.shutdown, "shutdown-timeout", c.shutdown, "SHUTDOWN_TIMEOUT: drain, flush and close within this")
	fs.StringVar(&c.keyFile, "key-file", c.keyFile, "MINIDBGO_API_KEY_FILE: API keys, one key:scope per line (keys also from MINIDBGO_API_KEYS)")
	fs.StringVar(&c.tlsCert, "tls-cert", c.tlsCert, "TLS_CERT: certificate file (with -tls-key: serve HTTPS)")
	fs.StringVar(&c.tlsKey, "tls-key", c.tlsKey, "TLS_KEY: private key file")
	fs.Float64Var(&c.rateLimit, "rate-limit", c.rateLimit, "RATE_LIMIT: requests per second per API key or client IP (0: off)")
	fs.IntVar(&c.rateBurst, "rate-burst", c.rateBurst, "RATE_BURST: burst for -rate-limit")
	fs.StringVar(&c.logLevel, "log-level", c.logLevel, "LOG_LEVEL: debug, info, warn or error")
	fs.BoolVar(&c.accessLog, "access-log", c.accessLog, "ACCESS_LOG: one JSON line per request")
	fs.StringVar(&c.corsOrigins, "cors-origins", c.corsOrigins, "CORS_ORIGINS: comma-separated origins (https://app.example.com, or *) whose web pages may write; others' writes are refused")
	fs.StringVar(&c.allowedHosts, "allowed-hosts", c.allowedHosts, "ALLOWED_HOSTS: comma-separated Host names served besides localhost and loopback addresses; checked while listening on loopback, or whenever set")
	fs.BoolVar(&c.formAsJSON, "form-as-json", c.formAsJSON, "FORM_AS_JSON: read application/x-www-form-urlencoded bodies as JSON (curl -d)")
	fs.IntVar(&c.compressMin, "compress-min-bytes", c.compressMin, "COMPRESS_MIN_BYTES: compress JSON, NDJSON and metrics responses from this size (zstd or gzip, as the client accepts; 0: off)")
	fs.BoolVar(&c.init, "init", c.init, "INIT: create a new, empty database even though the marker beside DB_PATH says one existed there (it was deleted, or its volume is not mounted)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	writeSet := strings.TrimSpace(getenv("WRITE_TIMEOUT")) != ""
	fs.Visit(func(f *flag.Flag) { writeSet = writeSet || f.Name == "write-timeout" })
	if !writeSet {
		c.writeTimeout = c.effectiveRequestTimeout() + writeMargin
	}
	return c, c.validate()
}

func (c config) validate() error {
	var errs []error
	if c.port < 0 || c.port > 65535 {
		errs = append(errs, fmt.Errorf("port %d out of range", c.port))
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		errs = append(errs, errors.New("TLS_CERT and TLS_KEY must be set together"))
	}
	for _, v := range []struct {
		name string
		n    int
	}{{"FLUSH_SIZE", c.flushSize}, {"MAX_MEM_MB", c.maxMemMB}, {"MAX_CONCURRENT", c.maxConcurrent},
		{"MAX_BODY_MB", c.maxBodyMB}, {"MAX_BATCH", c.maxBatch}, {"MAX_PAGE", c.maxPage}, {"MAX_IMMUTABLE", c.maxImmutable}} {
		if v.n <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %d", v.name, v.n))
		}
	}
	// The reply to a request that ran to its deadline (a 504, or a slow
	// success) is written after REQUEST_TIMEOUT: a write deadline at or
	// before it would cut the reply off, and the client would see an
	// empty reply for work that was done. (Zero turns a timeout off.)
	if rt := c.effectiveRequestTimeout(); c.writeTimeout > 0 && c.writeTimeout <= rt {
		errs = append(errs, fmt.Errorf("WRITE_TIMEOUT (%v) must be longer than REQUEST_TIMEOUT (%v), or replies to slow requests are cut off; leave WRITE_TIMEOUT unset for REQUEST_TIMEOUT + %v",
			c.writeTimeout, rt, writeMargin))
	}
	for _, o := range splitList(c.corsOrigins) {
		if o == "*" {
			continue
		}
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			errs = append(errs, fmt.Errorf("CORS_ORIGINS: %q is not an origin (scheme://host[:port], e.g. https://app.example.com)", o))
		}
	}
	if c.compressMin < 0 {
		errs = append(errs, fmt.Errorf("COMPRESS_MIN_BYTES must be 0 (off) or positive, got %d", c.compressMin))
	}
	if c.mode != "server" && c.mode != "cli" {
		errs = append(errs, fmt.Errorf("MODE=%q: want server or cli", c.mode))
	}
	return errors.Join(errs...)
}

// effectiveRequestTimeout is REQUEST_TIMEOUT as the server applies it: 0
// (or less) selects httpd's default, 30 s.
func (c config) effectiveRequestTimeout() time.Duration {
	if c.requestTimeout <= 0 {
		return 30 * time.Second
	}
	return c.requestTimeout
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

// addr returns the address to listen on.
func (c config) addr() string {
	if _, _, err := net.SplitHostPort(c.listen); err == nil {
		return c.listen
	}
	return net.JoinHostPort(strings.Trim(c.listen, "[]"), strconv.Itoa(c.port))
}

// loopbackOnly reports whether addr listens on loopback only.
func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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
