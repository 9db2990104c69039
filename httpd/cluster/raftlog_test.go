package cluster

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for the log's writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(s.b.Bytes()))
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), sc.Text())
		out = append(out, m)
	}
	return out
}

// TestRaftLogger: Raft's hclog lines go to the server's slog logger, at
// its level, with the Raft component as "module" and hclog's key/value
// pairs as attributes.
func TestRaftLogger(t *testing.T) {
	var buf syncBuffer
	l := newRaftLogger(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	require.Equal(t, hclog.Info, l.GetLevel())
	require.True(t, l.IsInfo())
	require.False(t, l.IsDebug())
	l.Info("entering leader state", "leader", "n1")
	l.Debug("not shown at info")
	l.Trace("nor this")
	l.Named("transport").With("peer", "n2").Warn("failed to append", "error", errors.New("boom"))
	l.ResetNamed("snapshot").Error("failed")
	l.StandardLogger(nil).Print("a line\nanother")
	l.Log(hclog.Off, "never")

	got := buf.lines(t)
	require.Len(t, got, 5)
	require.Equal(t, map[string]any{"level": "INFO", "msg": "entering leader state", "module": "raft", "leader": "n1"}, withoutTime(got[0]))
	require.Equal(t, map[string]any{"level": "WARN", "msg": "failed to append", "module": "raft.transport", "peer": "n2", "error": "boom"}, withoutTime(got[1]))
	require.Equal(t, map[string]any{"level": "ERROR", "msg": "failed", "module": "snapshot"}, withoutTime(got[2]))
	require.Equal(t, "a line", got[3]["msg"])
	require.Equal(t, "another", got[4]["msg"])

	dbg := newRaftLogger(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	require.Equal(t, hclog.Debug, dbg.GetLevel())
	require.True(t, dbg.IsDebug())
	require.False(t, dbg.IsTrace())
}

func withoutTime(m map[string]any) map[string]any {
	delete(m, "time")
	return m
}

// TestRaftLinesInTheNodesLog: a node's Raft lines (here its election) are
// in the log of the Logger it was given, not on standard error.
func TestRaftLinesInTheNodesLog(t *testing.T) {
	var buf syncBuffer
	nodes := startCluster(t, 1, func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
	})
	waitLeader(t, nodes)
	require.Eventually(t, func() bool {
		for _, m := range buf.lines(t) {
			if m["module"] == "raft" && strings.Contains(m["msg"].(string), "leader") {
				return true
			}
		}
		return false
	}, waitFor, tick, "a Raft line about the leader in the node's log")
}
