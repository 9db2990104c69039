// Package deploytest checks the deployment kit (deploy/, the top-level
// docker-compose.yml) and the operator documentation (README.md,
// docs/operations.md) against the server's real configuration code and a
// real server. It holds tests only.
package deploytest

import (
	"bufio"
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// repoRoot is the workspace root: the directory holding go.work.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "go.work not found above the test directory")
		dir = parent
	}
}

func readFile(t testing.TB, parts ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(parts...))
	require.NoError(t, err)
	return string(b)
}

// serverConfig is what the server's configuration code reads, found by
// parsing httpd/cmd/minidbgo-server (not a list kept here).
type serverConfig struct {
	envs     []string          // environment variables, sorted
	defaults map[string]string // env var -> default, when it is a constant ("" otherwise)
	flags    []string          // flag names, without the dash
}

var envReaders = map[string]bool{"str": true, "int": true, "float": true, "dur": true, "bool": true}

// parseServerConfig reads every environment variable and flag of the
// server from its source: calls e.str/int/float/dur/bool("NAME", def),
// os.Getenv/os.LookupEnv/getenv("NAME"), and fs.XxxVar(&v, "name", …),
// in the server's command and in its configuration loader (httpd/config).
func parseServerConfig(t testing.TB) serverConfig {
	t.Helper()
	var files []string
	for _, dir := range []string{
		filepath.Join(repoRoot(t), "httpd", "cmd", "minidbgo-server"),
		filepath.Join(repoRoot(t), "httpd", "config"),
	} {
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, e := range entries {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	fset := token.NewFileSet()
	cfg := serverConfig{defaults: map[string]string{}}
	seenEnv, seenFlag := map[string]bool{}, map[string]bool{}
	for _, path := range files {
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		require.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			var recv, fn string
			switch f := call.Fun.(type) {
			case *ast.SelectorExpr:
				fn = f.Sel.Name
				if id, ok := f.X.(*ast.Ident); ok {
					recv = id.Name
				}
			case *ast.Ident:
				fn = f.Name
			}
			lit := func(i int) (string, bool) {
				if i >= len(call.Args) {
					return "", false
				}
				bl, ok := call.Args[i].(*ast.BasicLit)
				if !ok || bl.Kind != token.STRING {
					return "", false
				}
				s, err := strconv.Unquote(bl.Value)
				return s, err == nil
			}
			switch {
			case recv == "e" && envReaders[fn], recv == "os" && (fn == "Getenv" || fn == "LookupEnv"), recv == "" && fn == "getenv":
				if s, ok := lit(0); ok && !seenEnv[s] {
					seenEnv[s] = true
					cfg.envs = append(cfg.envs, s)
					if len(call.Args) > 1 {
						cfg.defaults[s] = constValue(call.Args[1])
					}
				}
			case recv == "fs" && strings.HasSuffix(fn, "Var"):
				if s, ok := lit(1); ok && !seenFlag[s] {
					seenFlag[s] = true
					cfg.flags = append(cfg.flags, s)
				}
			}
			return true
		})
	}
	sort.Strings(cfg.envs)
	sort.Strings(cfg.flags)
	// Guard against the extraction silently finding nothing.
	for _, want := range []string{"MODE", "FLUSH_SIZE", "MAX_MEM_MB", "GOMEMLIMIT", "GOGC", "DB_PATH", "PORT", "LISTEN"} {
		require.Contains(t, cfg.envs, want, "extraction of the server's environment variables from its source")
	}
	require.GreaterOrEqual(t, len(cfg.flags), 20, "extraction of the server's flags")
	return cfg
}

// constValue renders a default argument that is a constant: a literal,
// true/false, or N*time.Unit (as a duration string). "" otherwise.
func constValue(e ast.Expr) string {
	switch v := e.(type) {
	case *ast.BasicLit:
		if v.Kind == token.STRING {
			s, _ := strconv.Unquote(v.Value)
			return s
		}
		return v.Value
	case *ast.Ident:
		if v.Name == "true" || v.Name == "false" {
			return v.Name
		}
	case *ast.BinaryExpr:
		if v.Op != token.MUL {
			return ""
		}
		n, ok := v.X.(*ast.BasicLit)
		sel, ok2 := v.Y.(*ast.SelectorExpr)
		if !ok || !ok2 {
			return ""
		}
		k, err := strconv.Atoi(n.Value)
		if err != nil {
			return ""
		}
		units := map[string]time.Duration{"Millisecond": time.Millisecond, "Second": time.Second, "Minute": time.Minute, "Hour": time.Hour}
		if u, ok := units[sel.Sel.Name]; ok {
			return (time.Duration(k) * u).String()
		}
	}
	return ""
}

// sameValue compares configuration values, durations by their length.
func sameValue(a, b string) bool {
	if a == b {
		return true
	}
	da, errA := time.ParseDuration(a)
	db, errB := time.ParseDuration(b)
	return errA == nil && errB == nil && da == db
}

// ---- the binaries, built by the Dockerfile's own build command ----

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
	buildOut  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// dockerBuildCommand returns the shell text of the Dockerfile's RUN
// instruction that runs `go build`, without its --mount options.
func dockerBuildCommand(t testing.TB) string {
	t.Helper()
	df := parseDockerfile(readFile(t, repoRoot(t), "deploy", "Dockerfile"))
	for _, in := range df {
		if in.cmd != "RUN" || !strings.Contains(in.args, "go build") {
			continue
		}
		args := strings.TrimSpace(in.args)
		for strings.HasPrefix(args, "--") {
			i := strings.IndexAny(args, " \t")
			require.Positive(t, i)
			args = strings.TrimSpace(args[i:])
		}
		return args
	}
	t.Fatal("deploy/Dockerfile has no RUN … go build")
	return ""
}

// binaries builds minidbgo-server (and minidbgo, when the shell module
// exists) once, by running the Dockerfile's build command in the
// repository root with /out replaced by a temporary directory and
// TARGETOS/TARGETARCH set to this machine's. It returns that directory.
func binaries(t testing.TB) string {
	t.Helper()
	cmdText := dockerBuildCommand(t)
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "minidbgo-deploytest-")
		if buildErr != nil {
			return
		}
		script := strings.ReplaceAll(cmdText, "/out", buildDir)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", "-ec", script)
		cmd.Dir = repoRoot(t)
		cmd.Env = append(os.Environ(), "TARGETOS="+runtime.GOOS, "TARGETARCH="+runtime.GOARCH)
		out, err := cmd.CombinedOutput()
		buildOut, buildErr = string(out), err
	})
	require.NoError(t, buildErr, "the Dockerfile's build command failed:\n%s", buildOut)
	return buildDir
}

// ---- a running server ----

type server struct {
	cmd    *exec.Cmd
	addr   string // 127.0.0.1:port
	done   chan struct{}
	exit   error
	stderr *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServer runs bin in dir with env (plus LISTEN=127.0.0.1:0) and
// waits for its "starting" log line to learn the port. The server is
// stopped (SIGTERM, then SIGKILL) at cleanup if still running.
func startServer(t testing.TB, bin, dir string, env ...string) *server {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env, "LISTEN=127.0.0.1:0")
	pr, pw := io.Pipe()
	s := &server{cmd: cmd, done: make(chan struct{}), stderr: &lockedBuffer{}}
	cmd.Stderr = io.MultiWriter(pw, s.stderr)
	cmd.Stdout = s.stderr
	require.NoError(t, cmd.Start())
	go func() {
		s.exit = cmd.Wait()
		_ = pw.Close()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
			return
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(40 * time.Second):
			_ = cmd.Process.Kill()
			<-s.done
		}
	})
	addrC := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sent := false
		for sc.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if !sent && json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "minidbgo-server starting" {
				addrC <- line.Addr
				sent = true
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case s.addr = <-addrC:
	case <-s.done:
		t.Fatalf("server exited before starting (%v):\n%s", s.exit, s.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not start within 30 s:\n%s", s.stderr.String())
	}
	return s
}

// stop sends SIGTERM and requires a clean exit (status 0) within the
// server's 30 s shutdown budget.
func (s *server) stop(t testing.TB) {
	t.Helper()
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-s.done:
	case <-time.After(35 * time.Second):
		t.Fatalf("server did not stop within 35 s of SIGTERM:\n%s", s.stderr.String())
	}
	require.NoError(t, s.exit, "graceful shutdown must exit 0:\n%s", s.stderr.String())
	require.Contains(t, s.stderr.String(), `"msg":"shutdown complete"`)
}
