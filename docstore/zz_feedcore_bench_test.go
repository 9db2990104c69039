package docstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/storage"
)

// BenchmarkInsertOneNoSync: single-document writes, no fsync, so the
// per-write CPU cost (and the change record's share of it) shows.
func BenchmarkInsertOneNoSync(b *testing.B) {
	db := openBenchDB(b, b.TempDir(), storage.DurabilityNone)
	defer db.Close()
	doc := []byte(`{"name":"Ada","city":"London","age":36,"tags":["a","b"]}`)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		body := fmt.Appendf(nil, `{"_id":"%08d",%s`, i%50000, doc[1:])
		if _, err := db.InsertOne(context.Background(), "c", body, docstore.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
