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
