package target

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// Child is the minidbgo-server binary running as a child process on
// 127.0.0.1, configured by environment as the guide does (MODE=server,
// LISTEN=127.0.0.1, PORT, DB_PATH, plus any extra variables). Its RSS is
// the server's alone.
type Child struct {
	cmd     *exec.Cmd
	url     string
	dir     string
	tempDir bool
	exited  chan struct{}
	waitErr error
}

// StartChild starts bin with a data directory (dir, or a new temporary one
// when empty) on a free loopback port and waits until GET /api/health
// answers 200. env adds variables such as FLUSH_SIZE=5000 or GOGC=50.
func StartChild(bin, dir string, env []string) (*Child, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	c := &Child{dir: dir, exited: make(chan struct{})}
	if c.dir == "" {
		d, err := os.MkdirTemp("", "minidbgo-load-*")
		if err != nil {
			return nil, err
		}
		c.dir, c.tempDir = d, true
	}
	c.url = "http://127.0.0.1:" + strconv.Itoa(port)
	c.cmd = exec.Command(bin)
	c.cmd.Env = append(os.Environ(), "MODE=server", "LISTEN=127.0.0.1", "PORT="+strconv.Itoa(port), "DB_PATH="+c.dir)
	c.cmd.Env = append(c.cmd.Env, env...)
	c.cmd.Stdout, c.cmd.Stderr = nil, nil // the server's logs are not ours to print
	if err := c.cmd.Start(); err != nil {
		c.removeDir()
		return nil, fmt.Errorf("target: start %s: %w", bin, err)
	}
	go func() {
		c.waitErr = c.cmd.Wait()
		close(c.exited)
	}()
	if err := c.waitHealthy(30 * time.Second); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
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

// Pid returns the child's process id.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// RSS measures the child process.
func (c *Child) RSS() RSSFunc { return ProcRSS(c.cmd.Process.Pid) }

// Describe says what is measured.
func (c *Child) Describe() string { return "minidbgo-server child process; RSS is the server's" }

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
	c.removeDir()
	return err
}

func (c *Child) removeDir() {
	if c.tempDir {
		_ = os.RemoveAll(c.dir)
	}
}
