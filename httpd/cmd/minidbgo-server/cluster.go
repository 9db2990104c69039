package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
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
	snapThreshold, err := envUint("RAFT_SNAPSHOT_THRESHOLD", os.Getenv("RAFT_SNAPSHOT_THRESHOLD"))
	if err != nil {
		fmt.Fprintln(stderr, "minidbgo-server:", err)
		return 2
	}
	trailing, err := envUint("RAFT_TRAILING_LOGS", os.Getenv("RAFT_TRAILING_LOGS"))
	if err != nil {
		fmt.Fprintln(stderr, "minidbgo-server:", err)
		return 2
	}
	var snapInterval time.Duration
	if v := os.Getenv("RAFT_SNAPSHOT_INTERVAL"); v != "" {
		if snapInterval, err = time.ParseDuration(v); err != nil || snapInterval <= 0 {
			fmt.Fprintf(stderr, "minidbgo-server: RAFT_SNAPSHOT_INTERVAL %q: want a positive duration\n", v)
			return 2
		}
	}
	node, err := cluster.Open(cluster.Config{
		SnapshotThreshold: snapThreshold,
		SnapshotInterval:  snapInterval,
		TrailingLogs:      trailing,
		NodeID:            cfg.NodeID,
		RaftAddr:          cfg.RaftAddr,
		AdvertiseURL:      cfg.Advertise(addr),
		Join:              cfg.JoinURLs(),
		BootstrapExpect:   cfg.BootstrapExpect,
		Dir:               cfg.DBPath,
		Docstore:          opts,
		Logger:            logger,
		APIKey:            os.Getenv("CLUSTER_API_KEY"),
	})
	if err != nil {
		_ = ln.Close()
		fmt.Fprintf(stderr, "minidbgo-server: %v\n", err)
		logger.Error("cannot start the cluster node", "db_path", cfg.DBPath, "error", err.Error())
		return 1
	}
	hc := cfg.Server(addr, keys, logger, version)
	ctx, stop := shutdownSignals(cfg.ShutdownTimeout, logger)
	defer stop()
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

// envUint parses the optional positive integer v of variable name.
func envUint(name, v string) (uint64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%s %q: want a positive integer", name, v)
	}
	return n, nil
}
