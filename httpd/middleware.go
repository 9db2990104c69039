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
	"sync"
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

// reqState is what the middleware and the handlers of one request share:
// the request id, the caller (authenticate), the response's status and
// size (observe), what the request's query did (for the slow-query log,
// slowlog.go) and the request's deadline (timeout). It is itself the
// request's context, one node over the context net/http and the router
// gave it, so that the hot path allocates one object where a context per
// middleware would cost several.
//
// The deadline is set in place by the timeout middleware, before the
// handler runs, and costs no timer until something asks for Done (the
// handlers and docstore poll Err, which compares the clock): a route
// exempt from the request timeout simply does not use that middleware.
type reqState struct {
	context.Context // the request's context before withRequestID

	id    string
	query queryInfo
	sw    statusWriter
	body  bufferedBody // the body admitBody read
	// who is the caller, when authenticate set it (else ctxPrincipal,
	// a value in the context, is looked up)
	principal    principal
	hasPrincipal bool
	// The value slices of the headers whose values are per request, so
	// that setting them allocates no []string.
	idHdr, etagHdr, locHdr [1]string

	mu       sync.Mutex // protects the fields below
	deadline time.Time  // zero: none of its own
	done     chan struct{}
	err      error       // why done closed
	stop     func() bool // stops the timer behind done
	stopPar  func() bool // stops the watch on the parent's Done
}

// stateOf returns the request's state, or nil outside withRequestID.
func stateOf(ctx context.Context) *reqState {
	st, _ := ctx.Value(ctxRequestID).(*reqState)
	return st
}

// Value returns the state itself for ctxRequestID.
func (st *reqState) Value(key any) any {
	if key == ctxRequestID {
		return st
	}
	return st.Context.Value(key)
}

// Deadline returns the request's deadline, or its parent's if earlier.
func (st *reqState) Deadline() (time.Time, bool) {
	st.mu.Lock()
	d := st.deadline
	st.mu.Unlock()
	pd, ok := st.Context.Deadline()
	if d.IsZero() || ok && pd.Before(d) {
		return pd, ok
	}
	return d, true
}

// Done returns the parent's channel while the request has no deadline of
// its own; once it has one, a channel closed at the deadline or when the
// parent is done (the timer starts at the first call). The timeout
// middleware sets the deadline before the handler runs: whatever asked
// for Done before it keeps the parent's channel, which ignores the
// deadline, as a context made before the deadline was would.
func (st *reqState) Done() <-chan struct{} {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.deadline.IsZero() {
		return st.Context.Done()
	}
	if st.done == nil {
		st.done = make(chan struct{})
		st.stop = time.AfterFunc(time.Until(st.deadline), st.expire).Stop
		st.stopPar = context.AfterFunc(st.Context, st.expire)
	}
	return st.done
}

// expire closes done, with the parent's error or DeadlineExceeded.
func (st *reqState) expire() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.err != nil {
		return
	}
	st.err = st.Context.Err()
	if st.err == nil {
		st.err = context.DeadlineExceeded
	}
	close(st.done)
}

// Err returns the parent's error, or DeadlineExceeded once the deadline
// passed; once Done was asked for, the error done closed with.
func (st *reqState) Err() error {
	st.mu.Lock()
	if st.done != nil {
		err := st.err
		st.mu.Unlock()
		return err
	}
	d := st.deadline
	st.mu.Unlock()
	if err := st.Context.Err(); err != nil {
		return err
	}
	if !d.IsZero() && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// setDeadline gives the request its deadline.
func (st *reqState) setDeadline(d time.Time) {
	st.mu.Lock()
	st.deadline = d
	st.mu.Unlock()
}

// release ends the deadline when the handler returned: it stops the
// timer behind Done if one was started, and otherwise drops the deadline
// (nothing asked for its Done, so nothing can tell).
func (st *reqState) release() {
	st.mu.Lock()
	stop, stopPar := st.stop, st.stopPar
	if st.done == nil {
		st.deadline = time.Time{}
	}
	st.mu.Unlock()
	if stop != nil {
		stop()
		stopPar()
	}
}

// requestID returns the request's id, or "".
func requestID(ctx context.Context) string {
	if st := stateOf(ctx); st != nil {
		return st.id
	}
	return ""
}

// The canonical names of the headers the middleware sets or reads,
// written as net/http canonicalises them (so that no canonical copy is
// made per request), and the values that are the same for every
// response. The value slices are shared: they are only ever replaced in
// a header map, never written into.
const (
	hdrRequestID   = "X-Request-Id"
	hdrContentType = "Content-Type"
	hdrETag        = "Etag"
	hdrLocation    = "Location"
)

// setHeader sets a per-request header value of r's response in one of
// the slices its state holds (slot), or as Header.Set does outside
// withRequestID. key is canonical.
func setHeader(w http.ResponseWriter, key, value string, slot *[1]string) {
	if slot == nil {
		w.Header().Set(key, value)
		return
	}
	slot[0] = value
	w.Header()[key] = slot[:]
}

var (
	valNosniff = []string{"nosniff"}
	valJSON    = []string{"application/json"}
)

var (
	idPrefix = func() string {
		var b [4]byte
		_, _ = rand.Read(b[:])
		return hex.EncodeToString(b[:]) + "-"
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
		var id string
		if v := r.Header[hdrRequestID]; len(v) > 0 && validRequestID(v[0]) {
			id = v[0]
		} else {
			var b [40]byte
			id = string(strconv.AppendUint(append(b[:0], idPrefix...), idCounter.Add(1), 10))
		}
		st := &reqState{Context: r.Context(), id: id}
		st.idHdr[0] = id
		h := w.Header()
		h[hdrRequestID] = st.idHdr[:]
		h["X-Content-Type-Options"] = valNosniff
		next.ServeHTTP(w, r.WithContext(st))
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
		st := stateOf(r.Context())
		if st == nil { // not under withRequestID
			st = &reqState{Context: r.Context()}
		}
		st.sw = statusWriter{ResponseWriter: w}
		s.metrics.inFlight.Add(1)
		defer s.observed(r, st, start)
		next.ServeHTTP(&st.sw, r)
	})
}

// observed records a request observe saw end (a deferred call, so that
// a request a panic cut short is recorded too).
func (s *Server) observed(r *http.Request, st *reqState, start time.Time) {
	s.metrics.inFlight.Add(-1)
	d := time.Since(start)
	status := st.sw.status
	if status == 0 {
		status = http.StatusOK
	}
	route := routeOf(r)
	s.metrics.observe(route, r.Method, status, d)
	s.slowQuery(r, route, status, d, &st.query)
	switch {
	case s.alog != nil && s.alog.handler != nil:
		// Buffered (accesslog.go).
		s.alog.log(r.Context(), &accessRecord{id: st.id, method: r.Method, route: route,
			path: truncate(r.URL.EscapedPath(), 256), status: status, bytes: st.sw.bytes,
			durationMS: float64(d.Microseconds()) / 1000, remote: r.RemoteAddr})
	case s.access != nil:
		s.access.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("request_id", st.id),
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.String("path", truncate(r.URL.EscapedPath(), 256)),
			slog.Int("status", status),
			slog.Int64("bytes", st.sw.bytes),
			slog.Float64("duration_ms", float64(d.Microseconds())/1000),
			slog.String("remote", r.RemoteAddr),
		)
	}
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
// error is answered 504. The deadline is the request state's (reqState):
// no context, timer or closure per request. A route that must outlive
// the timeout (a stream) does not use this middleware.
func (s *Server) timeout(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateOf(r.Context())
		if st == nil || r.Context().Done() != st.Context.Done() {
			// Not under withRequestID, or under a context that would
			// not see the state's deadline (one with a Done of its
			// own): a context of its own.
			ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		st.setDeadline(time.Now().Add(s.cfg.RequestTimeout))
		defer st.release()
		next.ServeHTTP(w, r)
	})
}
