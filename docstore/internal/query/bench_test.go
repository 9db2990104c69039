package query

import (
	"testing"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
)

// benchDoc is a realistic ~200-byte document.
const benchDoc = `{"_id":"64b7f0c2a1e4d3b2c1a09f8e","name":"Ada Lovelace","email":"ada@example.com",` +
	`"age":36,"active":true,"score":98.5,"tags":["math","poetry"],"city":"London",` +
	`"address":{"zip":"NW1","street":"St James's Square"},"created":"1843-07-10T00:00:00Z"}`

func benchMatch(b *testing.B, filter string) {
	doc := mustParse(b, benchDoc)
	f, err := ParseFilter(mustParse(b, filter))
	if err != nil {
		b.Fatal(err)
	}
	if !f.Match(doc) {
		b.Fatal("benchmark filter does not match")
	}
	b.ReportAllocs()
	for b.Loop() {
		f.Match(doc)
	}
}

// BenchmarkMatch is the target case: three conditions on a 200-byte doc.
func BenchmarkMatch(b *testing.B) {
	benchMatch(b, `{"age":{"$gte":18},"city":"London","active":true}`)
}

func BenchmarkMatchArrayAndPath(b *testing.B) {
	benchMatch(b, `{"tags":"poetry","address.zip":{"$in":["NW1","SW1"]},"score":{"$gt":50,"$lt":100}}`)
}

func BenchmarkParseFilter(b *testing.B) {
	v := mustParse(b, `{"age":{"$gte":18},"city":"London","active":true}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseFilter(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUpdateApply(b *testing.B) {
	doc := mustParse(b, benchDoc)
	u, err := ParseUpdate(mustParse(b, `{"$inc":{"age":1},"$set":{"address.zip":"SW1"},"$push":{"tags":"x"}}`))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := u.Apply(doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSortCompare(b *testing.B) {
	x := mustParse(b, benchDoc)
	y, _ := x.SetPath([]string{"age"}, jsondoc.Int(40))
	s, err := ParseSortString("city,-age")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.Compare(x, y)
	}
}
