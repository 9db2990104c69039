// Package target provides the servers minidbgo-load measures: MiniDBGo run
// in-process on a temporary directory (Embedded), the minidbgo-server
// binary as a child process (Child), and a trivial net/http handler of the
// same response size (Baseline), the reference that makes throughput
// comparable across machines. Every server listens on 127.0.0.1 on a port
// the kernel picks.
package target

import (
	"context"
	"io"
	"net"
	"net/http"
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
