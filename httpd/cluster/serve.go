package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd"
)

// Serve serves the REST API of node n on ln until ctx is done, like
// httpd.Serve; hc configures the httpd.Server of the node's data (a new
// one after a snapshot restore replaced the data). It closes n before it
// returns.
func Serve(ctx context.Context, ln net.Listener, n *Node, hc httpd.Config) error {
	if hc.ListenAddr == "" {
		hc.ListenAddr = ln.Addr().String()
	}
	hc.Cluster = n
	hc.ListenFileDir = ""
	n.newServer = func(db *docstore.DB) *httpd.Server { return httpd.New(db, hc) }
	n.srv.Store(n.newServer(n.DB()))
	logger := hc.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	shutdown := hc.ShutdownTimeout
	if shutdown <= 0 {
		shutdown = 30 * time.Second
	}
	hs := &http.Server{
		Handler:           n,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	useTLS := hc.TLSCertFile != ""
	if useTLS {
		hs.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	serveErr := make(chan error, 1)
	go func() {
		jln := httpd.JSONErrors(ln)
		if useTLS {
			serveErr <- hs.ServeTLS(jln, hc.TLSCertFile, hc.TLSKeyFile)
		} else {
			serveErr <- hs.Serve(jln)
		}
	}()
	var errs []error
	select {
	case <-ctx.Done():
		logger.Info("shutting down: draining requests", "signal", context.Cause(ctx).Error())
	case err := <-serveErr:
		logger.Error("server stopped", "error", err.Error())
		errs = append(errs, err)
	}
	n.srv.Load().BeginShutdown()
	drainCtx, cancel := context.WithTimeout(context.Background(), shutdown-shutdown/3)
	if err := hs.Shutdown(drainCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		_ = hs.Close()
	}
	cancel()
	if err := n.Close(); err != nil {
		logger.Error("close failed", "error", err.Error())
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
