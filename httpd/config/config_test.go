package config

import (
	"log/slog"
	"runtime/debug"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/httpd"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigDefaults(t *testing.T) {
	c, err := Parse("minidbgo-server", nil, envOf(nil))
	require.NoError(t, err)
	require.Equal(t, "data/MiniDBGo", c.DBPath)
	require.Equal(t, "127.0.0.1:6866", c.Addr())
	require.Equal(t, 10000, c.FlushSize)
	require.Equal(t, 50, c.MaxMemMB)
	require.Equal(t, 100, c.MaxConcurrent)
	require.Equal(t, 10, c.MaxBodyMB)
	require.Equal(t, 1000, c.MaxBatch)
	require.Equal(t, 1000, c.MaxPage)
	require.Equal(t, 15*time.Second, c.ReadTimeout)
	require.Equal(t, 35*time.Second, c.WriteTimeout, "the reply of a request that ran to REQUEST_TIMEOUT must still be written")
	require.Equal(t, 60*time.Second, c.IdleTimeout)
	require.Equal(t, 30*time.Second, c.RequestTimeout)
	require.Equal(t, 30*time.Second, c.ShutdownTimeout)
	require.Equal(t, "group", c.Durability)
	require.True(t, c.AccessLog)
}

func TestConfigEnvThenFlags(t *testing.T) {
	env := envOf(map[string]string{
		"PORT": "7000", "DB_PATH": "/tmp/x", "FLUSH_SIZE": "5000", "MAX_MEM_MB": "30", "MODE": "server",
		"MAX_CONCURRENT": "10", "READ_TIMEOUT": "20", "WRITE_TIMEOUT": "2m", "DURABILITY": "sync", "LISTEN": "0.0.0.0",
		"GOMEMLIMIT": "128MiB", "GOGC": "30",
	})
	c, err := Parse("minidbgo-server", nil, env)
	require.NoError(t, err)
	require.Equal(t, "0.0.0.0:7000", c.Addr())
	require.Equal(t, "/tmp/x", c.DBPath)
	require.Equal(t, 5000, c.FlushSize)
	require.Equal(t, 30, c.MaxMemMB)
	require.Equal(t, 10, c.MaxConcurrent)
	require.Equal(t, 20*time.Second, c.ReadTimeout, "bare numbers are seconds")
	require.Equal(t, 2*time.Minute, c.WriteTimeout)
	require.Equal(t, "128MiB", c.MemLimit)

	c, err = Parse("minidbgo-server", []string{"-port", "7100", "-flush-size", "20000", "-db", "/tmp/y", "-listen", "127.0.0.1:9000", "-gogc", "100"}, env)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:9000", c.Addr(), "a port in -listen wins")
	require.Equal(t, 20000, c.FlushSize)
	require.Equal(t, "/tmp/y", c.DBPath)
	require.Equal(t, "100", c.GOGC)
	c, err = Parse("minidbgo-server", []string{"-port", "7100"}, env)
	require.NoError(t, err)
	require.Equal(t, "0.0.0.0:7100", c.Addr())
}

// The write deadline follows the request deadline unless it is set, and
// one at or before the request deadline is refused, naming both settings.
func TestConfigWriteTimeoutAfterRequestTimeout(t *testing.T) {
	c, err := Parse("minidbgo-server", nil, envOf(map[string]string{"REQUEST_TIMEOUT": "2m"}))
	require.NoError(t, err)
	require.Equal(t, 2*time.Minute+5*time.Second, c.WriteTimeout)
	c, err = Parse("minidbgo-server", []string{"-request-timeout", "10s"}, envOf(nil))
	require.NoError(t, err)
	require.Equal(t, 15*time.Second, c.WriteTimeout)
	c, err = Parse("minidbgo-server", nil, envOf(map[string]string{"WRITE_TIMEOUT": "0"}))
	require.NoError(t, err)
	require.Zero(t, c.WriteTimeout, "0 turns the write deadline off")

	for _, tc := range []struct {
		args []string
		env  map[string]string
	}{
		{nil, map[string]string{"WRITE_TIMEOUT": "15s"}},                           // the old default against 30s
		{nil, map[string]string{"WRITE_TIMEOUT": "30s", "REQUEST_TIMEOUT": "30s"}}, // equal: no time to write
		{[]string{"-write-timeout", "10s"}, nil},
		{[]string{"-request-timeout", "1m"}, map[string]string{"WRITE_TIMEOUT": "40s"}},
	} {
		_, err := Parse("minidbgo-server", tc.args, envOf(tc.env))
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
		_, err := Parse("minidbgo-server", nil, envOf(env))
		require.Error(t, err, "%v", env)
	}
	_, err := Parse("minidbgo-server", []string{"-nope"}, envOf(nil))
	require.Error(t, err)
	_, err = Parse("minidbgo-server", []string{"extra"}, envOf(nil))
	require.Error(t, err)
}

func TestHelpers(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:1": true, "[::1]:1": true, "localhost:1": true,
		"0.0.0.0:1": false, ":1": false, "10.0.0.1:1": false, "[::]:1": false} {
		require.Equal(t, want, httpd.LoopbackOnly(addr), addr)
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
	lim, gc, err := Settings{}.ApplyRuntime()
	require.NoError(t, err)
	require.Equal(t, "200MiB", lim)
	require.Equal(t, "50", gc)
	_, _, err = Settings{GOGC: "x"}.ApplyRuntime()
	require.Error(t, err)
}

func TestConfigBrowserSettings(t *testing.T) {
	c, err := Parse("minidbgo-server", nil, envOf(nil))
	require.NoError(t, err)
	require.True(t, c.FormAsJSON, "the guide's curl -d keeps working")
	require.Empty(t, splitList(c.CORSOrigins))
	c, err = Parse("minidbgo-server", []string{"-form-as-json=false"}, envOf(map[string]string{
		"CORS_ORIGINS": " https://app.example.com, http://localhost:3000 ,", "ALLOWED_HOSTS": "db.example.com"}))
	require.NoError(t, err)
	require.False(t, c.FormAsJSON)
	require.Equal(t, []string{"https://app.example.com", "http://localhost:3000"}, splitList(c.CORSOrigins))
	require.Equal(t, []string{"db.example.com"}, splitList(c.AllowedHosts))
	for _, bad := range []string{"app.example.com", "https://app.example.com/path", "ftp://x"} {
		_, err := Parse("minidbgo-server", nil, envOf(map[string]string{"CORS_ORIGINS": bad}))
		require.ErrorContains(t, err, "CORS_ORIGINS", bad)
	}
}

func TestAdmissionConfig(t *testing.T) {
	c, err := Parse("minidbgo-server", nil, envOf(nil))
	require.NoError(t, err)
	require.Zero(t, c.MaxInflightMB, "0: sized to GOMEMLIMIT by httpd")
	require.Equal(t, int64(16<<10), c.MinTransferRate)
	require.Equal(t, int64(-1), withAdmission(Settings{}, httpd.Config{}).MinTransferRate, "MIN_TRANSFER_RATE=0 turns the minimum off")
	c, err = Parse("minidbgo-server", nil, envOf(map[string]string{"MAX_INFLIGHT_MB": "64", "MAX_SORT_MB": "16", "MIN_TRANSFER_RATE": "1000", "TRANSFER_WINDOW": "5s"}))
	require.NoError(t, err)
	require.Equal(t, 64, c.MaxInflightMB)
	require.Equal(t, 16, c.MaxSortMB)
	require.Equal(t, int64(1000), c.MinTransferRate)
	for _, env := range []map[string]string{
		{"MAX_INFLIGHT_MB": "5"}, // under MAX_BODY_MB
		{"MAX_INFLIGHT_MB": "-1"},
		{"MAX_INFLIGHT_MB": "64", "MAX_SORT_MB": "65"},
		{"MIN_TRANSFER_RATE": "-5"},
		{"TRANSFER_WINDOW": "0s"},
	} {
		_, err := Parse("minidbgo-server", nil, envOf(env))
		require.Error(t, err, "%v", env)
	}
}

// TestConfigErrorsNameTheSetting: every refused value is reported with
// the name of its variable, whether it does not parse or does not fit.
func TestConfigErrorsNameTheSetting(t *testing.T) {
	for name, value := range map[string]string{
		"PORT": "70000", "MAX_CONCURRENT": "0", "MAX_BODY_MB": "-1", "MAX_BATCH": "x", "MAX_PAGE": "0",
		"FLUSH_SIZE": "0", "MAX_MEM_MB": "lots", "READ_TIMEOUT": "soon", "ACCESS_LOG": "maybe",
		"RATE_LIMIT": "fast", "COMPRESS_MIN_BYTES": "-3", "TRANSFER_WINDOW": "0s", "MODE": "daemon",
		"SLOW_QUERY_MS": "-1", "LOG_LEVEL": "loud", "LOG_FORMAT": "xml", "DURABILITY": "sometimes",
		"CORS_ORIGINS": "ftp://x",
	} {
		_, err := Parse("minidbgo-server", nil, envOf(map[string]string{name: value}))
		require.ErrorContains(t, err, name, "%s=%s", name, value)
	}
	_, err := Parse("minidbgo-server", nil, envOf(map[string]string{"TLS_CERT": "c.pem"}))
	require.ErrorContains(t, err, "TLS_KEY")

	c, err := Parse("minidbgo-server", nil, envOf(nil))
	require.NoError(t, err)
	require.Equal(t, 100*time.Millisecond, c.SlowQuery)
	c, err = Parse("minidbgo-server", []string{"-slow-query-ms", "250"}, envOf(map[string]string{"SLOW_QUERY_MS": "0"}))
	require.NoError(t, err)
	require.Equal(t, 250*time.Millisecond, c.SlowQuery)
	require.Equal(t, 250*time.Millisecond, c.Server("127.0.0.1:1", nil, nil, "").SlowQuery)
	c, err = Parse("minidbgo-server", nil, envOf(map[string]string{"SLOW_QUERY_MS": "0"}))
	require.NoError(t, err)
	require.Negative(t, c.Server("127.0.0.1:1", nil, nil, "").SlowQuery, "SLOW_QUERY_MS=0 turns the log off")
}

// TestChangesRetentionConfig: CHANGES_RETENTION (a duration, default
// 24h, 0 no limit) and CHANGES_RETENTION_RECORDS (a count, default no
// limit) reach the docstore's options, from the environment or the flags.
func TestChangesRetentionConfig(t *testing.T) {
	c, err := Parse("minidbgo-server", nil, envOf(nil))
	require.NoError(t, err)
	opts, err := c.DocstoreOptions(slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.Equal(t, 24*time.Hour, opts.ChangesRetention)
	require.Zero(t, opts.ChangesRetentionRecords)

	c, err = Parse("minidbgo-server", nil, envOf(map[string]string{"CHANGES_RETENTION": "90m", "CHANGES_RETENTION_RECORDS": "5000"}))
	require.NoError(t, err)
	opts, err = c.DocstoreOptions(slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.Equal(t, 90*time.Minute, opts.ChangesRetention)
	require.Equal(t, int64(5000), opts.ChangesRetentionRecords)

	c, err = Parse("minidbgo-server", []string{"-changes-retention", "0", "-changes-retention-records", "7"}, envOf(map[string]string{"CHANGES_RETENTION": "1h"}))
	require.NoError(t, err)
	opts, err = c.DocstoreOptions(slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.Negative(t, opts.ChangesRetention, "0: no limit by age (docstore's negative)")
	require.Equal(t, int64(7), opts.ChangesRetentionRecords)

	for name, value := range map[string]string{
		"CHANGES_RETENTION": "a while", "CHANGES_RETENTION_RECORDS": "many",
	} {
		_, err := Parse("minidbgo-server", nil, envOf(map[string]string{name: value}))
		require.ErrorContains(t, err, name, "%s=%s", name, value)
	}
	for _, env := range []map[string]string{{"CHANGES_RETENTION": "-1h"}, {"CHANGES_RETENTION_RECORDS": "-1"}} {
		_, err := Parse("minidbgo-server", nil, envOf(env))
		require.ErrorContains(t, err, "CHANGES_RETENTION", "%v", env)
	}
}
