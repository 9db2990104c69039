package httpd

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// ListenFile is the file in a data directory where the process serving
// it records its REST API's address: one line, "<pid> <url>". A shell
// that finds the directory locked reads it to name the server's real
// address (minidbgo --url <url>). The storage engine ignores the file; it
// is removed on a clean shutdown, and a stale one is told apart by its
// pid, which must be the lock holder's.
const ListenFile = "LISTEN"

// WriteListenFile records in dir that this process serves addr (the
// listener's address) over scheme ("http" or "https"). An unspecified
// host (0.0.0.0, ::) is recorded as 127.0.0.1, the address a client on
// the same machine uses. remove deletes the file; call it before closing
// the database.
func WriteListenFile(dir, scheme, addr string) (remove func(), err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	url := scheme + "://" + net.JoinHostPort(host, port)
	name := filepath.Join(dir, ListenFile)
	if err := os.WriteFile(name, []byte(strconv.Itoa(os.Getpid())+" "+url+"\n"), 0o644); err != nil {
		return nil, err
	}
	return func() { _ = os.Remove(name) }, nil
}

// ReadListenFile returns the URL recorded in dir by process pid, or ""
// when there is none (no file, another pid's, or not readable).
func ReadListenFile(dir string, pid int) string {
	b, err := os.ReadFile(filepath.Join(dir, ListenFile))
	if err != nil || len(b) > 1024 {
		return ""
	}
	p, url, ok := strings.Cut(strings.TrimSpace(string(b)), " ")
	if !ok || p != strconv.Itoa(pid) || pid <= 0 {
		return ""
	}
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") || strings.ContainsAny(url, " \t\r\n") {
		return ""
	}
	return url
}

// NewLogHandler returns the slog handler of LOG_FORMAT: "text" (slog's
// key=value lines, for people), "json" (one JSON object a line, for log
// collectors) or "auto" (or ""): text when w is a terminal, JSON
// otherwise.
func NewLogHandler(w io.Writer, format string, opts *slog.HandlerOptions) (slog.Handler, error) {
	if _, ok := w.(*os.File); !ok {
		// The access log writes to w from its own goroutine, beside the
		// handler (an *os.File serialises its writes itself).
		w = &syncWriter{w: w}
	}
	text := func(w io.Writer) slog.Handler { return slog.NewTextHandler(w, opts) }
	json := func(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, opts) }
	var (
		mk     func(io.Writer) slog.Handler
		isJSON bool
	)
	switch strings.ToLower(strings.TrimSpace(format)) {
	case "", "auto":
		mk, isJSON = json, true
		if IsTerminal(w) {
			mk, isJSON = text, false
		}
	case "text":
		mk = text
	case "json":
		mk, isJSON = json, true
	default:
		return nil, fmt.Errorf("LOG_FORMAT=%q: want text, json or auto", format)
	}
	// The access log writes the same lines through a buffer
	// (accesslog.go), JSON ones formatted by itself unless the options
	// rewrite records.
	plain := opts == nil || opts.ReplaceAttr == nil && !opts.AddSource
	return &logHandler{Handler: mk(w), newHandler: mk, w: w, ownJSON: isJSON && plain}, nil
}

// syncWriter serialises the writes to a writer.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// Write writes p under the lock.
func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// IsTerminal reports whether w is a terminal (a character device).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	// /dev/null is a character device too, but no one reads it.
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(fi, null)
}
