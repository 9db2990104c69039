package docstore

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
	"github.com/minidbgo/minidbgo/docstore/internal/query"
	"github.com/minidbgo/minidbgo/storage"
	"github.com/minidbgo/minidbgo/storage/vfs"
	"github.com/stretchr/testify/require"
)

func openMem(t testing.TB, opts *Options) *DB {
	t.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	so := storage.Options{FS: vfs.NewMem()}
	if o.Storage != nil {
		so = *o.Storage
		if so.FS == nil {
			so.FS = vfs.NewMem()
		}
	}
	o.Storage = &so
	db, err := Open("/db", &o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// randDoc makes a document with fields of mixed types, nested objects and
// arrays, so queries meet every type bracket.
func randDoc(rng *rand.Rand, id string) string {
	m := map[string]any{"_id": id}
	if rng.IntN(10) > 0 {
		switch rng.IntN(6) {
		case 0:
			m["age"] = fmt.Sprintf("%d", rng.IntN(60)) // a string age
		case 1:
			m["age"] = nil
		default:
			m["age"] = rng.IntN(60)
		}
	}
	if rng.IntN(4) > 0 {
		m["name"] = []string{"ada", "bob", "cy", "dee", "eve"}[rng.IntN(5)]
	}
	if rng.IntN(3) > 0 {
		tags := []string{}
		for range rng.IntN(4) {
			tags = append(tags, []string{"a", "b", "c", "d"}[rng.IntN(4)])
		}
		m["tags"] = tags
	}
	if rng.IntN(3) > 0 {
		m["addr"] = map[string]any{"city": []string{"rome", "oslo", "lima"}[rng.IntN(3)], "zip": rng.IntN(5)}
	}
	if rng.IntN(3) == 0 {
		items := []any{}
		for range rng.IntN(3) {
			items = append(items, map[string]any{"sku": fmt.Sprintf("s%d", rng.IntN(5)), "qty": rng.IntN(10)})
		}
		m["items"] = items
	}
	if rng.IntN(4) == 0 {
		m["score"] = float64(rng.IntN(1000)) / 10
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func randFilter(rng *rand.Rand) string {
	leaf := func() string {
		switch rng.IntN(14) {
		case 0:
			return fmt.Sprintf(`{"age":%d}`, rng.IntN(60))
		case 1:
			return fmt.Sprintf(`{"age":{"$gt":%d}}`, rng.IntN(60))
		case 2:
			return fmt.Sprintf(`{"age":{"$gte":%d,"$lt":%d}}`, rng.IntN(30), 30+rng.IntN(30))
		case 3:
			return fmt.Sprintf(`{"name":{"$in":["ada","%s"]}}`, []string{"bob", "cy", "zed"}[rng.IntN(3)])
		case 4:
			return `{"tags":"a"}`
		case 5:
			return `{"addr.city":"rome"}`
		case 6:
			return fmt.Sprintf(`{"items.sku":"s%d"}`, rng.IntN(5))
		case 7:
			return `{"age":null}`
		case 8:
			return `{"name":{"$exists":false}}`
		case 9:
			return fmt.Sprintf(`{"addr.zip":{"$lte":%d}}`, rng.IntN(5))
		case 10:
			return `{"age":{"$type":"string"}}`
		case 11:
			return fmt.Sprintf(`{"name":"%s","age":{"$lt":%d}}`, []string{"ada", "bob"}[rng.IntN(2)], rng.IntN(60))
		case 12:
			return `{"tags":{"$all":["a","b"]}}`
		default:
			return `{"score":{"$gt":50}}`
		}
	}
	switch rng.IntN(7) {
	case 5:
		return []string{
			fmt.Sprintf(`{"_id":"d%03d"}`, rng.IntN(150)),
			fmt.Sprintf(`{"_id":{"$in":["d%03d","d%03d","zzz"]}}`, rng.IntN(150), rng.IntN(150)),
			fmt.Sprintf(`{"_id":{"$gte":"d%03d","$lt":"d%03d"}}`, rng.IntN(75), 75+rng.IntN(75)),
			fmt.Sprintf(`{"_id":{"$gt":"d%03d"},"age":{"$lt":40}}`, rng.IntN(150)),
			`{"_id":{"$gt":5}}`,
		}[rng.IntN(5)]
	case 0:
		return fmt.Sprintf(`{"$or":[%s,%s]}`, leaf(), leaf())
	case 1:
		return fmt.Sprintf(`{"$and":[%s,%s]}`, leaf(), leaf())
	case 2:
		return `{}`
	}
	return leaf()
}

// bruteForce evaluates a query over the model: filter every document,
// sort with the same comparator (ties by _id), skip and limit.
func bruteForce(t *testing.T, docs map[string]string, filter, sort string, skip, limit int) []string {
	t.Helper()
	fv, err := jsondoc.Parse([]byte(filter), jsondoc.Limits{})
	require.NoError(t, err)
	f, err := query.ParseFilter(fv)
	require.NoError(t, err)
	var s *query.Sort
	if sort != "" {
		sv, err := jsondoc.Parse([]byte(sort), jsondoc.Limits{})
		require.NoError(t, err)
		s, err = query.ParseSort(sv)
		require.NoError(t, err)
	}
	type entry struct {
		id  string
		doc jsondoc.Value
	}
	var out []entry
	for _, id := range slices.Sorted(maps.Keys(docs)) {
		v, err := jsondoc.Parse([]byte(docs[id]), jsondoc.Limits{})
		require.NoError(t, err)
		if f.Match(v) {
			out = append(out, entry{id, v})
		}
	}
	if s != nil {
		slices.SortStableFunc(out, func(a, b entry) int {
			if c := s.Compare(a.doc, b.doc); c != 0 {
				return c
			}
			return strings.Compare(a.id, b.id)
		})
	}
	ids := []string{}
	for i, e := range out {
		if i < skip {
			continue
		}
		if len(ids) == limit {
			break
		}
		ids = append(ids, e.id)
	}
	return ids
}

func findIDs(t *testing.T, db *DB, col string, q Query) ([]string, Explanation) {
	t.Helper()
	cur, err := db.Find(context.Background(), col, q)
	require.NoError(t, err, "find %s", q.Filter)
	ids := []string{}
	for cur.Next() {
		ids = append(ids, cur.ID())
	}
	require.NoError(t, cur.Err())
	ex := cur.Explain()
	require.NoError(t, cur.Close())
	return ids, ex
}

// TestModel runs random writes and queries against the docstore and a
// brute-force evaluation over an in-memory copy, first without indexes,
// then with indexes on the queried fields: indexed plans must return
// exactly what the scan returns (in the same order when sorted).
func TestModel(t *testing.T) {
	for _, withIndexes := range []bool{false, true} {
		t.Run(fmt.Sprintf("indexes=%v", withIndexes), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(42, 1))
			db := openMem(t, &Options{Storage: &storage.Options{MemTableRecords: 200}})
			const col = "people"
			model := map[string]string{}
			if withIndexes {
				for _, spec := range []string{
					`{"fields":["age"]}`, `{"fields":["name","age"]}`, `{"fields":["tags"]}`,
					`{"fields":["addr.city"]}`, `{"fields":["items.sku"]}`, `{"fields":["-score"]}`,
					`{"fields":["addr.zip"]}`,
				} {
					s, err := ParseIndexSpec([]byte(spec))
					require.NoError(t, err)
					require.NoError(t, db.CreateIndex(context.Background(), col, s, nil))
				}
			}
			steps := 600
			if testing.Short() {
				steps = 200
			}
			usedIndex := 0
			for step := range steps {
				id := fmt.Sprintf("d%03d", rng.IntN(150))
				switch p := rng.IntN(100); {
				case p < 40:
					doc := randDoc(rng, id)
					_, err := db.InsertOne(context.Background(), col, []byte(doc), WriteOptions{})
					require.NoError(t, err)
					model[id] = canon(t, doc)
				case p < 50:
					err := db.Delete(context.Background(), col, id, WriteOptions{})
					if _, ok := model[id]; ok {
						require.NoError(t, err)
						delete(model, id)
					} else {
						require.ErrorIs(t, err, ErrNotFound)
					}
				case p < 58:
					upd := fmt.Sprintf(`{"$set":{"name":"%s"},"$inc":{"n":1}}`, []string{"ada", "zed"}[rng.IntN(2)])
					res, err := db.Update(context.Background(), col, id, []byte(upd), WriteOptions{})
					if _, ok := model[id]; ok {
						require.NoError(t, err)
						d, err := db.Get(context.Background(), col, id)
						require.NoError(t, err)
						require.Equal(t, res.Rev, d.Rev)
						model[id] = canon(t, string(d.JSON))
					} else {
						require.ErrorIs(t, err, ErrNotFound)
					}
				case p < 62:
					filter := randFilter(rng)
					res, err := db.DeleteMany(context.Background(), col, []byte(filter))
					require.NoError(t, err)
					want := bruteForce(t, model, filter, "", 0, 1<<30)
					require.Equal(t, int64(len(want)), res.Deleted, "deleteMany %s", filter)
					for _, id := range want {
						delete(model, id)
					}
				default:
					filter := randFilter(rng)
					sort := ""
					if rng.IntN(2) == 0 {
						sort = []string{`{"age":1}`, `{"score":-1}`, `{"name":1,"age":-1}`, `{"tags":1}`}[rng.IntN(4)]
					}
					skip, limit := rng.IntN(3), 1+rng.IntN(40)
					want := bruteForce(t, model, filter, sort, skip, limit)
					got, ex := findIDs(t, db, col, Query{Filter: []byte(filter), Sort: []byte(sort), Skip: skip, Limit: limit})
					if ex.Plan == "IXSCAN" {
						usedIndex++
					}
					if sort == "" {
						slices.Sort(want)
						// Unsorted results come in plan order; compare as sets
						// when the full result fits the page.
						all := bruteForce(t, model, filter, "", 0, 1<<30)
						if len(all) <= limit && skip == 0 {
							slices.Sort(got)
							require.Equal(t, all, got, "step %d filter %s plan %+v", step, filter, ex)
						} else {
							require.Len(t, got, len(want), "step %d filter %s", step, filter)
						}
					} else {
						require.Equal(t, want, got, "step %d filter %s sort %s skip %d limit %d plan %+v", step, filter, sort, skip, limit, ex)
					}
					n, err := db.Count(context.Background(), col, []byte(filter))
					require.NoError(t, err)
					require.Equal(t, int64(len(bruteForce(t, model, filter, "", 0, 1<<30))), n, "count %s", filter)
				}
				if step%100 == 99 {
					checkCollection(t, db, col, model)
				}
			}
			checkCollection(t, db, col, model)
			if withIndexes {
				require.Greater(t, usedIndex, 20, "the planner never used an index")
			}
		})
	}
}

func canon(t *testing.T, doc string) string {
	t.Helper()
	v, err := jsondoc.Parse([]byte(doc), jsondoc.Limits{})
	require.NoError(t, err)
	return string(jsondoc.AppendJSON(nil, v))
}

// checkCollection compares every document and the maintained counts.
func checkCollection(t *testing.T, db *DB, col string, model map[string]string) {
	t.Helper()
	var bytes int64
	for id, want := range model {
		d, err := db.Get(context.Background(), col, id)
		require.NoError(t, err)
		require.JSONEq(t, want, string(d.JSON))
		bytes += int64(len(d.JSON))
	}
	info, err := db.Stats(col)
	require.NoError(t, err)
	require.Equal(t, int64(len(model)), info.DocCount)
	require.Equal(t, bytes, info.ByteSize)
	// Paging with cursors reads every document exactly once.
	seen := map[string]bool{}
	tok := ""
	for {
		cur, err := db.Find(context.Background(), col, Query{Limit: 7, Cursor: tok})
		require.NoError(t, err)
		for cur.Next() {
			require.False(t, seen[cur.ID()], "duplicate %s across pages", cur.ID())
			seen[cur.ID()] = true
		}
		require.NoError(t, cur.Err())
		tok = cur.NextToken()
		require.NoError(t, cur.Close())
		if tok == "" {
			break
		}
	}
	require.Len(t, seen, len(model))
}

// pagingFilter adds to randFilter the filters that reach multikey index
// ranges: ranges and $in over an array field, $elemMatch, and the unique
// field "u".
func pagingFilter(rng *rand.Rand) string {
	switch rng.IntN(13) {
	case 7:
		return fmt.Sprintf(`{"items.sku":{"$gte":"s%d"}}`, rng.IntN(5))
	case 0:
		return fmt.Sprintf(`{"tags":{"$gte":"%s"}}`, []string{"a", "b", "c"}[rng.IntN(3)])
	case 1:
		return `{"tags":{"$in":["a","c","zz"]}}`
	case 2:
		return fmt.Sprintf(`{"tags":{"$elemMatch":{"$gt":"%s"}}}`, []string{"a", "b"}[rng.IntN(2)])
	case 3:
		return fmt.Sprintf(`{"items":{"$elemMatch":{"sku":"s%d","qty":{"$gte":%d}}}}`, rng.IntN(5), rng.IntN(10))
	case 4:
		return fmt.Sprintf(`{"u":{"$gte":"ud%03d"}}`, rng.IntN(60))
	case 5:
		return fmt.Sprintf(`{"$or":[{"tags":"a"},{"tags":{"$gt":"c"}},{"age":{"$lt":%d}}]}`, rng.IntN(60))
	case 6:
		return fmt.Sprintf(`{"tags":{"$gt":"a","$lte":"c"},"age":{"$gte":%d}}`, rng.IntN(60))
	}
	return randFilter(rng)
}

// TestModelPaging pages through every query with cursors, at page sizes
// 1, 7, 100 and 1,000, without an index and with each kind of index
// (single, compound, multikey, compound multikey, nested multikey,
// descending, unique, all at once), and compares the whole concatenation
// of the pages with the brute-force model: the same documents, each once,
// in the model's order when the query sorts.
func TestModelPaging(t *testing.T) {
	configs := []struct {
		name  string
		specs []string
	}{
		{"none", nil},
		{"single", []string{`{"fields":["age"]}`}},
		{"compound", []string{`{"fields":["name","age"]}`}},
		{"multikey", []string{`{"fields":["tags"]}`}},
		{"compound-multikey", []string{`{"fields":["tags","-age"]}`}},
		{"nested-multikey", []string{`{"fields":["items.sku"]}`}},
		{"desc", []string{`{"fields":["-score"]}`}},
		{"unique", []string{`{"fields":["u"],"unique":true}`}},
		{"all", []string{
			`{"fields":["age"]}`, `{"fields":["name","age"]}`, `{"fields":["tags"]}`,
			`{"fields":["tags","-age"]}`, `{"fields":["items.sku"]}`, `{"fields":["-score"]}`,
			`{"fields":["u"],"unique":true}`, `{"fields":["addr.city"]}`,
		}},
	}
	for ci, cfg := range configs {
		t.Run(cfg.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(7, uint64(ci)))
			db := openMem(t, &Options{Storage: &storage.Options{MemTableRecords: 100}})
			const col = "people"
			for _, spec := range cfg.specs {
				s, err := ParseIndexSpec([]byte(spec))
				require.NoError(t, err)
				require.NoError(t, db.CreateIndex(context.Background(), col, s, nil))
			}
			model := map[string]string{}
			steps := 200
			if testing.Short() {
				steps = 80
			}
			usedIndex := 0
			for step := range steps {
				id := fmt.Sprintf("d%03d", rng.IntN(60))
				switch p := rng.IntN(100); {
				case p < 45:
					doc := randDoc(rng, id)
					doc = doc[:len(doc)-1] + `,"u":"u` + id + `"}`
					_, err := db.InsertOne(context.Background(), col, []byte(doc), WriteOptions{})
					require.NoError(t, err)
					model[id] = canon(t, doc)
				case p < 52:
					if _, ok := model[id]; ok {
						require.NoError(t, db.Delete(context.Background(), col, id, WriteOptions{}))
						delete(model, id)
					}
				case p < 58:
					if _, ok := model[id]; ok {
						upd := fmt.Sprintf(`{"$set":{"tags":["%s","b"]}}`, []string{"a", "d"}[rng.IntN(2)])
						_, err := db.Update(context.Background(), col, id, []byte(upd), WriteOptions{})
						require.NoError(t, err)
						d, err := db.Get(context.Background(), col, id)
						require.NoError(t, err)
						model[id] = canon(t, string(d.JSON))
					}
				default:
					filter := pagingFilter(rng)
					sort := ""
					if rng.IntN(2) == 0 {
						sort = []string{`{"age":1}`, `{"score":-1}`, `{"name":1,"age":-1}`, `{"tags":1}`, `{"tags":-1,"_id":-1}`, `{"u":-1}`, `{"_id":-1}`}[rng.IntN(7)]
					}
					skip := rng.IntN(3)
					want := bruteForce(t, model, filter, sort, skip, 1<<30)
					all := bruteForce(t, model, filter, "", 0, 1<<30)
					for _, size := range []int{1, 7, 100, 1000} {
						q := Query{Filter: []byte(filter), Sort: []byte(sort), Skip: skip, Limit: size}
						if size == 1 {
							ex, err := db.Explain(context.Background(), col, q)
							require.NoError(t, err)
							if ex.Plan == "IXSCAN" {
								usedIndex++
							}
						}
						got := pageAll(t, db, col, q, size%2 == 1)
						msg := fmt.Sprintf("step %d filter %s sort %s skip %d page size %d", step, filter, sort, skip, size)
						if sort != "" {
							require.Equal(t, want, got, msg)
							continue
						}
						// Unsorted pages come in plan order, so which
						// documents skip passes over is the plan's: all
						// but skip of the matches, each once.
						slices.Sort(got)
						require.Len(t, got, len(want), msg)
						require.Len(t, slices.Compact(slices.Clone(got)), len(got), "a document came twice: %s", msg)
						for _, id := range got {
							_, ok := slices.BinarySearch(all, id)
							require.True(t, ok, "%s does not match: %s", id, msg)
						}
					}
				}
			}
			if len(cfg.specs) > 0 {
				require.Greater(t, usedIndex, 3, "the planner seldom used an index")
			}
		})
	}
}
