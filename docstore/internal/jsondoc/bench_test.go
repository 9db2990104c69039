package jsondoc

import "testing"

// benchDoc is a realistic ~200-byte document with 10 top-level fields.
var benchDoc = []byte(`{"_id":"64b7f0c2a1e4d3b2c1a09f8e","name":"Ada Lovelace","email":"ada@example.com",` +
	`"age":36,"active":true,"score":98.5,"tags":["math","poetry"],"city":"London",` +
	`"address":{"zip":"NW1","street":"St James's Square"},"created":"1843-07-10T00:00:00Z"}`)

func BenchmarkParseDocument(b *testing.B) {
	b.SetBytes(int64(len(benchDoc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseDocument(benchDoc, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	v, err := ParseDocument(benchDoc, Limits{})
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 512)
	b.SetBytes(int64(len(benchDoc)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendJSON(buf[:0], v)
	}
}
