package target

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/storage"
)

func TestBaseline(t *testing.T) {
	b, err := StartBaseline(201, 300)
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()
	assert.True(t, strings.HasPrefix(b.URL(), "http://127.0.0.1:"))
	checkBaselineAnswer(t, b.URL())
	assert.Len(t, BaselineBody(5), len(`{"ok":true,"pad":""}`), "never shorter than the smallest object")
}

// checkBaselineAnswer posts to a baseline started with (201, 300).
func checkBaselineAnswer(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Post(url+"/api/x", "application/json", strings.NewReader(`{"a":1}`))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 201, resp.StatusCode)
	assert.Len(t, body, 300)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
}

// TestMain lets this test binary serve as StartBaselineProcess's child.
func TestMain(m *testing.M) {
	if served, err := ServeBaselineProcess(); served {
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestBaselineProcess: the child answers like an in-process Baseline, its
// RSS is its own, and Close ends it.
func TestBaselineProcess(t *testing.T) {
	b, err := StartBaselineProcess(201, 300)
	require.NoError(t, err)
	checkBaselineAnswer(t, b.URL())
	pid := b.cmd.Process.Pid
	assert.NotEqual(t, os.Getpid(), pid)
	rss, err := b.RSS()(context.Background())
	require.NoError(t, err)
	assert.Greater(t, rss, 1.0)
	assert.Contains(t, b.Describe(), strconv.Itoa(pid))
	require.NoError(t, b.Close())
	select {
	case <-b.exited:
	default:
		t.Fatal("Close returned before the child exited")
	}
	_, err = http.Get(b.URL() + "/")
	assert.Error(t, err, "nothing listens after Close")

	t.Setenv(BaselineEnv, "201;x")
	served, err := ServeBaselineProcess()
	assert.True(t, served)
	assert.ErrorContains(t, err, "want <status>,<size>")
}

func TestParseVmRSS(t *testing.T) {
	v, err := parseVmRSS([]byte("Name:\tx\nVmPeak:\t  9999 kB\nVmRSS:\t   2048 kB\nThreads: 3\n"))
	require.NoError(t, err)
	assert.Equal(t, 2.0, v)
	_, err = parseVmRSS([]byte("Name: x\n"))
	assert.Error(t, err)
	self, err := ProcRSS(0)(context.Background())
	require.NoError(t, err)
	assert.Greater(t, self, 1.0)
	_, err = ProcRSS(os.Getpid())(context.Background())
	require.NoError(t, err)

	hwm, err := parseStatusKB([]byte("VmHWM:\t  4096 kB\nVmRSS:\t   2048 kB\n"), "VmHWM:")
	require.NoError(t, err)
	assert.Equal(t, 4.0, hwm)
	rss, hwm, err := ProcMem(os.Getpid())
	require.NoError(t, err)
	assert.Greater(t, rss, 1.0)
	assert.GreaterOrEqual(t, hwm, rss, "the high-water mark is at least the current RSS")
}

func TestStatsRSSAndSampler(t *testing.T) {
	var rss atomic.Int64
	rss.Store(10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "/api/stats", r.URL.Path)
		_, _ = io.WriteString(w, `{"process_cpu_percent":1,"process_rss_mb":`+strconv.FormatInt(rss.Add(5), 10)+`}`)
	}))
	defer srv.Close()
	s := StartRSS(StatsRSS(srv.Client(), srv.URL), 20*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	peak, ok, err := s.Stop()
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Greater(t, peak, 20.0, "peak of increasing samples")

	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	}))
	defer bad.Close()
	s = StartRSS(StatsRSS(bad.Client(), bad.URL), 20*time.Millisecond)
	_, ok, err = s.Stop()
	assert.False(t, ok)
	assert.Error(t, err)
}

func TestEmbedded(t *testing.T) {
	e, err := StartEmbedded(EmbeddedConfig{})
	require.NoError(t, err)
	dir := e.Dir()
	resp, err := http.Get(e.URL() + "/api/health")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	resp, err = http.Post(e.URL()+"/api/products", "application/json", strings.NewReader(`{"_id":"p1","name":"test"}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 2, resp.StatusCode/100)
	require.NoError(t, e.Close())
	_, err = os.Stat(dir)
	assert.True(t, os.IsNotExist(err), "temporary directory removed")
}

// TestEmbeddedSettings: the embedded server reads its settings as
// minidbgo-server does (httpd/config): MAX_BODY_MB bounds a body, and a
// bad setting is refused, naming it.
func TestEmbeddedSettings(t *testing.T) {
	e, err := StartEmbedded(EmbeddedConfig{Env: []string{"MAX_BODY_MB=1", "MAX_INFLIGHT_MB=8"}})
	require.NoError(t, err)
	defer e.Close()
	big := `{"_id":"big","s":"` + strings.Repeat("x", 2<<20) + `"}`
	resp, err := http.Post(e.URL()+"/api/products", "application/json", strings.NewReader(big))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)

	_, err = StartEmbedded(EmbeddedConfig{Env: []string{"REQUEST_TIMEOUT=soon"}})
	require.ErrorContains(t, err, "REQUEST_TIMEOUT")
}

// TestChild starts the minidbgo-server binary on PORT=0 (its address read
// from the start-up line), and with LOG_LEVEL=warn (no start-up line: a
// free port picked beforehand).
func TestChild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the server binary")
	}
	bin := filepath.Join(t.TempDir(), "minidbgo-server")
	build := exec.Command("go", "build", "-o", bin, "./cmd/minidbgo-server")
	build.Dir = filepath.Join("..", "..", "..", "httpd")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, env := range [][]string{nil, {"LOG_LEVEL=warn"}} {
		var log strings.Builder
		c, err := StartChildWith(ChildConfig{Bin: bin, Env: env, Log: &log})
		require.NoError(t, err, "env %v", env)
		assert.True(t, strings.HasPrefix(c.URL(), "http://127.0.0.1:"), c.URL())
		resp, err := http.Get(c.URL() + "/api/health")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode)
		rss, hwm, err := ProcMem(c.Pid())
		require.NoError(t, err)
		assert.Greater(t, rss, 1.0)
		assert.GreaterOrEqual(t, hwm, rss)
		dir := c.Dir()
		require.NoError(t, c.Close())
		<-c.Exited()
		assert.NoError(t, c.ExitErr(), "exit status 0 after SIGTERM")
		_, err = os.Stat(dir)
		assert.True(t, os.IsNotExist(err), "temporary directory removed")
		_, err = os.Stat(storage.MarkerPath(dir))
		assert.True(t, os.IsNotExist(err), "and the server's marker beside it")
		if env == nil {
			assert.Contains(t, log.String(), `"msg":"minidbgo-server starting"`)
			assert.Contains(t, c.LogTail(), "shutdown complete")
		}
	}
}
