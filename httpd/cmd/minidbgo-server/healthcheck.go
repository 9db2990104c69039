package main

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/minidbgo/minidbgo/httpd/client/api"
	"github.com/minidbgo/minidbgo/httpd/config"
)

// healthcheck asks the server configured by the same PORT, LISTEN and
// TLS settings for GET /api/health, and returns 0 only when it answers
// 200 {"status":"ok"}. It needs no curl, so container images can use it.
func healthcheck(args []string, getenv func(string) string, stderr io.Writer) int {
	cfg, err := config.Parse("minidbgo-server healthcheck", args, getenv)
	if err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return 2
	}
	host, port, err := net.SplitHostPort(cfg.Addr())
	if err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return 2
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	scheme := "http"
	tr := &http.Transport{}
	if cfg.TLSCert != "" {
		// A liveness probe of our own process over loopback: the
		// certificate names the public host, not 127.0.0.1.
		scheme = "https"
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
	}
	hc := &http.Client{Timeout: 3 * time.Second, Transport: tr}
	url := scheme + "://" + net.JoinHostPort(strings.Trim(host, "[]"), port) + "/api/health"
	resp, err := hc.Get(url)
	if err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return 1
	}
	defer resp.Body.Close()
	var h api.Health
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&h); err != nil || resp.StatusCode != http.StatusOK || h.Status != "ok" {
		fmt.Fprintf(stderr, "healthcheck: %s answered %d %q\n", url, resp.StatusCode, h.Status)
		return 1
	}
	return 0
}
