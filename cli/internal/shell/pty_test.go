//go:build linux || darwin

package shell

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/require"
)

// term drives the interactive shell through a pseudo-terminal, as a
// person at a terminal would: it types keys and waits for the screen.
type term struct {
	t    *testing.T
	ptmx *os.File
	out  syncBuffer // everything the shell wrote
	mark int        // expect looks at the output after this offset
	done chan int
}

var escapes = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]|\r`)

// startTerm runs minidbgo on a new pseudo-terminal.
func startTerm(t *testing.T, env []string, args ...string) *term {
	t.Helper()
	ptmx, tty, err := pty.Open()
	require.NoError(t, err)
	require.NoError(t, pty.Setsize(ptmx, &pty.Winsize{Rows: 50, Cols: 200}))
	tm := &term{t: t, ptmx: ptmx, done: make(chan int, 1)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			_, _ = tm.out.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	go func() { tm.done <- Run(args, tty, tty, tty, env) }()
	t.Cleanup(func() {
		select {
		case <-tm.done:
		case <-time.After(10 * time.Second):
			t.Errorf("the shell did not exit; output:\n%s", tm.out.String())
		}
		tty.Close()
		ptmx.Close()
	})
	return tm
}

func (tm *term) send(keys string) {
	tm.t.Helper()
	_, err := tm.ptmx.Write([]byte(keys))
	require.NoError(tm.t, err)
}

// expect waits until the screen, past the mark and without escape
// sequences, shows want; the mark then moves past it.
func (tm *term) expect(want string) {
	tm.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		raw := tm.out.String()[tm.mark:]
		seen, offsets := stripEscapes(raw)
		if i := strings.Index(seen, want); i >= 0 {
			tm.mark += offsets[i+len(want)-1] + 1
			return
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("waiting for %q; the screen since the last match:\n%q", want, seen)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stripEscapes removes ANSI escape sequences and carriage returns from
// s; offsets[i] is the index in s of byte i of the result.
func stripEscapes(s string) (string, []int) {
	var b strings.Builder
	var offsets []int
	last := 0
	for _, m := range escapes.FindAllStringIndex(s, -1) {
		for i := last; i < m[0]; i++ {
			b.WriteByte(s[i])
			offsets = append(offsets, i)
		}
		last = m[1]
	}
	for i := last; i < len(s); i++ {
		b.WriteByte(s[i])
		offsets = append(offsets, i)
	}
	return b.String(), offsets
}

// exit waits for the shell's exit status.
func (tm *term) exit() int {
	tm.t.Helper()
	select {
	case code := <-tm.done:
		tm.done <- code // for Cleanup
		return code
	case <-time.After(10 * time.Second):
		tm.t.Fatalf("the shell did not exit; output:\n%q", tm.out.String())
		return -1
	}
}

const (
	keyTab    = "\t"
	keyEnter  = "\r"
	keyUp     = "\x1b[A"
	keyCtrlC  = "\x03"
	keyCtrlD  = "\x04"
	colorCode = "\x1b[32m" // a JSON string's colour
)

func TestInteractive(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(t.TempDir(), "db")
	hist := filepath.Join(home, "history")
	env := []string{"HOME=" + home, "TERM=xterm", "NO_COLOR=1"}
	args := []string{"--db", dir, "--http", "off", "--history", hist}

	tm := startTerm(t, env, args...)
	tm.expect("Type help")
	tm.expect("minidbgo> ")

	// Pretty output on a terminal; NO_COLOR: no colours.
	tm.send(`insertOne products {"_id":"p1","name":"Laptop","price":1200}` + keyEnter)
	tm.expect("{\n  \"_id\": \"p1\",\n  \"created\": true\n}")
	tm.expect("minidbgo> ")

	// Completion of a command name.
	tm.send("insertM" + keyTab)
	tm.expect("insertMany ")
	tm.send(`products [{"_id":"p2","name":"Mouse","price":25}]` + keyEnter)
	tm.expect(`"inserted": 1`)
	tm.expect("minidbgo> ")

	// Completion of a collection name.
	tm.send("count pro" + keyTab)
	tm.expect("count products ")
	tm.send(keyEnter)
	tm.expect("\n2\n")
	tm.expect("minidbgo> ")

	// Completion of a field name seen in a document.
	tm.send(`findOne products {"na` + keyTab)
	tm.expect(`{"name"`)
	tm.send(`:"Mouse"}` + keyEnter)
	tm.expect(`"price": 25`)
	tm.expect("minidbgo> ")

	// History recall: Up brings the last statement back.
	tm.send(keyUp)
	tm.expect(`findOne products {"name":"Mouse"}`)
	tm.send(keyEnter)
	tm.expect(`"price": 25`)
	tm.expect("minidbgo> ")

	// Multi-line input while braces are open.
	tm.send("findMany products {" + keyEnter)
	tm.expect("... ")
	tm.send(`  "price": {"$gt": 1000}` + keyEnter)
	tm.expect("... ")
	tm.send("}" + keyEnter)
	tm.expect(`"name": "Laptop"`)
	tm.expect("minidbgo> ")

	// Ctrl-C cancels the line being typed, not the shell.
	tm.send(`deleteMany products {"x` + keyCtrlC)
	tm.expect("minidbgo> ")
	tm.send("count products" + keyEnter)
	tm.expect("\n2\n")
	tm.expect("minidbgo> ")

	// ... and an unfinished multi-line statement.
	tm.send("deleteMany products {" + keyEnter)
	tm.expect("... ")
	tm.send(keyCtrlC)
	tm.expect("minidbgo> ")
	tm.send("}" + keyEnter) // a new statement: an error, nothing deleted
	tm.expect("error (invalid_json): unbalanced brackets")
	tm.send("count products" + keyEnter)
	tm.expect("\n2\n")

	// Errors are shown and the shell goes on; use changes the prompt.
	tm.send("findOne nosuch" + keyEnter)
	tm.expect(`error (not_found): collection "nosuch" not found`)
	tm.send("use products" + keyEnter)
	tm.expect("products> ")
	require.NotContains(t, tm.out.String(), colorCode)

	// Ctrl-D leaves.
	tm.send(keyCtrlD)
	require.Equal(t, 0, tm.exit())

	// The history is in the file, one line per statement.
	b, err := os.ReadFile(hist)
	require.NoError(t, err)
	require.Contains(t, string(b), `findMany products { "price": {"$gt": 1000} }`+"\n")
	require.Contains(t, string(b), "use products\n")
	require.NotContains(t, string(b), "deleteMany")
	fi, err := os.Stat(hist)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	// A second session: history from the first, colours without NO_COLOR.
	tm = startTerm(t, []string{"HOME=" + home, "TERM=xterm"}, args...)
	tm.expect("minidbgo> ")
	tm.send(keyUp)
	tm.expect("use products")
	tm.send(keyEnter)
	tm.expect("products> ")
	tm.send(`findOne {"_id":"p1"}` + keyEnter)
	tm.expect(`"Laptop"`)
	require.Contains(t, tm.out.String(), colorCode+`"Laptop"`)
	tm.send("exit" + keyEnter)
	require.Equal(t, 0, tm.exit())
}

// TestHistoryDefaultLocation: without --history, the history goes to the
// user's configuration directory, never /tmp.
func TestHistoryDefaultLocation(t *testing.T) {
	home := t.TempDir()
	p, err := historyPath("", envLookup([]string{"HOME=" + home}))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(p, home), p)
	require.FileExists(t, p)
	p, err = historyPath("off", envLookup(nil))
	require.NoError(t, err)
	require.Empty(t, p)
}

// TestTerminalOutput: -c on a terminal prints pretty, coloured JSON;
// --json makes it compact; NO_COLOR removes the colours.
func TestTerminalOutput(t *testing.T) {
	cmd := `insertOne c {"_id":"a","n":1}`
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{[]string{"TERM=xterm"}, []string{"-c", cmd}, "{\n  " + colorKey + `"_id"` + colorReset + ": " + colorString + `"a"` + colorReset},
		{[]string{"TERM=xterm", "NO_COLOR=1"}, []string{"-c", cmd}, "{\n  \"_id\": \"a\",\n  \"created\": true\n}"},
		{[]string{"TERM=xterm"}, []string{"--json", "-c", cmd}, `{"_id":"a","created":true}`},
	} {
		dir := filepath.Join(t.TempDir(), "db") // insertOne creates "a" in each
		tm := startTerm(t, append(tc.env, "HOME="+t.TempDir()), append([]string{"--db", dir}, tc.args...)...)
		require.Equal(t, 0, tm.exit())
		// The reader may still be draining the terminal.
		require.Eventually(t, func() bool {
			return strings.Contains(strings.ReplaceAll(tm.out.String(), "\r", ""), tc.want)
		}, 10*time.Second, 5*time.Millisecond, "%q", tm.out.String())
	}
}

// TestMultiLineHistory: a statement typed over several lines is recalled
// whole by Up (as one line), in the session and in the next one.
func TestMultiLineHistory(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(t.TempDir(), "db")
	hist := filepath.Join(home, "history")
	env := []string{"HOME=" + home, "TERM=xterm", "NO_COLOR=1"}
	args := []string{"--db", dir, "--http", "off", "--history", hist}

	tm := startTerm(t, env, args...)
	tm.expect("minidbgo> ")
	tm.send("insertOne c {" + keyEnter)
	tm.expect("... ")
	tm.send(`  "_id": "m1",` + keyEnter)
	tm.expect("... ")
	tm.send(`  "n": 1` + keyEnter)
	tm.expect("... ")
	tm.send("}" + keyEnter)
	tm.expect(`"created": true`)
	tm.expect("minidbgo> ")

	tm.send(keyUp)
	tm.expect(`insertOne c { "_id": "m1", "n": 1 }`)
	tm.send(keyEnter)
	tm.expect(`error (duplicate_key)`)
	tm.expect("minidbgo> ")

	// A statement begun by editing a recalled one.
	tm.send(keyUp)
	tm.expect(`insertOne c { "_id": "m1", "n": 1 }`)
	tm.send(strings.Repeat("\x7f", 14) + `"m2",` + keyEnter)
	tm.expect("... ")
	tm.send(`"n": 2` + keyEnter)
	tm.expect("... ")
	tm.send("}" + keyEnter)
	tm.expect(`"created": true`)
	tm.expect("minidbgo> ")
	tm.send(keyUp)
	tm.expect(`insertOne c { "_id": "m2", "n": 2 }`)
	tm.send(keyCtrlC)
	tm.expect("minidbgo> ")
	// Up twice: past the recalled statement to the first one.
	tm.send("count c" + keyEnter)
	tm.expect("\n2\n")
	tm.send(keyUp + keyUp)
	tm.expect(`insertOne c { "_id": "m2", "n": 2 }`)
	tm.send(keyCtrlC)
	tm.expect("minidbgo> ")
	tm.send(keyCtrlD)
	require.Equal(t, 0, tm.exit())

	b, err := os.ReadFile(hist)
	require.NoError(t, err)
	require.Equal(t, "insertOne c { \"_id\": \"m1\", \"n\": 1 }\ninsertOne c { \"_id\": \"m2\", \"n\": 2 }\ncount c\n", string(b))

	tm = startTerm(t, env, args...)
	tm.expect("minidbgo> ")
	tm.send(keyUp + keyUp)
	tm.expect(`insertOne c { "_id": "m2", "n": 2 }`)
	tm.send(keyCtrlC)
	tm.expect("minidbgo> ")
	tm.send(keyCtrlD)
	require.Equal(t, 0, tm.exit())
}
