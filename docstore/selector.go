package docstore

import (
	"bytes"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
	"github.com/minidbgo/minidbgo/docstore/internal/query"
)

// Selector is a filter in the query language compiled once and matched
// against documents one at a time (the change feed's selector, applied to
// each change's current document). It is immutable and safe for
// concurrent use.
type Selector struct {
	f    *query.Filter
	keep func(string) bool
}

// CompileSelector parses filter, a JSON object in the filter language of
// Find ({"status":"open","n":{"$gt":3}}). An empty or absent filter
// matches every document. A malformed filter is an *Error with code
// invalid_query (or the JSON parser's code).
func (db *DB) CompileSelector(filter []byte) (*Selector, error) {
	fv := jsondoc.Object(nil)
	if len(bytes.TrimSpace(filter)) > 0 {
		v, err := jsondoc.Parse(filter, db.limits)
		if err != nil {
			return nil, jsonError(err, -1)
		}
		if v.Kind() != jsondoc.KindObject {
			return nil, errf(CodeInvalidQuery, "selector must be a JSON object, got %s", jsondoc.TypeName(v))
		}
		fv = v
	}
	f, err := query.ParseFilter(fv)
	if err != nil {
		return nil, queryError(CodeInvalidQuery, err)
	}
	return &Selector{f: f, keep: filterOnly(f)}, nil
}

// Match reports whether doc, a stored document's JSON (Document.JSON),
// satisfies the selector. Only the fields the selector reads are parsed.
func (s *Selector) Match(doc []byte) (bool, error) {
	var (
		v   jsondoc.Value
		err error
	)
	if s.keep != nil {
		v, err = jsondoc.ParseFields(doc, s.keep)
	} else {
		v, err = jsondoc.Parse(doc, storedLimits)
	}
	if err != nil {
		return false, err
	}
	return s.f.Match(v), nil
}
