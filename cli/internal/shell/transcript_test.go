package shell

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd"
	"github.com/stretchr/testify/require"
)

// The transcripts in testdata/transcripts are golden files of shell
// sessions: each file is one session, each directive's input lines are
// typed in order, and the expected output is what the shell prints, with
// stderr lines marked "! ". Every file runs twice, on the embedded
// database and through --url against a server, and must print the same.
// Rewrite with: go test -run TestTranscripts -rewrite
//
// Directives:
//
//	run [batch=N]   run the statements (N sets findMany's page size)
//	keys            run one statement and print the sorted keys of its
//	                JSON output (for metrics and stats, whose values vary)
//
// "$TMP" in an input line is a temporary directory (and is printed back
// as $TMP).

// session is a shell under test with its output captured.
type session struct {
	sh   *Shell
	take func() string // returns and clears what was printed
	peek func() string // returns what was printed
	tmp  string
	stop func()
}

// lockedBuffer interleaves stdout and stderr in one buffer, marking
// stderr lines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

type stream struct {
	b      *lockedBuffer
	prefix string
}

func (s stream) Write(p []byte) (int, error) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if s.prefix == "" {
		return s.b.buf.Write(p)
	}
	for _, line := range strings.SplitAfter(string(p), "\n") {
		if line != "" {
			s.b.buf.WriteString(s.prefix + line)
		}
	}
	return len(p), nil
}

func newEmbeddedSession(t *testing.T) *session {
	t.Helper()
	cfg := config{dbPath: filepath.Join(t.TempDir(), "db"), http: "off", durability: "group", flushSize: 10000, maxMemMB: 50}
	var errs bytes.Buffer
	be, closeFn, err := openEmbedded(cfg, false, &errs)
	require.NoError(t, err)
	return newSession(t, be, func() {
		closeFn()
		require.Empty(t, errs.String())
	})
}

// newRemoteSession runs the shell through --url against an httpd server
// on its own database.
func newRemoteSession(t *testing.T) *session {
	t.Helper()
	db, err := docstore.Open(filepath.Join(t.TempDir(), "db"), nil)
	require.NoError(t, err)
	srv := httpd.New(db, httpd.Config{})
	ts := httptest.NewServer(srv)
	be, err := openRemote(context.Background(), config{url: ts.URL})
	require.NoError(t, err)
	return newSession(t, be, func() {
		ts.Close()
		srv.Close()
		require.NoError(t, db.Close())
	})
}

func newSession(t *testing.T, be backend, stop func()) *session {
	lb := &lockedBuffer{}
	s := &session{tmp: t.TempDir(), stop: stop}
	s.sh = newShell(be, &printer{w: stream{b: lb}}, stream{b: lb, prefix: "! "})
	s.peek = func() string {
		lb.mu.Lock()
		defer lb.mu.Unlock()
		return lb.buf.String()
	}
	s.take = func() string {
		lb.mu.Lock()
		defer lb.mu.Unlock()
		out := lb.buf.String()
		lb.buf.Reset()
		return out
	}
	return s
}

// run feeds input lines to the shell as a terminal would (statements
// continue while brackets are open) and returns what it printed. Errors
// are printed, not fatal: transcripts show them.
func (s *session) run(input string) string {
	var stmt strings.Builder
	for _, line := range strings.Split(input, "\n") {
		line = strings.ReplaceAll(line, "$TMP", s.tmp)
		if stmt.Len() > 0 {
			stmt.WriteByte('\n')
		}
		stmt.WriteString(line)
		if depth(stmt.String()) > 0 {
			continue
		}
		if err := s.sh.exec(context.Background(), stmt.String()); err != nil && !errors.Is(err, errExit) {
			printError(s.sh.errw, err)
		}
		stmt.Reset()
	}
	if stmt.Len() > 0 {
		printError(s.sh.errw, s.sh.exec(context.Background(), stmt.String()))
	}
	return strings.ReplaceAll(s.take(), s.tmp, "$TMP")
}

func (s *session) directive(t *testing.T, d *datadriven.TestData) string {
	switch d.Cmd {
	case "run":
		for _, a := range d.CmdArgs {
			if a.Key == "batch" {
				n, err := strconv.Atoi(a.Vals[0])
				require.NoError(t, err)
				s.sh.pageSize = n
			}
		}
		return s.run(d.Input)
	case "keys":
		out := s.run(d.Input)
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			return "not a JSON object: " + out
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return strings.Join(keys, " ") + "\n"
	}
	d.Fatalf(t, "unknown directive %q", d.Cmd)
	return ""
}

func TestTranscripts(t *testing.T) {
	datadriven.Walk(t, "testdata/transcripts", func(t *testing.T, path string) {
		for _, mode := range []struct {
			name string
			open func(*testing.T) *session
		}{{"embedded", newEmbeddedSession}, {"remote", newRemoteSession}} {
			t.Run(mode.name, func(t *testing.T) {
				s := mode.open(t)
				defer s.stop()
				datadriven.RunTest(t, path, s.directive)
			})
		}
	})
}
