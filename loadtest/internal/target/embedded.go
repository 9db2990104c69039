package target

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd"
	"github.com/minidbgo/minidbgo/httpd/config"
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
	// Env configures the REST server as the environment configures
	// minidbgo-server ("MAX_CONCURRENT=50", …; httpd/config reads both):
	// its limits, timeouts and shutdown.
	Env []string
}

// Embedded is MiniDBGo's REST server running in this process on
// 127.0.0.1, over its own data directory.
type Embedded struct {
	dir     string
	tempDir bool
	db      *docstore.DB
	ln      net.Listener
	stop    context.CancelFunc
	done    chan error // httpd.Serve's result
}

// StartEmbedded opens a database and serves it on 127.0.0.1 on a free port,
// with httpd.Serve and the settings cfg.Env gives (httpd/config).
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	env := make(map[string]string, len(cfg.Env))
	for _, kv := range cfg.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	settings, err := config.FromEnv(func(k string) string { return env[k] })
	if err == nil {
		err = settings.Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("target: server settings: %w", err)
	}
	e := &Embedded{dir: cfg.Dir, done: make(chan error, 1)}
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
	e.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = db.Close()
		e.removeDir()
		return nil, err
	}
	hc := settings.Server(e.ln.Addr().String(), nil, nil, "")
	hc.ListenFileDir = ""
	hc.AccessLog = false
	ctx, stop := context.WithCancel(context.Background())
	e.stop = stop
	go func() { e.done <- httpd.Serve(ctx, e.ln, db, hc) }()
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

// Close drains the server, flushes and closes the database (httpd.Serve)
// and removes a temporary data directory.
func (e *Embedded) Close() error {
	e.stop()
	err := <-e.done
	e.removeDir()
	return err
}

func (e *Embedded) removeDir() {
	if e.tempDir {
		_ = os.RemoveAll(e.dir)
	}
}
