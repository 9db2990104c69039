package e2etest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minidbgo/minidbgo/httpd/client"
)

// builds holds one server binary per set of build tags, built once per
// test binary into a temporary directory removed by TestMain.
var (
	buildMu  sync.Mutex
	builds   = map[string]string{}
	buildDir string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// buildServer builds minidbgo-server with the given build tags ("" for
// none) and returns the binary's path.
func buildServer(t *testing.T, tags string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := builds[tags]; ok {
		return bin
	}
	if buildDir == "" {
		d, err := os.MkdirTemp("", "minidbgo-e2etest")
		if err != nil {
			t.Fatal(err)
		}
		buildDir = d
	}
	name := "minidbgo-server"
	if tags != "" {
		name += "-" + tags
	}
	bin := filepath.Join(buildDir, name)
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	args := []string{"build", "-o", bin}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	cmd := exec.Command(gobin, append(args, "../cmd/minidbgo-server")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", args, err, out)
	}
	builds[tags] = bin
	return bin
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	b   []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b = append(b.b, p...)
	if len(b.b) > b.max {
		b.b = append(b.b[:0], b.b[len(b.b)-b.max:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.b)
}

// server is one run of minidbgo-server.
type server struct {
	cmd     *exec.Cmd
	addr    string
	stderr  *tailBuffer
	done    chan struct{}
	waitErr error
	startup time.Duration // process start to its start-up line (recovery included)
	hc      *http.Client
	c       *client.Client
}

// errDiedAtStart is returned by startServer when the process died before
// it was ready; diedByKill tells whether SIGKILL ended it (a kill point).
type errDiedAtStart struct {
	killed bool
	err    error
	stderr string
}

func (e *errDiedAtStart) Error() string {
	return fmt.Sprintf("server exited before it was ready (killed=%v): %v\n%s", e.killed, e.err, e.stderr)
}

// startServer runs the server on dir with a free loopback port (PORT=0)
// and waits for its start-up line. The process is SIGKILLed at the end of
// the test if it still runs.
func startServer(t *testing.T, bin, dir string, env ...string) (*server, error) {
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PORT=0", "LISTEN=127.0.0.1", "DB_PATH="+dir, "ACCESS_LOG=false",
		"LOG_LEVEL=info", "SHUTDOWN_TIMEOUT=10s")
	cmd.Env = append(cmd.Env, env...)
	pr, pw := io.Pipe()
	s := &server{cmd: cmd, stderr: &tailBuffer{max: 64 << 10}, done: make(chan struct{})}
	cmd.Stderr = io.MultiWriter(s.stderr, pw)
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		s.waitErr = cmd.Wait()
		pw.Close()
		close(s.done)
	}()
	t.Cleanup(s.kill)
	addrC := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "minidbgo-server starting" {
				addrC <- line.Addr
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case s.addr = <-addrC:
	case <-s.done:
		return nil, &errDiedAtStart{killed: killedBySignal(s.cmd), err: s.waitErr, stderr: s.stderr.String()}
	case <-time.After(60 * time.Second):
		s.kill()
		return nil, fmt.Errorf("server did not start in 60 s:\n%s", s.stderr.String())
	}
	s.startup = time.Since(t0)
	s.hc = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: 64,
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
	}}
	s.c = client.New("http://" + s.addr)
	s.c.HTTPClient = s.hc
	return s, nil
}

func killedBySignal(cmd *exec.Cmd) bool {
	if cmd.ProcessState == nil {
		return false
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// exited reports whether the process has ended.
func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// kill SIGKILLs the process and waits for it to end.
func (s *server) kill() {
	select {
	case <-s.done:
	default:
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.done
	}
	if s.hc != nil {
		s.hc.CloseIdleConnections()
	}
}

// outcome is what a client knows about a write.
type outcome int

const (
	acked   outcome = iota // 2xx: applied, must survive
	failed                 // never reached the server or refused: not applied
	unknown                // no answer (killed meanwhile) or a 5xx: either
)

// classify maps a request's error to an outcome. unexpected is non-empty
// for answers a healthy run should not produce.
func classify(err error) (o outcome, unexpected string) {
	if err == nil {
		return acked, ""
	}
	var ce *client.Error
	if errors.As(err, &ce) {
		switch {
		case ce.Status == http.StatusServiceUnavailable:
			return unknown, ""
		case ce.Status >= 500:
			return unknown, ce.Error()
		default:
			return failed, ce.Error()
		}
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return failed, ""
	}
	return unknown, ""
}

// envInt reads a positive integer from the environment.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// seed returns MINIDBGO_CRASH_SEED or a time-based seed; the test logs it.
func seed() uint64 {
	if v, err := strconv.ParseUint(os.Getenv("MINIDBGO_CRASH_SEED"), 10, 64); err == nil {
		return v
	}
	return uint64(time.Now().UnixNano())
}

// percentile returns the p-th percentile (0–100) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}

// oracleLog is the append-only record of each request's intent and
// acknowledgement. The checks use the in-memory model the same goroutines
// keep; the file (flushed and fsynced before every kill and at the end of
// each verification) is there to read when a run fails.
type oracleLog struct {
	mu sync.Mutex
	f  *os.File
	w  *bufio.Writer
}

func newOracleLog(t *testing.T, path string) *oracleLog {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &oracleLog{f: f, w: bufio.NewWriterSize(f, 64<<10)}
}

func (o *oracleLog) record(format string, args ...any) {
	o.mu.Lock()
	fmt.Fprintf(o.w, format+"\n", args...)
	o.mu.Unlock()
}

// sync flushes and fsyncs the log.
func (o *oracleLog) sync() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.w.Flush(); err != nil {
		return err
	}
	return o.f.Sync()
}

// figure logs a one-line summary of a test's figures and, when
// MINIDBGO_FIGURES names a file, appends it there: `make test` prints
// that file at the end, so CI shows the figures without -v.
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
