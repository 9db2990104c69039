package httpd

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd/client/api"
	"github.com/minidbgo/minidbgo/storage"
)

// requestError is an error the server itself finds in a request (as
// opposed to one docstore reports): a machine code and a message. Its
// HTTP status is decided by statusOf, like every other error's.
type requestError struct {
	code string
	msg  string
}

// Error returns the message.
func (e *requestError) Error() string { return e.msg }

func reqErr(code, msg string) error { return &requestError{code: code, msg: msg} }

// The server's own error codes.
const (
	codeNotFoundRoute    = "route_not_found"
	codeMethodNotAllowed = "method_not_allowed"
	codeUnsupportedType  = "unsupported_media_type"
	codeBodyTooLarge     = "body_too_large"
	codeBadParameter     = "invalid_parameter"
	codeBadBody          = "invalid_body"
	codeUnauthorized     = "unauthorized"
	codeForbidden        = "forbidden"
	codeRateLimited      = "rate_limited"
	codeOverloaded       = "overloaded"
	codeTimeout          = "timeout"
	codeInternal         = "internal"
	codeBusy             = "busy"
	codeUnavailable      = "unavailable"
	codeClientClosed     = "client_closed_request"
)

// statusClientClosed is the status logged for a request whose client went
// away before the answer (nginx's 499); the client never sees it.
const statusClientClosed = 499

// retryAfterSeconds is the Retry-After sent with 429 and busy 503s.
const retryAfterSeconds = "1"

// statusOf is the one place where errors become HTTP statuses.
func statusOf(r *http.Request, err error) (status int, code string) {
	var (
		de *docstore.Error
		re *requestError
		mb *http.MaxBytesError
	)
	switch {
	case errors.As(err, &re):
		switch re.code {
		case codeNotFoundRoute:
			return http.StatusNotFound, re.code
		case codeMethodNotAllowed:
			return http.StatusMethodNotAllowed, re.code
		case codeUnsupportedType:
			return http.StatusUnsupportedMediaType, re.code
		case codeBodyTooLarge:
			return http.StatusRequestEntityTooLarge, re.code
		case codeUnauthorized:
			return http.StatusUnauthorized, re.code
		case codeForbidden:
			return http.StatusForbidden, re.code
		case codeRateLimited:
			return http.StatusTooManyRequests, re.code
		case codeOverloaded, codeUnavailable:
			return http.StatusServiceUnavailable, re.code
		case codeTimeout:
			return http.StatusGatewayTimeout, re.code
		case "precondition_failed":
			return http.StatusPreconditionFailed, re.code
		case codeInternal:
			return http.StatusInternalServerError, re.code
		}
		return http.StatusBadRequest, re.code
	case errors.As(err, &mb):
		return http.StatusRequestEntityTooLarge, codeBodyTooLarge
	case errors.As(err, &de):
		switch de.Code {
		case "not_found":
			return http.StatusNotFound, de.Code
		case "precondition_failed":
			return http.StatusPreconditionFailed, de.Code
		case "exists":
			// A create-only write (If-None-Match: *) is a failed
			// precondition; creating an index that exists is a conflict.
			if r != nil && r.Header.Get("If-None-Match") != "" {
				return http.StatusPreconditionFailed, de.Code
			}
			return http.StatusConflict, de.Code
		case "unique_violation":
			return http.StatusConflict, de.Code
		case "duplicate_key":
			// An insert-only write met an existing _id; the same code
			// from the JSON parser (a key repeated in an object) is 400.
			if de.Err == nil {
				return http.StatusConflict, de.Code
			}
		case "document_too_large", "too_many_documents":
			return http.StatusRequestEntityTooLarge, de.Code
		}
		return http.StatusBadRequest, de.Code
	case errors.Is(err, storage.ErrBusy):
		return http.StatusServiceUnavailable, codeBusy
	case errors.Is(err, storage.ErrReadOnly), errors.Is(err, storage.ErrClosed):
		return http.StatusServiceUnavailable, codeUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, codeTimeout
	case errors.Is(err, context.Canceled) && r != nil && r.Context().Err() != nil:
		// The client disconnected; the work was abandoned, not failed.
		return statusClientClosed, codeClientClosed
	}
	return http.StatusInternalServerError, codeInternal
}

// writeError answers a request with the JSON error body for err. Server
// errors are logged (with the request id) and answered with a generic
// message, so that internals do not leak.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code := statusOf(r, err)
	msg := err.Error()
	body := api.Error{Status: status, Code: code, RequestID: requestID(r.Context())}
	var de *docstore.Error
	if errors.As(err, &de) {
		msg = de.Msg
		if msg == "" {
			msg = de.Code
		}
		if de.Index >= 0 {
			i := de.Index
			body.Index = &i
		}
	}
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &mb):
		msg = "request body is larger than the " + strconv.FormatInt(mb.Limit, 10) + "-byte limit"
	case status == http.StatusServiceUnavailable && code == codeUnavailable:
		s.logger.LogAttrs(r.Context(), slog.LevelError, "database unavailable",
			slog.String("request_id", body.RequestID), slog.String("error", err.Error()))
		msg = "the database is not accepting requests (read-only after an I/O error, or shutting down)"
	case status == http.StatusServiceUnavailable && code == codeBusy:
		msg = "the database is busy flushing; retry shortly"
	case status >= 500 && code == codeInternal:
		s.logger.LogAttrs(r.Context(), slog.LevelError, "internal error",
			slog.String("request_id", body.RequestID), slog.String("error", err.Error()))
		msg = "internal server error"
	}
	switch code {
	case codeOverloaded, codeBusy, codeRateLimited:
		// Transient: a retry after a pause should succeed. (A read-only
		// engine needs a restart, so "unavailable" has no Retry-After.)
		if w.Header().Get("Retry-After") == "" { // a limiter may know better
			w.Header().Set("Retry-After", retryAfterSeconds)
		}
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="minidbgo"`)
	}
	body.Error = msg
	writeJSON(w, status, body)
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"error":"internal server error","status":500,"code":"internal"}`)
		status = http.StatusInternalServerError
	}
	writeRaw(w, status, append(b, '\n'))
}

// writeRaw answers with JSON bytes already encoded.
func writeRaw(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
