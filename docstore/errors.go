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
	Code Code   // machine code, e.g. CodeNotFound
	Msg  string // human message
	// Index is the position of the offending document in a batch, or the
	// 1-based line of a restore stream; -1 when not applicable.
	Index int
	Err   error
}

// Error returns the message.
func (e *Error) Error() string {
	if e.Msg == "" {
		return "docstore: " + string(e.Code)
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

// Code is an Error's machine code: the "code" of the server's JSON error
// body, which httpd maps to an HTTP status. Parse errors carry the
// jsondoc package's codes (too_deep, invalid_utf8, …) as a Code.
type Code string

// The codes docstore reports.
const (
	CodeBadRequest           Code = "bad_request"             // a malformed query, update, option or document
	CodeDistinctTooLarge     Code = "distinct_too_large"      // a distinct result beyond Options.MaxDistinctBytes
	CodeDocumentTooLarge     Code = "document_too_large"      // a document beyond Options.MaxDocumentBytes
	CodeDuplicateID          Code = "duplicate_id"            // two documents of one batch with the same _id
	CodeDuplicateKey         Code = "duplicate_key"           // an insert-only write met an existing _id (a key repeated in a JSON object has the same code, with the parse error as the cause)
	CodeExists               Code = "exists"                  // a create-only write found the document, or an index of that name exists
	CodeHistoryLost          Code = "history_lost"            // changes after the requested seq were trimmed by the feed's retention
	CodeIDMismatch           Code = "id_mismatch"             // a body's _id differs from the one in the path
	CodeInvalidCursor        Code = "invalid_cursor"          // a cursor that is malformed, tampered with, from another query or no longer valid
	CodeInvalidID            Code = "invalid_id"              // an _id that is not a non-empty string within the limit
	CodeInvalidJSON          Code = "invalid_json"            // a body that is not JSON
	CodeInvalidName          Code = "invalid_name"            // a collection or index name that is not ^[A-Za-z0-9_-]{1,64}$
	CodeInvalidPatch         Code = "invalid_patch"           // a merge patch with $ fields
	CodeInvalidQuery         Code = "invalid_query"           // a filter, sort or projection that cannot be parsed
	CodeInvalidUpdate        Code = "invalid_update"          // an update that cannot be parsed or applied
	CodeNotFound             Code = "not_found"               // no document with that _id, or no such collection or index
	CodePreconditionFailed   Code = "precondition_failed"     // the document's revision is not the one If-Match requires
	CodeSortTooLarge         Code = "sort_too_large"          // an unindexed sort that needs more memory than its share
	CodeTooManyDocuments     Code = "too_many_documents"      // a batch beyond the batch limit
	CodeUniqueViolation      Code = "unique_violation"        // a write that would give a unique index two documents with the same key
	CodeDocumentMustBeObject Code = "document_must_be_object" // a dump or import line that is not a JSON object
)

func errf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...), Index: -1}
}

// Sentinels for errors.Is.
var (
	// ErrNotFound: no document with that _id, or no such collection/index.
	ErrNotFound = &Error{Code: CodeNotFound}
	// ErrExists: a create-only insert found a document with that _id.
	ErrExists = &Error{Code: CodeExists}
	// ErrPrecondition: the document's revision is not the one required.
	ErrPrecondition = &Error{Code: CodePreconditionFailed}
	// ErrInvalidName: a collection or index name is not ^[A-Za-z0-9_-]{1,64}$.
	ErrInvalidName = &Error{Code: CodeInvalidName}
	// ErrUniqueViolation: a write would give a unique index two documents
	// with the same key.
	ErrUniqueViolation = &Error{Code: CodeUniqueViolation}
	// ErrBadRequest: a malformed query, update, option or document.
	ErrBadRequest = &Error{Code: CodeBadRequest}
	// ErrCursor: a cursor token that is malformed or no longer valid.
	ErrCursor = &Error{Code: CodeInvalidCursor}
)

// IsClientError reports whether err describes a bad request rather than a
// failure of the database.
func IsClientError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}
