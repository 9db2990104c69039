package agg

import "fmt"

// The codes of Error.
const (
	CodeInvalidPipeline   = "invalid_pipeline"   // a pipeline that cannot be parsed
	CodeInvalidExpression = "invalid_expression" // an expression that failed on a document
	CodeTooLarge          = "too_large"          // a blocking stage over its memory with spilling off
)

// Error is a pipeline error: a code and a message naming the stage (by
// index and name) and the operator at fault.
type Error struct {
	Code string
	Msg  string
}

// Error returns the message, which names the stage or operator.
func (e *Error) Error() string { return e.Msg }

func perr(at, format string, args ...any) *Error {
	return &Error{Code: CodeInvalidPipeline, Msg: at + ": " + fmt.Sprintf(format, args...)}
}

func eerr(format string, args ...any) *Error {
	return &Error{Code: CodeInvalidExpression, Msg: fmt.Sprintf(format, args...)}
}

// inStage prefixes an expression error with where it happened.
func inStage(err error, at string) error {
	if e, ok := err.(*Error); ok && e.Code == CodeInvalidExpression {
		return &Error{Code: e.Code, Msg: at + ": " + e.Msg}
	}
	return err
}
