package httpd

import (
	"bytes"
	"context"
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

// countingWriter records what the log's destination was given, and in
// how many writes; it blocks while gate is held.
type countingWriter struct {
	gate   sync.Mutex
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.gate.Lock()
	defer c.gate.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	return c.buf.Write(p)
}

func (c *countingWriter) snapshot() (string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String(), c.writes
}

// accessLines returns the access log lines (msg "request") of a JSON log.
func accessLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		if m["msg"] == "request" {
			lines = append(lines, m)
		}
	}
	return lines
}

// TestAccessLogBuffered: with the server's own log handler the access
// lines reach the log's destination in a few large writes, not one per
// request, with the same fields as before; Close writes what is left.
func TestAccessLogBuffered(t *testing.T) {
	var out countingWriter
	h, err := NewLogHandler(&out, "json", nil)
	require.NoError(t, err)
	e := newEnv(t, envOptions{cfg: Config{Logger: slog.New(h), AccessLog: true}})
	mustStatus(t, e.do("POST", "/api/c", `{"_id":"a","secret":"hunter2"}`, "X-Request-ID", "my-req.1"), http.StatusCreated)
	const n = 60
	for range n {
		mustStatus(t, e.do("GET", "/api/c/a", nil), http.StatusOK)
	}
	e.srv.Close() // flushes; the cleanup's Close is then a no-op
	log, writes := out.snapshot()
	lines := accessLines(t, log)
	require.Len(t, lines, n+1)
	require.Less(t, writes, n/2, "the lines are written in batches, not one write per request")
	first := lines[0]
	require.Equal(t, "my-req.1", first["request_id"])
	require.Equal(t, "POST", first["method"])
	require.Equal(t, "/api/{col}", first["route"])
	require.Equal(t, "/api/c", first["path"])
	require.Equal(t, float64(201), first["status"])
	require.Positive(t, first["bytes"])
	require.Contains(t, first, "duration_ms")
	require.Contains(t, first, "remote")
	require.Equal(t, "INFO", first["level"])
	require.Contains(t, first, "time")
	require.Equal(t, "/api/{col}/{id}", lines[1]["route"])
	require.NotContains(t, log, "hunter2", "bodies are never logged")

	// After Close a line is written at once.
	e.do("GET", "/api/c/a", nil)
	log, _ = out.snapshot()
	require.Len(t, accessLines(t, log), n+2)
}

// TestAccessLogFlushesWithinInterval: a line is written without Close,
// about accessFlushEvery after it was logged.
func TestAccessLogFlushesWithinInterval(t *testing.T) {
	var out countingWriter
	h, err := NewLogHandler(&out, "text", nil)
	require.NoError(t, err)
	e := newEnv(t, envOptions{cfg: Config{Logger: slog.New(h), AccessLog: true}})
	e.do("GET", "/api/c/a", nil)
	require.Eventually(t, func() bool {
		log, _ := out.snapshot()
		return strings.Contains(log, "msg=request") && strings.Contains(log, "route=/api/{col}/{id}")
	}, 10*time.Second, 10*time.Millisecond, "the text format is kept too")
}

// TestAccessLogDropsWhenFull: when the destination blocks, requests do
// not: the lines beyond the buffer are dropped and counted, and the
// count is reported once the destination moves again.
func TestAccessLogDropsWhenFull(t *testing.T) {
	var out countingWriter
	h, err := NewLogHandler(&out, "json", nil)
	require.NoError(t, err)
	logger := slog.New(h)
	a := newAccessLog(logger, 4<<10, 1<<10) // about 20 lines
	out.gate.Lock()                         // the destination stalls
	const n = 500
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			a.logger.Info("request", "request_id", fmt.Sprintf("r%03d", i), "route", "/api/{col}")
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("logging blocked on a stalled destination")
	}
	dropped := a.droppedLines()
	require.Positive(t, dropped)
	out.gate.Unlock()
	a.Close()
	log, _ := out.snapshot()
	require.Equal(t, n, len(accessLines(t, log))+int(dropped), "every line is written or counted")
	require.Contains(t, log, "access log lines dropped")
}

// TestAccessJSONMatchesSlog: the access line the server formats itself is
// byte for byte the one slog's JSONHandler writes; records it cannot
// write plainly are left to slog.
func TestAccessJSONMatchesSlog(t *testing.T) {
	var want bytes.Buffer
	h := slog.NewJSONHandler(&want, nil)
	times := []time.Time{
		time.Date(2026, 12, 6, 17, 1, 2, 123456789, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)),
		time.Now(),
	}
	recs := []accessRecord{
		{id: "a1b2c3d4-17", method: "GET", route: "/api/{col}/{id}", path: "/api/products/p1", remote: "127.0.0.1:50000", status: 200, bytes: 61, durationMS: 0.042},
		{id: "my-req.1", method: "POST", route: "/api/{col}", path: "/api/c", remote: "[::1]:1", status: 201, bytes: 0, durationMS: 0},
		{id: "x", method: "DELETE", route: "unmatched", path: "/a%20b/%22", remote: "", status: 404, bytes: 123456789, durationMS: 1500.5},
		{id: "x", method: "GET", route: "/api/{col}/{id}", path: "/api/c/" + strings.Repeat("z", 240), remote: "10.0.0.1:9", status: 504, bytes: 1, durationMS: 30000.001},
	}
	for _, tm := range times {
		for _, rec := range recs {
			require.True(t, rec.plain())
			want.Reset()
			r := slog.NewRecord(tm, slog.LevelInfo, "request", 0)
			r.AddAttrs(slog.String("request_id", rec.id), slog.String("method", rec.method),
				slog.String("route", rec.route), slog.String("path", rec.path),
				slog.Int("status", rec.status), slog.Int64("bytes", rec.bytes),
				slog.Float64("duration_ms", rec.durationMS), slog.String("remote", rec.remote))
			require.NoError(t, h.Handle(context.Background(), r))
			require.Equal(t, want.String(), string(appendAccessJSON(nil, tm, &rec)))
		}
	}
	for _, rec := range []accessRecord{{path: `/a"b`}, {id: "é"}, {path: "/a\\b"}, {remote: "\n"}} {
		require.False(t, rec.plain(), "%+v", rec)
	}

	// Through the server: a path with a quote goes through slog, and both
	// kinds of line parse with the same fields.
	var out countingWriter
	lh, err := NewLogHandler(&out, "json", nil)
	require.NoError(t, err)
	a := newAccessLog(slog.New(lh), 64<<10, 32<<10)
	require.True(t, a.ownJSON)
	a.log(context.Background(), &recs[0])
	odd := recs[0]
	odd.path = `/api/c/"q"`
	a.log(context.Background(), &odd)
	a.Close()
	log, _ := out.snapshot()
	lines := accessLines(t, log)
	require.Len(t, lines, 2)
	require.Equal(t, `/api/c/"q"`, lines[1]["path"])
	for _, l := range lines {
		require.Len(t, l, 11, "time, level, msg and the eight fields")
	}

	// LOG_LEVEL=warn hides the access log, as it hid slog's lines.
	out = countingWriter{}
	lh, err = NewLogHandler(&out, "json", &slog.HandlerOptions{Level: slog.LevelWarn})
	require.NoError(t, err)
	a = newAccessLog(slog.New(lh), 64<<10, 32<<10)
	a.log(context.Background(), &recs[0])
	a.Close()
	log, _ = out.snapshot()
	require.Empty(t, log)
}
