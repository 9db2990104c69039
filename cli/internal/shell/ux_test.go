package shell

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVersionAndUsage: --version prints the version like the version
// command; the short usage line names every admin command.
func TestVersionAndUsage(t *testing.T) {
	code, stdout, stderr := runCLI(t, "", nil, "--version")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "minidbgo "+version()+"\n", stdout)
	require.Empty(t, stderr)

	code, _, stderr = runCLI(t, "", nil, "--bogus")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "usage: minidbgo [flags] [-c command] | check | inspect | repair | version")

	code, _, stderr = runCLI(t, "", nil, "-h")
	require.Equal(t, 0, code)
	for _, s := range []string{"minidbgo repair", "minidbgo --version", "-format", "MINIDBGO_API_KEY"} {
		require.Contains(t, stderr, s)
	}
}

// TestFormatFlag: --format sets the output format of a script; --json is
// --format json; a bad name is a usage error.
func TestFormatFlag(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	script := "insertOne p {_id: 'a', n: 1, tags: ['x', 'y']}\nfindMany p\n"
	code, stdout, stderr := runCLI(t, script, nil, "--db", dir, "--format", "table")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "_id      a\ncreated  true\n_id  n  tags\n---  -  ---------\na    1  [\"x\",\"y\"]\n", stdout)

	code, stdout, stderr = runCLI(t, "findOne p\n", nil, "--db", dir, "--format", "pretty")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "{\n  \"_id\": \"a\",\n  \"n\": 1,\n  \"tags\": [\"x\", \"y\"]\n}\n", stdout)

	code, stdout, stderr = runCLI(t, "findOne p\n", nil, "--db", dir, "--json")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, `{"_id":"a","n":1,"tags":["x","y"]}`+"\n", stdout)

	code, _, stderr = runCLI(t, "", nil, "--db", dir, "--format", "yaml")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, `--format: unknown format "yaml": want table, json or pretty`)
	code, _, stderr = runCLI(t, "", nil, "--db", dir, "--format", "table", "--json")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "disagree")
}

// TestLockMessageNamesAddress: a shell finding the data directory locked
// by a server names the address the server recorded in the directory,
// not a default port; without the record it says how to find it.
func TestLockMessageNamesAddress(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	var errb syncBuffer
	cfg, err := parseConfig([]string{"--db", dir, "--http", "127.0.0.1:0"}, envLookup([]string{"MODE=server"}), &errb)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- runServer(ctx, cfg, &errb) }()
	stopped := false
	defer func() {
		if !stopped {
			cancel()
			<-done
		}
	}()
	addr := regexp.MustCompile(`"addr":"([^"]+)"`)
	var base string
	require.Eventually(t, func() bool {
		if m := addr.FindStringSubmatch(errb.String()); m != nil {
			base = "http://" + m[1]
		}
		_, err := os.Stat(filepath.Join(dir, httpd.ListenFile))
		return base != "" && err == nil
	}, 10*time.Second, 10*time.Millisecond)
	require.NotEqual(t, "http://127.0.0.1:6866", base)

	code, _, stderr := runCLI(t, "", nil, "--db", dir, "-c", "count c")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, fmt.Sprintf("locked by pid %d, which serves its REST API at %s; use it with minidbgo --url %s", os.Getpid(), base, base))
	require.NotContains(t, stderr, "6866")

	// The server removes the record when it stops.
	cancel()
	stopped = true
	require.Equal(t, 0, <-done, errb.String())
	_, err = os.Stat(filepath.Join(dir, httpd.ListenFile))
	require.True(t, os.IsNotExist(err), "LISTEN left behind: %v", err)

	// A holder that records no address (here the test itself; a stale
	// record of another pid is ignored): the message says how to find it.
	require.NoError(t, os.WriteFile(filepath.Join(dir, httpd.ListenFile), []byte("1 http://10.0.0.1:1\n"), 0o644))
	db, err := docstore.Open(dir, nil)
	require.NoError(t, err)
	defer db.Close()
	code, _, stderr = runCLI(t, "", nil, "--db", dir, "-c", "count c")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, fmt.Sprintf("use minidbgo --url http://HOST:PORT with its address: the address it logged at start-up (\"addr\"), or ss -ltnp | grep pid=%d", os.Getpid()))
	require.NotContains(t, stderr, "10.0.0.1")
}

// TestServerModeLogFormat: MODE=server logs JSON when stderr is not a
// terminal, text on a terminal (LOG_FORMAT=auto, the default), and what
// LOG_FORMAT says otherwise.
func TestServerModeLogFormat(t *testing.T) {
	serve := func(t *testing.T, env []string, w interface{ Write([]byte) (int, error) }, wait func() bool) {
		t.Helper()
		cfg, err := parseConfig([]string{"--db", filepath.Join(t.TempDir(), "db"), "--http", "127.0.0.1:0"},
			envLookup(append([]string{"MODE=server"}, env...)), w)
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		go func() { done <- runServer(ctx, cfg, w) }()
		ok := assert.Eventually(t, wait, 10*time.Second, 10*time.Millisecond)
		cancel()
		require.Equal(t, 0, <-done)
		require.True(t, ok)
	}
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{nil, `{"time":`},
		{[]string{"LOG_FORMAT=json"}, `"msg":"minidbgo serving"`},
		{[]string{"LOG_FORMAT=text"}, `level=INFO msg="minidbgo serving" addr=127.0.0.1:`},
	} {
		t.Run(strings.Join(tc.env, ","), func(t *testing.T) {
			var errb syncBuffer
			serve(t, tc.env, &errb, func() bool { return strings.Contains(errb.String(), "serving") })
			require.Contains(t, errb.String(), tc.want)
		})
	}
	t.Run("terminal", func(t *testing.T) {
		ptmx, tty, err := pty.Open()
		require.NoError(t, err)
		defer ptmx.Close()
		defer tty.Close()
		var screen syncBuffer
		go func() {
			buf := make([]byte, 4096)
			for {
				n, err := ptmx.Read(buf)
				_, _ = screen.Write(buf[:n])
				if err != nil {
					return
				}
			}
		}()
		serve(t, nil, tty, func() bool { return strings.Contains(screen.String(), "serving") })
		require.Contains(t, screen.String(), `level=INFO msg="minidbgo serving"`)
		require.NotContains(t, screen.String(), `{"time":`)
	})

	code, _, stderr := runCLI(t, "", []string{"MODE=server", "LOG_FORMAT=xml"}, "--db", filepath.Join(t.TempDir(), "db"), "--http", "off")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, `LOG_FORMAT="xml": want text, json or auto`)
}

// TestShellServesNoPortUnasked: the interactive shell opens no REST port
// unless --http asks for one (LISTEN and PORT are MODE=server's).
func TestShellServesNoPortUnasked(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(t.TempDir(), "db")
	env := []string{"HOME=" + home, "TERM=xterm", "NO_COLOR=1", "LISTEN=127.0.0.1", "PORT=0"}
	tm := startTerm(t, env, "--db", dir, "--history", "off")
	tm.expect("Type help")
	tm.expect("minidbgo> ")
	tm.send("count" + keyEnter)
	tm.expect("minidbgo> ")
	_, err := os.Stat(filepath.Join(dir, httpd.ListenFile))
	tm.send("exit" + keyEnter)
	require.Equal(t, 0, tm.exit())
	require.NotContains(t, tm.out.String(), "REST API on")
	require.True(t, os.IsNotExist(err))
}
