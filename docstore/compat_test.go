package docstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/minidbgo/minidbgo/storage"
	"github.com/minidbgo/minidbgo/storage/tool"
	"github.com/minidbgo/minidbgo/storage/vfs"
	"github.com/stretchr/testify/require"
)

// Format compatibility (RELIABILITY.md S9). testdata/compat/<version>/
// holds a data directory written by that version of MiniDBGo, with data
// in every place the engine keeps it (a compacted level, an L0 table and
// an unflushed WAL), two collections with single, compound and unique
// indexes, and what that version read back: dump.ndjson (every document)
// and queries.json (the ids each indexed query returned). HEAD must open
// each directory, pass `minidbgo check` and read back exactly the same.
//
// When a change alters the on-disk format on purpose, add the next
// version's directory, never rewrite an old one:
//
//	MINIDBGO_COMPAT_WRITE=v2 go test -run TestCompatWrite ./docstore

// compatQueries are run against every compat directory.
var compatQueries = []struct {
	Col    string `json:"col"`
	Filter string `json:"filter"`
	Sort   string `json:"sort,omitempty"`
}{
	{"products", `{"category":"tools"}`, ""},
	{"products", `{"category":"garden","price":{"$gte":500}}`, `{"price":-1}`},
	{"products", `{"tags":"sale"}`, ""},
	{"products", `{"price":{"$lt":40}}`, `{"price":1}`},
	{"orders", `{"ref":"R-0042"}`, ""},
	{"orders", `{"customer":"c7"}`, `{"total":1}`},
}

func compatProduct(i int) string {
	cats := []string{"tools", "garden", "home", "toys"}
	tags := `["new"]`
	if i%3 == 0 {
		tags = `["sale","new"]`
	}
	return fmt.Sprintf(`{"_id":"p%05d","name":"product %d","category":%q,"price":%d,"tags":%s,"dims":{"w":%d.5,"h":%d}}`,
		i, i, cats[i%len(cats)], (i*37)%1000, tags, i%17, i%5)
}

// TestCompatWrite writes testdata/compat/$MINIDBGO_COMPAT_WRITE. It is
// skipped unless that variable is set.
func TestCompatWrite(t *testing.T) {
	version := os.Getenv("MINIDBGO_COMPAT_WRITE")
	if version == "" {
		t.Skip("set MINIDBGO_COMPAT_WRITE=vN to write testdata/compat/vN")
	}
	out := filepath.Join("testdata", "compat", version)
	_, err := os.Stat(out)
	require.ErrorIs(t, err, fs.ErrNotExist, "%s exists: compat directories are never rewritten", out)
	dir := filepath.Join(out, "db")
	db, err := Open(dir, &Options{Storage: &storage.Options{MemTableRecords: 400, DisableAutomaticCompactions: true}})
	require.NoError(t, err)
	must := func(_ any, err error) { t.Helper(); require.NoError(t, err) }

	// A compacted level: products with three indexes.
	require.NoError(t, db.CreateIndex(context.Background(), "products", IndexSpec{Name: "category", Fields: []IndexField{{Path: "category"}}}, nil))
	require.NoError(t, db.CreateIndex(context.Background(), "products", IndexSpec{Name: "cat_price", Fields: []IndexField{{Path: "category"}, {Path: "price", Desc: true}}}, nil))
	require.NoError(t, db.CreateIndex(context.Background(), "products", IndexSpec{Name: "tags", Fields: []IndexField{{Path: "tags"}}}, nil))
	for i := range 1500 {
		must(db.InsertOne(context.Background(), "products", []byte(compatProduct(i)), WriteOptions{}))
	}
	require.NoError(t, db.Compact())
	// An L0 table: updates, replacements and deletes over the level.
	for i := 0; i < 1500; i += 7 {
		must(db.Update(context.Background(), "products", fmt.Sprintf("p%05d", i), []byte(`{"$inc":{"price":3},"$set":{"dims.h":99}}`), WriteOptions{}))
	}
	for i := 3; i < 1500; i += 11 {
		require.NoError(t, db.Delete(context.Background(), "products", fmt.Sprintf("p%05d", i), WriteOptions{}))
	}
	require.NoError(t, db.Flush())
	// The WAL: a second collection with a unique index, never flushed.
	require.NoError(t, db.CreateIndex(context.Background(), "orders", IndexSpec{Name: "ref", Fields: []IndexField{{Path: "ref"}}, Unique: true}, nil))
	require.NoError(t, db.CreateIndex(context.Background(), "orders", IndexSpec{Name: "customer_total", Fields: []IndexField{{Path: "customer"}, {Path: "total"}}}, nil))
	var batch [][]byte
	for i := range 200 {
		batch = append(batch, fmt.Appendf(nil, `{"_id":"o%04d","ref":"R-%04d","customer":"c%d","total":%d,"note":"ünïcødé \"quoted\" %d"}`, i, i, i%10, (i*53)%700, i))
	}
	must(db.InsertMany(context.Background(), "orders", batch))
	require.NoError(t, db.Delete(context.Background(), "orders", "o0100", WriteOptions{}))
	must(db.InsertOne(context.Background(), "products", []byte(compatProduct(1500)), WriteOptions{}))

	var dump bytes.Buffer
	must(db.Dump(context.Background(), &dump))
	require.NoError(t, os.WriteFile(filepath.Join(out, "dump.ndjson"), dump.Bytes(), 0o644))
	answers, _ := compatAnswers(t, db)
	b, err := json.MarshalIndent(answers, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(out, "queries.json"), append(b, '\n'), 0o644))
	require.NoError(t, db.Close())
	require.NoError(t, os.Remove(filepath.Join(dir, "LOCK")))
	for _, sub := range []string{"wal", "sst"} {
		names, err := os.ReadDir(filepath.Join(dir, sub))
		require.NoError(t, err)
		require.NotEmpty(t, names, "the compat directory needs data in %s/", sub)
	}
}

// compatAnswer is one query's result: the ids, in order when sorted.
type compatAnswer struct {
	Col    string   `json:"col"`
	Filter string   `json:"filter"`
	Sort   string   `json:"sort,omitempty"`
	IDs    []string `json:"ids"`
}

// compatAnswers runs compatQueries and reports how many used an index.
func compatAnswers(t *testing.T, db *DB) ([]compatAnswer, int) {
	t.Helper()
	var out []compatAnswer
	indexed := 0
	for _, q := range compatQueries {
		a := compatAnswer{Col: q.Col, Filter: q.Filter, Sort: q.Sort, IDs: []string{}}
		cur, err := db.Find(context.Background(), q.Col, Query{Filter: []byte(q.Filter), Sort: []byte(q.Sort), Limit: 1000})
		require.NoError(t, err)
		for cur.Next() {
			a.IDs = append(a.IDs, cur.ID())
		}
		require.NoError(t, cur.Err())
		if cur.Explain().Index != "" {
			indexed++
		}
		require.NoError(t, cur.Close())
		if q.Sort == "" {
			sort.Strings(a.IDs)
		}
		out = append(out, a)
	}
	return out, indexed
}

// TestCompat opens every directory under testdata/compat with HEAD.
func TestCompat(t *testing.T) {
	versions, err := filepath.Glob(filepath.Join("testdata", "compat", "v*"))
	require.NoError(t, err)
	require.NotEmpty(t, versions, "no compat directories")
	for _, v := range versions {
		t.Run(filepath.Base(v), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "db")
			require.NoError(t, os.CopyFS(dir, os.DirFS(filepath.Join(v, "db"))))

			rep, err := tool.Check(vfs.Default, dir)
			require.NoError(t, err)
			require.True(t, rep.OK(), "check: %v", rep.Damaged())

			db, err := Open(dir, nil)
			require.NoError(t, err)
			want, err := os.ReadFile(filepath.Join(v, "dump.ndjson"))
			require.NoError(t, err)
			var got bytes.Buffer
			st, err := db.Dump(context.Background(), &got)
			require.NoError(t, err)
			// The dumps of these releases had no header: the rest of the
			// dump is theirs byte for byte.
			require.Equal(t, string(want), dumpBody(t, got.String(), st.Seq), "the dump differs")

			wantQ, err := os.ReadFile(filepath.Join(v, "queries.json"))
			require.NoError(t, err)
			var wantAnswers []compatAnswer
			require.NoError(t, json.Unmarshal(wantQ, &wantAnswers))
			answers, indexed := compatAnswers(t, db)
			require.Equal(t, wantAnswers, answers)
			require.Positive(t, indexed, "no query used an index: the index definitions were not read")

			cols, err := db.Collections()
			require.NoError(t, err)
			for _, c := range cols {
				n, err := db.Count(context.Background(), c.Name, nil)
				require.NoError(t, err)
				require.Equal(t, n, c.DocCount, "collection %s: stored count vs documents", c.Name)
			}

			// The old directory takes new writes and reopens.
			_, err = db.InsertOne(context.Background(), "orders", []byte(`{"_id":"new","ref":"R-NEW"}`), WriteOptions{})
			require.NoError(t, err)
			_, err = db.InsertOne(context.Background(), "orders", []byte(`{"_id":"dup","ref":"R-0042"}`), WriteOptions{})
			require.Error(t, err, "the unique index survives")
			require.NoError(t, db.Close())
			db, err = Open(dir, nil)
			require.NoError(t, err)
			_, err = db.Get(context.Background(), "orders", "new")
			require.NoError(t, err)
			require.NoError(t, db.Close())
		})
	}
}
