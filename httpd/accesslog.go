package httpd

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The access log (Config.AccessLog): one line per request, in the
// format of the server's log (LOG_FORMAT: JSON or text, as slog writes
// them), with the request id, method, route pattern, path, status,
// bytes, duration and remote address.
//
// The lines are written off the request's path. When Config.Logger's
// handler is one NewLogHandler made (as the server's and the shell's
// are), a request formats its line into a bounded in-memory buffer and
// returns; a background goroutine writes the buffer to the log's
// destination in one write, at most accessFlushEvery after its first
// line, or as soon as it holds accessFlushBytes. A request never waits
// for the destination and never makes a system call for its line. If
// the destination is slower than the lines (a stalled log reader), the
// buffer fills to accessBufferBytes and further lines are dropped, not
// waited for: they are counted in minidbgo_http_access_log_dropped_total
// and reported in one WARN line per flush. Server.Close (at shutdown)
// writes what is buffered; a line logged after it is written at once.
//
// With a handler NewLogHandler did not make (an embedder's own logger),
// the line is handed to that handler from the request, as any other
// record.

const (
	accessFlushEvery  = 100 * time.Millisecond
	accessFlushBytes  = 64 << 10
	accessBufferBytes = 512 << 10
)

// logHandler is the slog.Handler NewLogHandler returns: the handler of
// the log format over its writer, and what it takes to make the same
// handler over another writer (the access log's buffer).
type logHandler struct {
	slog.Handler
	newHandler func(io.Writer) slog.Handler
	w          io.Writer
	// ownJSON: the handler writes plain slog JSON lines (no ReplaceAttr,
	// no source), which appendAccessJSON writes as well.
	ownJSON bool
}

// accessLog buffers access log lines and writes them from a goroutine.
// Safe for concurrent use; its Write is the io.Writer the access log's
// handler writes each formatted line to.
type accessLog struct {
	out    io.Writer    // the log's destination
	logger *slog.Logger // the access log: a handler writing into Write
	// ownJSON: the log is JSON that appendAccessJSON writes without
	// slog's handler (when its level lets INFO lines through).
	ownJSON bool
	handler slog.Handler
	warn    *slog.Logger // reports dropped lines
	max     int          // bytes the buffer may hold
	at      int          // bytes from which it is flushed at once

	mu      sync.Mutex // protects the fields below
	buf     []byte     // lines not yet written
	spare   []byte     // the other buffer (nil while being written)
	closed  bool
	dropped uint64 // lines dropped since the last report

	droppedTotal atomic.Uint64
	first        chan struct{} // a line went into an empty buffer
	full         chan struct{} // the buffer reached at
	quit         chan struct{}
	done         chan struct{}
	closeOnce    sync.Once
}

// newAccessLog returns the access log of a server logging to logger, and
// starts its goroutine when it buffers (Close stops it). The logger it
// returns writes the access lines.
func newAccessLog(logger *slog.Logger, bufBytes, flushBytes int) *accessLog {
	lh, ok := logger.Handler().(*logHandler)
	if !ok {
		return &accessLog{logger: logger}
	}
	a := &accessLog{
		out:   lh.w,
		warn:  logger,
		max:   bufBytes,
		at:    flushBytes,
		buf:   make([]byte, 0, bufBytes),
		spare: make([]byte, 0, bufBytes),
		first: make(chan struct{}, 1),
		full:  make(chan struct{}, 1),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	a.handler = lh.newHandler(a)
	a.logger = slog.New(a.handler)
	a.ownJSON = lh.ownJSON
	go a.run()
	return a
}

// accessRecord is one access log line's fields.
type accessRecord struct {
	id, method, route, path, remote string
	status                          int
	bytes                           int64
	durationMS                      float64
}

// log writes the access line of a request.
func (a *accessLog) log(ctx context.Context, rec *accessRecord) {
	if a.ownJSON && rec.plain() {
		if !a.handler.Enabled(ctx, slog.LevelInfo) {
			return
		}
		bp := lineBufs.Get().(*[]byte)
		b := appendAccessJSON((*bp)[:0], time.Now(), rec)
		_, _ = a.Write(b)
		*bp = b
		lineBufs.Put(bp)
		return
	}
	a.logger.LogAttrs(ctx, slog.LevelInfo, "request",
		slog.String("request_id", rec.id),
		slog.String("method", rec.method),
		slog.String("route", rec.route),
		slog.String("path", rec.path),
		slog.Int("status", rec.status),
		slog.Int64("bytes", rec.bytes),
		slog.Float64("duration_ms", rec.durationMS),
		slog.String("remote", rec.remote),
	)
}

var lineBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// plain reports whether the record's strings need no JSON escaping
// (printable ASCII but the quote and the backslash) and its duration is
// written by strconv as encoding/json writes it.
func (rec *accessRecord) plain() bool {
	return plainASCII(rec.id) && plainASCII(rec.method) && plainASCII(rec.route) &&
		plainASCII(rec.path) && plainASCII(rec.remote) &&
		(rec.durationMS == 0 || rec.durationMS >= 1e-6 && rec.durationMS < 1e21)
}

func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// appendAccessJSON appends the line slog's JSONHandler writes for the
// record logged at t (at INFO, message "request"), for a plain record.
func appendAccessJSON(b []byte, t time.Time, rec *accessRecord) []byte {
	b = append(b, `{"time":"`...)
	b = t.Round(0).AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"INFO","msg":"request","request_id":"`...)
	b = append(b, rec.id...)
	b = append(b, `","method":"`...)
	b = append(b, rec.method...)
	b = append(b, `","route":"`...)
	b = append(b, rec.route...)
	b = append(b, `","path":"`...)
	b = append(b, rec.path...)
	b = append(b, `","status":`...)
	b = strconv.AppendInt(b, int64(rec.status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, rec.bytes, 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, rec.durationMS, 'f', -1, 64)
	b = append(b, `,"remote":"`...)
	b = append(b, rec.remote...)
	return append(b, "\"}\n"...)
}

// Write takes one formatted line. It never blocks on the destination:
// a line that does not fit in the buffer is dropped and counted.
func (a *accessLog) Write(p []byte) (int, error) {
	a.mu.Lock()
	if a.closed {
		defer a.mu.Unlock()
		return a.out.Write(p)
	}
	if len(a.buf)+len(p) > a.max {
		a.dropped++
		a.mu.Unlock()
		a.droppedTotal.Add(1)
		return len(p), nil
	}
	wasEmpty := len(a.buf) == 0
	a.buf = append(a.buf, p...)
	full := len(a.buf) >= a.at
	a.mu.Unlock()
	switch {
	case full:
		signal(a.full)
	case wasEmpty:
		signal(a.first)
	}
	return len(p), nil
}

// signal wakes the goroutine waiting on c, if it is not woken already.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// run writes the buffer accessFlushEvery after a line went into it empty,
// or when it fills, until Close.
func (a *accessLog) run() {
	defer close(a.done)
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		select {
		case <-a.first:
		case <-a.full:
		case <-a.quit:
			a.flush()
			return
		}
		t.Reset(accessFlushEvery)
		select {
		case <-t.C:
		case <-a.full:
		case <-a.quit:
			a.flush()
			return
		}
		t.Stop()
		a.flush()
	}
}

// flush writes the buffered lines, swapping in the spare buffer so that
// requests keep logging meanwhile.
func (a *accessLog) flush() {
	a.mu.Lock()
	b := a.buf
	a.buf, a.spare = a.spare, nil
	dropped := a.dropped
	a.dropped = 0
	a.mu.Unlock()
	if len(b) > 0 {
		_, _ = a.out.Write(b)
	}
	a.mu.Lock()
	a.spare = b[:0]
	a.mu.Unlock()
	if dropped > 0 {
		a.warn.Warn("access log lines dropped: the log's destination is slower than the requests",
			"dropped", dropped)
	}
}

// Close writes what is buffered and stops the goroutine; later lines are
// written at once. It may be called more than once.
func (a *accessLog) Close() {
	if a.quit == nil {
		return
	}
	a.closeOnce.Do(func() {
		close(a.quit)
		<-a.done
		a.mu.Lock()
		a.closed = true
		b := a.buf
		a.buf = a.buf[:0]
		a.mu.Unlock()
		if len(b) > 0 { // lines that came in after the last flush
			_, _ = a.out.Write(b)
		}
	})
}

// dropped returns the lines dropped since the server started.
func (a *accessLog) droppedLines() uint64 {
	if a == nil {
		return 0
	}
	return a.droppedTotal.Load()
}
