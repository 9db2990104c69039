package httpd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// logBuffer is a log destination safe for the server's goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the JSON log lines whose msg is msg.
func (b *logBuffer) lines(t *testing.T, msg string) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestSlowQueryLog: a request slower than SlowQuery is logged once at
// WARN with its route, collection, plan and the keys and documents its
// cursor examined, and counted per route in /metrics and /api/metrics —
// and the line holds no document contents or filter values.
func TestSlowQueryLog(t *testing.T) {
	var logs logBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	e := newEnv(t, envOptions{cfg: Config{Logger: logger, SlowQuery: time.Nanosecond}})
	for i := range 30 {
		mustStatus(t, e.do("POST", "/api/products", fmt.Sprintf(`{"_id":"p%02d","name":"secret-name-%d","price":%d}`, i, i, i)), http.StatusCreated)
	}
	mustStatus(t, e.do("POST", "/api/products/_find", `{"filter":{"name":"secret-name-7"}}`), http.StatusOK)
	find := func() []map[string]any {
		var out []map[string]any
		for _, l := range logs.lines(t, "slow request") {
			if l["route"] == "/api/{col}/_find" {
				out = append(out, l)
			}
		}
		return out
	}
	require.Eventually(t, func() bool { return len(find()) == 1 }, 5*time.Second, time.Millisecond)
	l := find()[0]
	require.Equal(t, "WARN", l["level"])
	require.Equal(t, "products", l["collection"])
	require.Equal(t, "COLLSCAN", l["plan"])
	require.EqualValues(t, 30, l["docs_examined"], "the unindexed filter read every document")
	require.EqualValues(t, 1, l["results"])
	require.EqualValues(t, 200, l["status"])
	require.Contains(t, l, "keys_examined")
	require.Contains(t, l, "duration_ms")
	require.NotContains(t, logs.String(), "secret-name", "no document contents or filter values in the log")

	// An _id range is IDSCAN, examining only its documents.
	mustStatus(t, e.do("POST", "/api/products/_find", `{"filter":{"_id":{"$gte":"p10","$lt":"p13"}}}`), http.StatusOK)
	require.Eventually(t, func() bool { return len(find()) == 2 }, 5*time.Second, time.Millisecond)
	l = find()[1]
	require.Equal(t, "IDSCAN", l["plan"])
	require.EqualValues(t, 3, l["results"])

	r := mustStatus(t, e.do("GET", "/metrics", nil), http.StatusOK)
	require.Contains(t, string(r.body), `minidbgo_http_slow_requests_total{route="/api/{col}/_find"} 2`)
	require.Contains(t, string(r.body), `minidbgo_http_slow_requests_total{route="/api/{col}"} 30`)
	var m struct {
		Slow uint64 `json:"http_slow_requests"`
	}
	mustStatus(t, e.do("GET", "/api/metrics", nil), http.StatusOK).json(t, &m)
	require.GreaterOrEqual(t, m.Slow, uint64(33))
}

// TestSlowQueryThreshold: requests faster than SlowQuery are neither
// logged nor counted; a negative SlowQuery turns the log off.
func TestSlowQueryThreshold(t *testing.T) {
	for _, d := range []time.Duration{time.Hour, -1} {
		var logs logBuffer
		e := newEnv(t, envOptions{cfg: Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), SlowQuery: d}})
		mustStatus(t, e.do("POST", "/api/products", `{"_id":"p1"}`), http.StatusCreated)
		mustStatus(t, e.do("POST", "/api/products/_find", `{}`), http.StatusOK)
		r := mustStatus(t, e.do("GET", "/metrics", nil), http.StatusOK)
		require.NotContains(t, string(r.body), "minidbgo_http_slow_requests_total{", d)
		require.Empty(t, logs.lines(t, "slow request"), d)
	}
}

// TestSlowQueryLogManyRoutes: _count, _distinct, _update and _delete log
// their plan and cost too (recorded by docstore under WithExplain), never
// a filter value.
func TestSlowQueryLogManyRoutes(t *testing.T) {
	var logs logBuffer
	e := newEnv(t, envOptions{cfg: Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), SlowQuery: time.Nanosecond}})
	for i := range 20 {
		mustStatus(t, e.do("POST", "/api/products", fmt.Sprintf(`{"_id":"p%02d","cat":"secret-cat-%d","n":%d}`, i, i%4, i)), http.StatusCreated)
	}
	mustStatus(t, e.do("POST", "/api/products/_indexes", `{"fields":["cat"]}`), http.StatusCreated)
	mustStatus(t, e.do("POST", "/api/products/_count", `{"filter":{"n":{"$gte":10}}}`), http.StatusOK)
	mustStatus(t, e.do("POST", "/api/products/_distinct", `{"field":"cat"}`), http.StatusOK)
	mustStatus(t, e.do("POST", "/api/products/_update", `{"filter":{"cat":"secret-cat-1"},"update":{"$inc":{"n":1}}}`), http.StatusOK)
	mustStatus(t, e.do("POST", "/api/products/_delete", `{"filter":{"_id":{"$lt":"p03"}}}`), http.StatusOK)
	line := func(route string) map[string]any {
		var got map[string]any
		require.Eventually(t, func() bool {
			for _, l := range logs.lines(t, "slow request") {
				if l["route"] == route {
					got = l
					return true
				}
			}
			return false
		}, 5*time.Second, time.Millisecond, route)
		return got
	}
	for _, tc := range []struct {
		route, plan   string
		docs, results int64
		keysAtLeast   int64
	}{
		{"/api/{col}/_count", "COLLSCAN", 20, 10, 0},
		{"/api/{col}/_distinct", "IXSCAN", 0, 4, 4},
		{"/api/{col}/_update", "IXSCAN", 5, 5, 5},
		{"/api/{col}/_delete", "IDSCAN", 3, 3, 0},
	} {
		l := line(tc.route)
		require.Equal(t, tc.plan, l["plan"], tc.route)
		require.EqualValues(t, tc.results, l["results"], tc.route)
		require.EqualValues(t, tc.docs, l["docs_examined"], tc.route)
		require.GreaterOrEqual(t, l["keys_examined"], float64(tc.keysAtLeast), tc.route)
	}
	require.NotContains(t, logs.String(), "secret-cat", "no filter values or documents in the log")
}
