package docstore

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

var updateAgg = flag.Bool("update-agg", false, "rewrite testdata/agg/golden from the current results")

// aggCase is one golden case of testdata/agg/cases.json: documents for
// collection "c" (or the default set), optional indexes and documents of
// other collections, and a pipeline.
type aggCase struct {
	Name     string                       `json:"name"`
	Docs     []json.RawMessage            `json:"docs,omitempty"`
	Indexes  []IndexSpec                  `json:"indexes,omitempty"`
	Others   map[string][]json.RawMessage `json:"others,omitempty"`
	Pipeline json.RawMessage              `json:"pipeline"`
	MaxMem   int64                        `json:"maxMemory,omitempty"`
	Spill    bool                         `json:"spill,omitempty"`
}

var aggDefaultDocs = []string{
	`{"_id":"1","item":"abc","price":10,"qty":2,"date":"2014-03-01T08:00:00Z","tags":["a","b"],"size":{"h":14,"uom":"cm"}}`,
	`{"_id":"2","item":"jkl","price":20,"qty":1,"date":"2014-03-01T09:00:00Z","tags":[],"size":{"h":8.5,"uom":"in"}}`,
	`{"_id":"3","item":"xyz","price":5,"qty":10,"date":"2014-03-15T09:00:00Z","tags":"c","size":null}`,
	`{"_id":"4","item":"xyz","price":5,"qty":20,"date":"2014-04-04T11:21:39.736Z"}`,
	`{"_id":"5","item":"abc","price":10,"qty":10,"date":"2014-04-04T21:23:13.331+02:00","tags":["b",null]}`,
	`{"_id":"6","item":"def","price":7.5,"qty":5,"date":1396569600000,"tags":["a"]}`,
	`{"_id":"7","item":null,"price":"n/a","qty":null,"date":null}`,
	`{"_id":"8","price":true,"qty":[1,2]}`,
}

type aggGolden struct {
	Result []json.RawMessage `json:"result,omitempty"`
	Error  *aggGoldenErr     `json:"error,omitempty"`
}

type aggGoldenErr struct {
	Code string `json:"code"`
	Msg  string `json:"message"`
}

// runAggAll runs a pipeline to its end, page after page (so the golden
// results also check paging).
func runAggAll(t testing.TB, db *DB, col string, pipeline []byte, opts AggOptions) ([]json.RawMessage, error) {
	var out []json.RawMessage
	tok := ""
	for pages := 0; ; pages++ {
		o := opts
		o.Cursor = tok
		p := pipeline
		if tok != "" {
			p = nil
		}
		cur, err := db.Aggregate(context.Background(), col, p, o)
		if err != nil {
			return out, err
		}
		for cur.Next() {
			out = append(out, json.RawMessage(bytes.Clone(cur.Doc())))
		}
		if err := cur.Err(); err != nil {
			cur.Close()
			return out, err
		}
		tok = cur.NextToken()
		require.NoError(t, cur.Close())
		if tok == "" {
			return out, nil
		}
		require.Less(t, pages, 100000)
	}
}

func loadAggCase(t *testing.T, c aggCase) *DB {
	db := openMem(t, nil)
	ctx := context.Background()
	docs := c.Docs
	if docs == nil {
		for _, d := range aggDefaultDocs {
			docs = append(docs, json.RawMessage(d))
		}
	}
	for _, ix := range c.Indexes {
		require.NoError(t, db.CreateIndex(ctx, "c", ix, nil))
	}
	for _, d := range docs {
		_, err := db.InsertOne(ctx, "c", d, WriteOptions{})
		require.NoError(t, err, string(d))
	}
	for col, ds := range c.Others {
		for _, d := range ds {
			_, err := db.InsertOne(ctx, col, d, WriteOptions{})
			require.NoError(t, err)
		}
	}
	return db
}

var goldenName = regexp.MustCompile(`^[a-z0-9_]+$`)

// TestAggregateGolden runs every case of testdata/agg/cases.json and
// compares with its golden file (go test -run TestAggregateGolden
// -update-agg rewrites them; review the diff).
func TestAggregateGolden(t *testing.T) {
	raw, err := os.ReadFile("testdata/agg/cases.json")
	require.NoError(t, err)
	var cases []aggCase
	require.NoError(t, json.Unmarshal(raw, &cases))
	seen := map[string]bool{}
	for _, c := range cases {
		require.Regexp(t, goldenName, c.Name)
		require.False(t, seen[c.Name], "duplicate case %s", c.Name)
		seen[c.Name] = true
		t.Run(c.Name, func(t *testing.T) {
			db := loadAggCase(t, c)
			opts := AggOptions{Limit: 3, MaxMemoryBytes: c.MaxMem}
			if c.Spill {
				opts.SpillDir = t.TempDir()
			}
			res, err := runAggAll(t, db, "c", c.Pipeline, opts)
			var g aggGolden
			if err != nil {
				var de *Error
				require.ErrorAs(t, err, &de, "%v", err)
				g.Error = &aggGoldenErr{Code: string(de.Code), Msg: de.Msg}
			} else {
				g.Result = res
				if g.Result == nil {
					g.Result = []json.RawMessage{}
				}
			}
			got, err := json.MarshalIndent(g, "", "  ")
			require.NoError(t, err)
			got = append(got, '\n')
			path := filepath.Join("testdata", "agg", "golden", c.Name+".json")
			if *updateAgg {
				require.NoError(t, os.WriteFile(path, got, 0o644))
				return
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "no golden file: run with -update-agg and review it")
			require.Equal(t, string(want), string(got))
			if c.Spill {
				ents, err := os.ReadDir(opts.SpillDir)
				require.NoError(t, err)
				require.Empty(t, ents, "spill files left behind")
			}
		})
	}
}

// TestAggregateSpillMatchesMemory runs blocking stages with a tiny memory
// limit (so they spill many runs) and checks they give what they give in
// memory, and that spilling off answers too_large.
func TestAggregateSpillMatchesMemory(t *testing.T) {
	db := openMem(t, nil)
	ctx := context.Background()
	for i := range 3000 {
		d := fmt.Sprintf(`{"_id":"d%05d","g":%d,"h":"k%d","v":%d,"f":%d.5,"s":"%c"}`, i, (i*7919)%211, i%13, i%97, i%5, 'a'+rune(i%26))
		_, err := db.InsertOne(ctx, "c", []byte(d), WriteOptions{})
		require.NoError(t, err)
	}
	pipes := []string{
		`[{"$sort":{"v":-1,"s":1}}]`,
		`[{"$sort":{"g":1}},{"$limit":25}]`,
		`[{"$group":{"_id":"$g","n":{"$sum":1},"t":{"$sum":"$f"},"a":{"$avg":"$v"},"mn":{"$min":"$s"},"mx":{"$max":"$v"},"fi":{"$first":"$_id"},"la":{"$last":"$_id"},"p":{"$push":"$v"},"u":{"$addToSet":"$s"},"c":{"$count":{}}}},{"$sort":{"_id":1}}]`,
		`[{"$sortByCount":"$h"},{"$sort":{"count":-1,"_id":1}}]`,
		`[{"$facet":{"a":[{"$count":"n"}],"b":[{"$group":{"_id":"$h"}},{"$sort":{"_id":-1}},{"$limit":2}]}}]`,
	}
	for _, p := range pipes {
		mem, err := runAggAll(t, db, "c", []byte(p), AggOptions{Limit: 1000})
		require.NoError(t, err, p)
		dir := t.TempDir()
		spilled, err := runAggAll(t, db, "c", []byte(p), AggOptions{Limit: 1000, MaxMemoryBytes: 4 << 10, SpillDir: dir})
		require.NoError(t, err, p)
		require.Equal(t, mem, spilled, p)
		ents, err := os.ReadDir(dir)
		require.NoError(t, err)
		require.Empty(t, ents)
		if p != pipes[1] {
			_, err = runAggAll(t, db, "c", []byte(p), AggOptions{MaxMemoryBytes: 4 << 10})
			require.Equal(t, "too_large", errCode(err), p)
		}
	}
}

// TestAggregateUsesIndex checks that a leading $match and a $sort the
// index gives in order are done by the scan.
func TestAggregateUsesIndex(t *testing.T) {
	db := openMem(t, nil)
	ctx := context.Background()
	require.NoError(t, db.CreateIndex(ctx, "c", IndexSpec{Name: "by_a", Fields: []IndexField{{Path: "a"}}}, nil))
	for i := range 200 {
		_, err := db.InsertOne(ctx, "c", []byte(fmt.Sprintf(`{"_id":"%03d","a":%d}`, i, 199-i)), WriteOptions{})
		require.NoError(t, err)
	}
	e, err := db.ExplainAggregate(ctx, "c", []byte(`[{"$match":{"a":{"$gte":190}}},{"$sort":{"a":1}},{"$project":{"a":1}}]`), AggOptions{})
	require.NoError(t, err)
	require.Equal(t, "IXSCAN", e.Source.Plan)
	require.Equal(t, "by_a", e.Source.Index)
	require.True(t, e.Source.SortByIndex)
	require.Equal(t, 2, e.Pushed)
	require.Equal(t, int64(10), e.Source.DocsExamined)
	require.Equal(t, []string{"$match", "$sort", "$project"}, e.Stages)

	// $lookup through the index on the foreign field.
	_, err = db.InsertOne(ctx, "o", []byte(`{"_id":"x","ref":195}`), WriteOptions{})
	require.NoError(t, err)
	res, err := runAggAll(t, db, "o", []byte(`[{"$lookup":{"from":"c","localField":"ref","foreignField":"a","as":"j"}}]`), AggOptions{})
	require.NoError(t, err)
	require.Equal(t, `{"_id":"x","ref":195,"j":[{"_id":"004","a":195}]}`, string(res[0]))
}

// TestAggregateCursor checks paging and the cursor's checks.
func TestAggregateCursor(t *testing.T) {
	db := openMem(t, nil)
	ctx := context.Background()
	for i := range 10 {
		_, err := db.InsertOne(ctx, "c", []byte(fmt.Sprintf(`{"_id":"%d","v":%d}`, i, i%3)), WriteOptions{})
		require.NoError(t, err)
	}
	p := []byte(`[{"$group":{"_id":"$v","n":{"$sum":1}}},{"$sort":{"_id":-1}}]`)
	cur, err := db.Aggregate(ctx, "c", p, AggOptions{Limit: 2})
	require.NoError(t, err)
	var docs []string
	for cur.Next() {
		docs = append(docs, string(cur.Doc()))
	}
	tok := cur.NextToken()
	require.NoError(t, cur.Close())
	require.Equal(t, []string{`{"_id":2,"n":3}`, `{"_id":1,"n":3}`}, docs)
	require.NotEmpty(t, tok)

	_, err = db.Aggregate(ctx, "other", nil, AggOptions{Cursor: tok})
	require.Equal(t, "invalid_cursor", errCode(err))
	_, err = db.Aggregate(ctx, "c", []byte(`[{"$match":{}}]`), AggOptions{Cursor: tok})
	require.Equal(t, "invalid_cursor", errCode(err))
	_, err = db.Aggregate(ctx, "c", nil, AggOptions{Cursor: tok[:len(tok)-2] + "AA"})
	require.Equal(t, "invalid_cursor", errCode(err))
	// A find token is not an aggregate token.
	fc, err := db.Find(ctx, "c", Query{Limit: 1})
	require.NoError(t, err)
	for fc.Next() {
	}
	ftok := fc.NextToken()
	fc.Close()
	_, err = db.Aggregate(ctx, "c", nil, AggOptions{Cursor: ftok})
	require.Equal(t, "invalid_cursor", errCode(err))

	// The same pipeline written differently continues it.
	cur, err = db.Aggregate(ctx, "c", []byte(` [ {"$group": {"_id":"$v", "n":{"$sum":1}}}, {"$sort":{"_id":-1}} ] `), AggOptions{Cursor: tok})
	require.NoError(t, err)
	require.True(t, cur.Next())
	require.Equal(t, `{"_id":0,"n":4}`, string(cur.Doc()))
	require.False(t, cur.Next())
	require.Empty(t, cur.NextToken())
	require.NoError(t, cur.Close())
}

// TestAggregateMemoryBudget checks that blocking stages reserve what they
// hold from AggOptions.Memory and release it at Close, spill early when
// the budget refuses (same results), and fail with the refusal when they
// cannot spill.
func TestAggregateMemoryBudget(t *testing.T) {
	db := openMem(t, nil)
	ctx := context.Background()
	for i := range 4000 {
		_, err := db.InsertOne(ctx, "c", fmt.Appendf(nil, `{"_id":"d%05d","g":%d,"v":%d}`, i, i%1500, i%7), WriteOptions{})
		require.NoError(t, err)
	}
	p := []byte(`[{"$group":{"_id":"$g","n":{"$sum":"$v"},"p":{"$push":"$v"}}},{"$sort":{"n":-1,"_id":1}}]`)
	want, err := runAggAll(t, db, "c", p, AggOptions{Limit: 1000})
	require.NoError(t, err)

	b := &countingBudget{cap: 1 << 30}
	got, err := runAggAll(t, db, "c", p, AggOptions{Limit: 1000, Memory: b})
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Positive(t, b.peak, "the stages reserved nothing")
	require.Zero(t, b.out, "reservations outlived the cursor")

	// A budget of 600 KiB: the $group (about 1 MiB) spills early.
	b = &countingBudget{cap: 600 << 10}
	dir := t.TempDir()
	got, err = runAggAll(t, db, "c", p, AggOptions{Limit: 1000, Memory: b, SpillDir: dir})
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.LessOrEqual(t, b.peak, int64(600<<10))
	require.Zero(t, b.out)

	// Without spilling, the refusal ends the pipeline.
	b = &countingBudget{cap: 600 << 10}
	_, err = runAggAll(t, db, "c", p, AggOptions{Limit: 1000, Memory: b})
	require.ErrorIs(t, err, errBudget)
	require.Zero(t, b.out)
}

// TestAggregateCanceled checks that a pipeline stops with the context's
// error once its context is done, and leaves no spill file.
func TestAggregateCanceled(t *testing.T) {
	db := openMem(t, nil)
	bg := context.Background()
	for i := range 2000 {
		_, err := db.InsertOne(bg, "c", fmt.Appendf(nil, `{"_id":"d%05d","g":%d}`, i, i%300), WriteOptions{})
		require.NoError(t, err)
	}
	for _, p := range []string{`[{"$group":{"_id":"$g"}}]`, `[{"$sort":{"g":-1}}]`, `[{"$project":{"g":1}}]`} {
		ctx, cancel := context.WithCancel(bg)
		dir := t.TempDir()
		cur, err := db.Aggregate(ctx, "c", []byte(p), AggOptions{SpillDir: dir, MaxMemoryBytes: 4 << 10})
		require.NoError(t, err)
		cancel()
		for cur.Next() {
		}
		require.ErrorIs(t, cur.Err(), context.Canceled, p)
		cur.Close()
		ents, err := os.ReadDir(dir)
		require.NoError(t, err)
		require.Empty(t, ents)
	}
}
