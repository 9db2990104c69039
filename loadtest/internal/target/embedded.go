package target

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd"
	"github.com/minidbgo/minidbgo/storage"
)

// EmbeddedConfig configures an in-process server. A zero field selects
// the server's default.
type EmbeddedConfig struct {
	// Dir is the data directory; empty means a new temporary directory,
	// removed by Close.
	Dir string
	// Storage configures the engine (durability, memtable bounds, cache).
	Storage storage.Options
	// Server configures the REST server (concurrency limit, body limit…).
	Server httpd.Config
}

// Embedded is MiniDBGo's REST server running in this process on
// 127.0.0.1, over its own data directory.
type Embedded struct {
	dir     string
	tempDir bool
	db      *docstore.DB
	api     *httpd.Server
	hs      *http.Server
	ln      net.Listener
	done    chan struct{}
}

// StartEmbedded opens a database and serves it on 127.0.0.1 on a free port.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	e := &Embedded{dir: cfg.Dir, done: make(chan struct{})}
	if e.dir == "" {
		d, err := os.MkdirTemp("", "minidbgo-load-*")
		if err != nil {
			return nil, err
		}
		e.dir, e.tempDir = d, true
	}
	so := cfg.Storage
	db, err := docstore.Open(e.dir, &docstore.Options{Storage: &so})
	if err != nil {
		e.removeDir()
		return nil, fmt.Errorf("target: open %s: %w", e.dir, err)
	}
	e.db = db
	e.api = httpd.New(db, cfg.Server)
	e.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.api.Close()
		_ = db.Close()
		e.removeDir()
		return nil, err
	}
	// The timeouts of cmd/minidbgo-server (RELIABILITY.md §3, guide).
	e.hs = &http.Server{
		Handler:           e.api,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      35 * time.Second, // REQUEST_TIMEOUT (30 s) + 5 s
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	go func() {
		defer close(e.done)
		_ = e.hs.Serve(e.ln)
	}()
	return e, nil
}

// URL returns the base URL.
func (e *Embedded) URL() string { return "http://" + e.ln.Addr().String() }

// Dir returns the data directory.
func (e *Embedded) Dir() string { return e.dir }

// DB returns the database being served.
func (e *Embedded) DB() *docstore.DB { return e.db }

// RSS measures this process: the server and the load generator together.
func (e *Embedded) RSS() RSSFunc { return ProcRSS(0) }

// Describe says what is measured.
func (e *Embedded) Describe() string {
	return "embedded in-process server; RSS includes the load generator"
}

// Close drains the server, closes the database and removes a temporary
// data directory.
func (e *Embedded) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e.api.BeginShutdown()
	err := e.hs.Shutdown(ctx)
	<-e.done
	e.api.Close()
	err = errors.Join(err, e.db.Close())
	e.removeDir()
	return err
}

func (e *Embedded) removeDir() {
	if e.tempDir {
		_ = os.RemoveAll(e.dir)
	}
}
