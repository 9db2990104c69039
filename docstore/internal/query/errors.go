package query

import "fmt"

// QueryError reports an invalid filter, update, projection or sort. Path
// says where, starting with the part of the request ("filter.price.$gt",
// "update.$inc.count", "projection.a", "sort"), and Msg what is wrong.
type QueryError struct {
	Path string
	Msg  string
}

// Error implements error, e.g. "filter.price.$in: $in needs an array, got number".
func (e *QueryError) Error() string { return e.Path + ": " + e.Msg }

func qerr(path, format string, args ...any) *QueryError {
	return &QueryError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// join appends a key to an error path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// maxNesting bounds how deeply filters nest ($and in $or in $elemMatch…),
// so that evaluation depth is bounded whatever the input.
const maxNesting = 64
