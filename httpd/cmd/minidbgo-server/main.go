// Command minidbgo-server serves MiniDBGo's REST API on a data directory.
//
//	minidbgo-server [flags]          serve (configuration: environment, then flags)
//	minidbgo-server healthcheck      exit 0 when the server on PORT answers healthy
//
// Configuration comes from the guide's environment variables (MODE,
// FLUSH_SIZE, MAX_MEM_MB, GOMEMLIMIT, GOGC, DB_PATH, PORT) and the newer
// ones (LISTEN, DURABILITY, MAX_CONCURRENT, MAX_BODY_MB, MAX_BATCH,
// MAX_PAGE, *_TIMEOUT, MINIDBGO_API_KEYS, MINIDBGO_API_KEY_FILE, TLS_CERT,
// TLS_KEY, RATE_LIMIT, LOG_LEVEL, LOG_FORMAT, ACCESS_LOG, INIT,
// CORS_ORIGINS, ALLOWED_HOSTS, FORM_AS_JSON, COMPRESS_MIN_BYTES,
// MAX_INFLIGHT_MB, MAX_SORT_MB, MIN_TRANSFER_RATE, TRANSFER_WINDOW); each
// but LOG_FORMAT (text, json, or auto: text on a terminal) has a flag that
// overrides it (minidbgo-server -h lists them). GOMEMLIMIT defaults to
// 200MiB and GOGC to 50.
//
// SIGTERM or SIGINT stops accepting connections, drains in-flight
// requests, flushes the memtable and closes the engine, within
// SHUTDOWN_TIMEOUT (30 s); the exit status is 0 only if all of it
// succeeded. Exit status 1 means the server could not start (for example,
// the data directory is locked by another process, or holds no database
// although the marker beside it says one was created there: see -init) or
// stop cleanly; 2, a bad configuration.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"expvar"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd"
	"github.com/minidbgo/minidbgo/storage"
	"github.com/minidbgo/minidbgo/storage/tool"
	"github.com/minidbgo/minidbgo/storage/vfs"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		os.Exit(healthcheck(os.Args[2:], os.Getenv, os.Stderr))
	}
	if len(os.Args) > 1 && (os.Args[1] == "version" || os.Args[1] == "-version" || os.Args[1] == "--version") {
		fmt.Println("minidbgo-server", version)
		return
	}
	os.Exit(run(os.Args[1:], os.Getenv, os.Stderr))
}

func run(args []string, getenv func(string) string, stderr io.Writer) int {
	cfg, err := parseConfig(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "minidbgo-server:", err)
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		fmt.Fprintln(stderr, "minidbgo-server: LOG_LEVEL:", err)
		return 2
	}
	handler, err := httpd.NewLogHandler(stderr, getenv("LOG_FORMAT"), &slog.HandlerOptions{Level: level})
	if err != nil {
		fmt.Fprintln(stderr, "minidbgo-server:", err)
		return 2
	}
	logger := slog.New(handler)

	memLimit, gcPercent, err := applyRuntime(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "minidbgo-server:", err)
		return 2
	}
	durability, err := storage.ParseDurability(cfg.durability)
	if err != nil {
		fmt.Fprintln(stderr, "minidbgo-server:", err)
		return 2
	}
	keys, err := loadKeys(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "minidbgo-server:", err)
		return 2
	}

	db, err := docstore.Open(cfg.dbPath, &docstore.Options{
		Storage: &storage.Options{
			MemTableRecords:       cfg.flushSize,
			MemTableBytes:         int64(cfg.maxMemMB) << 20,
			MaxImmutableMemTables: cfg.maxImmutable,
			Durability:            durability,
			DirMarker:             true,
			Init:                  cfg.init,
			Logger:                logger.With("component", "storage"),
		},
		MaxDocumentBytes: cfg.maxBodyMB << 20,
		Logger:           logger.With("component", "docstore"),
		MaxBatchDocs:     cfg.maxBatch,
		MaxLimit:         cfg.maxPage,
		DefaultLimit:     cfg.maxPage,
	})
	if err != nil {
		if errors.Is(err, vfs.ErrLocked) {
			fmt.Fprintf(stderr, "minidbgo-server: the data directory %s is in use by another process: %v\n", cfg.dbPath, err)
			logger.Error("data directory locked", "db_path", cfg.dbPath, "error", err.Error())
			return 1
		}
		if errors.Is(err, storage.ErrDataMissing) {
			fmt.Fprintf(stderr, "minidbgo-server: %v\n", err)
			fmt.Fprintln(stderr, "minidbgo-server: refusing to create an empty database in its place; restore the data directory (or mount its volume), or start once with -init (INIT=true) to begin anew")
			logger.Error("the database is missing from its data directory", "db_path", cfg.dbPath, "error", err.Error())
			return 1
		}
		fmt.Fprintf(stderr, "minidbgo-server: open %s: %v\n", cfg.dbPath, err)
		if advice := tool.Advice(err, cfg.dbPath); advice != "" {
			fmt.Fprintln(stderr, "minidbgo-server:", advice)
		}
		logger.Error("cannot open the database", "db_path", cfg.dbPath, "error", err.Error())
		return 1
	}

	ln, err := net.Listen("tcp", cfg.addr())
	if err != nil {
		fmt.Fprintf(stderr, "minidbgo-server: listen on %s: %v\n", cfg.addr(), err)
		_ = db.Close()
		return 1
	}
	addr := ln.Addr().String()
	loopback := loopbackOnly(addr)
	srv := httpd.New(db, withAdmission(cfg, httpd.Config{
		MaxConcurrent:    cfg.maxConcurrent,
		MaxBodyBytes:     int64(cfg.maxBodyMB) << 20,
		MaxBatch:         cfg.maxBatch,
		MaxPage:          cfg.maxPage,
		RequestTimeout:   cfg.requestTimeout,
		ReadTimeout:      cfg.readTimeout,
		WriteTimeout:     cfg.writeTimeout,
		Keys:             keys,
		DebugOpen:        keys == nil && loopback,
		AllowedOrigins:   splitList(cfg.corsOrigins),
		CheckHost:        loopback || cfg.allowedHosts != "",
		ListenAddr:       addr,
		AllowedHosts:     splitList(cfg.allowedHosts),
		NoFormJSON:       !cfg.formAsJSON,
		CompressMinBytes: compressMinBytes(cfg.compressMin),
		RateLimit:        cfg.rateLimit,
		RateBurst:        cfg.rateBurst,
		Logger:           logger,
		AccessLog:        cfg.accessLog,
		Version:          version,
	}))
	expvar.Publish("minidbgo", expvar.Func(func() any { return db.Engine().Metrics() }))
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: cfg.readHeader,
		ReadTimeout:       cfg.readTimeout,
		WriteTimeout:      cfg.writeTimeout,
		IdleTimeout:       cfg.idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	useTLS := cfg.tlsCert != ""
	if useTLS {
		hs.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}

	logger.Info("minidbgo-server starting",
		"version", version, "addr", addr, "tls", useTLS, "db_path", cfg.dbPath,
		"durability", durability.String(), "mode", cfg.mode,
		"auth", keys != nil, "api_keys", keys.Len(), "debug_endpoints_open", keys == nil && loopback,
		"flush_size", cfg.flushSize, "max_mem_mb", cfg.maxMemMB, "max_immutable", cfg.maxImmutable,
		"gomemlimit", memLimit, "gogc", gcPercent,
		"max_concurrent", cfg.maxConcurrent, "max_body_mb", cfg.maxBodyMB, "max_batch", cfg.maxBatch, "max_page", cfg.maxPage,
		"read_header_timeout", cfg.readHeader.String(), "read_timeout", cfg.readTimeout.String(),
		"write_timeout", cfg.writeTimeout.String(), "idle_timeout", cfg.idleTimeout.String(),
		"request_timeout", cfg.requestTimeout.String(), "rate_limit", cfg.rateLimit, "init", cfg.init)
	scheme := "http"
	if useTLS {
		scheme = "https"
	}
	removeListen, err := httpd.WriteListenFile(cfg.dbPath, scheme, addr)
	if err != nil {
		logger.Warn("cannot record the address in the data directory", "error", err.Error())
		removeListen = func() {}
	}
	if cfg.mode == "cli" {
		logger.Info("MODE=cli: minidbgo-server only serves; the interactive shell is the minidbgo binary")
	}
	for _, w := range startupWarnings(loopback, useTLS, keys != nil) {
		logger.Warn(w, "addr", addr)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	serveErr := make(chan error, 1)
	go func() {
		// net/http's own answers (400 for an unparsable URL, 431) are
		// JSON too.
		jln := httpd.JSONErrors(ln)
		if useTLS {
			serveErr <- hs.ServeTLS(jln, cfg.tlsCert, cfg.tlsKey)
		} else {
			serveErr <- hs.Serve(jln)
		}
	}()

	code := 0
	select {
	case <-ctx.Done():
		logger.Info("shutting down: draining requests", "signal", context.Cause(ctx).Error())
	case err := <-serveErr:
		logger.Error("server stopped", "error", err.Error())
		code = 1
	}
	stop() // a second signal now kills the process

	deadline := time.Now().Add(cfg.shutdown)
	watchdog := time.AfterFunc(cfg.shutdown, func() {
		logger.Error("shutdown took too long; exiting", "timeout", cfg.shutdown.String())
		os.Exit(1)
	})
	defer watchdog.Stop()

	srv.BeginShutdown()
	// Leave a third of the time for flushing and closing.
	drainCtx, cancel := context.WithDeadline(context.Background(), deadline.Add(-cfg.shutdown/3))
	if err := hs.Shutdown(drainCtx); err != nil {
		logger.Warn("drain incomplete; closing connections", "error", err.Error())
		_ = hs.Close()
	}
	cancel()
	if err := db.Engine().Flush(); err != nil {
		logger.Error("flush failed", "error", err.Error())
		code = 1
	}
	// The engine must not close under a compaction started through the
	// API: Close waits for it.
	srv.Close()
	removeListen() // while the lock is held: the next holder writes its own
	if err := db.Close(); err != nil {
		logger.Error("close failed", "error", err.Error())
		code = 1
	}
	if code == 0 {
		logger.Info("shutdown complete")
	}
	return code
}

// startupWarnings are the warnings logged at start for an exposed server.
func startupWarnings(loopback, tls, auth bool) []string {
	var ws []string
	if !loopback && !tls {
		ws = append(ws, "listening beyond loopback without TLS: put a TLS proxy in front or set TLS_CERT and TLS_KEY")
	}
	if !loopback && !auth {
		ws = append(ws, "listening beyond loopback without API keys: anyone who can reach the port can read and write; set MINIDBGO_API_KEYS")
	}
	return ws
}

// applyRuntime applies GOMEMLIMIT (default 200MiB) and GOGC (default 50)
// through runtime/debug, and returns the values in force.
func applyRuntime(cfg config) (string, string, error) {
	limit := cfg.memLimit
	if limit == "" {
		limit = "200MiB"
	}
	if limit != "off" {
		n, err := parseBytes(limit)
		if err != nil {
			return "", "", fmt.Errorf("GOMEMLIMIT: %w", err)
		}
		debug.SetMemoryLimit(n)
	}
	gc := cfg.gogc
	if gc == "" {
		gc = "50"
	}
	if gc == "off" {
		debug.SetGCPercent(-1)
	} else {
		n, err := strconv.Atoi(gc)
		if err != nil {
			return "", "", fmt.Errorf("GOGC=%q: not an integer or off", gc)
		}
		debug.SetGCPercent(n)
	}
	return limit, gc, nil
}

// loadKeys reads API keys from MINIDBGO_API_KEYS and the key file; nil
// when there are none (authentication off).
func loadKeys(cfg config) (*httpd.Keys, error) {
	var keys *httpd.Keys
	if cfg.apiKeys != "" {
		k, err := httpd.ParseKeys(cfg.apiKeys)
		if err != nil {
			return nil, fmt.Errorf("MINIDBGO_API_KEYS: %w", err)
		}
		keys = k
	}
	if cfg.keyFile != "" {
		k, err := httpd.LoadKeyFile(cfg.keyFile)
		if err != nil {
			return nil, err
		}
		keys = keys.Merge(k)
	}
	return keys, nil
}

// compressMinBytes maps COMPRESS_MIN_BYTES (0: off) to
// httpd.Config.CompressMinBytes (negative: off).
func compressMinBytes(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// withAdmission sets the admission limits of hc from cfg: the memory
// budget, a sort's share and the minimum transfer rate. Zero selects
// httpd's defaults, sized to GOMEMLIMIT (applied before the server is
// made).
func withAdmission(cfg config, hc httpd.Config) httpd.Config {
	hc.MaxInflightBytes = int64(cfg.maxInflightMB) << 20
	hc.MaxSortBytes = int64(cfg.maxSortMB) << 20
	hc.MinTransferRate = cfg.minRate
	if cfg.minRate == 0 {
		hc.MinTransferRate = -1 // MIN_TRANSFER_RATE=0: off
	}
	hc.TransferWindow = cfg.rateWindow
	return hc
}
