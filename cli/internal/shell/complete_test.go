package shell

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestComplete(t *testing.T) {
	s := newEmbeddedSession(t)
	defer s.stop()
	s.sh.collectFields()
	s.run(`insertOne products {"_id":"p1","name":"x","stock":{"shop":1}}` + "\ninsertOne people {\"_id\":\"a\"}\ncreateIndex products {\"name\":1}")
	ctx := context.Background()
	for _, tc := range []struct {
		text, partial string
		want          []string
	}{
		{"ins", "ins", []string{"insert ", "insertMany ", "insertOne "}},
		{"count p", "p", []string{"people ", "products "}},
		{"count pr", "pr", []string{"products "}},
		{"use ", "", []string{"people ", "products "}},
		{"show c", "c", []string{"collections "}},
		{"help findM", "findM", []string{"findMany "}},
		{"dropIndex products ", "", []string{"name_1 "}},
		{"watch pr", "pr", []string{"products "}},
		{"changes pe", "pe", []string{"people "}},
		{"changes products ", "", []string{"limit ", "since "}},
		{"changes products since 3 l", "l", []string{"limit "}},
		{"distinct products st", "st", []string{"stock ", "stock.shop "}},
		{`findOne products {"na`, `"na`, []string{`"name"`}},
		{`findOne products {"name":"x", "st`, `"st`, []string{`"stock"`, `"stock.shop"`}},
		{`findOne products {"price":{"$g`, `"$g`, []string{`"$gt"`, `"$gte"`}},
		{"findOne products {\n\"na", `"na`, []string{`"name"`}},
		{`findOne products {"name":"na`, "", nil}, // a value, not a key
		{`findOne products {"name":1} x`, "x", nil},
		{"db.pr", "db.pr", []string{"db.products."}},
		{"db.", "db.", []string{"db.getCollectionNames()", "db.people.", "db.products."}},
		{"db.products.fi", "db.products.fi", []string{"db.products.find(", "db.products.findOne("}},
		{"db.products.find(", "db.products.find(", nil},
	} {
		cands, partial := s.sh.complete(ctx, tc.text)
		require.Equal(t, tc.partial, partial, tc.text)
		require.Equal(t, tc.want, cands, tc.text)
	}
	c := &completer{s: s.sh, pending: func() string { return "findOne products {" }}
	got, n := c.Do([]rune(`"na`), 3)
	require.Equal(t, 3, n)
	require.Equal(t, [][]rune{[]rune(`me"`)}, got)
	require.True(t, strings.HasPrefix(s.sh.prompt(), "minidbgo"))
}
