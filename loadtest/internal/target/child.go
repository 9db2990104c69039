package target

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/minidbgo/minidbgo/storage"
)

// Child is the minidbgo-server binary running as a child process on
// 127.0.0.1, configured by environment as the guide does (MODE=server,
// LISTEN=127.0.0.1, PORT=0, DB_PATH, plus any extra variables). Its RSS is
// the server's alone.
type Child struct {
	cmd     *exec.Cmd
	url     string
	dir     string
	tempDir bool
	exited  chan struct{}
	waitErr error
	logDone chan struct{}

	mu   sync.Mutex // protects tail
	tail []byte     // the last few KiB of the server's log
}

// ChildConfig configures StartChildWith.
type ChildConfig struct {
	// Bin is the minidbgo-server binary.
	Bin string
	// Dir is the data directory; empty means a new temporary directory,
	// removed by Close. A directory given here is left in place.
	Dir string
	// Env adds variables such as FLUSH_SIZE=5000 or GOGC=50; they win over
	// this process's environment and the defaults above.
	Env []string
	// Log receives the server's log (JSON lines from its standard error),
	// line by line from one goroutine; nil discards it.
	Log io.Writer
}

// StartChild starts bin with a data directory (dir, or a new temporary one
// when empty) on a free loopback port and waits until GET /api/health
// answers 200. env adds variables such as FLUSH_SIZE=5000 or GOGC=50.
func StartChild(bin, dir string, env []string) (*Child, error) {
	return StartChildWith(ChildConfig{Bin: bin, Dir: dir, Env: env})
}

// tailMax bounds the log tail a Child keeps for error messages.
const tailMax = 8 << 10

// StartChildWith starts the server as cfg says. The server listens on
// PORT=0, a port the kernel picks, and its address is read from its
// start-up log line ("minidbgo-server starting", field addr; with
// LOG_LEVEL=warn or error, which hide that line, a free port is picked
// beforehand instead); then StartChildWith waits until GET /api/health
// answers 200.
func StartChildWith(cfg ChildConfig) (*Child, error) {
	c := &Child{dir: cfg.Dir, exited: make(chan struct{}), logDone: make(chan struct{})}
	if c.dir == "" {
		d, err := os.MkdirTemp("", "minidbgo-load-*")
		if err != nil {
			return nil, err
		}
		c.dir, c.tempDir = d, true
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		c.removeDir()
		return nil, err
	}
	c.cmd = exec.Command(cfg.Bin)
	c.cmd.Env = append(os.Environ(), "MODE=server", "LISTEN=127.0.0.1", "PORT=0", "DB_PATH="+c.dir)
	c.cmd.Env = append(c.cmd.Env, cfg.Env...)
	if quietLog(c.cmd.Env) {
		// No start-up line to read the address from: pick a free port.
		port, err := freePort()
		if err != nil {
			pr.Close()
			pw.Close()
			c.removeDir()
			return nil, err
		}
		c.url = "http://127.0.0.1:" + strconv.Itoa(port)
		c.cmd.Env = append(c.cmd.Env, "PORT="+strconv.Itoa(port))
	}
	c.cmd.Stdout, c.cmd.Stderr = nil, pw
	if err := c.cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		c.removeDir()
		return nil, fmt.Errorf("target: start %s: %w", cfg.Bin, err)
	}
	pw.Close() // the child holds its own copy
	addrC := make(chan string, 1)
	go c.readLog(pr, cfg.Log, addrC)
	go func() {
		c.waitErr = c.cmd.Wait()
		close(c.exited)
	}()
	if c.url == "" { // PORT=0: the start-up line names the address
		select {
		case addr := <-addrC:
			c.url = "http://" + addr
		case <-c.exited:
			<-c.logDone
			c.removeDir()
			return nil, fmt.Errorf("target: server exited at start: %v\n%s", c.waitErr, c.LogTail())
		case <-time.After(60 * time.Second):
			_ = c.Close()
			return nil, fmt.Errorf("target: server wrote no start-up line in 60 s\n%s", c.LogTail())
		}
	}
	if err := c.waitHealthy(30 * time.Second); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// quietLog reports whether env (later entries win) sets LOG_LEVEL above
// info, which hides the start-up line.
func quietLog(env []string) bool {
	level := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "LOG_LEVEL="); ok {
			level = strings.ToLower(strings.TrimSpace(v))
		}
	}
	return level == "warn" || level == "error"
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// readLog reads the server's log until it closes its standard error:
// the start-up line's address goes to addrC, every line to log, the last
// few KiB to the tail.
func (c *Child) readLog(r *os.File, log io.Writer, addrC chan<- string) {
	defer close(c.logDone)
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	found := false
	var buf []byte
	for sc.Scan() {
		line := sc.Bytes()
		c.mu.Lock()
		c.tail = append(c.tail, line...)
		c.tail = append(c.tail, '\n')
		if len(c.tail) > tailMax {
			c.tail = append(c.tail[:0], c.tail[len(c.tail)-tailMax:]...)
		}
		c.mu.Unlock()
		if log != nil {
			buf = append(append(buf[:0], line...), '\n')
			_, _ = log.Write(buf)
		}
		// After the line went to log, so that log has seen it when
		// StartChildWith returns.
		if !found && bytes.Contains(line, []byte(`"minidbgo-server starting"`)) {
			var start struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(line, &start) == nil && start.Msg == "minidbgo-server starting" && start.Addr != "" {
				found = true
				addrC <- start.Addr
			}
		}
	}
	_, _ = io.Copy(io.Discard, r) // a line beyond the scanner's limit: keep the pipe drained
}

// LogTail returns the last few KiB of the server's log.
func (c *Child) LogTail() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.tail)
}

func (c *Child) waitHealthy(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-c.exited:
			return fmt.Errorf("target: server exited before answering: %v", c.waitErr)
		default:
		}
		resp, err := client.Get(c.url + "/api/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("target: server did not answer /api/health within " + limit.String())
}

// URL returns the base URL.
func (c *Child) URL() string { return c.url }

// Dir returns the data directory.
func (c *Child) Dir() string { return c.dir }

// Pid returns the child's process id.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// RSS measures the child process.
func (c *Child) RSS() RSSFunc { return ProcRSS(c.cmd.Process.Pid) }

// Describe says what is measured.
func (c *Child) Describe() string { return "minidbgo-server child process; RSS is the server's" }

// Exited is closed once the process has ended; ExitErr then says how.
func (c *Child) Exited() <-chan struct{} { return c.exited }

// ExitErr returns the process's exit status as exec.Cmd.Wait reports it
// (nil for exit status 0), once Exited is closed; nil before.
func (c *Child) ExitErr() error {
	select {
	case <-c.exited:
		return c.waitErr
	default:
		return nil
	}
}

// Close sends SIGTERM, waits up to 35 s for a graceful exit (the server's
// shutdown budget is 30 s), then kills it, and removes a temporary data
// directory.
func (c *Child) Close() error {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 35*time.Second)
	defer cancel()
	var err error
	select {
	case <-c.exited:
	case <-ctx.Done():
		_ = c.cmd.Process.Kill()
		<-c.exited
		err = errors.New("target: server ignored SIGTERM for 35 s; killed")
	}
	select {
	case <-c.logDone:
	case <-time.After(5 * time.Second): // a grandchild holding the pipe
	}
	c.removeDir()
	return err
}

func (c *Child) removeDir() {
	if c.tempDir {
		_ = os.RemoveAll(c.dir)
		// The server keeps a marker beside its data directory.
		_ = os.Remove(storage.MarkerPath(c.dir))
	}
}
