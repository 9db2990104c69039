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
// MAX_INFLIGHT_MB, MAX_SORT_MB, MIN_TRANSFER_RATE, TRANSFER_WINDOW,
// SLOW_QUERY_MS, CHANGES_RETENTION, CHANGES_RETENTION_RECORDS), read by
// package httpd/config; each
// but LOG_FORMAT (text, json, or auto: text on a terminal) has a flag that
// overrides it (minidbgo-server -h lists them). GOMEMLIMIT defaults to
// 200MiB (or 80 % of the container's memory limit, when lower); without
// GOGC the GC percentage is tuned from the live heap (50 on a large heap,
// more on a small one; see docs/operations.md, Memory and GC).
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
	"errors"
	"expvar"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd"
	"github.com/minidbgo/minidbgo/httpd/config"
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
	cfg, err := config.Parse("minidbgo-server", args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "minidbgo-server:", err)
		return 2
	}
	logger, err := cfg.Logger(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "minidbgo-server:", err)
		return 2
	}
	memLimit, gcPercent, err := cfg.ApplyRuntime()
	if err != nil {
		fmt.Fprintln(stderr, "minidbgo-server:", err)
		return 2
	}
	keys, err := cfg.Keys()
	if err != nil {
		fmt.Fprintln(stderr, "minidbgo-server:", err)
		return 2
	}
	opts, err := cfg.DocstoreOptions(logger)
	if err != nil {
		fmt.Fprintln(stderr, "minidbgo-server:", err)
		return 2
	}

	if cfg.Clustered() {
		return runCluster(cfg, opts, keys, logger, stderr)
	}
	db, err := docstore.Open(cfg.DBPath, opts)
	if err != nil {
		if errors.Is(err, vfs.ErrLocked) {
			fmt.Fprintf(stderr, "minidbgo-server: the data directory %s is in use by another process: %v\n", cfg.DBPath, err)
			logger.Error("data directory locked", "db_path", cfg.DBPath, "error", err.Error())
			return 1
		}
		if errors.Is(err, storage.ErrDataMissing) {
			fmt.Fprintf(stderr, "minidbgo-server: %v\n", err)
			fmt.Fprintln(stderr, "minidbgo-server: refusing to create an empty database in its place; restore the data directory (or mount its volume), or start once with -init (INIT=true) to begin anew")
			logger.Error("the database is missing from its data directory", "db_path", cfg.DBPath, "error", err.Error())
			return 1
		}
		fmt.Fprintf(stderr, "minidbgo-server: open %s: %v\n", cfg.DBPath, err)
		if advice := tool.Advice(err, cfg.DBPath); advice != "" {
			fmt.Fprintln(stderr, "minidbgo-server:", advice)
		}
		logger.Error("cannot open the database", "db_path", cfg.DBPath, "error", err.Error())
		return 1
	}

	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		fmt.Fprintf(stderr, "minidbgo-server: listen on %s: %v\n", cfg.Addr(), err)
		_ = db.Close()
		return 1
	}
	addr := ln.Addr().String()
	hc := cfg.Server(addr, keys, logger, version)
	expvar.Publish("minidbgo", expvar.Func(func() any { return db.Metrics() }))

	// Signals are caught before the start is logged, so that a SIGTERM
	// sent as soon as the log says the server started drains it instead
	// of killing it.
	ctx, stop := shutdownSignals(cfg.ShutdownTimeout, logger)
	defer stop()
	useTLS := cfg.TLSCert != ""
	logger.Info("minidbgo-server starting",
		"version", version, "addr", addr, "tls", useTLS, "db_path", cfg.DBPath,
		"durability", opts.Storage.Durability.String(), "mode", cfg.Mode,
		"auth", keys != nil, "api_keys", keys.Len(), "debug_endpoints_open", hc.DebugOpen,
		"flush_size", cfg.FlushSize, "max_mem_mb", cfg.MaxMemMB, "max_immutable", cfg.MaxImmutable,
		"gomemlimit", memLimit, "gogc", gcPercent,
		"max_concurrent", cfg.MaxConcurrent, "max_body_mb", cfg.MaxBodyMB, "max_batch", cfg.MaxBatch, "max_page", cfg.MaxPage,
		"read_header_timeout", cfg.ReadHeaderTimeout.String(), "read_timeout", cfg.ReadTimeout.String(),
		"write_timeout", cfg.WriteTimeout.String(), "idle_timeout", cfg.IdleTimeout.String(),
		"request_timeout", cfg.RequestTimeout.String(), "rate_limit", cfg.RateLimit,
		"slow_query_ms", cfg.SlowQuery.Milliseconds(), "init", cfg.Init)
	if cfg.Mode == "cli" {
		logger.Info("MODE=cli: minidbgo-server only serves; the interactive shell is the minidbgo binary")
	}
	for _, w := range startupWarnings(httpd.LoopbackOnly(addr), useTLS, keys != nil) {
		logger.Warn(w, "addr", addr)
	}

	if err := httpd.Serve(ctx, ln, db, hc); err != nil {
		return 1
	}
	logger.Info("shutdown complete")
	return 0
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

// shutdownSignals returns a context that SIGTERM or SIGINT ends. Once it
// has: a second signal kills the process, and a shutdown that takes
// longer than timeout (SHUTDOWN_TIMEOUT) exits with status 1.
func shutdownSignals(timeout time.Duration, logger *slog.Logger) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	context.AfterFunc(ctx, func() {
		stop()
		time.AfterFunc(timeout, func() {
			logger.Error("shutdown took too long; exiting", "timeout", timeout.String())
			os.Exit(1)
		})
	})
	return ctx, stop
}
