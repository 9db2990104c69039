package docstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAggregateGroupBenchLoad and TestAggregateGroupBench are the
// benchmark of docs/benchmarks.md: a $group of 1,000,000 documents into
// 100,000 groups. They run only with AGG_BENCH_DIR set (make bench-agg),
// as two processes, so that the second one's peak RSS (measured with
// /usr/bin/time -v) is the aggregation's alone:
//
//	AGG_BENCH_DIR=/tmp/aggbench go test -run TestAggregateGroupBenchLoad .
//	go test -c -o /tmp/docstore.test . && AGG_BENCH_DIR=/tmp/aggbench \
//	  /usr/bin/time -v /tmp/docstore.test -test.run 'TestAggregateGroupBench$' -test.v
func TestAggregateGroupBenchLoad(t *testing.T) {
	dir := os.Getenv("AGG_BENCH_DIR")
	if dir == "" {
		t.Skip("set AGG_BENCH_DIR (make bench-agg)")
	}
	require.NoError(t, os.RemoveAll(dir))
	db, err := Open(filepath.Join(dir, "db"), nil)
	require.NoError(t, err)
	ctx := context.Background()
	const n, batch = 1_000_000, 1000
	start := time.Now()
	for i := 0; i < n; i += batch {
		bodies := make([][]byte, 0, batch)
		for j := i; j < i+batch; j++ {
			bodies = append(bodies, fmt.Appendf(nil, `{"_id":"d%07d","k":"g%05d","v":%d,"s":"%c"}`, j, (j*7919)%100_000, j%1000, 'a'+rune(j%26)))
		}
		_, err := db.InsertMany(ctx, "bench", bodies)
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())
	t.Logf("loaded %d documents in %v", n, time.Since(start).Round(time.Millisecond))
}

func TestAggregateGroupBench(t *testing.T) {
	dir := os.Getenv("AGG_BENCH_DIR")
	if dir == "" {
		t.Skip("set AGG_BENCH_DIR (make bench-agg)")
	}
	db, err := Open(filepath.Join(dir, "db"), nil)
	require.NoError(t, err)
	defer db.Close()
	spill := filepath.Join(dir, "db", "agg-tmp")
	require.NoError(t, CleanSpillDir(spill))
	ctx := context.Background()
	pipes := []string{
		`[{"$group":{"_id":"$k","n":{"$sum":1},"t":{"$sum":"$v"},"a":{"$avg":"$v"},"mx":{"$max":"$s"}}},{"$sort":{"t":-1,"_id":1}},{"$limit":3}]`,
		`[{"$group":{"_id":"$k","n":{"$sum":1},"t":{"$sum":"$v"}}},{"$count":"groups"}]`,
	}
	if p := os.Getenv("AGG_BENCH_PIPELINE"); p != "" {
		pipes = []string{p} // one pipeline, for its own peak RSS
	}
	for _, p := range pipes {
		start := time.Now()
		cur, err := db.Aggregate(ctx, "bench", []byte(p), AggOptions{SpillDir: spill})
		require.NoError(t, err)
		var out []string
		for cur.Next() {
			out = append(out, string(cur.Doc()))
		}
		require.NoError(t, cur.Err())
		require.NoError(t, cur.Close())
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		t.Logf("%s\n  %v, heap in use %d MiB, results %v", p, time.Since(start).Round(time.Millisecond), ms.HeapInuse>>20, out)
	}
	ents, err := os.ReadDir(spill)
	require.NoError(t, err)
	require.Empty(t, ents)
}
