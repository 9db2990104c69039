package httpd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
)

// The middleware, outermost first:
//
//	requestID → observe (access log, metrics) → recoverer →
//	  guard (Host, Origin; origin.go) →
//	  [health, ready: nothing more]
//	  authenticate → rateLimit → [admitBody | streamAdmit] → throttle → [timeout] → scope → handler
//
// admitBody (admission.go) reads the body before throttle gives the
// request a slot, so that slow senders do not hold the slots.
//
// observe sits outside recoverer so that a panic is logged and counted as
// the 500 it becomes.

type ctxKey int

const (
	ctxRequestID ctxKey = iota // *reqState
	ctxPrincipal
)

// reqState is what the middleware and the handlers of one request share
// through its context, in one value so that the hot path adds one
// context node: the request id, and what the request's query did (for
// the slow-query log, slowlog.go).
type reqState struct {
	id    string
	query queryInfo
}

// requestID returns the request's id, or "".
func requestID(ctx context.Context) string {
	if st, _ := ctx.Value(ctxRequestID).(*reqState); st != nil {
		return st.id
	}
	return ""
}

var (
	idPrefix = func() string {
		var b [4]byte
		_, _ = rand.Read(b[:])
		return hex.EncodeToString(b[:])
	}()
	idCounter atomic.Uint64
)

// validRequestID accepts a client's X-Request-ID when it is short and
// plain, so it can be logged as is.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// withRequestID gives every request an id (the client's X-Request-ID when
// valid), echoed in the X-Request-ID response header and in error bodies.
func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !validRequestID(id) {
			id = idPrefix + "-" + strconv.FormatUint(idCounter.Add(1), 10)
		}
		h := w.Header()
		h.Set("X-Request-ID", id)
		h.Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxRequestID, &reqState{id: id})))
	})
}

// statusWriter records the status and size of a response. Unwrap lets
// http.ResponseController reach the connection (deadlines, Flush).
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

// WriteHeader records the status and sends it.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records the size of the body written.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush sends buffered data to the client.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap returns the underlying ResponseWriter.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wroteHeader reports whether the response has started.
func (w *statusWriter) wroteHeader() bool { return w.status != 0 }

// observe writes the access log line and the request metrics: request
// id, method, route pattern, status, bytes and duration — never bodies —
// and the slow-query log line (slowlog.go).
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		qi := queryInfoOf(r.Context())
		s.metrics.inFlight.Add(1)
		defer func() {
			s.metrics.inFlight.Add(-1)
			d := time.Since(start)
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			route := routeOf(r)
			s.metrics.observe(route, r.Method, status, d)
			s.slowQuery(r, route, status, d, qi)
			if s.accessLog {
				s.logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
					slog.String("request_id", requestID(r.Context())),
					slog.String("method", r.Method),
					slog.String("route", route),
					slog.String("path", truncate(r.URL.EscapedPath(), 256)),
					slog.Int("status", status),
					slog.Int64("bytes", sw.bytes),
					slog.Float64("duration_ms", float64(d.Microseconds())/1000),
					slog.String("remote", r.RemoteAddr),
				)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// routeOf returns the matched route pattern ("/api/{col}/{id}"), or
// "unmatched" for 404s and 405s.
func routeOf(r *http.Request) string {
	if rctx := chi.RouteContext(r.Context()); rctx != nil {
		if p := rctx.RoutePattern(); p != "" && p != "/*" {
			return p
		}
	}
	return "unmatched"
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// recoverer turns a panic into a JSON 500 (no stack trace in the
// response; the stack goes to the log). http.ErrAbortHandler is passed on:
// it is how a streaming handler aborts a response already under way.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if rec == http.ErrAbortHandler {
				panic(rec)
			}
			s.logger.LogAttrs(r.Context(), slog.LevelError, "panic",
				slog.String("request_id", requestID(r.Context())),
				slog.String("panic", fmt.Sprint(rec)),
				slog.String("stack", string(debug.Stack())))
			if sw, ok := w.(*statusWriter); ok && sw.wroteHeader() {
				panic(http.ErrAbortHandler) // too late for a status: cut the response
			}
			s.writeError(w, r, reqErr(codeInternal, "internal server error"))
		}()
		next.ServeHTTP(w, r)
	})
}

// throttle admits at most Config.MaxConcurrent requests at once; the
// excess is answered 503 with Retry-After at once, never queued.
func (s *Server) throttle(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case s.tokens <- struct{}{}:
		default:
			s.metrics.rejectedBusy.Add(1)
			s.writeError(w, r, reqErr(codeOverloaded,
				fmt.Sprintf("too many concurrent requests (limit %d); retry shortly", s.cfg.MaxConcurrent)))
			return
		}
		defer func() { <-s.tokens }()
		if s.testHook != nil {
			s.testHook(r)
		}
		next.ServeHTTP(w, r)
	})
}

// timeout gives the request a deadline of Config.RequestTimeout. Handlers
// that loop (queries) stop at it; a handler that returns the context's
// error is answered 504.
func (s *Server) timeout(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
