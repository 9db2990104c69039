package sstable

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/minidbgo/minidbgo/storage/internal/base"
	"github.com/minidbgo/minidbgo/storage/internal/cache"
)

var benchCompressions = []Compression{NoCompression, S2Compression, ZstdCompression}

var (
	firstNames = []string{"Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter", "Yasmin"}
	lastNames  = []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor"}
	tagNames   = []string{"a", "b", "admin", "beta", "vip", "new", "churned", "eu", "us", "mobile"}
	domains    = []string{"example.com", "mail.test", "corp.example", "inbox.dev"}
)

// jsonDoc returns a ~200-byte realistic document for user id.
func jsonDoc(rng *rand.Rand, id int) []byte {
	first, last := firstNames[rng.IntN(len(firstNames))], lastNames[rng.IntN(len(lastNames))]
	tags := make([]string, 1+rng.IntN(3))
	for i := range tags {
		tags[i] = `"` + tagNames[rng.IntN(len(tagNames))] + `"`
	}
	return fmt.Appendf(nil, `{"_id":"user-%06d","name":"%s %s","email":"%s.%s%d@%s","age":%d,"active":%t,"tags":[%s],"score":%d.%d,"created":"2026-%02d-%02dT%02d:%02d:%02dZ"}`,
		id, first, last, strings.ToLower(first), strings.ToLower(last), rng.IntN(100), domains[rng.IntN(len(domains))],
		18+rng.IntN(70), rng.IntN(2) == 0, strings.Join(tags, ","), rng.IntN(100), rng.IntN(10),
		1+rng.IntN(12), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60))
}

// jsonEntries returns n documents keyed like a docstore collection.
func jsonEntries(n int) []kv {
	rng := rand.New(rand.NewPCG(42, 42))
	es := make([]kv, n)
	for i := range es {
		es[i] = kv{base.MakeInternalKey(fmt.Appendf(nil, "users/user-%06d", i), base.SeqNum(i+1), base.KindSet), jsonDoc(rng, i)}
	}
	return es
}

// dbBenchEntries returns n entries shaped like LevelDB's db_bench: 16-byte
// keys and 100-byte values that compress to about half.
func dbBenchEntries(n int) []kv {
	rng := rand.New(rand.NewPCG(1, 1))
	es := make([]kv, n)
	for i := range es {
		v := make([]byte, 100)
		for j := range 50 {
			v[j] = ' ' + byte(rng.IntN(95))
		}
		copy(v[50:], v[:50])
		es[i] = kv{base.MakeInternalKey(fmt.Appendf(nil, "%016d", i), base.SeqNum(i+1), base.KindSet), v}
	}
	return es
}

func rawSize(es []kv) int64 {
	var n int64
	for _, e := range es {
		n += int64(len(e.key) + len(e.value))
	}
	return n
}

func BenchmarkWriter(b *testing.B) {
	es := jsonEntries(20000)
	for _, c := range benchCompressions {
		b.Run(c.String(), func(b *testing.B) {
			b.SetBytes(rawSize(es))
			var size uint64
			for b.Loop() {
				f := &memFile{data: make([]byte, 0, 8<<20)}
				w := NewWriter(f, WriterOptions{Compression: c, BloomBitsPerKey: 10})
				for _, e := range es {
					if err := w.Add(e.key, e.value); err != nil {
						b.Fatal(err)
					}
				}
				meta, err := w.Close()
				if err != nil {
					b.Fatal(err)
				}
				size = meta.Size
			}
			b.ReportMetric(float64(size)/float64(rawSize(es)), "size/raw")
		})
	}
}

// benchTable builds a table of es and opens it with a cache that holds all
// of it, warmed by a full scan.
func benchTable(b *testing.B, es []kv, c Compression) *Reader {
	b.Helper()
	data, _ := buildTable(b, es, WriterOptions{Compression: c, BloomBitsPerKey: 10})
	r := openTable(b, data, cache.New(2*rawSize(es)+64<<20))
	it := r.NewIter(nil, nil)
	for ok := it.First(); ok; ok = it.Next() {
	}
	if err := it.Close(); err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkGet is readrandom over a 1M-key table (db_bench shape) with a
// warm cache, single-threaded.
func BenchmarkGet(b *testing.B) {
	const n = 1 << 20
	es := dbBenchEntries(n)
	// The probe keys are packed together, as a request's key would be hot:
	// the lookup's own cache misses are what is measured.
	keys := make([][]byte, 1<<16)
	backing := make([]byte, 0, len(keys)*16)
	rng := rand.New(rand.NewPCG(9, 9))
	for i := range keys {
		start := len(backing)
		backing = append(backing, base.UserKey(es[rng.IntN(n)].key)...)
		keys[i] = backing[start:len(backing):len(backing)]
	}
	for _, c := range benchCompressions {
		b.Run(c.String(), func(b *testing.B) {
			r := benchTable(b, es, c)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				k := keys[i&(len(keys)-1)]
				i++
				if !r.MayContain(k) {
					b.Fatal("bloom false negative")
				}
				if _, _, found, err := r.Get(k, base.MaxSeqNum); err != nil || !found {
					b.Fatalf("Get(%q): %v %v", k, found, err)
				}
			}
		})
	}
}

// BenchmarkGetMissing is readmissing: the bloom filter rejects most keys.
func BenchmarkGetMissing(b *testing.B) {
	es := dbBenchEntries(1 << 16)
	r := benchTable(b, es, S2Compression)
	b.ReportAllocs()
	i := 0
	var hits int
	key := make([]byte, 0, 32)
	for b.Loop() {
		key = fmt.Appendf(key[:0], "%016d.", i&(1<<16-1))
		i++
		if r.MayContain(key) {
			hits++
			r.Get(key, base.MaxSeqNum)
		}
	}
	b.ReportMetric(float64(hits)/float64(i), "bloom-fp")
}

func BenchmarkIterNext(b *testing.B) {
	es := jsonEntries(50000)
	for _, c := range benchCompressions {
		b.Run(c.String(), func(b *testing.B) {
			r := benchTable(b, es, c)
			it := r.NewIter(nil, nil)
			it.First()
			b.ReportAllocs()
			for b.Loop() {
				if !it.Next() {
					it.First()
				}
			}
			if err := it.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkCompressJSON measures block compression of ~200-byte JSON
// documents: speed (MB/s of uncompressed data) and ratio (stored/raw).
func BenchmarkCompressJSON(b *testing.B) {
	es := jsonEntries(20000)
	for _, blockSize := range []int{4 << 10, 16 << 10} {
		// Cut the documents into data blocks as the writer does.
		var blocks [][]byte
		bw := blockWriter{restartInterval: 16}
		for _, e := range es {
			bw.add(e.key, e.value)
			if bw.estimatedSize() >= blockSize {
				blocks = append(blocks, append([]byte(nil), bw.finish()...))
				bw.reset()
			}
		}
		var raw int64
		for _, blk := range blocks {
			raw += int64(len(blk))
		}
		for _, c := range []Compression{S2Compression, ZstdCompression} {
			stored := make([][]byte, len(blocks))
			var storedLen int64
			for i, blk := range blocks {
				s, used := compressBlock(nil, blk, c)
				if used != c {
					b.Fatalf("%s did not compress a JSON block", c)
				}
				stored[i] = append([]byte(nil), s...)
				storedLen += int64(len(s))
			}
			ratio := float64(storedLen) / float64(raw)
			name := fmt.Sprintf("block=%dK/%s", blockSize>>10, c)
			b.Run(name+"/compress", func(b *testing.B) {
				b.SetBytes(raw)
				buf := make([]byte, 0, 2*blockSize)
				for b.Loop() {
					for _, blk := range blocks {
						compressBlock(buf, blk, c)
					}
				}
				b.ReportMetric(ratio, "ratio")
			})
			b.Run(name+"/decompress", func(b *testing.B) {
				b.SetBytes(raw)
				for b.Loop() {
					for _, s := range stored {
						if _, err := decompressBlock(byte(c), s); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(ratio, "ratio")
			})
		}
	}
}
