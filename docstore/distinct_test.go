package docstore

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
	"github.com/minidbgo/minidbgo/docstore/internal/query"
	"github.com/stretchr/testify/require"
)

func distinctJSON(t *testing.T, vals []json.RawMessage) string {
	t.Helper()
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = string(v)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func TestDistinct(t *testing.T) {
	db := openMem(t, nil)
	docs := []string{
		`{"_id":"1","v":2,"g":"x"}`,
		`{"_id":"2","v":1.0,"g":"x"}`,
		`{"_id":"3","v":1,"g":"y"}`,
		`{"_id":"4","v":"b","g":"y"}`,
		`{"_id":"5","v":[3,"a",[1,2]],"g":"y"}`,
		`{"_id":"6","g":"z"}`,
		`{"_id":"7","v":null,"g":"z"}`,
		`{"_id":"8","v":{"k":1},"g":"z"}`,
		`{"_id":"9","v":true,"g":"z"}`,
		`{"_id":"10","v":[],"g":"z"}`,
		`{"_id":"11","v":12345678901234567891,"g":"z"}`,
	}
	for _, d := range docs {
		_, err := db.InsertOne(context.Background(), "c", []byte(d), WriteOptions{})
		require.NoError(t, err)
	}
	const all = `[null,1,2,3,12345678901234567891,"a","b",{"k":1},[1,2],true]`
	check := func(field, filter, want string) {
		t.Helper()
		vals, err := db.Distinct(context.Background(), "c", field, []byte(filter))
		require.NoError(t, err)
		require.Equal(t, want, distinctJSON(t, vals), "distinct %s %s", field, filter)
	}
	check("v", "", all)
	check("v", `{"g":"x"}`, `[1,2]`)
	check("v", `{"g":{"$in":["y","z"]}}`, `[null,1,3,12345678901234567891,"a","b",{"k":1},[1,2],true]`)
	check("v.k", "", `[1]`)
	check("nope", "", `[]`)

	// The same answers through an index on the field (the null run holds
	// documents without v, and one with a stored null), descending too.
	for _, spec := range []IndexSpec{
		{Name: "v_1", Fields: []IndexField{{Path: "v"}}},
		{Name: "v_-1_g_1", Fields: []IndexField{{Path: "v", Desc: true}, {Path: "g"}}},
	} {
		require.NoError(t, db.CreateIndex(context.Background(), "c", spec, nil))
		require.NotNil(t, distinctIndex(db.getCollection("c"), "v"))
		check("v", "", all)
		check("v", `{}`, all)
		check("v", `{"g":"x"}`, `[1,2]`)
		require.NoError(t, db.DropIndex(context.Background(), "c", spec.Name))
	}
	// Without any stored null, the index's null run is only missing fields.
	require.NoError(t, db.CreateIndex(context.Background(), "c", IndexSpec{Name: "v_1", Fields: []IndexField{{Path: "v"}}}, nil))
	require.NoError(t, db.Delete(context.Background(), "c", "7", WriteOptions{}))
	check("v", "", strings.Replace(all, "null,", "", 1))

	_, err := db.Distinct(context.Background(), "c", "", nil)
	require.Equal(t, "invalid_query", errCode(err))
	_, err = db.Distinct(context.Background(), "c", "a..b", nil)
	require.Equal(t, "invalid_query", errCode(err))
	_, err = db.Distinct(context.Background(), "c", "a.$x", nil)
	require.Equal(t, "invalid_query", errCode(err))
	_, err = db.Distinct(context.Background(), "c", "v", []byte(`{"v":{"$bad":1}}`))
	require.Equal(t, "invalid_query", errCode(err))
	vals, err := db.Distinct(context.Background(), "missing", "v", nil)
	require.NoError(t, err)
	require.Empty(t, vals)
}

// TestDistinctLimit checks that the distinct values' memory is bounded by
// MaxDistinctBytes, with and without an index.
func TestDistinctLimit(t *testing.T) {
	db := openMem(t, &Options{MaxDistinctBytes: 100 * (distinctValueOverhead + 16)})
	var batch [][]byte
	for i := range 300 {
		batch = append(batch, []byte(fmt.Sprintf(`{"_id":"%d","v":"value-%05d","same":1}`, i, i)))
	}
	_, err := db.InsertMany(context.Background(), "c", batch)
	require.NoError(t, err)
	_, err = db.Distinct(context.Background(), "c", "v", nil)
	require.Equal(t, "distinct_too_large", errCode(err), "%v", err)
	vals, err := db.Distinct(context.Background(), "c", "same", nil)
	require.NoError(t, err)
	require.Equal(t, `[1]`, distinctJSON(t, vals))
	require.NoError(t, db.CreateIndex(context.Background(), "c", IndexSpec{Name: "v_1", Fields: []IndexField{{Path: "v"}}}, nil))
	_, err = db.Distinct(context.Background(), "c", "v", nil)
	require.Equal(t, "distinct_too_large", errCode(err), "%v", err)
	vals, err = db.Distinct(context.Background(), "c", "v", []byte(`{"v":{"$lt":"value-00003"}}`))
	require.NoError(t, err)
	require.Equal(t, `["value-00000","value-00001","value-00002"]`, distinctJSON(t, vals))
}

// TestDistinctModel compares Distinct, with and without indexes, with a
// brute-force model over random documents.
func TestDistinctModel(t *testing.T) {
	db := openMem(t, nil)
	rng := rand.New(rand.NewPCG(12, 34))
	var docs []jsondoc.Value
	for i := range 400 {
		js := randDoc(rng, fmt.Sprintf("d%03d", i))
		_, err := db.InsertOne(context.Background(), "m", []byte(js), WriteOptions{})
		require.NoError(t, err)
		v, err := jsondoc.Parse([]byte(js), jsondoc.Limits{})
		require.NoError(t, err)
		docs = append(docs, v)
	}
	model := func(field, filter string) string {
		fv, err := jsondoc.Parse([]byte(filter), jsondoc.Limits{})
		require.NoError(t, err)
		f, err := query.ParseFilter(fv)
		require.NoError(t, err)
		var vals []jsondoc.Value
		for _, d := range docs {
			if f.Match(d) {
				vals = append(vals, query.Lookup(d, field)...)
			}
		}
		slices.SortStableFunc(vals, jsondoc.Compare)
		vals = slices.CompactFunc(vals, func(a, b jsondoc.Value) bool { return jsondoc.Compare(a, b) == 0 })
		var parts []string
		for _, v := range vals {
			parts = append(parts, string(jsondoc.AppendJSON(nil, v)))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	fields := []string{"age", "name", "tags", "addr.city", "score", "items.sku", "_id"}
	filters := []string{`{}`, `{"age":{"$gte":30}}`, `{"tags":"a"}`, `{"name":{"$in":["ada","bob"]}}`}
	run := func() {
		for _, field := range fields {
			for _, filter := range filters {
				vals, err := db.Distinct(context.Background(), "m", field, []byte(filter))
				require.NoError(t, err)
				require.Equal(t, model(field, filter), distinctJSON(t, vals), "distinct %s %s", field, filter)
			}
		}
	}
	run()
	for _, field := range fields[:6] {
		require.NoError(t, db.CreateIndex(context.Background(), "m", IndexSpec{Name: strings.ReplaceAll(field, ".", "_"), Fields: []IndexField{{Path: field}}}, nil))
	}
	run()
}
