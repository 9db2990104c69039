package storage_test

// db_bench-style benchmarks of the engine on the OS filesystem (LevelDB
// benchmarks/db_bench.cc names; RELIABILITY.md S10). Each benchmark runs its
// whole workload once per b.Loop iteration and reports the workload's own
// rate: ops/s (keys/s for readseq, scans/s for scan), MB/s of user data, and
// ns/op per key operation. Run them with
//
//	go test -run='^$' -bench=. -benchtime=1x .                 # 100,000 keys
//	MINIDBGO_BENCH_KEYS=1000000 go test -run='^$' -bench=. -benchtime=1x -timeout 60m .
//
// Keys are 16 bytes ("user" and 12 digits); values are ~200 bytes of JSON
// documents with varied content, generated deterministically (valueGen).
// Fills use durability none, as the reference figures in docs/benchmarks.md
// were measured without per-write sync; fillsync uses the default, group.

import (
	"errors"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minidbgo/minidbgo/storage"
)

// benchNumKeys is the number of keys of each workload:
// MINIDBGO_BENCH_KEYS, default 100,000 so that -benchtime=1x stays quick.
func benchNumKeys(b *testing.B) int {
	return envInt(b, "MINIDBGO_BENCH_KEYS", 100_000)
}

func envInt(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

func benchOptions(durability string, compression storage.Compression) *storage.Options {
	d, err := storage.ParseDurability(durability)
	if err != nil {
		panic(err)
	}
	return &storage.Options{Durability: d, BlockCacheBytes: 64 << 20, Compression: compression}
}

func openBench(b *testing.B, dir string, o *storage.Options) *storage.DB {
	b.Helper()
	db, err := storage.Open(dir, o)
	if err != nil {
		b.Fatal(err)
	}
	// After a failure, close the DB before b.TempDir's removal (cleanups
	// run last-in first-out); after closeBench this is a no-op.
	b.Cleanup(func() { _ = db.Close() })
	return db
}

func closeBench(b *testing.B, db *storage.DB) {
	b.Helper()
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
}

// ---- keys and values ----

const (
	benchKeyLen = 16
	keyPrefix   = "user"
)

// benchKey writes key i, "user" and 12 decimal digits, into dst[:16].
func benchKey(dst []byte, i int) []byte {
	dst = append(dst[:0], keyPrefix...)
	var digits [12]byte
	for j := len(digits) - 1; j >= 0; j-- {
		digits[j] = byte('0' + i%10)
		i /= 10
	}
	return append(dst, digits[:]...)
}

// missingKey is a 16-byte key that sorts between existing keys (just
// before key 10*i) but is never written: "user" + 11 digits + ".".
func missingKey(dst []byte, i int) []byte {
	dst = benchKey(dst, i*10)
	dst[benchKeyLen-1] = '.'
	return dst
}

// permute maps 0..n-1 onto itself one to one, scattered: the order of
// fillrandom and overwrite (every key once, in random-looking order).
func permute(i, n int) int {
	// 2654435761 (Knuth) is prime and does not divide n, so it is a
	// unit modulo n.
	const mul = 2654435761
	if n%mul == 0 {
		return i
	}
	return int((uint64(i)*mul + 12345) % uint64(n))
}

// valueGen produces realistic JSON documents of ~200 bytes. It keeps a pool
// of distinct documents generated from a fixed seed; the value of key i in
// version v is a pool document chosen by hashing (i, v), with its _id set
// to the key, so values are deterministic, varied within a block, and cost
// one copy to produce.
type valueGen struct {
	pool [][]byte
	mask uint64
}

const valuePoolSize = 1 << 14

var (
	firstNames = []string{"Alice", "Bruno", "Chloé", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
		"Kofi", "Lena", "Mateo", "Nora", "Omar", "Priya", "Quentin", "Rosa", "Sven", "Tariq", "Uma", "Victor",
		"Wen", "Ximena", "Yusuf", "Zoe"}
	lastNames = []string{"Moreno", "Schmidt", "Okafor", "Tanaka", "Kowalski", "Haddad", "Nguyen", "Rossi",
		"Johansson", "Fernandes", "Petrov", "Dubois", "O'Brien", "Kim", "Singh", "Andersen", "Costa", "Müller",
		"Ivanova", "Lopez"}
	domains = []string{"example.com", "mail.example.org", "corp.example.net", "inbox.example.io"}
	tagSet  = []string{"admin", "beta", "eu-west", "us-east", "premium", "trial", "mobile", "newsletter",
		"verified", "support", "partner", "dev"}
	cities = []string{"Lisbon", "Berlin", "Lagos", "Osaka", "Kraków", "Beirut", "Hanoi", "Milan",
		"Göteborg", "Porto", "Sofia", "Lyon", "Dublin", "Seoul", "Pune", "Aarhus"}
)

// idOffset is where the 16-byte _id starts in every pooled document.
const idOffset = len(`{"_id":"`)

func newValueGen(seed uint64) *valueGen {
	rng := rand.New(rand.NewPCG(seed, 0x6d696e6964626721))
	g := &valueGen{pool: make([][]byte, valuePoolSize), mask: valuePoolSize - 1}
	for i := range g.pool {
		g.pool[i] = genDocument(rng, i)
	}
	return g
}

func genDocument(rng *rand.Rand, i int) []byte {
	first := firstNames[rng.IntN(len(firstNames))]
	last := lastNames[rng.IntN(len(lastNames))]
	b := make([]byte, 0, 256)
	b = append(b, `{"_id":"`...)
	b = append(b, benchKey(nil, i)...) // replaced by the key when used
	b = append(b, `","name":"`...)
	b = append(b, first...)
	b = append(b, ' ')
	b = append(b, last...)
	b = append(b, `","email":"`...)
	for _, s := range []string{first, ".", last} {
		for _, r := range s {
			if r < 0x80 && r != '\'' {
				if 'A' <= r && r <= 'Z' {
					r += 'a' - 'A'
				}
				b = append(b, byte(r))
			}
		}
	}
	b = strconv.AppendInt(b, int64(rng.IntN(1000)), 10)
	b = append(b, '@')
	b = append(b, domains[rng.IntN(len(domains))]...)
	b = append(b, `","age":`...)
	b = strconv.AppendInt(b, int64(18+rng.IntN(70)), 10)
	b = append(b, `,"active":`...)
	b = strconv.AppendBool(b, rng.IntN(4) != 0)
	b = append(b, `,"tags":[`...)
	for t, n := 0, 1+rng.IntN(3); t < n; t++ {
		if t > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, tagSet[rng.IntN(len(tagSet))]...)
		b = append(b, '"')
	}
	b = append(b, `],"score":`...)
	b = strconv.AppendFloat(b, float64(rng.IntN(10000))/100, 'f', -1, 64)
	b = append(b, `,"city":"`...)
	b = append(b, cities[rng.IntN(len(cities))]...)
	b = append(b, `","created":"`...)
	t := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.Int64N(int64(3 * 365 * 24 * time.Hour))))
	b = t.AppendFormat(b, time.RFC3339)
	b = append(b, `"}`...)
	return b
}

// value writes the document of key (number i, bytes key) in version v into
// dst and returns it.
func (g *valueGen) value(dst []byte, key []byte, i, v int) []byte {
	h := uint64(i)*0x9e3779b97f4a7c15 + uint64(v)*0xbf58476d1ce4e5b9
	h ^= h >> 29
	doc := g.pool[h&g.mask]
	dst = append(dst[:0], doc...)
	copy(dst[idOffset:idOffset+benchKeyLen], key)
	return dst
}

var (
	benchGenOnce sync.Once
	benchGen     *valueGen
)

func valueGenerator() *valueGen {
	benchGenOnce.Do(func() { benchGen = newValueGen(1) })
	return benchGen
}

// ---- measurement ----

// result accumulates the timed part of a workload over b.Loop iterations.
type result struct {
	ops     int
	bytes   int64
	elapsed time.Duration
}

func (r *result) add(ops int, bytes int64, d time.Duration) {
	r.ops += ops
	r.bytes += bytes
	r.elapsed += d
}

// report replaces ns/op by ns per key operation and adds ops/s and MB/s.
func (r *result) report(b *testing.B, unit string) {
	if r.ops == 0 || r.elapsed <= 0 {
		return
	}
	secs := r.elapsed.Seconds()
	b.ReportMetric(float64(r.elapsed.Nanoseconds())/float64(r.ops), "ns/op")
	b.ReportMetric(float64(r.ops)/secs, unit)
	if r.bytes > 0 {
		b.ReportMetric(float64(r.bytes)/secs/1e6, "MB/s")
	}
}

// ---- fills ----

type fillOrder int

const (
	orderSeq fillOrder = iota
	orderRandom
)

// busyRetries counts writes refused with ErrBusy (a writer stalled longer
// than Options.WriteStallTimeout) and retried: a bulk loader keeps going, as
// it would against an engine that stalls without a deadline.
var busyRetries atomic.Int64

func retryBusy(write func() error) error {
	for {
		err := write()
		if !errors.Is(err, storage.ErrBusy) {
			return err
		}
		busyRetries.Add(1)
	}
}

// fill writes keys 0..n-1 (version v) in the given order, batch entries
// at a time (1: Put), and returns the user bytes written.
func fill(b *testing.B, db *storage.DB, n int, order fillOrder, batch, v int) int64 {
	g := valueGenerator()
	var key, val []byte
	var bytes int64
	if batch <= 1 {
		for i := range n {
			k := i
			if order == orderRandom {
				k = permute(i, n)
			}
			key = benchKey(key, k)
			val = g.value(val, key, k, v)
			if err := retryBusy(func() error { return db.Put(key, val) }); err != nil {
				b.Fatalf("put %d: %v", i, err)
			}
			bytes += int64(len(key) + len(val))
		}
		return bytes
	}
	bt := db.NewBatch()
	for i := 0; i < n; {
		bt.Reset()
		for j := 0; j < batch && i < n; j, i = j+1, i+1 {
			k := i
			if order == orderRandom {
				k = permute(i, n)
			}
			key = benchKey(key, k)
			val = g.value(val, key, k, v)
			bt.Put(key, val)
			bytes += int64(len(key) + len(val))
		}
		if err := retryBusy(func() error { return db.Apply(bt) }); err != nil {
			b.Fatalf("apply at %d: %v", i, err)
		}
	}
	return bytes
}

// BenchmarkFill measures the write workloads on a fresh DB each (overwrite:
// on a DB holding every key), durability none.
func BenchmarkFill(b *testing.B) {
	n := benchNumKeys(b)
	cases := []struct {
		name  string
		order fillOrder
		batch int
		pre   bool // fill every key first, untimed (overwrite)
	}{
		{"fillseq", orderSeq, 1, false},
		{"fillrandom", orderRandom, 1, false},
		{"fillbatch", orderSeq, 1000, false},
		{"overwrite", orderRandom, 1, true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var r result
			busyRetries.Store(0)
			for b.Loop() {
				b.StopTimer()
				dir := b.TempDir()
				db := openBench(b, dir, benchOptions("none", 0))
				v := 0
				if c.pre {
					fill(b, db, n, orderSeq, 1000, v)
					v++
				}
				b.StartTimer()
				start := time.Now()
				bytes := fill(b, db, n, c.order, c.batch, v)
				r.add(n, bytes, time.Since(start))
				b.StopTimer()
				m := db.Metrics()
				closeBench(b, db)
				os.RemoveAll(dir)
				b.StartTimer()
				b.ReportMetric(float64(m.WriteStalls), "stalls")
				b.ReportMetric(float64(busyRetries.Load()), "busy-retries")
				b.ReportMetric(float64(m.CompactionBytesOut)/float64(m.BytesIn), "compact-out/in")
			}
			r.report(b, "ops/s")
		})
	}
}

// BenchmarkFillSync measures group commit (durability group, the default):
// one writer, whose every write waits for its own fsync, against 50
// concurrent writers that share fsyncs. The target is a ratio >= 20.
// MINIDBGO_BENCH_SYNC_OPS sets the writes per phase (default 4,000 for one
// writer; 50 writers do 10x that).
func BenchmarkFillSync(b *testing.B) {
	ops1 := envInt(b, "MINIDBGO_BENCH_SYNC_OPS", 4000)
	const writers = 50
	perWriter := ops1 * 10 / writers
	g := valueGenerator()
	var r1, r50 result
	var syncs50 uint64
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		db := openBench(b, dir, benchOptions("group", 0))
		b.StartTimer()

		start := time.Now()
		var key, val []byte
		var bytes int64
		for i := range ops1 {
			key = benchKey(key, i)
			val = g.value(val, key, i, 0)
			if err := db.Put(key, val); err != nil {
				b.Fatal(err)
			}
			bytes += int64(len(key) + len(val))
		}
		r1.add(ops1, bytes, time.Since(start))
		before := db.Metrics()

		var wg sync.WaitGroup
		var bytes50 atomic.Int64
		errs := make(chan error, writers)
		start = time.Now()
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var key, val []byte
				for j := range perWriter {
					k := ops1 + w*perWriter + j
					key = benchKey(key, k)
					val = g.value(val, key, k, 0)
					if err := db.Put(key, val); err != nil {
						errs <- err
						return
					}
					bytes50.Add(int64(len(key) + len(val)))
				}
			}()
		}
		wg.Wait()
		r50.add(writers*perWriter, bytes50.Load(), time.Since(start))
		close(errs)
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
		after := db.Metrics()
		syncs50 += after.WALSyncs - before.WALSyncs

		b.StopTimer()
		closeBench(b, db)
		os.RemoveAll(dir)
		b.StartTimer()
	}
	rate1 := float64(r1.ops) / r1.elapsed.Seconds()
	rate50 := float64(r50.ops) / r50.elapsed.Seconds()
	b.ReportMetric(float64(r1.elapsed.Nanoseconds())/float64(r1.ops), "ns/op")
	b.ReportMetric(rate1, "ops/s-1writer")
	b.ReportMetric(rate50, "ops/s-50writers")
	b.ReportMetric(rate50/rate1, "x-speedup")
	if syncs50 > 0 {
		b.ReportMetric(float64(r50.ops)/float64(syncs50), "writes/fsync-50writers")
	}
}

// ---- reads ----

// readFixture builds, once per BenchmarkRead run, a DB holding keys
// 0..n-1 written in random order, fully compacted and closed.
func readFixture(b *testing.B, n int) string {
	dir := b.TempDir()
	db := openBench(b, dir, benchOptions("none", 0))
	fill(b, db, n, orderRandom, 1, 0)
	if err := db.Compact(); err != nil {
		b.Fatal(err)
	}
	closeBench(b, db)
	return dir
}

// BenchmarkRead measures the read workloads on a compacted DB, reopened
// (cold block cache) for each, with the default durability.
func BenchmarkRead(b *testing.B) {
	n := benchNumKeys(b)
	dir := readFixture(b, n)
	reads := envInt(b, "MINIDBGO_BENCH_READS", n)
	scans := max(reads/100, 100)
	g := valueGenerator()

	run := func(name, unit string, body func(db *storage.DB, rng *rand.Rand) (ops int, bytes int64)) {
		b.Run(name, func(b *testing.B) {
			var r result
			seed := uint64(0)
			for b.Loop() {
				b.StopTimer()
				db := openBench(b, dir, benchOptions("group", 0))
				seed++
				rng := rand.New(rand.NewPCG(seed, 42))
				b.StartTimer()
				start := time.Now()
				ops, bytes := body(db, rng)
				r.add(ops, bytes, time.Since(start))
				b.StopTimer()
				m := db.Metrics()
				closeBench(b, db)
				b.StartTimer()
				if m.BlockCacheHits+m.BlockCacheMisses > 0 {
					b.ReportMetric(float64(m.BlockCacheHits)/float64(m.BlockCacheHits+m.BlockCacheMisses), "cache-hit-ratio")
				}
			}
			r.report(b, unit)
		})
	}

	run("readrandom", "ops/s", func(db *storage.DB, rng *rand.Rand) (int, int64) {
		var key, want []byte
		var bytes int64
		for range reads {
			k := rng.IntN(n)
			key = benchKey(key, k)
			v, err := db.Get(key)
			if err != nil {
				b.Fatalf("get %s: %v", key, err)
			}
			if want = g.value(want, key, k, 0); string(v) != string(want) {
				b.Fatalf("get %s: wrong value", key)
			}
			bytes += int64(len(key) + len(v))
		}
		return reads, bytes
	})
	run("readmissing", "ops/s", func(db *storage.DB, rng *rand.Rand) (int, int64) {
		var key []byte
		for range reads {
			key = missingKey(key, rng.IntN(n/10+1))
			if _, err := db.Get(key); !errors.Is(err, storage.ErrNotFound) {
				b.Fatalf("get %s: %v, want ErrNotFound", key, err)
			}
		}
		return reads, 0
	})
	run("readseq", "keys/s", func(db *storage.DB, _ *rand.Rand) (int, int64) {
		it := db.NewIter(nil)
		count := 0
		var bytes int64
		for ok := it.First(); ok; ok = it.Next() {
			count++
			bytes += int64(len(it.Key()) + len(it.Value()))
		}
		if err := it.Close(); err != nil {
			b.Fatal(err)
		}
		if count != n {
			b.Fatalf("readseq saw %d keys, want %d", count, n)
		}
		return count, bytes
	})
	run("scan", "scans/s", func(db *storage.DB, rng *rand.Rand) (int, int64) {
		// Keys sharing their first 14 bytes: 100 consecutive keys.
		var key []byte
		var bytes int64
		for range scans {
			key = benchKey(key, rng.IntN(n/100)*100)
			it := db.NewIter(&storage.IterOptions{Prefix: key[:benchKeyLen-2]})
			count := 0
			for ok := it.First(); ok; ok = it.Next() {
				count++
				bytes += int64(len(it.Key()) + len(it.Value()))
			}
			if err := it.Close(); err != nil {
				b.Fatal(err)
			}
			if count != 100 {
				b.Fatalf("scan of %s saw %d keys, want 100", key[:benchKeyLen-2], count)
			}
		}
		return scans, bytes
	})
}

// ---- compression ----

// BenchmarkCompression compares the block compressions on the benchmark's
// values: fillrandom rate, Compact throughput, table bytes after Compact
// (and the ratio of user bytes to them), and readrandom rate on the
// compacted, reopened DB. It justifies the default, S2.
func BenchmarkCompression(b *testing.B) {
	n := benchNumKeys(b)
	for _, c := range []storage.Compression{storage.NoCompression, storage.S2Compression, storage.ZstdCompression} {
		b.Run(c.String(), func(b *testing.B) {
			var fillR, compactR, readR result
			var tableBytes, userBytes int64
			for b.Loop() {
				dir := b.TempDir()
				o := benchOptions("none", c)
				db := openBench(b, dir, o)
				start := time.Now()
				bytes := fill(b, db, n, orderRandom, 1, 0)
				fillR.add(n, bytes, time.Since(start))
				start = time.Now()
				if err := db.Compact(); err != nil {
					b.Fatal(err)
				}
				compactR.add(n, bytes, time.Since(start))
				m := db.Metrics()
				tableBytes, userBytes = int64(m.TotalTableBytes), bytes
				closeBench(b, db)

				db = openBench(b, dir, o)
				rng := rand.New(rand.NewPCG(7, 7))
				reads := max(n/4, 1)
				var key []byte
				start = time.Now()
				for range reads {
					k := rng.IntN(n)
					key = benchKey(key, k)
					if _, err := db.Get(key); err != nil {
						b.Fatal(err)
					}
				}
				readR.add(reads, 0, time.Since(start))
				closeBench(b, db)
				os.RemoveAll(dir)
			}
			b.ReportMetric(float64(fillR.ops)/fillR.elapsed.Seconds(), "fill-ops/s")
			b.ReportMetric(float64(compactR.bytes)/compactR.elapsed.Seconds()/1e6, "compact-MB/s")
			b.ReportMetric(float64(readR.ops)/readR.elapsed.Seconds(), "readrandom-ops/s")
			b.ReportMetric(float64(tableBytes)/1e6, "table-MB")
			b.ReportMetric(float64(userBytes)/float64(tableBytes), "ratio")
		})
	}
}
