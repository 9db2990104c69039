package cluster

import (
	"context"
	"errors"
	"log/slog"
	"net"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd"
)

// Serve serves the REST API of node n on ln until ctx is done, like
// httpd.Serve and through the same http.Server (httpd.Server.ServeHandler); hc configures the httpd.Server of the node's data (a new
// one after a snapshot restore replaced the data). It closes n before it
// returns.
func Serve(ctx context.Context, ln net.Listener, n *Node, hc httpd.Config) error {
	if hc.ListenAddr == "" {
		hc.ListenAddr = ln.Addr().String()
	}
	hc.Cluster = n
	hc.ListenFileDir = ""
	n.srvMu.Lock()
	n.newServer = func(db *docstore.DB) *httpd.Server { return httpd.New(db, hc) }
	n.srv.Store(n.newServer(n.DB()))
	n.srvMu.Unlock()
	logger := hc.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// The http.Server is httpd's, configured as in single-node mode; the
	// current Server (a snapshot restore replaces it) begins the shutdown.
	var errs []error
	if err := n.srv.Load().ServeHandler(ctx, ln, n, func() { n.srv.Load().BeginShutdown() }); err != nil {
		errs = append(errs, err)
	}
	if err := n.Close(); err != nil {
		logger.Error("close failed", "error", err.Error())
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
