package httpd

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/httpd/internal/badinput"
)

// The rows of RELIABILITY.md §4 that concern the server (1–31) and the
// rows added since live in httpd/internal/badinput; here they run against
// the handler in process (httptest on 127.0.0.1:0), with the database's
// state taken from the DB itself. httpd/e2etest runs the same rows
// against the built minidbgo-server binary.

// runBadInputs seeds e, then runs rows (built from the stale ETag Seed
// returns) as subtests: status, JSON error body, an unchanged database
// (the hash of a full dump and the last sequence number) and a server
// still healthy.
func runBadInputs(t *testing.T, e *env, key string, rows func(staleETag string) []badinput.Row) {
	t.Helper()
	tg := &badinput.Target{BaseURL: e.url, Client: e.hc, Key: key}
	stale, err := badinput.Seed(tg)
	require.NoError(t, err)
	run := &badinput.Runner{Target: tg, State: func() (badinput.State, error) {
		var dump bytes.Buffer
		if _, err := e.db.Dump(context.Background(), &dump); err != nil {
			return badinput.State{}, err
		}
		return badinput.State{Dump: badinput.DumpHash(dump.Bytes()), LastSeq: e.db.Metrics().LastSeq}, nil
	}}
	for _, row := range rows(stale) {
		t.Run(row.Title(), func(t *testing.T) {
			res := run.Run(row)
			require.NoError(t, res.Err)
			require.Zero(t, res.ServerErrors())
		})
	}
}

// TestBadInputs covers rows 1–13, 15–21 and 29–31 and the rows added
// since on a server with the default limits.
func TestBadInputs(t *testing.T) {
	e := newEnv(t, envOptions{})
	cfg := e.srv.cfg
	runBadInputs(t, e, "", func(stale string) []badinput.Row {
		return badinput.Rows(badinput.Setup{StaleETag: stale, MaxBodyBytes: cfg.MaxBodyBytes, MaxBatch: e.db.Limits().MaxBatchDocs})
	})
}

// TestBadInputsAuth covers rows 22–25 on a server with API keys and a
// rate limit.
func TestBadInputsAuth(t *testing.T) {
	const burst = 20
	e := authEnv(t, Config{RateLimit: 0.01, RateBurst: burst})
	runBadInputs(t, e, adminKey, func(string) []badinput.Row {
		return badinput.AuthRows(badinput.Keys{Read: readKey, Write: writeKey, Admin: adminKey}, burst)
	})
}

// TestBadInputsRaw covers rows 14, 26, 27 and 28 with raw connections.
func TestBadInputsRaw(t *testing.T) {
	const readHeaderTimeout = 300 * time.Millisecond
	e := newEnv(t, envOptions{
		cfg: Config{MaxBodyBytes: 64 << 10},
		configure: func(s *http.Server) {
			s.ReadHeaderTimeout = readHeaderTimeout
		},
	})
	runBadInputs(t, e, "", func(string) []badinput.Row {
		return badinput.RawRows(readHeaderTimeout)
	})
}
