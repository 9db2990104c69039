package httpd

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd/client/api"
)

func ids(t *testing.T, docs []json.RawMessage) []string {
	t.Helper()
	out := make([]string, len(docs))
	for i, d := range docs {
		var v struct {
			ID string `json:"_id"`
		}
		require.NoError(t, json.Unmarshal(d, &v))
		out[i] = v.ID
	}
	return out
}

func TestSearch(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.seed()
	var docs []json.RawMessage
	mustStatus(t, e.do("POST", "/api/products/_search", `{"category":"home"}`), http.StatusOK).json(t, &docs)
	require.Equal(t, []string{"p1", "p2"}, ids(t, docs))

	// No body: every document.
	mustStatus(t, e.do("POST", "/api/products/_search", nil), http.StatusOK).json(t, &docs)
	require.Len(t, docs, 4)

	// sort, fields, limit, skip and the next page's cursor.
	r := mustStatus(t, e.do("POST", "/api/products/_search?sort=-price&fields=name,price&limit=2", `{}`), http.StatusOK)
	r.json(t, &docs)
	require.JSONEq(t, `[{"_id":"p2","name":"desk","price":150},{"_id":"p4","name":"chair","price":90}]`, string(r.body))
	next := r.header.Get("X-Next-Cursor")
	require.NotEmpty(t, next)
	r = mustStatus(t, e.do("POST", "/api/products/_search?sort=-price&fields=name,price&limit=2&cursor="+next, `{}`), http.StatusOK)
	r.json(t, &docs)
	require.Equal(t, []string{"p1", "p3"}, ids(t, docs))
	require.Empty(t, r.header.Get("X-Next-Cursor"))
	mustStatus(t, e.do("POST", "/api/products/_search?skip=3", `{}`), http.StatusOK).json(t, &docs)
	require.Len(t, docs, 1)
	mustStatus(t, e.do("POST", `/api/products/_search?sort={"price":1}&fields={"name":1}`, `{"price":{"$gt":10}}`), http.StatusOK).json(t, &docs)
	require.Equal(t, []string{"p1", "p4", "p2"}, ids(t, docs))

	// A collection that does not exist is empty.
	r = mustStatus(t, e.do("POST", "/api/nothing/_search", `{}`), http.StatusOK)
	require.Equal(t, "[]\n", string(r.body))

	errorBody(t, e.do("POST", "/api/products/_search", `{"price":{"$bogus":1}}`), http.StatusBadRequest, "invalid_query")
	errorBody(t, e.do("POST", "/api/products/_search", `[]`), http.StatusBadRequest, "invalid_query")
	errorBody(t, e.do("POST", "/api/products/_search?sort=%7B", `{}`), http.StatusBadRequest, "invalid_json")
	errorBody(t, e.do("POST", "/api/products/_search?cursor=zzz", `{}`), http.StatusBadRequest, "invalid_cursor")
	for _, bad := range []string{"-1", "1e9", "abc", "1.5"} {
		errorBody(t, e.do("POST", "/api/products/_search?limit="+bad, `{}`), http.StatusBadRequest, "invalid_parameter")
		errorBody(t, e.do("POST", "/api/products/_search?skip="+bad, `{}`), http.StatusBadRequest, "invalid_parameter")
	}
}

func TestSearchPageCap(t *testing.T) {
	e := newEnv(t, envOptions{docstore: &docstore.Options{MaxLimit: 3}})
	e.seed()
	var docs []json.RawMessage
	r := mustStatus(t, e.do("POST", "/api/products/_search?limit=1000000000", `{}`), http.StatusOK)
	r.json(t, &docs)
	require.Len(t, docs, 3, "a limit over MaxPage is capped")
	require.NotEmpty(t, r.header.Get("X-Next-Cursor"))
	var fr api.FindResult
	mustStatus(t, e.do("POST", "/api/products/_find", `{}`), http.StatusOK).json(t, &fr)
	require.Len(t, fr.Docs, 3, "the default page is MaxPage")
	require.NotEmpty(t, fr.Cursor)
}

func TestFind(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.seed()
	var fr api.FindResult
	r := mustStatus(t, e.do("POST", "/api/products/_find",
		`{"filter":{"price":{"$gte":10}},"sort":{"price":-1,"_id":1},"fields":{"name":1},"limit":2}`), http.StatusOK)
	r.json(t, &fr)
	require.JSONEq(t, `[{"_id":"p2","name":"desk"},{"_id":"p4","name":"chair"}]`, jsonString(fr.Docs))
	require.NotEmpty(t, fr.Cursor)
	r = mustStatus(t, e.do("POST", "/api/products/_find",
		fmt.Sprintf(`{"filter":{"price":{"$gte":10}},"sort":{"price":-1,"_id":1},"fields":{"name":1},"limit":2,"cursor":%q}`, fr.Cursor)), http.StatusOK)
	fr = api.FindResult{}
	r.json(t, &fr)
	require.Equal(t, []string{"p1"}, ids(t, fr.Docs))
	require.Empty(t, fr.Cursor)
	require.NotContains(t, string(r.body), "cursor", "no cursor on the last page")

	// Every key is optional; sort and fields may be strings.
	fr = api.FindResult{}
	mustStatus(t, e.do("POST", "/api/products/_find", nil), http.StatusOK).json(t, &fr)
	require.Len(t, fr.Docs, 4)
	fr = api.FindResult{}
	mustStatus(t, e.do("POST", "/api/products/_find", `{"sort":"-price","fields":"-category","skip":1,"limit":1}`), http.StatusOK).json(t, &fr)
	require.JSONEq(t, `[{"_id":"p4","name":"chair","price":90}]`, jsonString(fr.Docs))
	r = mustStatus(t, e.do("POST", "/api/empty/_find", `{}`), http.StatusOK)
	require.JSONEq(t, `{"docs":[]}`, string(r.body))

	errorBody(t, e.do("POST", "/api/products/_find", `{"filtre":{}}`), http.StatusBadRequest, "invalid_body")
	errorBody(t, e.do("POST", "/api/products/_find", `{"limit":-1}`), http.StatusBadRequest, "invalid_parameter")
	errorBody(t, e.do("POST", "/api/products/_find", `{"skip":-1}`), http.StatusBadRequest, "invalid_parameter")
	errorBody(t, e.do("POST", "/api/products/_find", `{"limit":"x"}`), http.StatusBadRequest, "invalid_json")
	errorBody(t, e.do("POST", "/api/products/_find", `{"cursor":"!!"}`), http.StatusBadRequest, "invalid_cursor")
	errorBody(t, e.do("POST", "/api/products/_find", `{"filter":{"a":1,"a":2}}`), http.StatusBadRequest, "duplicate_key")
	errorBody(t, e.do("POST", "/api/products/_find", `{"sort":{"price":5}}`), http.StatusBadRequest, "invalid_sort")
	errorBody(t, e.do("POST", "/api/products/_find", `{"fields":{"a":1,"b":0}}`), http.StatusBadRequest, "invalid_projection")
	errorBody(t, e.do("POST", "/api/products/_find", `{"sort":7}`), http.StatusBadRequest, "")
	errorBody(t, e.do("POST", "/api/products/_find", `{} {}`), http.StatusBadRequest, "trailing_data")
	errorBody(t, e.do("POST", "/api/products/_find", "{\"filter\":{\"a\":\"\xff\"}}"), http.StatusBadRequest, "invalid_utf8")
	errorBody(t, e.do("POST", "/api/products/_find", `{"filter":`), http.StatusBadRequest, "invalid_json")
	errorBody(t, e.do("POST", "/api/products/_find", `[]`), http.StatusBadRequest, "invalid_json")
}

func TestCountUpdateDeleteMany(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.seed()
	var c api.CountResult
	mustStatus(t, e.do("POST", "/api/products/_count", `{"filter":{"category":"office"}}`), http.StatusOK).json(t, &c)
	require.Equal(t, int64(2), c.Count)
	mustStatus(t, e.do("POST", "/api/products/_count", nil), http.StatusOK).json(t, &c)
	require.Equal(t, int64(4), c.Count)
	mustStatus(t, e.do("POST", "/api/products/_count", `{}`), http.StatusOK).json(t, &c)
	require.Equal(t, int64(4), c.Count)
	mustStatus(t, e.do("POST", "/api/none/_count", `{}`), http.StatusOK).json(t, &c)
	require.Equal(t, int64(0), c.Count)
	errorBody(t, e.do("POST", "/api/products/_count", `{"filter":{"$or":1}}`), http.StatusBadRequest, "invalid_query")

	var u api.UpdateResult
	r := mustStatus(t, e.do("POST", "/api/products/_update", `{"filter":{"category":"home"},"update":{"$set":{"sale":true}}}`), http.StatusOK)
	r.json(t, &u)
	require.Equal(t, api.UpdateResult{Matched: 2, Modified: 2}, u)
	require.JSONEq(t, `{"matched":2,"modified":2}`, string(r.body))
	mustStatus(t, e.do("POST", "/api/products/_update", `{"filter":{"category":"home"},"update":{"$set":{"sale":true}}}`), http.StatusOK).json(t, &u)
	require.Equal(t, api.UpdateResult{Matched: 2, Modified: 0}, u)
	errorBody(t, e.do("POST", "/api/products/_update", `{"update":{"$set":{"a":1}}}`), http.StatusBadRequest, "invalid_body")
	errorBody(t, e.do("POST", "/api/products/_update", `{"filter":{}}`), http.StatusBadRequest, "invalid_body")
	errorBody(t, e.do("POST", "/api/products/_update", `{"filter":{},"update":{"a":1}}`), http.StatusBadRequest, "invalid_update")
	errorBody(t, e.do("POST", "/api/products/_update", ``), http.StatusBadRequest, "empty_body")

	var d api.DeleteManyResult
	r = mustStatus(t, e.do("POST", "/api/products/_delete", `{"filter":{"price":{"$lt":50}}}`), http.StatusOK)
	r.json(t, &d)
	require.JSONEq(t, `{"deleted":2}`, string(r.body))
	errorBody(t, e.do("POST", "/api/products/_delete", `{}`), http.StatusBadRequest, "invalid_body")
	errorBody(t, e.do("POST", "/api/products/_delete", `{"filter":{"$and":{}}}`), http.StatusBadRequest, "invalid_query")
	mustStatus(t, e.do("POST", "/api/products/_delete", `{"filter":{}}`), http.StatusOK).json(t, &d)
	require.Equal(t, int64(2), d.Deleted)
	mustStatus(t, e.do("POST", "/api/products/_count", nil), http.StatusOK).json(t, &c)
	require.Equal(t, int64(0), c.Count)
}

func TestExplain(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.seed()
	var x api.Explanation
	mustStatus(t, e.do("POST", "/api/products/_explain", `{"filter":{"category":"home"}}`), http.StatusOK).json(t, &x)
	require.Equal(t, "COLLSCAN", x.Plan)
	require.Equal(t, int64(4), x.DocsExamined)
	require.Equal(t, int64(2), x.NReturned)
	mustStatus(t, e.do("POST", "/api/products/_indexes", `{"fields":["category"]}`), http.StatusCreated)
	mustStatus(t, e.do("POST", "/api/products/_explain", `{"filter":{"category":"home"}}`), http.StatusOK).json(t, &x)
	require.Equal(t, "IXSCAN", x.Plan)
	require.Equal(t, "category_1", x.Index)
	require.Equal(t, int64(2), x.DocsExamined)
	errorBody(t, e.do("POST", "/api/products/_explain", `{"filter":5}`), http.StatusBadRequest, "invalid_query")
}

// TestFindCursorCarriesItsQuery is issue 12's second wrong answer over
// HTTP: {"cursor": C} alone continues C's query, and C sent with another
// query, changed or cut short is 400 invalid_cursor, whose message does
// not echo what the cursor held.
func TestFindCursorCarriesItsQuery(t *testing.T) {
	e := newEnv(t, envOptions{})
	var docs []string
	for i := range 40 {
		docs = append(docs, fmt.Sprintf(`{"_id":"secret%02d","age":%d,"name":"n%02d","tags":["x","y"]}`, i, i%6, (i*7)%40))
	}
	mustStatus(t, e.do("POST", "/api/people/_insertMany", "["+strings.Join(docs, ",")+"]"), http.StatusCreated)
	mustStatus(t, e.do("POST", "/api/people/_indexes", `{"fields":["tags"]}`), http.StatusCreated)

	for _, q := range []string{
		`"sort":{"age":-1}`,
		`"filter":{"age":{"$gte":2}},"sort":"name","fields":"name"`,
		`"filter":{"tags":{"$gte":"x"}}`,
	} {
		var all api.FindResult
		mustStatus(t, e.do("POST", "/api/people/_find", `{`+q+`}`), http.StatusOK).json(t, &all)
		require.Empty(t, all.Cursor)

		var got []string
		var fr api.FindResult
		mustStatus(t, e.do("POST", "/api/people/_find", `{`+q+`,"limit":3}`), http.StatusOK).json(t, &fr)
		for {
			require.LessOrEqual(t, len(fr.Docs), 3, "a cursor alone pages at its first page's size")
			got = append(got, ids(t, fr.Docs)...)
			if fr.Cursor == "" {
				break
			}
			c := fr.Cursor
			fr = api.FindResult{}
			mustStatus(t, e.do("POST", "/api/people/_find", fmt.Sprintf(`{"cursor":%q}`, c)), http.StatusOK).json(t, &fr)
		}
		require.Equal(t, ids(t, all.Docs), got, "query %s", q)
	}

	var fr api.FindResult
	mustStatus(t, e.do("POST", "/api/people/_find", `{"sort":{"age":-1},"limit":5}`), http.StatusOK).json(t, &fr)
	c := fr.Cursor
	require.NotEmpty(t, c)
	// The same query again continues; another query is refused.
	mustStatus(t, e.do("POST", "/api/people/_find", fmt.Sprintf(`{"sort":"-age","cursor":%q}`, c)), http.StatusOK)
	for _, body := range []string{
		fmt.Sprintf(`{"sort":{"name":1},"cursor":%q}`, c),
		fmt.Sprintf(`{"sort":{"age":1},"cursor":%q}`, c),
		fmt.Sprintf(`{"filter":{"age":3},"sort":{"age":-1},"cursor":%q}`, c),
		fmt.Sprintf(`{"sort":{"age":-1},"fields":"name","cursor":%q}`, c),
	} {
		errorBody(t, e.do("POST", "/api/people/_find", body), http.StatusBadRequest, "invalid_cursor")
	}
	errorBody(t, e.do("POST", "/api/products/_find", fmt.Sprintf(`{"cursor":%q}`, c)), http.StatusBadRequest, "invalid_cursor")
	errorBody(t, e.do("POST", "/api/people/_search?cursor="+c, `{"age":1}`), http.StatusBadRequest, "invalid_cursor")

	// Changed or cut short: refused without echoing the content.
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	for _, bad := range []string{flip(c, 0), flip(c, len(c)/2), flip(c, len(c)-1), c[:len(c)/2], c[:len(c)-3], c + "AAAA", "!!"} {
		r := e.do("POST", "/api/people/_find", fmt.Sprintf(`{"cursor":%q}`, bad))
		errorBody(t, r, http.StatusBadRequest, "invalid_cursor")
		for _, leak := range []string{"secret", "age", "people", "ix:"} {
			require.NotContains(t, string(r.body), leak, "the error echoes the cursor")
		}
	}
}

func TestDistinctRoute(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.seed()
	var d api.DistinctResult
	r := mustStatus(t, e.do("POST", "/api/products/_distinct", `{"field":"category"}`), http.StatusOK)
	r.json(t, &d)
	require.Len(t, d.Values, 2)
	require.JSONEq(t, `{"values":["home","office"]}`, string(r.body))
	r = mustStatus(t, e.do("POST", "/api/products/_distinct", `{"field":"category","filter":{"price":{"$gt":100}}}`), http.StatusOK)
	require.JSONEq(t, `{"values":["home"]}`, string(r.body))
	r = mustStatus(t, e.do("POST", "/api/none/_distinct", `{"field":"x"}`), http.StatusOK)
	require.JSONEq(t, `{"values":[]}`, string(r.body))
	errorBody(t, e.do("POST", "/api/products/_distinct", `{}`), http.StatusBadRequest, "invalid_body")
	errorBody(t, e.do("POST", "/api/products/_distinct", `{"field":"a..b"}`), http.StatusBadRequest, "invalid_query")
	errorBody(t, e.do("POST", "/api/products/_distinct", `{"field":"x","filter":{"$or":1}}`), http.StatusBadRequest, "invalid_query")
	errorBody(t, e.do("POST", "/api/products/_distinct", `{"field":"x","extra":1}`), http.StatusBadRequest, "")
	errorBody(t, e.do("POST", "/api/products/_distinct", ``), http.StatusBadRequest, "empty_body")

}

// TestPositionalOverHTTP: _update gives its filter to the positional $;
// PATCH by id has none, so $ is 400 there while $[] works.
func TestPositionalOverHTTP(t *testing.T) {
	e := newEnv(t, envOptions{})
	mustStatus(t, e.do("POST", "/api/s", `{"_id":"a","grades":[80,85,90]}`), http.StatusCreated)
	r := mustStatus(t, e.do("POST", "/api/s/_update", `{"filter":{"grades":{"$gte":85}},"update":{"$set":{"grades.$":100}}}`), http.StatusOK)
	require.JSONEq(t, `{"matched":1,"modified":1}`, string(r.body))
	errorBody(t, e.do("PATCH", "/api/s/a", `{"$set":{"grades.$":0}}`), http.StatusBadRequest, "invalid_update")
	mustStatus(t, e.do("PATCH", "/api/s/a", `{"$inc":{"grades.$[]":1}}`), http.StatusOK)
	r = mustStatus(t, e.do("GET", "/api/s/a", nil), http.StatusOK)
	require.JSONEq(t, `{"_id":"a","grades":[81,101,91]}`, string(r.body))
}
