package main

import (
	"context"
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
	"github.com/minidbgo/minidbgo/httpd/cluster"
	"github.com/minidbgo/minidbgo/httpd/config"
)

// runCluster is run in cluster mode (NODE_ID and RAFT_ADDR set): the data
// is replicated through Raft (package httpd/cluster).
func runCluster(cfg config.Settings, opts *docstore.Options, keys *httpd.Keys, logger *slog.Logger, stderr io.Writer) int {
	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		fmt.Fprintf(stderr, "minidbgo-server: listen on %s: %v\n", cfg.Addr(), err)
		return 1
	}
	addr := ln.Addr().String()
	node, err := cluster.Open(cluster.Config{
		NodeID:          cfg.NodeID,
		RaftAddr:        cfg.RaftAddr,
		AdvertiseURL:    cfg.Advertise(addr),
		Join:            cfg.JoinURLs(),
		BootstrapExpect: cfg.BootstrapExpect,
		Dir:             cfg.DBPath,
		Docstore:        opts,
		Logger:          logger,
		APIKey:          os.Getenv("CLUSTER_API_KEY"),
	})
	if err != nil {
		_ = ln.Close()
		fmt.Fprintf(stderr, "minidbgo-server: %v\n", err)
		logger.Error("cannot start the cluster node", "db_path", cfg.DBPath, "error", err.Error())
		return 1
	}
	hc := cfg.Server(addr, keys, logger, version)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	context.AfterFunc(ctx, func() {
		stop()
		time.AfterFunc(cfg.ShutdownTimeout, func() {
			logger.Error("shutdown took too long; exiting", "timeout", cfg.ShutdownTimeout.String())
			os.Exit(1)
		})
	})
	logger.Info("minidbgo-server starting", "cluster", true,
		"version", version, "addr", addr, "db_path", cfg.DBPath, "node_id", cfg.NodeID,
		"raft_addr", cfg.RaftAddr, "advertise_url", cfg.Advertise(addr), "join", cfg.Join,
		"bootstrap_expect", cfg.BootstrapExpect, "auth", keys != nil)
	if err := cluster.Serve(ctx, ln, node, hc); err != nil {
		return 1
	}
	logger.Info("shutdown complete")
	return 0
}
