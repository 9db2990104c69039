package docstore

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSelector: a compiled selector matches stored documents as Find's
// filter does; a malformed one is an *Error naming what is wrong.
func TestSelector(t *testing.T) {
	db := openMem(t, nil)
	for _, c := range []struct {
		sel, doc string
		want     bool
	}{
		{``, `{"_id":"a"}`, true},
		{`{}`, `{"_id":"a"}`, true},
		{`{"status":"open"}`, `{"_id":"a","status":"open"}`, true},
		{`{"status":"open"}`, `{"_id":"a","status":"closed"}`, false},
		{`{"n":{"$gt":3}}`, `{"_id":"a","n":4}`, true},
		{`{"n":{"$gt":3}}`, `{"_id":"a","n":3}`, false},
		{`{"a.b":{"$in":[1,2]}}`, `{"_id":"a","a":{"b":2}}`, true},
		{`{"$or":[{"x":1},{"y":{"$exists":true}}]}`, `{"_id":"a","y":null}`, true},
		{`{"tags":"go"}`, `{"_id":"a","tags":["db","go"]}`, true},
	} {
		s, err := db.CompileSelector([]byte(c.sel))
		require.NoError(t, err, c.sel)
		got, err := s.Match([]byte(c.doc))
		require.NoError(t, err)
		require.Equal(t, c.want, got, "%s on %s", c.sel, c.doc)
	}
	for sel, code := range map[string]Code{
		`{"n":{"$bogus":1}}`: CodeInvalidQuery,
		`[1]`:                CodeInvalidQuery,
		`{"n":`:              "invalid_json",
	} {
		_, err := db.CompileSelector([]byte(sel))
		var e *Error
		require.True(t, errors.As(err, &e), "%s: %v", sel, err)
		require.Equal(t, code, e.Code, sel)
	}
}
