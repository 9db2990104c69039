package shell

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runCLI runs minidbgo in process with stdin and returns its status and
// output.
func runCLI(t *testing.T, stdin string, env []string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env = append([]string{"HOME=" + t.TempDir()}, env...)
	code := Run(args, strings.NewReader(stdin), &out, &errb, env)
	return code, out.String(), errb.String()
}

func TestRunExitCodes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	db := func(args ...string) []string { return append([]string{"--db", dir}, args...) }
	for _, tc := range []struct {
		name   string
		stdin  string
		args   []string
		code   int
		stdout string // exact, when set
		stderr string // substring, when set
	}{
		{name: "insert", args: db("-c", `insertOne c {"_id":"a","n":1}`), code: 0, stdout: "{\"_id\":\"a\",\"created\":true}\n"},
		{name: "several -c", args: db("-c", `count c`, "-c", `findOne c {"_id":"a"}`), code: 0, stdout: "1\n{\"_id\":\"a\",\"n\":1}\n"},
		{name: "multi-line -c", args: db("-c", "findOne c {\n\"_id\": \"a\"\n}"), code: 0, stdout: "{\"_id\":\"a\",\"n\":1}\n"},
		// RELIABILITY §4 row 32: bad JSON, exit 1, a message, no write.
		{name: "bad JSON -c", args: db("-c", `insertOne c {"_id":"b","n":}`), code: 1, stderr: "error (invalid_json): document is not valid JSON"},
		{name: "unclosed JSON -c", args: db("-c", `insertOne c {"_id":"b","n":`), code: 1, stderr: "error (invalid_json): unexpected end of input"},
		{name: "bad JSON stdin", stdin: "insertOne c {\"_id\":\"b\",\n\"n\": 1,,}\n", args: db(), code: 1, stderr: "error (invalid_json)"},
		{name: "unclosed JSON stdin", stdin: "insertOne c {\"_id\":\"b\",\n", args: db(), code: 1, stderr: "unclosed bracket"},
		{name: "bad JSON on stdin for -c", stdin: `{"_id":"b",`, args: db("-c", `insertOne c -`), code: 1, stderr: "error (invalid_json): document is not valid JSON"},
		{name: "not JSON on stdin for -c", stdin: `hello`, args: db("-c", `insertOne c -`), code: 1, stderr: "error (invalid_json): document from standard input must be"},
		{name: "- without -c", stdin: "insertOne c -\n", args: db(), code: 2, stderr: "only -c leaves free"},
		{name: "duplicate key", args: db("-c", `insertOne c {"_id":"b","n":1,"n":2}`), code: 1, stderr: "error (duplicate_key)"},
		{name: "no write happened", args: db("-c", `count c`), code: 0, stdout: "1\n"},
		{name: "document on stdin for -c", stdin: "{\"_id\":\"s\",\n \"n\": 3}\n", args: db("-c", `insertOne c -`, "-c", `findOne c {"_id":"s"}`, "-c", `deleteOne c -`), code: 0, stdout: "{\"_id\":\"s\",\"created\":true}\n{\"_id\":\"s\",\"n\":3}\n{\"deleted\":1}\n"},
		{name: "unknown command", args: db("-c", `fnidOne c {}`), code: 2, stderr: `unknown command "fnidOne"; did you mean findOne?`},
		{name: "wrong arguments", args: db("-c", `updateOne c {"_id":"a"}`), code: 2, stderr: "usage: updateOne [collection] <filter> <update>"},
		{name: "unknown collection", args: db("-c", `findMany nosuch {}`), code: 1, stderr: `error (not_found): collection "nosuch" not found`},
		{name: "invalid collection name", args: db("-c", `count ../etc`), code: 1, stderr: "error (invalid_name)"},
		{name: "bad flag", args: db("--bogus"), code: 2, stderr: "flag provided but not defined: -bogus"},
		{name: "stray argument", args: db("count", "c"), code: 2, stderr: `unexpected argument "count"`},
		{name: "bad MODE", args: db(), code: 2, stderr: `MODE="bogus"`},
		{name: "stops at first failure", stdin: "insertOne c {\"_id\":\"x\"}\nbogus\ninsertOne c {\"_id\":\"y\"}\n", args: db(), code: 2, stdout: "{\"_id\":\"x\",\"created\":true}\n"},
		{name: "later statements did not run", args: db("-c", `findOne c {"_id":"y"}`), code: 0, stdout: "null\n"},
		{name: "exit", stdin: "count c\nexit\nbogus\n", args: db(), code: 0, stdout: "2\n"},
		{name: "comments and blank lines", stdin: "# a comment\n\n// another\ncount c;\n", args: db(), code: 0, stdout: "2\n"},
		{name: "version", args: []string{"version"}, code: 0, stdout: "minidbgo dev\n"},
		{name: "help", args: []string{"-h"}, code: 0, stderr: "minidbgo check [--dir DIR]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var env []string
			if tc.name == "bad MODE" {
				env = []string{"MODE=bogus"}
			}
			code, stdout, stderr := runCLI(t, tc.stdin, env, tc.args...)
			require.Equal(t, tc.code, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
			if tc.stdout != "" || tc.code == 0 {
				require.Equal(t, tc.stdout, stdout, "stderr: %s", stderr)
			}
			if tc.stderr != "" {
				require.Contains(t, stderr, tc.stderr)
			}
			if tc.code == 0 && tc.name != "help" {
				require.Empty(t, stderr)
			}
		})
	}
}

// TestLockedDirectory: RELIABILITY §4 row 33, the data directory in use
// by another process (here the test holds it) is named with its pid.
func TestLockedDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	db, err := docstore.Open(dir, nil)
	require.NoError(t, err)
	defer db.Close()
	want := fmt.Sprintf("locked by pid %d", os.Getpid())

	code, _, stderr := runCLI(t, "", nil, "--db", dir, "-c", "count c")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, want)
	require.Contains(t, stderr, "--url")

	code, _, stderr = runCLI(t, "", []string{"DB_PATH=" + dir, "MODE=server"})
	require.Equal(t, 1, code)
	require.Contains(t, stderr, want)

	code, _, stderr = runCLI(t, "", nil, "check", "--dir", dir)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, want)
}

func TestUnreachableServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	code, stdout, stderr := runCLI(t, "", nil, "--url", url, "-c", "count c")
	require.Equal(t, 1, code)
	require.Empty(t, stdout)
	require.Contains(t, stderr, "cannot reach the server at "+url)
	require.Contains(t, stderr, "connection refused")

	code, _, stderr = runCLI(t, "", nil, "--url", "localhost:6866", "-c", "count c")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "want http://host:port")
}

// newServer serves a fresh database through httpd, as minidbgo-server
// does.
func newServer(t *testing.T, cfg httpd.Config) string {
	t.Helper()
	db, err := docstore.Open(filepath.Join(t.TempDir(), "db"), nil)
	require.NoError(t, err)
	srv := httpd.New(db, cfg)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
		require.NoError(t, db.Close())
	})
	return ts.URL
}

// TestServerErrors: the server's code and message reach stderr.
func TestServerErrors(t *testing.T) {
	const readKey, writeKey = "read-key-0123456789", "write-key-0123456789"
	keys, err := httpd.ParseKeys(readKey + ":read," + writeKey + ":write")
	require.NoError(t, err)
	url := newServer(t, httpd.Config{Keys: keys})

	code, _, stderr := runCLI(t, "", nil, "--url", url, "-c", "show collections")
	require.Equal(t, 1, code)
	require.Regexp(t, `^error \(unauthorized\): .+\n$`, stderr)

	code, _, stderr = runCLI(t, "", []string{"MINIDBGO_API_KEY=" + writeKey}, "--url", url, "-c", `insertOne c {"_id":"a"}`)
	require.Equal(t, 0, code, stderr)
	code, stdout, _ := runCLI(t, "", []string{"MINIDBGO_API_KEY=" + readKey}, "--url", url, "-c", `count c`)
	require.Equal(t, 0, code)
	require.Equal(t, "1\n", stdout)
	code, _, stderr = runCLI(t, "", nil, "--url", url, "--api-key", readKey, "-c", `deleteMany c {}`)
	require.Equal(t, 1, code)
	require.Regexp(t, `^error \(forbidden\): .+\n$`, stderr)
}

// TestSameOutputThroughRun runs one script on a data directory and on a
// server, through Run: the output must be identical.
func TestSameOutputThroughRun(t *testing.T) {
	script := strings.Join([]string{
		`insertOne products {"_id":"p1","name":"Laptop","price":1200}`,
		`insertMany products [{"_id":"p2","name":"Mouse","price":25},{"_id":"p3","name":"Desk","price":1300}]`,
		`findMany products {"price":{"$gt":1000}}`,
		`updateOne products {"_id":"p1"} {"$set":{"name":"Laptop Pro"}}`,
		`createIndex products {"price":-1}`,
		`explain products {"price":{"$gt":1000}} {"sort":{"price":-1}}`,
		`findMany products {} {"sort":{"price":-1},"limit":2}`,
		`deleteOne products {"name":"Mouse"}`,
		`compact`,
		`dumpAll`,
		`dumpDB`,
		`show collections`,
		`stats products`,
	}, "\n")
	code, local, stderr := runCLI(t, script, nil, "--db", filepath.Join(t.TempDir(), "db"))
	require.Equal(t, 0, code, stderr)
	code, remote, stderr := runCLI(t, script, nil, "--url", newServer(t, httpd.Config{}))
	require.Equal(t, 0, code, stderr)
	require.Equal(t, local, remote)
	require.Contains(t, local, `{"_id":"p1","name":"Laptop Pro","price":1200}`)
}

var restAddr = regexp.MustCompile(`REST API on (http://\S+)`)

// TestRESTBesideShell: with --http, the embedded database's REST API is
// served while the shell runs.
func TestRESTBesideShell(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	pr, pw := io.Pipe()
	var out, errb syncBuffer
	done := make(chan int)
	go func() {
		done <- Run([]string{"--db", dir, "--http", "127.0.0.1:0"}, pr, &out, &errb, []string{"HOME=" + t.TempDir()})
	}()
	_, err := io.WriteString(pw, `insertOne products {"_id":"p1","name":"Laptop"}`+"\n")
	require.NoError(t, err)
	var base string
	require.Eventually(t, func() bool {
		m := restAddr.FindStringSubmatch(errb.String())
		if m != nil {
			base = m[1]
		}
		return m != nil && strings.Contains(out.String(), "created")
	}, 10*time.Second, 10*time.Millisecond, "stderr: %s", errb.String())
	resp, err := http.Get(base + "/api/products/p1")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.JSONEq(t, `{"_id":"p1","name":"Laptop"}`, string(body))
	require.NoError(t, pw.Close())
	require.Equal(t, 0, <-done, errb.String())
	// The server is gone with the shell.
	_, err = http.Get(base + "/api/health")
	require.Error(t, err)
}

// TestServerMode: MODE=server serves the REST API without a shell until
// its context ends, then closes the database cleanly.
func TestServerMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	var errb syncBuffer
	cfg, err := parseConfig([]string{"--db", dir, "--http", "127.0.0.1:0"}, envLookup([]string{"MODE=server"}), &errb)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- runServer(ctx, cfg, &errb) }()
	addr := regexp.MustCompile(`"addr":"([^"]+)"`)
	var base string
	require.Eventually(t, func() bool {
		m := addr.FindStringSubmatch(errb.String())
		if m != nil {
			base = "http://" + m[1]
		}
		return m != nil
	}, 10*time.Second, 10*time.Millisecond)
	resp, err := http.Post(base+"/api/products", "application/json", strings.NewReader(`{"_id":"p1","price":1}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	// On loopback, a DNS-rebinding page's Host name is refused.
	req, err := http.NewRequest("GET", base+"/api/products/p1", nil)
	require.NoError(t, err)
	req.Host = "evil.example"
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	cancel()
	require.Equal(t, 0, <-done, errb.String())

	code, stdout, stderr := runCLI(t, "", nil, "--db", dir, "-c", `findOne products {"_id":"p1"}`)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "{\"_id\":\"p1\",\"price\":1}\n", stdout)
}

// TestCheckAndInspect: RELIABILITY §4 row 33, `minidbgo check` on a data
// directory with a corrupted table exits 1 naming the file and offset.
func TestCheckAndInspect(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	db, err := docstore.Open(dir, nil)
	require.NoError(t, err)
	for i := range 500 {
		_, err := db.InsertOne(context.Background(), "products", fmt.Appendf(nil, `{"_id":"p%04d","name":"product %d","price":%d}`, i, i, i), docstore.WriteOptions{})
		require.NoError(t, err)
	}
	require.NoError(t, db.Flush())
	require.NoError(t, db.Close())

	code, stdout, stderr := runCLI(t, "", nil, "check", "--dir", dir)
	require.Equal(t, 0, code, stderr)
	require.Regexp(t, `ok +sst/\d{6}\.sst`, stdout)
	require.Contains(t, stdout, "0 damaged")

	code, stdout, stderr = runCLI(t, "", []string{"DB_PATH=" + dir}, "inspect")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "MANIFEST-")
	require.Regexp(t, `L0 +sst/\d{6}\.sst`, stdout)

	code, stdout, _ = runCLI(t, "", nil, "inspect", "--json", dir)
	require.Equal(t, 0, code)
	var lay struct {
		Tables int `json:"tables"`
		Levels []struct {
			Files []struct {
				Entries  int    `json:"entries"`
				Smallest string `json:"smallest"`
			} `json:"files"`
		} `json:"levels"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &lay))
	require.Equal(t, 1, lay.Tables)
	require.Greater(t, lay.Levels[0].Files[0].Entries, 500)

	ssts, err := filepath.Glob(filepath.Join(dir, "sst", "*.sst"))
	require.NoError(t, err)
	require.Len(t, ssts, 1)
	b, err := os.ReadFile(ssts[0])
	require.NoError(t, err)
	b[len(b)/2] ^= 0x10
	require.NoError(t, os.WriteFile(ssts[0], b, 0o644))

	name := filepath.Join("sst", filepath.Base(ssts[0]))
	code, stdout, stderr = runCLI(t, "", nil, "check", "--dir", dir)
	require.Equal(t, 1, code)
	require.Regexp(t, `DAMAGED +`+regexp.QuoteMeta(name)+` .*corrupt at offset \d+`, stdout)
	require.Regexp(t, `minidbgo check: damaged: `+regexp.QuoteMeta(name)+`: corrupt at offset \d+: `, stderr)

	code, stdout, _ = runCLI(t, "", nil, "check", "--json", dir)
	require.Equal(t, 1, code)
	var rep struct {
		OK    bool `json:"ok"`
		Files []struct {
			Path   string `json:"path"`
			OK     bool   `json:"ok"`
			Offset *int64 `json:"offset"`
		} `json:"files"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &rep))
	require.False(t, rep.OK)
	for _, f := range rep.Files {
		if f.Path == name {
			require.False(t, f.OK)
			require.NotNil(t, f.Offset)
			require.LessOrEqual(t, *f.Offset, int64(len(b)/2))
		}
	}

	code, _, stderr = runCLI(t, "", nil, "check", "--dir", t.TempDir())
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "not a MiniDBGo data directory")
	code, _, _ = runCLI(t, "", nil, "check", "a", "b")
	require.Equal(t, 2, code)
}

// TestFindManyPastOnePage: a script gets every result, following the
// cursor past the server's 1,000-document page, sorted or not, on both
// backends; a page size turns on `it`.
func TestFindManyPastOnePage(t *testing.T) {
	var load strings.Builder
	for b := range 3 {
		load.WriteString("insertMany c [")
		for i := range 900 {
			if i > 0 {
				load.WriteByte(',')
			}
			fmt.Fprintf(&load, `{"_id":"d%04d","n":%d}`, b*900+i, (b*900+i)%7)
		}
		load.WriteString("]\n")
	}
	query := "findMany c\nfindMany c {\"n\":{\"$gte\":0}} {\"sort\":{\"n\":-1,\"_id\":1}}\nfindMany c {} {\"limit\":1500,\"skip\":10}\n"
	for _, target := range [][]string{
		{"--db", filepath.Join(t.TempDir(), "db")},
		{"--url", newServer(t, httpd.Config{})},
	} {
		code, _, stderr := runCLI(t, load.String(), nil, target...)
		require.Equal(t, 0, code, stderr)
		code, stdout, stderr := runCLI(t, query, nil, target...)
		require.Equal(t, 0, code, stderr)
		lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
		require.Len(t, lines, 2700+2700+1500)
		require.Equal(t, `{"_id":"d0000","n":0}`, lines[0])
		require.Equal(t, `{"_id":"d2699","n":4}`, lines[2699])
		// Sorted: n descending, then _id; no document twice.
		sorted := lines[2700:5400]
		require.Equal(t, `{"_id":"d0006","n":6}`, sorted[0])
		seen := map[string]bool{}
		for _, l := range sorted {
			require.False(t, seen[l], l)
			seen[l] = true
		}
		require.Equal(t, `{"_id":"d0010","n":3}`, lines[5400])
		require.Equal(t, `{"_id":"d1509","n":4}`, lines[len(lines)-1])

		code, stdout, stderr = runCLI(t, "findMany c {} {\"limit\":5}\nit\nit\n", nil, append(target, "--batch-size", "2")...)
		require.Equal(t, 0, code, stderr)
		require.Equal(t, 5, strings.Count(stdout, "\n"))
		require.Equal(t, 2, strings.Count(stderr, `Type "it" for more`))
	}
}

func TestGeneratedID(t *testing.T) {
	code, stdout, stderr := runCLI(t, "", nil, "--db", filepath.Join(t.TempDir(), "db"), "-c", `insertOne c {"a":1}`)
	require.Equal(t, 0, code, stderr)
	require.Regexp(t, `^\{"_id":"[0-9a-f]{24}","created":true\}\n$`, stdout)
}

func TestInterrupter(t *testing.T) {
	root, cancel := context.WithCancel(context.Background())
	defer cancel()
	i := &interrupter{root: cancel}
	cctx, done := i.start(root)
	i.enterREPL()
	i.interrupt() // in a REPL: the command only
	require.Error(t, cctx.Err())
	require.NoError(t, root.Err())
	done()
	i.interrupt() // no command running: nothing
	require.NoError(t, root.Err())

	j := &interrupter{root: cancel}
	j.interrupt() // a script: everything
	require.Error(t, root.Err())
}

// TestServerModeHonoursServerSettings: MODE=server reads the REST API's
// settings as minidbgo-server does (one loader, httpd/config): a body past
// MAX_BODY_MB is refused 413, and a bad setting is refused at start,
// naming it.
func TestServerModeHonoursServerSettings(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	var errb syncBuffer
	cfg, err := parseConfig([]string{"--db", dir, "--http", "127.0.0.1:0"},
		envLookup([]string{"MODE=server", "MAX_BODY_MB=1", "MAX_INFLIGHT_MB=8"}), &errb)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- runServer(ctx, cfg, &errb) }()
	addr := regexp.MustCompile(`"addr":"([^"]+)"`)
	var base string
	require.Eventually(t, func() bool {
		m := addr.FindStringSubmatch(errb.String())
		if m != nil {
			base = "http://" + m[1]
		}
		return m != nil
	}, 10*time.Second, 10*time.Millisecond)
	big := `{"_id":"big","s":"` + strings.Repeat("x", 2<<20) + `"}`
	resp, err := http.Post(base+"/api/products", "application/json", strings.NewReader(big))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, string(body))
	resp, err = http.Post(base+"/api/products", "application/json", strings.NewReader(`{"_id":"small"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	cancel()
	require.Equal(t, 0, <-done, errb.String())

	var errb2 syncBuffer
	cfg, err = parseConfig([]string{"--db", dir, "--http", "127.0.0.1:0"},
		envLookup([]string{"MODE=server", "MAX_CONCURRENT=lots"}), &errb2)
	require.NoError(t, err)
	require.Equal(t, exitUsage, runServer(context.Background(), cfg, &errb2))
	require.Contains(t, errb2.String(), `MAX_CONCURRENT="lots"`)
}

// TestRESTBesideShellSettings: the REST API beside the shell (--http)
// reads minidbgo-server's settings too: MAX_BODY_MB bounds its bodies.
func TestRESTBesideShellSettings(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	pr, pw := io.Pipe()
	var out, errb syncBuffer
	done := make(chan int)
	go func() {
		done <- Run([]string{"--db", dir, "--http", "127.0.0.1:0"}, pr, &out, &errb,
			[]string{"HOME=" + t.TempDir(), "MAX_BODY_MB=1", "MAX_INFLIGHT_MB=8"})
	}()
	var base string
	require.Eventually(t, func() bool {
		m := restAddr.FindStringSubmatch(errb.String())
		if m != nil {
			base = m[1]
		}
		return m != nil
	}, 10*time.Second, 10*time.Millisecond, "stderr: %s", errb.String())
	big := `{"_id":"big","s":"` + strings.Repeat("x", 2<<20) + `"}`
	resp, err := http.Post(base+"/api/products", "application/json", strings.NewReader(big))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	require.NoError(t, pw.Close())
	require.Equal(t, 0, <-done, errb.String())
}
