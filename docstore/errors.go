package docstore

import (
	"errors"
	"fmt"
)

// Error is every error the docstore reports about a request: a machine
// code (the server's JSON "code"), a message naming what was wrong and
// where, and the cause. Sentinels such as ErrNotFound match any Error with
// the same code under errors.Is.
type Error struct {
	Code string // machine code, e.g. "not_found", "duplicate_key"
	Msg  string // human message
	// Index is the position of the offending document in a batch, or the
	// 1-based line of a restore stream; -1 when not applicable.
	Index int
	Err   error
}

// Error returns the message.
func (e *Error) Error() string {
	if e.Msg == "" {
		return "docstore: " + e.Code
	}
	return "docstore: " + e.Msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches sentinels (an Error with only a Code) by code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Msg == "" && t.Code == e.Code
}

func errf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...), Index: -1}
}

// Sentinels for errors.Is.
var (
	// ErrNotFound: no document with that _id, or no such collection/index.
	ErrNotFound = &Error{Code: "not_found"}
	// ErrExists: a create-only insert found a document with that _id.
	ErrExists = &Error{Code: "exists"}
	// ErrPrecondition: the document's revision is not the one required.
	ErrPrecondition = &Error{Code: "precondition_failed"}
	// ErrInvalidName: a collection or index name is not ^[A-Za-z0-9_-]{1,64}$.
	ErrInvalidName = &Error{Code: "invalid_name"}
	// ErrUniqueViolation: a write would give a unique index two documents
	// with the same key.
	ErrUniqueViolation = &Error{Code: "unique_violation"}
	// ErrBadRequest: a malformed query, update, option or document.
	ErrBadRequest = &Error{Code: "bad_request"}
	// ErrCursor: a cursor token that is malformed or no longer valid.
	ErrCursor = &Error{Code: "invalid_cursor"}
)

// IsClientError reports whether err describes a bad request rather than a
// failure of the database.
func IsClientError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}
