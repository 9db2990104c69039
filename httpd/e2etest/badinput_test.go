package e2etest

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minidbgo/minidbgo/httpd/internal/badinput"
)

// TestBadInputBinary runs the bad-input table of RELIABILITY.md §4 (rows
// 1–31, from httpd/internal/badinput, the table httpd/badinput_test.go
// runs in process) and the rows added since against the built
// minidbgo-server. Each row checks the status, the JSON error body, a
// database unchanged (the SHA-256 of GET /api/dumpDB and last_seq from
// GET /api/metrics, before and after) and a server still healthy (GET
// /api/health 200, the process alive). Three servers: the default
// configuration; API keys and a rate limit (rows 22–25); a 1 MiB body
// limit and a 300 ms ReadHeaderTimeout for the raw-connection rows (14,
// 26–28).
func TestBadInputBinary(t *testing.T) {
	bin := buildServer(t, "")
	t.Parallel()
	const (
		readKey           = "read-key-0123456789"
		writeKey          = "write-key-0123456789"
		adminKey          = "admin-key-0123456789"
		burst             = 50
		readHeaderTimeout = 300 * time.Millisecond
	)
	groups := []struct {
		name string
		env  []string
		key  string // for seeding and state
		rows func(staleETag string) []badinput.Row
	}{
		{"default", nil, "", func(stale string) []badinput.Row {
			return badinput.Rows(badinput.Setup{StaleETag: stale, MaxBodyBytes: 10 << 20, MaxBatch: 1000})
		}},
		{
			"auth",
			// A refill of 1/s: the state checks (admin key) stay within the
			// burst, and burst+20 requests back to back exceed it.
			[]string{"MINIDBGO_API_KEYS=" + readKey + ":read," + writeKey + ":write," + adminKey + ":admin",
				"RATE_LIMIT=1", fmt.Sprintf("RATE_BURST=%d", burst)},
			adminKey,
			func(string) []badinput.Row {
				return badinput.AuthRows(badinput.Keys{Read: readKey, Write: writeKey, Admin: adminKey}, burst)
			},
		},
		{"raw", []string{"MAX_BODY_MB=1", "READ_HEADER_TIMEOUT=" + readHeaderTimeout.String()}, "", func(string) []badinput.Row {
			return badinput.RawRows(readHeaderTimeout)
		}},
	}

	// The rows run one at a time (no t.Parallel below): plain counters.
	var rows, passed, changes, serverErrs int
	start := time.Now()
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			s, err := startServer(t, bin, filepath.Join(t.TempDir(), "db"), g.env...)
			if err != nil {
				t.Fatal(err)
			}
			tg := &badinput.Target{BaseURL: "http://" + s.addr, Client: s.hc, Key: g.key}
			alive := func() error {
				if s.exited() {
					return fmt.Errorf("the server exited: %v\n%s", s.waitErr, s.stderr.String())
				}
				return nil
			}
			run := &badinput.Runner{Target: tg, Healthy: func() error {
				if err := alive(); err != nil {
					return err
				}
				return tg.Healthy()
			}}
			stale, err := badinput.Seed(tg)
			if err != nil {
				t.Fatal(err)
			}
			for _, row := range g.rows(stale) {
				ok := t.Run(row.Title(), func(t *testing.T) {
					res := run.Run(row)
					rows++
					if res.StateChanged {
						changes++
					}
					serverErrs += res.ServerErrors()
					if res.Err != nil {
						t.Fatal(res.Err)
					}
					if n := res.ServerErrors(); n > 0 {
						t.Fatalf("%d answers with a 5xx: %v", n, res.Responses)
					}
					passed++
				})
				if !ok && alive() != nil {
					t.Fatal("the server died; the other rows cannot run")
				}
			}
			// A panic is answered 500, but it is also logged: none may be.
			if log := s.stderr.String(); strings.Contains(log, `"msg":"panic"`) {
				t.Errorf("the server logged a panic:\n%s", log)
			}
			if err := alive(); err != nil {
				t.Error(err)
			}
		})
	}
	t.Logf("%d rows in %v", rows, time.Since(start).Round(time.Millisecond))
	figure(t, "bad-input: rows=%d passed=%d state_changes=%d 5xx=%d target=binary", rows, passed, changes, serverErrs)
}
