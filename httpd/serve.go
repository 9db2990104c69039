package httpd

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/storage"
)

// Serve serves the REST API over db on ln until ctx is done, then shuts
// down: /api/ready answers 503, the http.Server stops accepting and drains
// the requests in flight, the memtable is flushed and db is closed — all
// within cfg.ShutdownTimeout (two thirds of it for the drain, after which
// the connections left are closed). Serve owns db: it is closed when
// Serve returns, whatever the outcome. It owns the http.Server too: its
// timeouts (cfg.ReadHeaderTimeout, ReadTimeout, WriteTimeout,
// IdleTimeout), MaxHeaderBytes (64 KiB), ErrorLog (cfg.Logger at WARN),
// the JSONErrors listener wrapper and TLS (cfg.TLSCertFile and
// TLSKeyFile). cfg.ListenAddr, when empty, is ln's address.
//
// The error is nil only if serving stopped because ctx was done and the
// flush and the close succeeded.
func Serve(ctx context.Context, ln net.Listener, db *docstore.DB, cfg Config) error {
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = ln.Addr().String()
	}
	return New(db, cfg).Serve(ctx, ln)
}

// httpTimeout maps one of Config's http.Server timeouts to the
// http.Server's: negative (off) becomes 0.
func httpTimeout(d time.Duration) time.Duration { return max(d, 0) }

// Serve is httpd.Serve on a Server made by New (for a caller that also
// calls the Server in process): it takes ownership of the docstore.DB
// given to New, and closes the Server and the DB before it returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	cfg, logger := s.cfg, s.logger
	removeListen := func() {}
	if cfg.ListenFileDir != "" {
		scheme := "http"
		if cfg.TLSCertFile != "" {
			scheme = "https"
		}
		rm, err := WriteListenFile(cfg.ListenFileDir, scheme, ln.Addr().String())
		if err != nil {
			logger.Warn("cannot record the address in the data directory", "error", err.Error())
		} else {
			removeListen = rm
		}
	}
	var errs []error
	if err := s.ServeHandler(ctx, ln, s, s.BeginShutdown); err != nil {
		errs = append(errs, err)
	}
	if err := s.db.Flush(); err != nil && !errors.Is(err, storage.ErrClosed) {
		logger.Error("flush failed", "error", err.Error())
		errs = append(errs, err)
	}
	// The engine must not close under a compaction started through the
	// API: Close waits for it.
	s.Close()
	removeListen() // while the lock is held: the next holder writes its own
	if err := s.db.Close(); err != nil {
		logger.Error("close failed", "error", err.Error())
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ServeHandler serves h on ln through the http.Server that Serve uses,
// configured from s's Config (timeouts, MaxHeaderBytes, ErrorLog, the
// JSONErrors wrapper, TLS), until ctx is done. Then it calls
// beginShutdown and drains the requests in flight for two thirds of
// ShutdownTimeout, after which it closes the connections left. It closes
// neither s nor its DB. h is s itself for Serve; a cluster node passes
// its own handler, which forwards to the leader or serves through the
// Server of its current data. The error is nil only if serving stopped
// because ctx was done.
func (s *Server) ServeHandler(ctx context.Context, ln net.Listener, h http.Handler, beginShutdown func()) error {
	cfg, raw, logger := s.cfg, s.raw, s.logger
	// New defaulted a non-positive ReadTimeout or WriteTimeout for the
	// streaming routes; for the http.Server a negative one is off.
	rt, wt := cfg.ReadTimeout, cfg.WriteTimeout
	if raw.ReadTimeout < 0 {
		rt = 0
	}
	if raw.WriteTimeout < 0 {
		wt = 0
	}
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: httpTimeout(cfg.ReadHeaderTimeout),
		ReadTimeout:       rt,
		WriteTimeout:      wt,
		IdleTimeout:       httpTimeout(cfg.IdleTimeout),
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	useTLS := cfg.TLSCertFile != ""
	if useTLS {
		hs.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	serveErr := make(chan error, 1)
	go func() {
		// net/http's own answers (400 for an unparsable URL, 431) are
		// JSON too.
		jln := JSONErrors(ln)
		if useTLS {
			serveErr <- hs.ServeTLS(jln, cfg.TLSCertFile, cfg.TLSKeyFile)
		} else {
			serveErr <- hs.Serve(jln)
		}
	}()

	var err error
	select {
	case <-ctx.Done():
		logger.Info("shutting down: draining requests", "signal", context.Cause(ctx).Error())
	case err = <-serveErr:
		logger.Error("server stopped", "error", err.Error())
	}

	beginShutdown()
	// Leave a third of the time for flushing and closing.
	drainCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout-cfg.ShutdownTimeout/3)
	if derr := hs.Shutdown(drainCtx); derr != nil {
		logger.Warn("drain incomplete; closing connections", "error", derr.Error())
		_ = hs.Close()
	}
	cancel()
	return err
}

// LoopbackOnly reports whether addr (host:port) listens on loopback only
// (localhost, 127.0.0.0/8, ::1): then a server need not be reached from
// elsewhere, and Config.CheckHost and DebugOpen suit it.
func LoopbackOnly(addr string) bool {
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
