package docstore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAggregateDifferential compares Aggregate with mingo, an independent
// JavaScript implementation of MongoDB's pipeline, over generated data
// and pipelines. It needs node and npm (mingo is installed into a
// temporary directory from the npm registry), so it runs only with
// AGG_DIFF=1 (make agg-diff) and skips when either is missing or the
// install fails.
//
// mingo departs from MongoDB in a few places this package follows
// MongoDB in (each pinned by a golden case in testdata/agg/cases.json):
// $push and $addToSet of a missing value (MongoDB skips it, mingo pushes
// null), {$eq: ["$missing", null]} (false in MongoDB, true in mingo),
// $count of no documents (no document in MongoDB, {n: 0} in mingo), and
// $toLower and $toUpper of null or missing ("" in MongoDB, null in
// mingo), and date parts of strings and numbers (mingo takes only Date
// objects). The generator steers clear of them: pushed values are always
// present, compared fields are never missing, case operators get
// $ifNull'd strings, and $year is not generated.
func TestAggregateDifferential(t *testing.T) {
	if os.Getenv("AGG_DIFF") == "" {
		t.Skip("set AGG_DIFF=1 (make agg-diff) to compare with mingo; needs node and npm")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not installed")
	}
	dir := t.TempDir()
	install := exec.Command(npm, "install", "--no-audit", "--no-fund", "--silent", "mingo@7")
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		t.Skipf("npm install mingo failed (no network?): %v\n%s", err, out)
	}
	script, err := filepath.Abs("testdata/agg/mingo/run.js")
	require.NoError(t, err)

	seeds := 40
	type dcase struct {
		Docs     []map[string]any `json:"docs"`
		Pipeline []any            `json:"pipeline"`
	}
	var cases []dcase
	for seed := range seeds {
		r := rand.New(rand.NewPCG(uint64(seed), 16))
		docs := genDiffDocs(r, 20+r.IntN(40))
		for _, p := range genDiffPipelines(r) {
			cases = append(cases, dcase{Docs: docs, Pipeline: p})
		}
	}
	in, err := json.Marshal(map[string]any{"cases": cases})
	require.NoError(t, err)
	inPath := filepath.Join(dir, "cases.json")
	require.NoError(t, os.WriteFile(inPath, in, 0o644))
	cmd := exec.Command(node, script, inPath)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	out, err := cmd.Output()
	require.NoError(t, err, "node: %v", err)
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 64<<20)
	var want []struct {
		Result []any  `json:"result"`
		Error  string `json:"error"`
	}
	for sc.Scan() {
		var w struct {
			Result []any  `json:"result"`
			Error  string `json:"error"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &w))
		want = append(want, w)
	}
	require.Len(t, want, len(cases))

	ctx := context.Background()
	mismatches := 0
	var db *DB
	var loaded []map[string]any
	for i, c := range cases {
		if db == nil || !reflect.DeepEqual(loaded, c.Docs) {
			db = openMem(t, nil)
			for _, d := range c.Docs {
				b, _ := json.Marshal(d)
				_, err := db.InsertOne(ctx, "c", b, WriteOptions{})
				require.NoError(t, err)
			}
			loaded = c.Docs
		}
		pb, _ := json.Marshal(c.Pipeline)
		res, err := runAggAll(t, db, "c", pb, AggOptions{Limit: 7, MaxMemoryBytes: 4 << 10, SpillDir: t.TempDir()})
		w := want[i]
		if w.Error != "" || err != nil {
			if (w.Error != "") != (err != nil) {
				mismatches++
				t.Errorf("case %d: pipeline %s\nmingo error %q, ours %v", i, pb, w.Error, err)
			}
			continue
		}
		var got []any
		for _, d := range res {
			var v any
			require.NoError(t, json.Unmarshal(d, &v))
			got = append(got, v)
		}
		if got == nil {
			got = []any{}
		}
		if w.Result == nil {
			w.Result = []any{}
		}
		if !reflect.DeepEqual(normDiff(got), normDiff(w.Result)) {
			mismatches++
			docs, _ := json.Marshal(c.Docs)
			g, _ := json.Marshal(got)
			m, _ := json.Marshal(w.Result)
			t.Errorf("case %d: pipeline %s\ndocs %.3000s\nours  %.3000s\nmingo %.3000s", i, pb, docs, g, m)
			if mismatches > 10 {
				t.FailNow()
			}
		}
	}
	t.Logf("%d cases over %d data sets compared with mingo", len(cases), seeds)
}

// normDiff makes numbers compare by value (JSON decoding already reads
// them as float64) and drops keys whose value is JavaScript's undefined
// (mingo leaves some in objects; JSON.stringify omits them anyway).
func normDiff(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normDiff(e)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = normDiff(e)
		}
		return out
	}
	return v
}

func genDiffDocs(r *rand.Rand, n int) []map[string]any {
	strs := []string{"a", "b", "B", "c", "ab", ""}
	var docs []map[string]any
	for i := range n {
		d := map[string]any{"_id": fmt.Sprintf("d%03d", i)}
		switch r.IntN(6) {
		case 0:
			d["g"] = nil
		case 1:
		default:
			d["g"] = r.IntN(5)
		}
		d["k"] = r.IntN(4) // always present
		switch r.IntN(5) {
		case 0:
		case 1:
			d["s"] = nil
		default:
			d["s"] = strs[r.IntN(len(strs))]
		}
		switch r.IntN(8) {
		case 0:
			d["n"] = nil
		case 1:
			d["n"] = "x" + strs[r.IntN(len(strs))]
		case 2:
			d["n"] = r.IntN(2) == 0
		case 3:
			d["n"] = float64(r.IntN(100)) + 0.5
		case 4:
		default:
			d["n"] = r.IntN(100) - 20
		}
		switch r.IntN(6) {
		case 0:
		case 1:
			d["arr"] = []any{}
		case 2:
			d["arr"] = r.IntN(3)
		case 3:
			d["arr"] = nil
		default:
			var a []any
			for range 1 + r.IntN(3) {
				a = append(a, r.IntN(4))
			}
			d["arr"] = a
		}
		switch r.IntN(4) {
		case 0:
		case 1:
			d["sub"] = map[string]any{"x": r.IntN(3)}
		default:
			d["sub"] = map[string]any{"x": r.IntN(3), "y": strs[r.IntN(len(strs))]}
		}
		docs = append(docs, d)
	}
	return docs
}

func jsonAny(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		panic(err)
	}
	return v
}

func genDiffPipelines(r *rand.Rand) [][]any {
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	dir := func() string { return pick("1", "-1") }
	var ps []string
	ps = append(ps,
		fmt.Sprintf(`[{"$match":{"k":{"$gte":%d}}},{"$group":{"_id":"$g","c":{"$sum":1},"t":{"$sum":"$n"},"a":{"$avg":"$n"},"mn":{"$min":"$n"},"mx":{"$max":"$n"}}},{"$sort":{"_id":1}}]`, r.IntN(3)),
		`[{"$unwind":"$arr"},{"$group":{"_id":"$arr","c":{"$sum":1},"ids":{"$push":"$_id"}}},{"$sort":{"_id":1}}]`,
		`[{"$unwind":{"path":"$arr","preserveNullAndEmptyArrays":true,"includeArrayIndex":"i"}},{"$sort":{"_id":1,"i":1}}]`,
		fmt.Sprintf(`[{"$project":{"x":{"$add":["$k",%d]},"y":{"$multiply":["$k","$k"]},"z":{"$cond":[{"$gt":["$k",%d]},"hi","lo"]},"m":{"$mod":["$k",3]},"sub":{"$subtract":["$k",1.5]}}},{"$sort":{"_id":1}}]`, r.IntN(9), r.IntN(4)),
		fmt.Sprintf(`[{"$sort":{"n":%s,"_id":1}},{"$limit":%d}]`, dir(), 1+r.IntN(30)),
		fmt.Sprintf(`[{"$sort":{"s":%s,"_id":%s}},{"$skip":%d},{"$project":{"s":1}}]`, dir(), dir(), r.IntN(10)),
		`[{"$group":{"_id":{"k":"$k","s":"$s"},"c":{"$sum":1},"f":{"$first":"$_id"},"l":{"$last":"$_id"}}},{"$sort":{"_id":1}}]`,
		`[{"$addFields":{"tot":{"$add":["$k","$sub.x"]},"up":{"$toUpper":{"$ifNull":["$s","x"]}},"lo":{"$toLower":{"$ifNull":["$s","Y"]}}}},{"$unset":"arr"},{"$sort":{"_id":1}}]`,
		`[{"$sortByCount":"$k"},{"$sort":{"count":-1,"_id":1}}]`,
		fmt.Sprintf(`[{"$match":{"k":{"$lte":%d}}},{"$count":"c"}]`, 3),
		`[{"$replaceRoot":{"newRoot":{"$ifNull":["$sub",{"x":-1}]}}},{"$sort":{"x":1,"y":1}}]`,
		`[{"$project":{"arr":0,"sub.y":0}},{"$sort":{"_id":-1}}]`,
		fmt.Sprintf(`[{"$match":{"$or":[{"g":{"$gt":%d}},{"s":"a"}]}},{"$project":{"g":1,"s":1,"c":{"$concat":["$_id","-","$_id"]},"eq":{"$eq":["$k",%d]},"cmp":{"$cmp":["$k",2]},"and":{"$and":["$k",{"$gt":["$k",1]}]},"or":{"$or":[{"$lt":["$k",1]},false]},"not":{"$not":["$k"]}}},{"$sort":{"_id":1}}]`, r.IntN(4), r.IntN(4)),
		`[{"$group":{"_id":"$k","set":{"$addToSet":"$k"},"mx":{"$max":"$_id"},"mn":{"$min":"$_id"},"avgk":{"$avg":"$k"}}},{"$sort":{"_id":-1}}]`,
		`[{"$facet":{"byK":[{"$group":{"_id":"$k","c":{"$sum":1}}},{"$sort":{"_id":1}}],"n":[{"$count":"c"}],"top":[{"$sort":{"k":-1,"_id":1}},{"$limit":2},{"$project":{"k":1}}]}}]`,
		`[{"$project":{"size":{"$size":{"$ifNull":[[1,2],[]]}},"sx":"$sub.x","k":1}},{"$match":{"sx":{"$exists":true}}},{"$sort":{"_id":1}}]`,
		fmt.Sprintf(`[{"$sort":{"k":%s,"_id":1}},{"$group":{"_id":"$k","first":{"$first":"$_id"},"last":{"$last":"$_id"},"all":{"$push":"$_id"}}},{"$sort":{"_id":1}}]`, dir()),
		`[{"$unwind":"$arr"},{"$sort":{"arr":-1,"_id":1}},{"$limit":5},{"$project":{"arr":1}}]`,
		`[{"$set":{"sub.z":{"$divide":["$k",4]}}},{"$project":{"sub":1}},{"$sort":{"_id":1}}]`,
	)
	out := make([][]any, 0, len(ps))
	for _, p := range ps {
		out = append(out, jsonAny(p).([]any))
	}
	return out
}
