package query

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
	"github.com/stretchr/testify/require"
)

// TestAllSetMatchesAnd checks that $all of many values (matched through a
// valueSet) agrees with the $and of one equality per value, MongoDB's
// definition, on random documents, and with the few-value loop.
func TestAllSetMatchesAnd(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	var docs []jsondoc.Value
	for i := range 300 {
		docs = append(docs, randDoc(r, i))
	}
	for range 300 {
		field := []string{"a", "b", "a.x", "b.0"}[r.IntN(4)]
		n := 1 + r.IntN(12)
		vals := make([]string, n)
		eqs := make([]string, n)
		for i := range vals {
			vals[i] = randScalar(r)
			if r.IntN(8) == 0 {
				vals[i] = randValue(r, 1)
			}
			eqs[i] = fmt.Sprintf(`{%q:{"$eq":%s}}`, field, vals[i])
		}
		all, err := ParseFilter(mustParse(t, fmt.Sprintf(`{%q:{"$all":[%s]}}`, field, strings.Join(vals, ","))))
		require.NoError(t, err)
		and, err := ParseFilter(mustParse(t, `{"$and":[`+strings.Join(eqs, ",")+`]}`))
		require.NoError(t, err)
		require.Equal(t, n > allSetMin, all.root.subs[0].ops[0].set != nil)
		for _, d := range docs {
			require.Equal(t, and.Match(d), all.Match(d), "%s $all %v on %s", field, vals, d)
		}
	}
}

// TestManyValueOperatorsScale runs $all, $addToSet and $pullAll with
// 20,000 values against a 100,000-element array (issue 20 item 9). With
// one comparison per pair, as before, each takes billions of comparisons
// (minutes); with hash sets, one pass. The results are checked exactly.
func TestManyValueOperatorsScale(t *testing.T) {
	const nArr, nVals = 100_000, 20_000
	arr := make([]jsondoc.Value, nArr)
	for i := range arr {
		arr[i] = jsondoc.Int(int64(2 * i)) // even numbers
	}
	doc := jsondoc.Object([]jsondoc.Member{{Key: "_id", Value: jsondoc.String("x")}, {Key: "a", Value: jsondoc.Array(arr)}})
	// The values: 10,000 present (multiples of 4, written as 4k.0) and
	// 10,000 absent (odd).
	vals := make([]string, 0, nVals)
	for i := range nVals / 2 {
		vals = append(vals, fmt.Sprintf("%d.0", 4*i), fmt.Sprint(2*i+1))
	}
	list := "[" + strings.Join(vals, ",") + "]"
	present := "[" + strings.Join(slices.DeleteFunc(slices.Clone(vals), func(s string) bool { return !strings.HasSuffix(s, ".0") }), ",") + "]"

	f, err := ParseFilter(mustParse(t, `{"a":{"$all":`+present+`}}`))
	require.NoError(t, err)
	require.True(t, f.Match(doc))
	f, err = ParseFilter(mustParse(t, `{"a":{"$all":`+list+`}}`))
	require.NoError(t, err)
	require.False(t, f.Match(doc))

	u, err := ParseUpdate(mustParse(t, `{"$addToSet":{"a":{"$each":`+list+`}}}`))
	require.NoError(t, err)
	out, err := u.Apply(doc)
	require.NoError(t, err)
	got := out.Lookup([]string{"a"}).Elems()
	require.Len(t, got, nArr+nVals/2)
	require.Equal(t, "1", got[nArr].NumberLiteral())
	require.Equal(t, fmt.Sprint(nVals-1), got[len(got)-1].NumberLiteral())

	u, err = ParseUpdate(mustParse(t, `{"$pullAll":{"a":`+list+`}}`))
	require.NoError(t, err)
	out, err = u.Apply(doc)
	require.NoError(t, err)
	got = out.Lookup([]string{"a"}).Elems()
	require.Len(t, got, nArr-nVals/2)
	require.Equal(t, "2", got[0].NumberLiteral())
	require.Equal(t, "6", got[1].NumberLiteral())
}

// TestValueSetConcurrent applies set-based operators from many goroutines
// (the sets' scratch buffers are per call).
func TestValueSetConcurrent(t *testing.T) {
	u, err := ParseUpdate(mustParse(t, `{"$addToSet":{"a":{"$each":[1,2,3,"x",[1]]}},"$pullAll":{"b":[1,2.0,{"k":1}]}}`))
	require.NoError(t, err)
	f, err := ParseFilter(mustParse(t, `{"c":{"$all":[1,2,3,4,5,6,7,8,9,10]}}`))
	require.NoError(t, err)
	doc := mustParse(t, `{"a":[2,"x"],"b":[1,2,3,{"k":1.0}],"c":[10,9,8,7,6,5,4,3,2,1]}`)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				out, err := u.Apply(doc)
				if err != nil || out.String() != `{"a":[2,"x",1,3,[1]],"b":[3],"c":[10,9,8,7,6,5,4,3,2,1]}` || !f.Match(doc) {
					t.Errorf("Apply = %s, %v", out, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
