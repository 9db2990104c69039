package storage

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/minidbgo/minidbgo/storage/internal/manifest"
	"github.com/minidbgo/minidbgo/storage/vfs"
)

// BenchmarkOpenVerifyTables measures what Open's table verification
// (verifyTables: footer, index, filter and properties of every live table)
// costs on the OS filesystem with the default options: the bytes it reads
// per GB of tables and its time, scaled to a GB. The tables are written
// once (MINIDBGO_BENCH_KEYS keys of ~200-byte values, default 300,000,
// about 60 MB), then each iteration drops the open readers and verifies
// them all again. The page cache is warm: a cold start adds one random
// read per block read (4 per table) on top. Run it with
//
//	go test -run='^$' -bench=OpenVerifyTables -benchtime=5x .
func BenchmarkOpenVerifyTables(b *testing.B) {
	n := 300_000
	if s := os.Getenv("MINIDBGO_BENCH_KEYS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			b.Fatalf("MINIDBGO_BENCH_KEYS=%q", s)
		}
		n = v
	}
	dir := b.TempDir()
	opts := &Options{FS: vfs.Default, Durability: Durability{Mode: DurabilityNone}}
	db, err := Open(dir, opts)
	if err != nil {
		b.Fatal(err)
	}
	// Values of random letters and digits: documents compress by about
	// a quarter, not a hundredfold like a repeated pattern.
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
	rng := rand.New(rand.NewPCG(1, 2))
	pad := make([]byte, 180)
	batch := db.NewBatch()
	for i := range n {
		for j := range pad {
			pad[j] = alphabet[rng.IntN(len(alphabet))]
		}
		batch.Put([]byte(fmt.Sprintf("user%012d", (i*7919)%n)), append([]byte(fmt.Sprintf(`{"n":%d,"p":"`, i)), pad...))
		if batch.count == 1000 {
			if err := db.Apply(batch); err != nil {
				b.Fatal(err)
			}
			batch = db.NewBatch()
		}
	}
	if err := db.Apply(batch); err != nil {
		b.Fatal(err)
	}
	if err := db.Compact(); err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}

	start := time.Now()
	db, err = Open(dir, opts)
	if err != nil {
		b.Fatal(err)
	}
	openTook := time.Since(start)
	defer db.Close()
	v := db.mu.version
	var tables int
	var tableBytes, metaBytes uint64
	for l := range manifest.NumLevels {
		for _, f := range v.Levels[l] {
			h, err := db.tc.get(f.FileNum, f.Size)
			if err != nil {
				b.Fatal(err)
			}
			// Everything after the data blocks: filter, index,
			// properties (with their trailers) and the footer.
			metaBytes += f.Size - h.r.Properties().DataBytes
			h.release()
			tableBytes += f.Size
			tables++
		}
	}
	gb := float64(tableBytes) / (1 << 30)
	b.ResetTimer()
	for b.Loop() {
		db.tc.close()
		if err := db.verifyTables(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	perGB := time.Duration(float64(b.Elapsed()) / float64(b.N) / gb)
	b.ReportMetric(float64(tables), "tables")
	b.ReportMetric(float64(tableBytes)/(1<<20), "table-MB")
	b.ReportMetric(float64(metaBytes)/gb/(1<<20), "MB-read/GB")
	b.ReportMetric(float64(perGB.Milliseconds()), "ms/GB")
	b.Logf("%d tables, %.1f MB; verification reads %.1f MB per GB of tables (%.2f%%), takes %v per GB warm; whole Open took %v",
		tables, float64(tableBytes)/(1<<20), float64(metaBytes)/gb/(1<<20), 100*float64(metaBytes)/float64(tableBytes), perGB, openTook)
}
