package workload

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/loadtest/internal/runner"
)

func allWorkloads(t *testing.T, cfg Config) []Workload {
	t.Helper()
	var ws []Workload
	for _, n := range append(slices.Clone(Names), "guide-write", "guide-read") {
		w, err := New(n, cfg)
		require.NoError(t, err, n)
		ws = append(ws, w)
	}
	for _, s := range []string{"range", "scan"} {
		c := cfg
		c.Search = s
		w, err := New("search", c)
		require.NoError(t, err)
		ws = append(ws, w)
	}
	return ws
}

func TestDeterministic(t *testing.T) {
	cfg := Config{Seed: 7, Keys: 500, IDPrefix: "p"}
	a, b := allWorkloads(t, cfg), allWorkloads(t, cfg)
	for k := range a {
		for i := range uint64(200) {
			assert.Equal(t, a[k].Request(i), b[k].Request(i), "%s request %d", a[k].Name(), i)
		}
	}
	// Another seed changes what is sent (guide-read always fetches p1).
	cfg.Seed = 8
	c := allWorkloads(t, cfg)
	for k := range a {
		if a[k].Name() == "guide-read" || a[k].Name() == "guide-write" {
			continue
		}
		differs := false
		for i := range uint64(50) {
			if !assert.ObjectsAreEqual(a[k].Request(i), c[k].Request(i)) {
				differs = true
			}
		}
		assert.True(t, differs, a[k].Name())
	}
}

func TestBodiesAreJSONObjects(t *testing.T) {
	for _, w := range allWorkloads(t, Config{Keys: 300, DocSize: 500}) {
		for i := range uint64(100) {
			r := w.Request(i)
			assert.True(t, strings.HasPrefix(r.Path, "/api/"), r.Path)
			if r.Body == nil {
				continue
			}
			var v any
			require.NoError(t, json.Unmarshal(r.Body, &v), "%s %d: %s", w.Name(), i, r.Body)
			if w.Name() == "bulk" {
				assert.Len(t, v, 100)
			} else {
				assert.IsType(t, map[string]any{}, v)
			}
		}
	}
}

func TestWriteIDsUnique(t *testing.T) {
	for _, name := range []string{"write", "guide-write", "bulk"} {
		w, err := New(name, Config{IDPrefix: "run1", Batch: 10})
		require.NoError(t, err)
		ids := map[string]bool{}
		for i := range uint64(1000) {
			r := w.Request(i)
			var docs []map[string]any
			if name == "bulk" {
				require.NoError(t, json.Unmarshal(r.Body, &docs))
			} else {
				var d map[string]any
				require.NoError(t, json.Unmarshal(r.Body, &d))
				docs = append(docs, d)
			}
			for _, d := range docs {
				id := d["_id"].(string)
				assert.False(t, ids[id], "%s: duplicate id %s", name, id)
				assert.Contains(t, id, "run1")
				ids[id] = true
			}
		}
	}
}

func TestGuideRequests(t *testing.T) {
	w, err := New("guide-write", Config{IDPrefix: "x"})
	require.NoError(t, err)
	assert.Equal(t, runner.Request{Method: "POST", Path: "/api/products", Body: []byte(`{"_id":"test-x-42","data":"test"}`)}, w.Request(42))
	r, err := New("guide-read", Config{})
	require.NoError(t, err)
	assert.Equal(t, runner.Request{Method: "GET", Path: "/api/products/p1"}, r.Request(3))
}

func TestDocSize(t *testing.T) {
	for _, size := range []int{0, 300, 1000, 4096} {
		g := DocGen{Seed: 1, Size: size}
		for k := range uint64(50) {
			d := g.Append(nil, "doc-00000001", k)
			assert.True(t, json.Valid(d), string(d))
			if size > 0 {
				assert.Len(t, d, size, "%s", d)
			} else {
				assert.InDelta(t, 215, len(d), 50, "%s", d)
			}
		}
	}
}

func TestDocFieldsMatchDocument(t *testing.T) {
	g := DocGen{Seed: 3}
	for k := range uint64(20) {
		var d struct {
			Email string `json:"email"`
			City  string `json:"city"`
			Age   int    `json:"age"`
		}
		require.NoError(t, json.Unmarshal(g.Append(nil, "id", k), &d))
		f := g.Fields(k)
		assert.Equal(t, f.Email, d.Email)
		assert.Equal(t, f.City, d.City)
		assert.Equal(t, f.Age, d.Age)
	}
}

func TestMixedRatio(t *testing.T) {
	w, err := New("mixed", Config{Keys: 1000, ReadRatio: 0.75})
	require.NoError(t, err)
	reads := 0
	const n = 20000
	for i := range uint64(n) {
		if w.Request(i).Method == "GET" {
			reads++
		}
	}
	assert.InDelta(t, 0.75, float64(reads)/n, 0.02)
}

func TestUpdateHitsHotDocs(t *testing.T) {
	w, err := New("update", Config{Keys: 1000, HotDocs: 5})
	require.NoError(t, err)
	paths := map[string]bool{}
	for i := range uint64(1000) {
		r := w.Request(i)
		assert.Equal(t, "PATCH", r.Method)
		assert.JSONEq(t, `{"$inc":{"visits":1}}`, string(r.Body))
		paths[r.Path] = true
	}
	assert.Len(t, paths, 5)
}

func TestZipfian(t *testing.T) {
	const n = 1000
	z := NewZipfian(n, 0.99)
	counts := make([]int, n)
	const draws = 200000
	r := newRNG(1, 0)
	for range draws {
		counts[z.Rank(r.Float64())]++
	}
	// Frequencies fall with rank as 1/rank^0.99: rank 0 is about twice
	// rank 1 and ten times rank 9.
	assert.InDelta(t, 2.0, float64(counts[0])/float64(counts[1]), 0.3)
	assert.InDelta(t, math.Pow(10, 0.99), float64(counts[0])/float64(counts[9]), 2.5)
	assert.InDelta(t, 1/z.zetan, float64(counts[0])/draws, 0.01)
	// Pick scatters ranks but stays in range and is a bijection of ranks.
	seen := map[uint64]bool{}
	for rank := range uint64(n) {
		p := permute(rank, n)
		assert.Less(t, p, uint64(n))
		seen[p] = true
	}
	assert.Len(t, seen, n)
}

func TestUniformAndHot(t *testing.T) {
	u := Uniform{N: 10}
	counts := make([]int, 10)
	r := newRNG(5, 5)
	for range 100000 {
		counts[u.Pick(&r)]++
	}
	for _, c := range counts {
		assert.InDelta(t, 10000, c, 500)
	}
	assert.EqualValues(t, 3, Hot{Item: 3}.Pick(&r))
}

func TestBadConfig(t *testing.T) {
	_, err := New("nope", Config{})
	assert.Error(t, err)
	_, err = New("read", Config{Dist: "gaussian"})
	assert.Error(t, err)
	_, err = New("search", Config{Search: "fulltext"})
	assert.Error(t, err)
	_, err = New("bulk", Config{Batch: 1001})
	assert.Error(t, err)
	_, err = New("mixed", Config{ReadRatio: 1.5})
	assert.Error(t, err)
}
