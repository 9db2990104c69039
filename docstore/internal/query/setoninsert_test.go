package query

import (
	"testing"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
	"github.com/stretchr/testify/require"
)

// TestSetOnInsert: $setOnInsert sets its fields only when an upsert
// creates the document (ApplyInsert); on an existing document (Apply) it
// changes nothing, and it conflicts with other operators on its paths.
func TestSetOnInsert(t *testing.T) {
	u, err := ParseUpdate(mustParse(t, `{"$set":{"a":1},"$setOnInsert":{"created":"now","o.x":2}}`))
	require.NoError(t, err)

	doc := mustParse(t, `{"_id":"d","created":"then"}`)
	got, err := u.Apply(doc)
	require.NoError(t, err)
	require.Equal(t, `{"_id":"d","created":"then","a":1}`, string(jsondoc.AppendJSON(nil, got)))

	got, err = u.ApplyInsert(mustParse(t, `{"_id":"d"}`))
	require.NoError(t, err)
	require.Equal(t, `{"_id":"d","a":1,"created":"now","o":{"x":2}}`, string(jsondoc.AppendJSON(nil, got)))

	// The parsed update is not changed by ApplyInsert.
	got, err = u.Apply(doc)
	require.NoError(t, err)
	require.Equal(t, `{"_id":"d","created":"then","a":1}`, string(jsondoc.AppendJSON(nil, got)))

	for _, tc := range []struct{ update, err string }{
		{`{"$set":{"a":1},"$setOnInsert":{"a":2}}`, `update.$setOnInsert.a`},
		{`{"$setOnInsert":{"o":1},"$inc":{"o.n":1}}`, `update.$inc.o.n`},
		{`{"$setOnInsert":{"_id":"x"}}`, `cannot modify _id`},
		{`{"$setOnInsert":5}`, `$setOnInsert needs an object`},
	} {
		_, err := ParseUpdate(mustParse(t, tc.update))
		require.ErrorContains(t, err, tc.err, tc.update)
	}
	_, err = u.ApplyInsert(mustParse(t, `{"_id":"d","o":5}`))
	require.ErrorContains(t, err, `update.$setOnInsert.o.x`)
}
