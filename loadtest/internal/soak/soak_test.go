package soak

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// figure logs a one-line summary of a test's figures and, when
// MINIDBGO_FIGURES names a file, appends it there: `make test` prints
// that file at the end, so CI shows the figures without -v.
func figure(t *testing.T, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf(format, args...)
	t.Log(line)
	path := os.Getenv("MINIDBGO_FIGURES")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Errorf("figures file: %v", err)
		return
	}
	defer f.Close()
	if _, err := fmt.Fprintln(f, line); err != nil {
		t.Errorf("figures file: %v", err)
	}
}

// buildServer builds minidbgo-server from the httpd module into a
// temporary directory.
func buildServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "minidbgo-server")
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(gobin, "build", "-o", bin, "./cmd/minidbgo-server")
	cmd.Dir = filepath.Join("..", "..", "..", "httpd")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build minidbgo-server: %v\n%s", err, out)
	}
	return bin
}

// TestSoak is the CI version of make soak: 60 s (MINIDBGO_SOAK_DURATION
// overrides) of mixed load at 50 clients against the minidbgo-server
// binary under GOMEMLIMIT=200MiB, with compactions requested and a dump
// and an export always streaming. The server's peak RSS must stay under
// 150 MiB, no request may fail except by a deliberate 503, and at least
// one requested compaction and one full dump must complete. Throughput is
// never asserted: under make test the machine is shared with every other
// package's tests.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the server and runs it under load for a minute")
	}
	d := 60 * time.Second
	if v := os.Getenv("MINIDBGO_SOAK_DURATION"); v != "" {
		var err error
		d, err = time.ParseDuration(v)
		require.NoError(t, err, "MINIDBGO_SOAK_DURATION")
	}
	bin := buildServer(t)
	var status bytes.Buffer
	cfg := Config{ServerBin: bin, Duration: d, Clients: 50, RSSLimitMB: 150, StatusEvery: 15 * time.Second, Status: &status}
	res, err := Run(context.Background(), cfg)
	t.Log("\n" + status.String())
	require.NoError(t, err)
	var text bytes.Buffer
	WriteText(&text, res)
	t.Log("\n" + text.String())

	figure(t, "soak: duration=%s clients=%d requests=%d peak_rss_mb=%.1f limit_mb=%.0f unexpected_5xx=%d overload_503=%d errors=%d compactions=%d dumps=%d exports=%d get_p99_ms=%.1f insert_p99_ms=%.1f",
		d, res.Clients, res.Requests, res.PeakRSSMB, res.RSSLimitMB, res.Unexpected5xx, res.Deliberate503, res.Errors,
		res.Compaction.Completed, res.Dumps.Completed, res.Exports.Completed, p99ms(res, "get"), p99ms(res, "insert"))

	assert.Less(t, res.PeakRSSMB, 150.0, "peak RSS (MiB)")
	assert.Greater(t, res.RSSSamples, 0, "RSS samples")
	assert.Zero(t, res.Unexpected5xx, "unexpected 5xx: %v", only5xx(res.Status))
	assert.Zero(t, res.Errors, "requests without a response: %v", res.ErrorSamples)
	assert.GreaterOrEqual(t, res.Compaction.Completed, 1, "compactions completed")
	assert.GreaterOrEqual(t, res.Dumps.Completed, 1, "full dumps completed")
	assert.Greater(t, res.Ops["get"].Requests, int64(0), "the mixed load ran")
	assert.Empty(t, res.Failures)
	assert.True(t, res.Pass)
	assert.True(t, strings.HasPrefix(res.ServerExit, "clean"), res.ServerExit)
}

func p99ms(r *Result, kind string) float64 {
	if o, ok := r.Ops[kind]; ok {
		return o.P99US / 1000
	}
	return 0
}
