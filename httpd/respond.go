package httpd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

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
	codeNoSpace          = "insufficient_storage"
	codeClientClosed     = "client_closed_request"
	// codeDegraded: a write refused because a damaged table blocks the
	// compaction it waits for (storage.ErrDegraded); 503, no Retry-After.
	codeDegraded = "degraded"
	// codeDataCorruption: the request reached damaged stored data
	// (storage.ErrCorruption); 500.
	codeDataCorruption = "data_corruption"
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
		case codeForbidden, codeCrossOrigin, codeBadHost:
			return http.StatusForbidden, re.code
		case codeRateLimited:
			return http.StatusTooManyRequests, re.code
		case codeOverloaded, codeUnavailable, codeTooManyFeeds:
			return http.StatusServiceUnavailable, re.code
		case codeTimeout:
			return http.StatusGatewayTimeout, re.code
		case codeClientTooSlow:
			return http.StatusRequestTimeout, re.code
		case "precondition_failed":
			return http.StatusPreconditionFailed, re.code
		case codeInternal:
			return http.StatusInternalServerError, re.code
		}
		return http.StatusBadRequest, re.code
	case errors.As(err, &mb):
		return http.StatusRequestEntityTooLarge, codeBodyTooLarge
	// A context that ended stopped the work (docstore returns its error
	// wrapped): before the codes, which may wrap it too.
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, codeTimeout
	case errors.Is(err, context.Canceled) && r != nil && r.Context().Err() != nil:
		// The client disconnected; the work was abandoned, not failed.
		return statusClientClosed, codeClientClosed
	// The engine's own failures come before docstore's codes: a docstore
	// error that wraps one (a restore line whose batch the engine could
	// not write) is the server's fault, not the request's.
	case noSpace(err):
		return http.StatusInsufficientStorage, codeNoSpace
	case errors.Is(err, storage.ErrDegraded):
		return http.StatusServiceUnavailable, codeDegraded
	case errors.Is(err, storage.ErrBusy):
		return http.StatusServiceUnavailable, codeBusy
	case errors.Is(err, storage.ErrReadOnly), errors.Is(err, storage.ErrClosed):
		return http.StatusServiceUnavailable, codeUnavailable
	case errors.Is(err, storage.ErrCorruption):
		return http.StatusInternalServerError, codeDataCorruption
	case engineFault(err):
		return http.StatusInternalServerError, codeInternal
	case errors.As(err, &de):
		code := string(de.Code)
		switch {
		case de.Code == docstore.CodeExists && r != nil && r.Header.Get("If-None-Match") != "":
			// A create-only write (If-None-Match: *) is a failed
			// precondition; creating an index that exists is a conflict.
			return http.StatusPreconditionFailed, code
		case de.Code == docstore.CodeDuplicateKey && de.Err != nil:
			// The JSON parser's code for a key repeated in an object is
			// the request's syntax; an insert-only write that met an
			// existing _id (no cause) is a conflict.
			return http.StatusBadRequest, code
		}
		if status, ok := docstoreStatus[de.Code]; ok {
			return status, code
		}
		return http.StatusBadRequest, code
	}
	return http.StatusInternalServerError, codeInternal
}

// docstoreStatus is the HTTP status of each docstore code that is not a
// plain 400 (statusOf adds the two that depend on the request).
var docstoreStatus = map[docstore.Code]int{
	docstore.CodeNotFound:           http.StatusNotFound,
	docstore.CodePreconditionFailed: http.StatusPreconditionFailed,
	docstore.CodeExists:             http.StatusConflict,
	docstore.CodeUniqueViolation:    http.StatusConflict,
	docstore.CodeDuplicateKey:       http.StatusConflict,
	docstore.CodeDocumentTooLarge:   http.StatusRequestEntityTooLarge,
	docstore.CodeTooManyDocuments:   http.StatusRequestEntityTooLarge,
	docstore.CodeHistoryLost:        http.StatusGone,
	docstore.CodeNoLeader:           http.StatusServiceUnavailable,
}

// noSpace reports whether err comes from a full disk (or an exhausted
// quota).
func noSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// engineFault reports whether err is a filesystem error or damaged data:
// never the request's fault, and its text names server files.
func engineFault(err error) bool {
	var (
		pe *fs.PathError
		le *os.LinkError
		se *os.SyscallError
	)
	return errors.As(err, &pe) || errors.As(err, &le) || errors.As(err, &se) || errors.Is(err, storage.ErrCorruption)
}

// readOnlyReason says, without server paths, why the engine refuses
// writes (err wraps storage.ErrReadOnly) and what brings it back.
func readOnlyReason(err error) string {
	switch {
	case errors.Is(err, storage.ErrDataDirLost):
		return "its data directory was removed or replaced under the running server; restore the directory and restart the server"
	case noSpace(err):
		return "the disk is full; free space and restart the server"
	}
	return "read-only after an I/O error; restart the server"
}

// writeError answers a request with the JSON error body for err. Server
// errors are logged (with the request id) and answered with a generic
// message, so that internals do not leak.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	body, logMsg := answer(r, err)
	body.RequestID = requestID(r.Context())
	if logMsg != "" {
		s.logger.LogAttrs(r.Context(), slog.LevelError, logMsg,
			slog.String("request_id", body.RequestID), slog.String("error", err.Error()))
	}
	switch body.Code {
	case codeOverloaded, codeBusy, codeRateLimited, codeTooManyFeeds, string(docstore.CodeNoLeader):
		// Transient: a retry after a pause should succeed. (A read-only
		// engine needs a restart, so "unavailable" has no Retry-After.)
		if w.Header().Get("Retry-After") == "" { // a limiter may know better
			w.Header().Set("Retry-After", retryAfterSeconds)
		}
	}
	if body.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="minidbgo"`)
	}
	writeJSON(w, body.Status, body)
}

// ErrorAnswer is the error body the server answers for err (without a
// request id): its status, code, message and, for a request's fault, the
// index of the element at fault. The shell's embedded mode prints it, so
// that a failure reads the same there as through --url.
func ErrorAnswer(err error) api.Error {
	body, _ := answer(nil, err)
	return body
}

// answer is the error body for err, and the line to log when the error is
// the server's (whose details the client does not see); r may be nil.
func answer(r *http.Request, err error) (body api.Error, logMsg string) {
	status, code := statusOf(r, err)
	msg := err.Error()
	body = api.Error{Status: status, Code: code}
	var de *docstore.Error
	if errors.As(err, &de) {
		msg = de.Msg
		if msg == "" {
			msg = string(de.Code)
		}
		if de.Index >= 0 && status < 500 {
			// The index names the element at fault; a server error is not
			// the request's.
			i := de.Index
			body.Index = &i
		}
	}
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &mb):
		msg = "request body is larger than the " + strconv.FormatInt(mb.Limit, 10) + "-byte limit"
	case code == codeNoSpace:
		logMsg = "disk full"
		msg = "the server's disk is full: the write was not stored"
		if errors.Is(err, storage.ErrReadOnly) {
			msg += "; the database is read-only until the server is restarted with free space"
		}
	case status == http.StatusServiceUnavailable && code == codeUnavailable:
		logMsg = "database unavailable"
		msg = "the database is not accepting requests (read-only after an I/O error, or shutting down)"
		if errors.Is(err, storage.ErrReadOnly) {
			msg = "the database is not accepting writes: " + readOnlyReason(err)
		}
	case status == http.StatusServiceUnavailable && code == codeBusy:
		msg = "the database is busy flushing; retry shortly"
	case code == codeDegraded || code == codeDataCorruption:
		logMsg = "damaged data"
		msg = corruptionMessage(code, err)
	case status >= 500 && code == codeInternal:
		logMsg = "internal error"
		msg = "internal server error"
	}
	body.Error = msg
	return body, logMsg
}

// corruptionMessage tells a client which stored file is damaged, by its
// name inside the data directory (never a server path).
func corruptionMessage(code string, err error) string {
	where := "a stored file"
	var ce *storage.CorruptionError
	if errors.As(err, &ce) {
		where = dataFileName(ce.File)
		if ce.Offset >= 0 {
			where += " at offset " + strconv.FormatInt(ce.Offset, 10)
		}
	}
	if code == codeDegraded {
		return "writes are stopped: damage in " + where +
			" blocks compaction; undamaged documents stay readable; see /api/ready and the operations guide (Damaged data)"
	}
	return "the stored data this request needs is damaged (" + where +
		"); undamaged documents stay readable; see /api/ready and the operations guide (Damaged data)"
}

// dataFileName keeps the last two elements of a file name ("sst/000012.sst"):
// the engine names files relative to its data directory, and a client
// must never see more of a server path than that.
func dataFileName(file string) string {
	parts := strings.FieldsFunc(file, func(r rune) bool { return r == '/' || r == '\\' })
	if len(parts) > 2 {
		parts = parts[len(parts)-2:]
	}
	return strings.Join(parts, "/")
}

// jsonBuf is a pooled response body buffer with its encoder.
type jsonBuf struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// maxPooledBody is the largest buffer put back in the pool: a large
// answer's buffer is left to the collector rather than held.
const maxPooledBody = 64 << 10

var jsonBufs = sync.Pool{New: func() any {
	jb := new(jsonBuf)
	jb.enc = json.NewEncoder(&jb.buf)
	return jb
}}

// writeJSON answers with v as JSON (and a newline), encoded in a pooled
// buffer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	jb := jsonBufs.Get().(*jsonBuf)
	jb.buf.Reset()
	if err := jb.enc.Encode(v); err != nil {
		jb.buf.Reset()
		jb.buf.WriteString(`{"error":"internal server error","status":500,"code":"internal"}` + "\n")
		status = http.StatusInternalServerError
	}
	writeRaw(w, status, jb.buf.Bytes())
	if jb.buf.Cap() <= maxPooledBody {
		jsonBufs.Put(jb)
	}
}

// newline ends every JSON answer.
var newline = []byte{'\n'}

// implicitLengthBytes is the largest body net/http gives a
// Content-Length itself (its buffer before chunking is 2 KiB) when the
// handler sets none and returns: up to it, writeRaw leaves the header to
// net/http, which writes it without allocating.
const implicitLengthBytes = 2048

// writeRaw answers with JSON bytes already encoded.
func writeRaw(w http.ResponseWriter, status int, b []byte) {
	writeRaw2(w, status, b, nil)
}

// writeRaw2 answers with the JSON bytes of b followed by those of tail,
// so that a caller need not copy them into one buffer.
func writeRaw2(w http.ResponseWriter, status int, b, tail []byte) {
	h := w.Header()
	h[hdrContentType] = valJSON
	if n := len(b) + len(tail); n > implicitLengthBytes {
		h.Set("Content-Length", strconv.Itoa(n))
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
	if len(tail) > 0 {
		_, _ = w.Write(tail)
	}
}
