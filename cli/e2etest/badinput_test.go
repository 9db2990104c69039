package e2etest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// bins are the built binaries.
type bins struct {
	shell  string // minidbgo
	server string // minidbgo-server
}

// build builds minidbgo and minidbgo-server into a temporary directory.
func build(t *testing.T) bins {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the minidbgo and minidbgo-server binaries")
	}
	gobin, err := exec.LookPath("go")
	if err != nil && os.Getenv("GOROOT") != "" {
		gobin, err = filepath.Join(os.Getenv("GOROOT"), "bin", "go"), nil
	}
	if err != nil {
		t.Fatalf("no go command to build the binaries: %v", err)
	}
	dir := t.TempDir()
	cmd := exec.Command(gobin, "build", "-o", dir+string(filepath.Separator),
		"github.com/minidbgo/minidbgo/cli/cmd/minidbgo",
		"github.com/minidbgo/minidbgo/httpd/cmd/minidbgo-server")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bins{shell: filepath.Join(dir, "minidbgo"), server: filepath.Join(dir, "minidbgo-server")}
}

// childEnv is the environment of the children: the test's, without the
// variables minidbgo and minidbgo-server read, and with no history file.
func childEnv(t *testing.T, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "MINIDBGO_"), k == "DB_PATH", k == "MODE", k == "PORT", k == "LISTEN":
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "HOME="+t.TempDir(), "MINIDBGO_HISTORY=off"), extra...)
}

// result is a finished run of minidbgo.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// minidbgo runs the shell with stdin and args; it is killed after 30 s.
func (b bins) minidbgo(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.shell, args...)
	cmd.Env = childEnv(t)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("minidbgo %q: %v", args, err)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
}

// dump returns minidbgo's dumpDB of a data directory (or of a server,
// with --url): the database's whole content.
func (b bins) dump(t *testing.T, target ...string) string {
	t.Helper()
	r := b.minidbgo(t, "", append(target, "-c", "dumpDB")...)
	if r.code != 0 {
		t.Fatalf("dumpDB %q: %s", target, r)
	}
	return r.stdout
}

// startServer runs minidbgo-server on dir and a free loopback port and
// returns its pid and URL once it listens. It is killed at the end of the
// test.
func (b bins) startServer(t *testing.T, dir string) (pid int, url string) {
	t.Helper()
	cmd := exec.Command(b.server)
	cmd.Env = childEnv(t, "PORT=0", "LISTEN=127.0.0.1", "DB_PATH="+dir, "ACCESS_LOG=false")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	addr := make(chan string, 1)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "minidbgo-server starting" {
				addr <- line.Addr
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
	}()
	select {
	case a := <-addr:
		return cmd.Process.Pid, "http://" + a
	case <-done:
		t.Fatal("minidbgo-server exited before it listened")
	case <-time.After(30 * time.Second):
		t.Fatal("minidbgo-server did not start in 30 s")
	}
	return 0, ""
}

// dirHash hashes every file under dir (names and contents) but LOCK,
// which holds the pid of the last process to open the directory.
func dirHash(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == filepath.Join(dir, "LOCK") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", path, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// cliRow is one bad input to the shell: run returns the database's
// content before and after (equal when nothing was written) and checks
// the exit status and output itself.
type cliRow struct {
	n    int
	name string
	run  func(t *testing.T) (before, after string)
}

// TestBadInputCLI replays RELIABILITY.md §4 rows 32 and 33 against the
// built minidbgo binary: bad JSON in -c and on stdin (exit 1, a message,
// no write), a data directory locked by a running minidbgo-server (exit 1
// naming its pid), bad arguments (usage, exit 2) and a corrupt table
// (`minidbgo check` exit 1 naming the file and the offset).
func TestBadInputCLI(t *testing.T) {
	b := build(t)
	t.Parallel()
	start := time.Now()

	dir := filepath.Join(t.TempDir(), "db")
	db := func(args ...string) []string { return append([]string{"--db", dir}, args...) }
	if r := b.minidbgo(t, "", db("-c", `insertOne c {"_id":"a","n":1}`)...); r.code != 0 {
		t.Fatalf("seed: %s", r)
	}
	// expect runs minidbgo on dir and checks its status and stderr; the
	// dumps before and after tell whether it wrote.
	expect := func(stdin string, args []string, code int, stderr ...string) func(t *testing.T) (string, string) {
		return func(t *testing.T) (string, string) {
			before := b.dump(t, "--db", dir)
			r := b.minidbgo(t, stdin, args...)
			if r.code != code {
				t.Errorf("want exit %d, got %s", code, r)
			}
			for _, s := range stderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr lacks %q: %s", s, r)
				}
			}
			return before, b.dump(t, "--db", dir)
		}
	}

	rows := []cliRow{
		{32, "bad JSON in -c", expect("", db("-c", `insertOne c {"_id":"b","n":}`), 1, "error (invalid_json): document is not valid JSON", "at column 28")},
		{32, "unclosed JSON in -c", expect("", db("-c", `insertOne c {"_id":"b","n":`), 1, "error (invalid_json)")},
		{32, "duplicate key in -c", expect("", db("-c", `insertOne c {"_id":"b","n":1,"n":2}`), 1, "error (duplicate_key)")},
		{32, "bad JSON in a script on stdin", expect("insertOne c {\"_id\":\"b\",\n\"n\": 1,,}\n", db(), 1, "error (invalid_json)")},
		{32, "unclosed JSON in a script on stdin", expect("insertOne c {\"_id\":\"b\",\n", db(), 1, "unclosed bracket")},
		{32, "bad JSON on stdin for -c 'insertOne c -'", expect(`{"_id":"b",`, db("-c", "insertOne c -"), 1, "error (invalid_json)")},
		{32, "not JSON on stdin for -c 'insertOne c -'", expect("hello", db("-c", "insertOne c -"), 1, "error (invalid_json)")},
		{0, "a bad document in insertMany", expect("", db("-c", `insertMany c [{"_id":"b"},{"_id":5}]`), 1, "error (invalid_id)")},
		{0, "$inc by a string in updateOne", expect("", db("-c", `updateOne c {"_id":"a"} {"$inc":{"n":"1"}}`), 1, "error (invalid_update)")},
		{33, "bad flag: usage", expect("", db("--bogus"), 2, "flag provided but not defined: -bogus", "usage: minidbgo")},
		{33, "stray argument", expect("", db("count", "c"), 2, `unexpected argument "count"`)},
		{33, "unknown command", expect("", db("-c", "fnidOne c {}"), 2, `unknown command "fnidOne"`)},
		{33, "wrong arguments to a command", expect("", db("-c", `updateOne c {"_id":"a"}`), 2, "usage: updateOne")},
		{33, "check with two directories", expect("", []string{"check", dir, dir}, 2, "one directory at most")},
		{33, "data directory locked by minidbgo-server", func(t *testing.T) (string, string) {
			locked := filepath.Join(t.TempDir(), "db")
			pid, url := b.startServer(t, locked)
			before := b.dump(t, "--url", url)
			want := fmt.Sprintf("locked by pid %d", pid)
			for _, args := range [][]string{
				{"--db", locked, "-c", `insertOne c {"_id":"x"}`},
				{"check", "--dir", locked},
			} {
				r := b.minidbgo(t, "", args...)
				if r.code != 1 || !strings.Contains(r.stderr, want) {
					t.Errorf("%q: want exit 1 and %q, got %s", args, want, r)
				}
			}
			return before, b.dump(t, "--url", url)
		}},
		{33, "corrupt table: check names the file and offset", func(t *testing.T) (string, string) {
			return corruptTable(t, b)
		}},
	}

	var n, passed, writes int
	for _, row := range rows {
		title := "new " + row.name
		if row.n != 0 {
			title = fmt.Sprintf("%d %s", row.n, row.name)
		}
		t.Run(title, func(t *testing.T) {
			n++
			before, after := row.run(t)
			if before != after {
				writes++
				t.Errorf("the database changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			if !t.Failed() {
				passed++
			}
		})
	}
	// The dump's header line carries the feed seq, which the seed's
	// writes set; the documents after it must be the seed alone.
	got := b.dump(t, "--db", dir)
	if header, body, _ := strings.Cut(got, "\n"); !regexp.MustCompile(`^\{"dump":1,"seq":\d+\}$`).MatchString(header) ||
		body != `{"collection":"c","doc":{"_id":"a","n":1}}`+"\n" {
		t.Errorf("the data directory holds more than the seed:\n%s", got)
	}
	t.Logf("%d rows in %v", n, time.Since(start).Round(time.Millisecond))
	figure(t, "bad-input-cli: rows=%d passed=%d writes=%d target=binary", n, passed, writes)
}

var (
	damagedLine = regexp.MustCompile(`DAMAGED +(sst/\d{6}\.sst) .*corrupt at offset (\d+)`)
	damagedErr  = regexp.MustCompile(`minidbgo check: damaged: (sst/\d{6}\.sst): corrupt at offset (\d+): `)
)

// corruptTable writes a table with minidbgo (closing the database flushes
// it), flips a byte in its middle and runs minidbgo check: exit 1, the file
// and an offset at or before the flipped byte, on stdout, stderr and in
// --json; check itself changes nothing on disk (but the pid in LOCK).
func corruptTable(t *testing.T, b bins) (before, after string) {
	dir := filepath.Join(t.TempDir(), "db")
	var script strings.Builder
	script.WriteString("insertMany products [")
	for i := range 500 {
		if i > 0 {
			script.WriteByte(',')
		}
		fmt.Fprintf(&script, `{"_id":"p%04d","name":"product %d","price":%d}`, i, i, i)
	}
	script.WriteString("]\n")
	if r := b.minidbgo(t, script.String(), "--db", dir); r.code != 0 {
		t.Fatalf("load: %s", r)
	}
	if r := b.minidbgo(t, "", "check", "--dir", dir); r.code != 0 || !strings.Contains(r.stdout, "0 damaged") {
		t.Fatalf("check before the damage: %s", r)
	}
	ssts, err := filepath.Glob(filepath.Join(dir, "sst", "*.sst"))
	if err != nil || len(ssts) != 1 {
		t.Fatalf("want one table under %s/sst, got %v (%v)", dir, ssts, err)
	}
	data, err := os.ReadFile(ssts[0])
	if err != nil {
		t.Fatal(err)
	}
	flipped := len(data) / 2
	data[flipped] ^= 0x10
	if err := os.WriteFile(ssts[0], data, 0o644); err != nil {
		t.Fatal(err)
	}
	name := "sst/" + filepath.Base(ssts[0])

	before = dirHash(t, dir)
	r := b.minidbgo(t, "", "check", "--dir", dir)
	if r.code != 1 {
		t.Errorf("check: want exit 1, got %s", r)
	}
	for _, m := range [][]string{damagedLine.FindStringSubmatch(r.stdout), damagedErr.FindStringSubmatch(r.stderr)} {
		if m == nil || m[1] != name {
			t.Errorf("check does not name %s with an offset: %s", name, r)
			continue
		}
		var off int
		if _, err := fmt.Sscan(m[2], &off); err != nil || off > flipped {
			t.Errorf("offset %s, want at most the flipped byte %d", m[2], flipped)
		}
	}
	r = b.minidbgo(t, "", "check", "--json", dir)
	var rep struct {
		OK    bool `json:"ok"`
		Files []struct {
			Path   string `json:"path"`
			OK     bool   `json:"ok"`
			Offset *int64 `json:"offset"`
		} `json:"files"`
	}
	if r.code != 1 || json.Unmarshal([]byte(r.stdout), &rep) != nil || rep.OK {
		t.Errorf("check --json: want exit 1 and ok false, got %s", r)
	}
	found := false
	for _, f := range rep.Files {
		if f.Path == name {
			found = true
			if f.OK || f.Offset == nil || *f.Offset > int64(flipped) {
				t.Errorf("check --json on %s: %+v", name, f)
			}
		}
	}
	if !found {
		t.Errorf("check --json does not list %s: %s", name, r.stdout)
	}
	return before, dirHash(t, dir)
}

// figure logs a one-line summary of a test's figures and, when
// MINIDBGO_FIGURES names a file, appends it there: `make test` prints
// that file at the end, so CI shows the figures without -v. (A copy of
// httpd/e2etest's.)
func figure(t *testing.T, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf(format, args...)
	t.Log(line)
	path := os.Getenv("MINIDBGO_FIGURES")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Errorf("figures file: %v", err)
		return
	}
	defer f.Close()
	if _, err := fmt.Fprintln(f, line); err != nil {
		t.Errorf("figures file: %v", err)
	}
}
