package shell

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCompleteAggregate checks that aggregate completes collections, the
// stage and expression names after "$", and db.<col>.aggregate(.
func TestCompleteAggregate(t *testing.T) {
	s := newEmbeddedSession(t)
	defer s.stop()
	s.run(`insertOne products {"_id":"p1","name":"x"}`)
	ctx := context.Background()
	for _, tc := range []struct {
		text, partial string
		want          []string
	}{
		{"aggr", "aggr", []string{"aggregate "}},
		{"aggregate pr", "pr", []string{"products "}},
		{`aggregate products [{"$gro`, `"$gro`, []string{`"$group"`}},
		{`aggregate products [{"$group":{"_id":null,"n":{"$su`, `"$su`, []string{`"$subtract"`, `"$sum"`}},
		{`aggregate products [{"$sortBy`, `"$sortBy`, []string{`"$sortByCount"`}},
		{`db.products.aggregate([{$match: {"a": {"$g`, `"$g`, []string{`"$group"`, `"$gt"`, `"$gte"`}},
		{"db.products.ag", "db.products.ag", []string{"db.products.aggregate("}},
	} {
		cands, partial := s.sh.complete(ctx, tc.text)
		require.Equal(t, tc.partial, partial, tc.text)
		require.Equal(t, tc.want, cands, tc.text)
	}
	require.Contains(t, s.run("help aggregate"), "$sortByCount")
}
