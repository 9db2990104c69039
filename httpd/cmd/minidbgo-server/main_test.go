package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/httpd"
	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// buildServer builds minidbgo-server into a temporary directory once per
// test binary.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func buildServer(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "minidbgo-server-test")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "minidbgo-server")
		gobin, err := exec.LookPath("go")
		if err != nil {
			gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		out, err := exec.Command(gobin, "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// proc is a running minidbgo-server.
type proc struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
	done   chan struct{}
	err    error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs the server on dir with a free loopback port and waits for
// its start-up line. It is killed at the end of the test if still running.
func start(t *testing.T, bin, dir string, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PORT=0", "LISTEN=127.0.0.1", "DB_PATH="+dir, "ACCESS_LOG=false")
	cmd.Env = append(cmd.Env, env...)
	pr, pw := io.Pipe()
	p := &proc{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = io.MultiWriter(p.stderr, pw)
	require.NoError(t, cmd.Start())
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	addrC := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
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
	case p.addr = <-addrC:
	case <-p.done:
		t.Fatalf("server exited at start: %v\n%s", p.err, p.stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("server did not start:\n%s", p.stderr.String())
	}
	return p
}

// stop sends SIGTERM and returns the exit code and how long it took.
func (p *proc) stop(t *testing.T) (int, time.Duration) {
	t.Helper()
	t0 := time.Now()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
	case <-time.After(35 * time.Second):
		t.Fatalf("no exit 35 s after SIGTERM:\n%s", p.stderr.String())
	}
	return p.cmd.ProcessState.ExitCode(), time.Since(t0)
}

// TestSIGTERMUnderLoad runs the server as a child process, writes to it
// from several clients, sends SIGTERM midway, and checks that it exits 0
// in time and that every acknowledged write is there after a restart.
func TestSIGTERMUnderLoad(t *testing.T) {
	bin := buildServer(t)
	dir := t.TempDir()
	p := start(t, bin, dir, "FLUSH_SIZE=500")
	base := "http://" + p.addr
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}

	var (
		mu    sync.Mutex
		acked []string
		stopW atomic.Bool
		wg    sync.WaitGroup
	)
	for w := range 8 {
		wg.Go(func() {
			for i := 0; !stopW.Load() && i < 100000; i++ {
				id := fmt.Sprintf("w%d-%06d", w, i)
				body := fmt.Sprintf(`{"_id":%q,"w":%d,"i":%d,"pad":"%s"}`, id, w, i, strings.Repeat("x", 150))
				resp, err := hc.Post(base+"/api/load", "application/json", strings.NewReader(body))
				if err != nil {
					if stopW.Load() || strings.Contains(err.Error(), "refused") {
						return
					}
					continue // indeterminate: not acknowledged
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusCreated {
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(700 * time.Millisecond)
	code, took := p.stop(t)
	stopW.Store(true)
	wg.Wait()
	require.Equal(t, 0, code, "exit status; stderr:\n%s", p.stderr.String())
	require.Less(t, took, 30*time.Second)
	require.Contains(t, p.stderr.String(), "shutdown complete")
	require.NotEmpty(t, acked)
	t.Logf("%d writes acknowledged before SIGTERM; shutdown took %v", len(acked), took)

	// Restart and look for every acknowledged write.
	p2 := start(t, bin, dir)
	resp, err := hc.Get("http://" + p2.addr + "/api/dumpDB")
	require.NoError(t, err)
	have := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			Doc struct {
				ID string `json:"_id"`
			} `json:"doc"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line))
		have[line.Doc.ID] = true
	}
	resp.Body.Close()
	require.NoError(t, sc.Err())
	missing := 0
	for _, id := range acked {
		if !have[id] {
			missing++
		}
	}
	require.Zero(t, missing, "acknowledged writes lost after SIGTERM and restart")
	code, _ = p2.stop(t)
	require.Equal(t, 0, code)
}

// TestLockedDataDir starts a second server on the same directory: it
// exits 1 naming the holder's pid.
func TestLockedDataDir(t *testing.T) {
	bin := buildServer(t)
	dir := t.TempDir()
	p := start(t, bin, dir)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PORT=0", "LISTEN=127.0.0.1", "DB_PATH="+dir)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 1, ee.ExitCode())
	require.Contains(t, string(out), "in use by another process")
	require.Contains(t, string(out), fmt.Sprintf("pid %d", p.cmd.Process.Pid))
	// The server records its address for the shell's lock message, and
	// removes the record when it stops.
	rec, err := os.ReadFile(filepath.Join(dir, httpd.ListenFile))
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("%d http://%s\n", p.cmd.Process.Pid, p.addr), string(rec))
	code, _ := p.stop(t)
	require.Equal(t, 0, code)
	_, err = os.Stat(filepath.Join(dir, httpd.ListenFile))
	require.True(t, os.IsNotExist(err), "%v", err)
}

// TestLogFormat: LOG_FORMAT=text logs slog's text lines (what a terminal
// gets by default); JSON otherwise; a bad value exits 2.
func TestLogFormat(t *testing.T) {
	bin := buildServer(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PORT=0", "LISTEN=127.0.0.1", "DB_PATH="+t.TempDir(), "LOG_FORMAT=text")
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	ok := assert.Eventually(t, func() bool { return strings.Contains(stderr.String(), "minidbgo-server starting") },
		20*time.Second, 10*time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, <-done)
	require.True(t, ok, stderr.String())
	require.Regexp(t, `(?m)^time=\S+ level=INFO msg="minidbgo-server starting" version=\S+ addr=127\.0\.0\.1:\d+`, stderr.String())
	require.NotContains(t, stderr.String(), `{"time"`)

	cmd = exec.Command(bin)
	cmd.Env = append(os.Environ(), "PORT=0", "DB_PATH="+t.TempDir(), "LOG_FORMAT=xml")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 2, ee.ExitCode(), "%s", out)
	require.Contains(t, string(out), `LOG_FORMAT="xml": want text, json or auto`)
}

// TestHealthcheckCommand runs `minidbgo-server healthcheck` against a
// running server and against a port with nothing behind it.
func TestHealthcheckCommand(t *testing.T) {
	bin := buildServer(t)
	p := start(t, bin, t.TempDir(), "SHUTDOWN_TIMEOUT=10s")
	port := p.addr[strings.LastIndexByte(p.addr, ':')+1:]
	hc := exec.Command(bin, "healthcheck")
	hc.Env = append(os.Environ(), "PORT="+port)
	out, err := hc.CombinedOutput()
	require.NoError(t, err, "%s", out)
	hc = exec.Command(bin, "healthcheck", "-port", port)
	require.NoError(t, hc.Run())
	code, _ := p.stop(t)
	require.Equal(t, 0, code)

	hc = exec.Command(bin, "healthcheck")
	hc.Env = append(os.Environ(), "PORT="+port) // nothing listens now
	out, err = hc.CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 1, ee.ExitCode())
	require.Contains(t, string(out), "healthcheck:")
}

// TestBadConfigExits2 checks that a bad configuration is refused at once.
func TestBadConfigExits2(t *testing.T) {
	bin := buildServer(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PORT=0", "DB_PATH="+t.TempDir(), "DURABILITY=sometimes")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 2, ee.ExitCode(), "%s", out)
	require.Contains(t, string(out), "durability")
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "minidbgo test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestTLSAndKeys serves HTTPS with API keys: requests need a key, health
// does not, plain HTTP is refused, and the healthcheck command follows
// the TLS settings.
func TestTLSAndKeys(t *testing.T) {
	bin := buildServer(t)
	tmp := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, tmp)
	tlsEnv := []string{"TLS_CERT=" + certFile, "TLS_KEY=" + keyFile}
	p := start(t, bin, filepath.Join(tmp, "db"), append(tlsEnv, "MINIDBGO_API_KEYS=admin-key-0123456789:admin")...)
	require.Contains(t, p.stderr.String(), `"tls":true`)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base := "https://" + p.addr

	resp, err := hc.Get(base + "/api/health")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, err = hc.Get(base + "/api/_collections")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	req, _ := http.NewRequest("GET", base+"/api/_collections", nil)
	req.Header.Set("Authorization", "Bearer admin-key-0123456789")
	resp, err = hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	// Debug endpoints need the admin key even on loopback when auth is on.
	req, _ = http.NewRequest("POST", base+"/api/debug/gc", nil)
	resp, err = hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	// Plain HTTP gets no answer it can use.
	presp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + p.addr + "/api/health")
	if err == nil {
		presp.Body.Close()
		require.Equal(t, http.StatusBadRequest, presp.StatusCode)
	}

	port := p.addr[strings.LastIndexByte(p.addr, ':')+1:]
	cmd := exec.Command(bin, "healthcheck")
	cmd.Env = append(append(os.Environ(), "PORT="+port), tlsEnv...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	cmd = exec.Command(bin, "healthcheck")
	cmd.Env = append(os.Environ(), "PORT="+port) // without TLS: not healthy
	require.Error(t, cmd.Run())
	code, _ := p.stop(t)
	require.Equal(t, 0, code)
}

// TestNetHTTPErrorsAreJSON: the server answers what net/http refuses
// before routing (an invalid %-escape, headers over the limit) with the
// JSON error body, not net/http's plain text.
func TestNetHTTPErrorsAreJSON(t *testing.T) {
	bin := buildServer(t)
	p := start(t, bin, t.TempDir(), "SHUTDOWN_TIMEOUT=10s")
	for _, tc := range []struct {
		req    string
		status int
		code   string
	}{
		{"GET /api/users/%zz HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusBadRequest, "bad_request"},
		{"GET /api/users/a HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 80<<10) + "\r\n\r\n", http.StatusRequestHeaderFieldsTooLarge, "headers_too_large"},
	} {
		c, err := net.Dial("tcp", p.addr)
		require.NoError(t, err)
		require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
		_, err = io.WriteString(c, tc.req)
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		var body api.Error
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		c.Close()
		require.Equal(t, tc.status, resp.StatusCode)
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		require.Equal(t, tc.code, body.Code)
		require.Equal(t, tc.status, body.Status)
	}
	code, _ := p.stop(t)
	require.Equal(t, 0, code)
}
