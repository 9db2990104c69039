package query

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
	"github.com/stretchr/testify/require"
)

// randValue returns a small random JSON text drawn from values that
// exercise type brackets, equal numbers written differently, nulls,
// arrays and objects.
func randValue(r *rand.Rand, depth int) string {
	scalars := []string{`1`, `2`, `2.0`, `3`, `-1`, `1e2`, `0.5`, `"a"`, `"b"`, `""`, `null`, `true`, `false`}
	switch n := r.IntN(10); {
	case n < 6 || depth > 2:
		return scalars[r.IntN(len(scalars))]
	case n < 8:
		k := r.IntN(4)
		parts := make([]string, k)
		for i := range parts {
			parts[i] = randValue(r, depth+1)
		}
		return "[" + strings.Join(parts, ",") + "]"
	default:
		var parts []string
		for _, f := range []string{"x", "y", "0"} {
			if r.IntN(2) == 0 {
				parts = append(parts, fmt.Sprintf("%q:%s", f, randValue(r, depth+1)))
			}
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
}

func randDoc(r *rand.Rand, id int) jsondoc.Value {
	parts := []string{fmt.Sprintf(`"_id":"d%d"`, id)}
	for _, f := range []string{"a", "b", "c"} {
		if r.IntN(4) != 0 {
			parts = append(parts, fmt.Sprintf("%q:%s", f, randValue(r, 0)))
		}
	}
	v, err := jsondoc.Parse([]byte("{"+strings.Join(parts, ",")+"}"), jsondoc.Limits{})
	if err != nil {
		panic(err)
	}
	return v
}

func randScalar(r *rand.Rand) string {
	s := []string{`1`, `2`, `2.0`, `3`, `0.5`, `"a"`, `"b"`, `true`, `null`}
	return s[r.IntN(len(s))]
}

func randOps(r *rand.Rand, depth int) string {
	ops := []string{"$eq", "$gt", "$gte", "$lt", "$lte", "$in", "$ne", "$elemMatch", "$all", "$exists"}
	var parts []string
	for range 1 + r.IntN(2) {
		op := ops[r.IntN(len(ops))]
		var arg string
		switch op {
		case "$in", "$all":
			arg = "[" + randScalar(r) + "," + randScalar(r) + "]"
		case "$elemMatch":
			if depth > 1 {
				continue
			}
			arg = randOps(r, depth+1)
		case "$exists":
			arg = "true"
		default:
			arg = randScalar(r)
		}
		if !strings.Contains(strings.Join(parts, ","), `"`+op+`"`) {
			parts = append(parts, fmt.Sprintf("%q:%s", op, arg))
		}
	}
	if len(parts) == 0 {
		return `{"$exists":true}`
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func randFilter(r *rand.Rand, depth int) string {
	paths := []string{"a", "b", "a.x", "a.0", "b.y", "c"}
	var parts []string
	used := map[string]bool{}
	for range 1 + r.IntN(3) {
		switch n := r.IntN(10); {
		case n < 2 && depth < 2 && !used["$and"]:
			used["$and"] = true
			parts = append(parts, `"$and":[`+randFilter(r, depth+1)+","+randFilter(r, depth+1)+"]")
		default:
			p := paths[r.IntN(len(paths))]
			if used[p] {
				continue
			}
			used[p] = true
			if n < 5 {
				parts = append(parts, fmt.Sprintf("%q:%s", p, randScalar(r)))
			} else {
				parts = append(parts, fmt.Sprintf("%q:%s", p, randOps(r, 0)))
			}
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func hasArray(v jsondoc.Value) bool {
	switch v.Kind() {
	case jsondoc.KindArray:
		return true
	case jsondoc.KindObject:
		for _, m := range v.Members() {
			if hasArray(m.Value) {
				return true
			}
		}
	}
	return false
}

// checkSuperset fails if doc matches f but an index built from Lookup
// would not yield doc for one of f's conditions.
func checkSuperset(t testing.TB, f *Filter, fsrc string, doc jsondoc.Value) {
	t.Helper()
	if !f.Match(doc) {
		return
	}
	for path, c := range f.Conditions() {
		vals := Lookup(doc, path)
		if len(vals) == 0 {
			vals = []jsondoc.Value{jsondoc.Null()} // how the index stores "nothing"
		}
		some := func(pred func(v jsondoc.Value) bool) bool {
			for _, v := range vals {
				if pred(v) {
					return true
				}
			}
			return false
		}
		inRange := func(v jsondoc.Value, lo *jsondoc.Value, loIn bool, hi *jsondoc.Value, hiIn bool) bool {
			if lo != nil {
				if c := jsondoc.Compare(v, *lo); c < 0 || (c == 0 && !loIn) {
					return false
				}
			}
			if hi != nil {
				if c := jsondoc.Compare(v, *hi); c > 0 || (c == 0 && !hiIn) {
					return false
				}
			}
			return true
		}
		fail := func(what string) {
			t.Fatalf("filter %s matches %s but its condition on %q (%s) excludes every indexed value %v",
				fsrc, doc, path, what, vals)
		}
		if c.Eq != nil && !some(func(v jsondoc.Value) bool { return jsondoc.Compare(v, *c.Eq) == 0 }) {
			fail("eq " + c.Eq.String())
		}
		if c.In != nil && !some(func(v jsondoc.Value) bool {
			for _, x := range c.In {
				if jsondoc.Compare(v, x) == 0 {
					return true
				}
			}
			return false
		}) {
			fail("in")
		}
		if !some(func(v jsondoc.Value) bool { return inRange(v, c.Lower, c.LowerInclusive, c.Upper, c.UpperInclusive) }) {
			fail("range")
		}
		if c.ScalarUpper != nil && !hasArray(doc) &&
			!some(func(v jsondoc.Value) bool {
				return inRange(v, c.Lower, c.LowerInclusive, c.ScalarUpper, c.ScalarUpperInclusive)
			}) {
			fail("scalar range")
		}
	}
}

// TestConditionsSuperset checks the planner contract on random filters
// and documents: Conditions never excludes a matching document.
func TestConditionsSuperset(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	docs := make([]jsondoc.Value, 300)
	for i := range docs {
		docs[i] = randDoc(r, i)
	}
	described := 0
	for range 3000 {
		src := randFilter(r, 0)
		f, err := ParseFilter(mustParse(t, src))
		require.NoError(t, err, src)
		if len(f.Conditions()) > 0 {
			described++
		}
		for _, d := range docs {
			checkSuperset(t, f, src, d)
		}
	}
	require.Greater(t, described, 1000, "the generator exercises Conditions")
}

func TestMatchDoesNotPanicOnNonObjects(t *testing.T) {
	f, err := ParseFilter(mustParse(t, `{"a.b":{"$gt":1},"$or":[{"c":{"$size":1}},{"d":{"$elemMatch":{"e":1}}}]}`))
	require.NoError(t, err)
	for _, s := range []string{`1`, `"x"`, `null`, `[]`, `[{"a":{"b":2}}]`, `{}`} {
		f.Match(mustParse(t, s))
	}
}

func TestFilterNestingBounded(t *testing.T) {
	src := strings.Repeat(`{"$and":[`, 30) + `{"a":1}` + strings.Repeat(`]}`, 30)
	_, err := ParseFilter(mustParse(t, src))
	require.NoError(t, err)

	v := jsondoc.Object([]jsondoc.Member{{Key: "a", Value: jsondoc.Int(1)}})
	for range maxNesting + 2 {
		v = jsondoc.Object([]jsondoc.Member{{Key: "$and", Value: jsondoc.Array([]jsondoc.Value{v})}})
	}
	_, err = ParseFilter(v)
	var qe *QueryError
	require.ErrorAs(t, err, &qe)
	require.Contains(t, qe.Msg, "nests more than")

	v = jsondoc.Int(1)
	for range maxNesting + 2 {
		v = jsondoc.Object([]jsondoc.Member{{Key: "$not", Value: jsondoc.Object([]jsondoc.Member{{Key: "$not", Value: v}})}})
	}
	_, err = ParseFilter(jsondoc.Object([]jsondoc.Member{{Key: "a", Value: v}}))
	require.ErrorAs(t, err, &qe)
}

func TestParseFilterRejectsNonObject(t *testing.T) {
	_, err := ParseFilter(jsondoc.Array(nil))
	require.EqualError(t, err, "filter: a filter must be an object, got array")
}

func TestUpdateDoesNotModifyInput(t *testing.T) {
	src := `{"_id":"x","a":{"b":[1,2,{"c":3}]},"n":1,"t":["x"]}`
	doc := mustParse(t, src)
	u, err := ParseUpdate(mustParse(t, `{"$set":{"a.b.2.c":4,"a.b.5":1},"$inc":{"n":1},"$push":{"t":"y"},"$unset":{"a.b.0":1},"$rename":{"x":"z"}}`))
	require.NoError(t, err)
	out, err := u.Apply(doc)
	require.NoError(t, err)
	require.Equal(t, src, doc.String())
	require.Equal(t, `{"_id":"x","a":{"b":[null,2,{"c":4},null,null,1]},"n":2,"t":["x","y"]}`, out.String())
}

func TestIsUpdateDoc(t *testing.T) {
	require.True(t, IsUpdateDoc(mustParse(t, `{"$set":{"a":1}}`)))
	require.True(t, IsUpdateDoc(mustParse(t, `{"a":1,"$set":{"a":1}}`)))
	require.False(t, IsUpdateDoc(mustParse(t, `{"a":{"$set":1}}`)))
	require.False(t, IsUpdateDoc(mustParse(t, `{}`)))
	require.False(t, IsUpdateDoc(mustParse(t, `[]`)))
}

func TestUpdateConcurrentApply(t *testing.T) {
	u, err := ParseUpdate(mustParse(t, `{"$inc":{"n":1},"$push":{"l":{"$each":[1],"$sort":-1}}}`))
	require.NoError(t, err)
	doc := mustParse(t, `{"n":1,"l":[3,2]}`)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				out, err := u.Apply(doc)
				if err != nil || out.String() != `{"n":2,"l":[3,2,1]}` {
					t.Errorf("Apply = %s, %v", out, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestSortFields(t *testing.T) {
	s, err := ParseSortString(" a , -b.c, +d, e:desc ")
	require.NoError(t, err)
	require.Equal(t, []SortField{{"a", false}, {"b.c", true}, {"d", false}, {"e", true}}, s.Fields())
	s, err = ParseSortString("")
	require.NoError(t, err)
	require.Empty(t, s.Fields())
	s, err = ParseSort(mustParse(t, `{"x":-1,"y":1.0}`))
	require.NoError(t, err)
	require.Equal(t, []SortField{{"x", true}, {"y", false}}, s.Fields())
}

func TestLookupMatchesFilterCandidates(t *testing.T) {
	doc := mustParse(t, `{"items":[{"sku":"x","tags":["a","b"]},{"sku":["y","z"]},{"n":1}]}`)
	require.Equal(t, `["x","y","z"]`, jsondoc.Array(Lookup(doc, "items.sku")).String())
	require.Equal(t, `["a","b"]`, jsondoc.Array(Lookup(doc, "items.tags")).String())
	require.Empty(t, Lookup(doc, "items.missing"))
	require.Empty(t, Lookup(doc, "nope"))
}

func TestQueryErrorIsError(t *testing.T) {
	_, err := ParseFilter(mustParse(t, `{"price":{"$gt":1,"$in":2}}`))
	require.EqualError(t, err, "filter.price.$in: $in needs an array, got number 2")
}

func TestRegexExtended(t *testing.T) {
	require.Equal(t, `a\ b[ #]c`, stripExtended("a \\ b [ #] c # comment\n"))
}
