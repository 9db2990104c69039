// Package target provides the servers minidbgo-load measures: MiniDBGo run
// in-process on a temporary directory (Embedded), the minidbgo-server
// binary as a child process (Child), and a trivial net/http handler of the
// same response size (Baseline), the reference that makes throughput
// comparable across machines, in this process or in a child process of
// its own (BaselineProcess), so that a server in a separate process is
// compared with a reference in a separate process. Every server listens on
// 127.0.0.1 on a port the kernel picks.
package target

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Server is a running HTTP server under test.
type Server interface {
	// URL is the base URL, "http://127.0.0.1:<port>".
	URL() string
	// RSS reports the server's resident memory; Describe says whose.
	RSS() RSSFunc
	// Describe names the server and whose memory RSS measures.
	Describe() string
	// Close stops the server and releases its resources.
	Close() error
}

// Baseline answers every request with the same status and a JSON body of
// a fixed size, after reading the request body: the cheapest server that
// does the same network work as the one under test.
type Baseline struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// BaselineBody returns a JSON object of exactly size bytes (at least 12).
func BaselineBody(size int) []byte {
	const head, tail = `{"ok":true,"pad":"`, `"}`
	n := max(size-len(head)-len(tail), 0)
	return []byte(head + strings.Repeat("x", n) + tail)
}

// StartBaseline starts a Baseline on 127.0.0.1 that answers status (0:
// 200) with a body of size bytes.
func StartBaseline(status, size int) (*Baseline, error) {
	if status == 0 {
		status = http.StatusOK
	}
	body := BaselineBody(size)
	clen := strconv.Itoa(len(body))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", clen)
		w.WriteHeader(status)
		_, _ = w.Write(body)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &Baseline{
		srv:  &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 60 * time.Second},
		ln:   ln,
		done: make(chan struct{}),
	}
	go func() {
		defer close(b.done)
		_ = b.srv.Serve(ln)
	}()
	return b, nil
}

// URL returns the base URL.
func (b *Baseline) URL() string { return "http://" + b.ln.Addr().String() }

// RSS measures this process.
func (b *Baseline) RSS() RSSFunc { return ProcRSS(0) }

// Describe says what the baseline is.
func (b *Baseline) Describe() string {
	return "trivial net/http handler (in-process; RSS includes the load generator)"
}

// Close shuts the server down and waits for it.
func (b *Baseline) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := b.srv.Shutdown(ctx)
	<-b.done
	return err
}

// BaselineEnv is the environment variable that makes a process started by
// StartBaselineProcess serve a Baseline ("<status>,<size>") instead of
// doing its own work: see ServeBaselineProcess.
const BaselineEnv = "MINIDBGO_LOAD_BASELINE"

// BaselineProcess is a Baseline served by a child process: this program's
// own executable, started with BaselineEnv set. Like a server under test
// started as a child (Child), it has its own Go runtime, scheduler and
// garbage collector, and its RSS is its own.
type BaselineProcess struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	url    string
	exited chan struct{}
}

// StartBaselineProcess starts a BaselineProcess answering status (0: 200)
// with a body of size bytes, and waits until it listens. The program
// must call ServeBaselineProcess first thing in main (and a test binary in
// TestMain).
func StartBaselineProcess(status, size int) (*BaselineProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("target: baseline process: %w", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d,%d", BaselineEnv, status, size))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("target: start baseline process %s: %w", exe, err)
	}
	b := &BaselineProcess{cmd: cmd, stdin: stdin, exited: make(chan struct{})}
	addrC := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		addrC <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		_ = cmd.Wait()
		close(b.exited)
	}()
	select {
	case addr := <-addrC:
		if _, _, err := net.SplitHostPort(addr); err != nil {
			_ = b.Close()
			return nil, fmt.Errorf("target: baseline process wrote %q, not its address", addr)
		}
		b.url = "http://" + addr
	case <-time.After(30 * time.Second):
		_ = b.Close()
		return nil, errors.New("target: baseline process did not start listening in 30 s")
	}
	return b, nil
}

// URL returns the base URL.
func (b *BaselineProcess) URL() string { return b.url }

// RSS measures the child process.
func (b *BaselineProcess) RSS() RSSFunc { return ProcRSS(b.cmd.Process.Pid) }

// Describe says what the baseline is.
func (b *BaselineProcess) Describe() string {
	return fmt.Sprintf("trivial net/http handler (child process %d)", b.cmd.Process.Pid)
}

// Close ends the child (closing its standard input tells it to stop) and
// waits for it; after 10 s it is killed.
func (b *BaselineProcess) Close() error {
	_ = b.stdin.Close()
	select {
	case <-b.exited:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.exited
	}
	return nil
}

// ServeBaselineProcess is the child's side of StartBaselineProcess. When
// BaselineEnv is not set it returns false at once. Otherwise it serves a
// Baseline on 127.0.0.1, writes its address as the first line of standard
// output, serves until standard input ends (the parent closed it, or
// died), and returns true; the caller then exits (with status 1 if err is
// not nil).
func ServeBaselineProcess() (served bool, err error) {
	spec, ok := os.LookupEnv(BaselineEnv)
	if !ok {
		return false, nil
	}
	st, sz, ok := strings.Cut(spec, ",")
	status, err1 := strconv.Atoi(st)
	size, err2 := strconv.Atoi(sz)
	if !ok || err1 != nil || err2 != nil || status < 0 || size < 0 {
		return true, fmt.Errorf("%s=%q: want <status>,<size>", BaselineEnv, spec)
	}
	b, err := StartBaseline(status, size)
	if err != nil {
		return true, err
	}
	if _, err := fmt.Println(b.ln.Addr().String()); err != nil {
		_ = b.Close()
		return true, err
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	return true, b.Close()
}
