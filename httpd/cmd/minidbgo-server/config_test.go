package main

import (
	"runtime/debug"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigDefaults(t *testing.T) {
	c, err := parseConfig(nil, envOf(nil))
	require.NoError(t, err)
	require.Equal(t, "data/MiniDBGo", c.dbPath)
	require.Equal(t, "127.0.0.1:6866", c.addr())
	require.Equal(t, 10000, c.flushSize)
	require.Equal(t, 50, c.maxMemMB)
	require.Equal(t, 100, c.maxConcurrent)
	require.Equal(t, 10, c.maxBodyMB)
	require.Equal(t, 1000, c.maxBatch)
	require.Equal(t, 1000, c.maxPage)
	require.Equal(t, 15*time.Second, c.readTimeout)
	require.Equal(t, 35*time.Second, c.writeTimeout, "the reply of a request that ran to REQUEST_TIMEOUT must still be written")
	require.Equal(t, 60*time.Second, c.idleTimeout)
	require.Equal(t, 30*time.Second, c.requestTimeout)
	require.Equal(t, 30*time.Second, c.shutdown)
	require.Equal(t, "group", c.durability)
	require.True(t, c.accessLog)
}

func TestConfigEnvThenFlags(t *testing.T) {
	env := envOf(map[string]string{
		"PORT": "7000", "DB_PATH": "/tmp/x", "FLUSH_SIZE": "5000", "MAX_MEM_MB": "30", "MODE": "server",
		"MAX_CONCURRENT": "10", "READ_TIMEOUT": "20", "WRITE_TIMEOUT": "2m", "DURABILITY": "sync", "LISTEN": "0.0.0.0",
		"GOMEMLIMIT": "128MiB", "GOGC": "30",
	})
	c, err := parseConfig(nil, env)
	require.NoError(t, err)
	require.Equal(t, "0.0.0.0:7000", c.addr())
	require.Equal(t, "/tmp/x", c.dbPath)
	require.Equal(t, 5000, c.flushSize)
	require.Equal(t, 30, c.maxMemMB)
	require.Equal(t, 10, c.maxConcurrent)
	require.Equal(t, 20*time.Second, c.readTimeout, "bare numbers are seconds")
	require.Equal(t, 2*time.Minute, c.writeTimeout)
	require.Equal(t, "128MiB", c.memLimit)

	c, err = parseConfig([]string{"-port", "7100", "-flush-size", "20000", "-db", "/tmp/y", "-listen", "127.0.0.1:9000", "-gogc", "100"}, env)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:9000", c.addr(), "a port in -listen wins")
	require.Equal(t, 20000, c.flushSize)
	require.Equal(t, "/tmp/y", c.dbPath)
	require.Equal(t, "100", c.gogc)
	c, err = parseConfig([]string{"-port", "7100"}, env)
	require.NoError(t, err)
	require.Equal(t, "0.0.0.0:7100", c.addr())
}

// The write deadline follows the request deadline unless it is set, and
// one at or before the request deadline is refused, naming both settings.
func TestConfigWriteTimeoutAfterRequestTimeout(t *testing.T) {
	c, err := parseConfig(nil, envOf(map[string]string{"REQUEST_TIMEOUT": "2m"}))
	require.NoError(t, err)
	require.Equal(t, 2*time.Minute+5*time.Second, c.writeTimeout)
	c, err = parseConfig([]string{"-request-timeout", "10s"}, envOf(nil))
	require.NoError(t, err)
	require.Equal(t, 15*time.Second, c.writeTimeout)
	c, err = parseConfig(nil, envOf(map[string]string{"WRITE_TIMEOUT": "0"}))
	require.NoError(t, err)
	require.Zero(t, c.writeTimeout, "0 turns the write deadline off")

	for _, tc := range []struct {
		args []string
		env  map[string]string
	}{
		{nil, map[string]string{"WRITE_TIMEOUT": "15s"}},                           // the old default against 30s
		{nil, map[string]string{"WRITE_TIMEOUT": "30s", "REQUEST_TIMEOUT": "30s"}}, // equal: no time to write
		{[]string{"-write-timeout", "10s"}, nil},
		{[]string{"-request-timeout", "1m"}, map[string]string{"WRITE_TIMEOUT": "40s"}},
	} {
		_, err := parseConfig(tc.args, envOf(tc.env))
		require.Error(t, err, "%v %v", tc.args, tc.env)
		require.Contains(t, err.Error(), "WRITE_TIMEOUT")
		require.Contains(t, err.Error(), "REQUEST_TIMEOUT")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, env := range []map[string]string{
		{"PORT": "x"},
		{"PORT": "70000"},
		{"FLUSH_SIZE": "0"},
		{"MAX_BODY_MB": "-1"},
		{"READ_TIMEOUT": "soon"},
		{"TLS_CERT": "c.pem"},
		{"MODE": "daemon"},
		{"ACCESS_LOG": "maybe"},
		{"RATE_LIMIT": "fast"},
	} {
		_, err := parseConfig(nil, envOf(env))
		require.Error(t, err, "%v", env)
	}
	_, err := parseConfig([]string{"-nope"}, envOf(nil))
	require.Error(t, err)
	_, err = parseConfig([]string{"extra"}, envOf(nil))
	require.Error(t, err)
}

func TestHelpers(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:1": true, "[::1]:1": true, "localhost:1": true,
		"0.0.0.0:1": false, ":1": false, "10.0.0.1:1": false, "[::]:1": false} {
		require.Equal(t, want, loopbackOnly(addr), addr)
	}
	for s, want := range map[string]int64{"200MiB": 200 << 20, "1GiB": 1 << 30, "4096": 4096, "10KiB": 10 << 10, "7B": 7} {
		n, err := parseBytes(s)
		require.NoError(t, err, s)
		require.Equal(t, want, n, s)
	}
	_, err := parseBytes("lots")
	require.Error(t, err)
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	lim, gc, err := applyRuntime(config{})
	require.NoError(t, err)
	require.Equal(t, "200MiB", lim)
	require.Equal(t, "50", gc)
	_, _, err = applyRuntime(config{gogc: "x"})
	require.Error(t, err)
}

func TestStartupWarnings(t *testing.T) {
	require.Empty(t, startupWarnings(true, false, false))
	require.Empty(t, startupWarnings(false, true, true))
	ws := startupWarnings(false, false, false)
	require.Len(t, ws, 2)
	require.Contains(t, ws[0], "without TLS")
	require.Contains(t, ws[1], "without API keys")
}

func TestConfigBrowserSettings(t *testing.T) {
	c, err := parseConfig(nil, envOf(nil))
	require.NoError(t, err)
	require.True(t, c.formAsJSON, "the guide's curl -d keeps working")
	require.Empty(t, splitList(c.corsOrigins))
	c, err = parseConfig([]string{"-form-as-json=false"}, envOf(map[string]string{
		"CORS_ORIGINS": " https://app.example.com, http://localhost:3000 ,", "ALLOWED_HOSTS": "db.example.com"}))
	require.NoError(t, err)
	require.False(t, c.formAsJSON)
	require.Equal(t, []string{"https://app.example.com", "http://localhost:3000"}, splitList(c.corsOrigins))
	require.Equal(t, []string{"db.example.com"}, splitList(c.allowedHosts))
	for _, bad := range []string{"app.example.com", "https://app.example.com/path", "ftp://x"} {
		_, err := parseConfig(nil, envOf(map[string]string{"CORS_ORIGINS": bad}))
		require.ErrorContains(t, err, "CORS_ORIGINS", bad)
	}
}
