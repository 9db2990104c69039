package query

import (
	"errors"
	"testing"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
)

var fuzzDocs = []string{
	`{"_id":"a","age":36,"name":"ada","tags":["go","db"],"items":[{"sku":"x","qty":2},{"sku":"y"}],"o":{"x":1}}`,
	`{"_id":"b","age":"36","tags":"go","items":{"sku":"x"},"n":null}`,
	`{"_id":"c","a":[[1,2],[3]],"b":[],"c":{"d":[{"e":[1,{"f":2}]}]}}`,
	`{"_id":"d"}`,
}

func fuzzDocValues(t *testing.T) []jsondoc.Value {
	out := make([]jsondoc.Value, len(fuzzDocs))
	for i, s := range fuzzDocs {
		out[i] = mustParse(t, s)
	}
	return out
}

// maxFuzzInput caps the fuzz inputs: each iteration's work and allocation
// stay bounded whatever the fuzzer generates (RELIABILITY.md S11).
const maxFuzzInput = 64 << 10

// FuzzQueryParser feeds arbitrary JSON to ParseFilter: it never panics,
// errors are *QueryError, and a filter that parses evaluates on a few
// documents without panicking while keeping the Conditions contract.
func FuzzQueryParser(f *testing.F) {
	for _, s := range []string{
		`{"age":{"$gte":18}}`, `{"items.sku":"x","tags":{"$all":["go"]}}`,
		`{"$or":[{"a":{"$elemMatch":{"$gt":1}}},{"b":{"$size":0}}]}`,
		`{"name":{"$regex":"^a","$options":"i"}}`, `{"n":null,"o":{"$type":["object",10]}}`,
		`{"a":{"$not":{"$in":[1,2]}},"$nor":[{"c.d.e":1}]}`, `{"a.0":{"$exists":false}}`,
		`{"items":{"$elemMatch":{"sku":"x","qty":{"$gt":1}}}}`, `{"a":{"$gt":1,"$lt":3}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		v, err := jsondoc.Parse(data, jsondoc.Limits{})
		if err != nil {
			return
		}
		flt, err := ParseFilter(v)
		if err != nil {
			var qe *QueryError
			if !errors.As(err, &qe) {
				t.Fatalf("error %v is not a *QueryError", err)
			}
			return
		}
		for _, d := range fuzzDocValues(t) {
			checkSuperset(t, flt, string(data), d)
		}
	})
}

// FuzzUpdate feeds arbitrary JSON to ParseUpdate and applies what parses:
// no panics, and every result is an object that re-parses (valid JSON,
// no duplicate keys) and keeps _id.
func FuzzUpdate(f *testing.F) {
	for _, s := range []string{
		`{"$set":{"a.b":1,"tags.3":"x"}}`, `{"$inc":{"age":1},"$unset":{"o":""}}`,
		`{"$push":{"tags":{"$each":["a","b"],"$position":-1,"$slice":-2,"$sort":1}}}`,
		`{"$pull":{"items":{"sku":"x"}},"$addToSet":{"t":{"$each":[1,1]}}}`,
		`{"$rename":{"name":"nm"},"$pop":{"tags":-1},"$min":{"age":3},"$max":{"z":"s"}}`,
		`{"$mul":{"age":1.5},"$pullAll":{"tags":["go"]}}`, `{"$set":{"c.d.0.e.1.f":3}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		v, err := jsondoc.Parse(data, jsondoc.Limits{})
		if err != nil || !IsUpdateDoc(v) {
			return
		}
		u, err := ParseUpdate(v)
		if err != nil {
			var qe *QueryError
			if !errors.As(err, &qe) {
				t.Fatalf("error %v is not a *QueryError", err)
			}
			return
		}
		for _, d := range fuzzDocValues(t) {
			out, err := u.Apply(d)
			if err != nil {
				var qe *QueryError
				if !errors.As(err, &qe) {
					t.Fatalf("Apply error %v is not a *QueryError", err)
				}
				continue
			}
			checkValid(t, out)
			before, _ := d.Field("_id")
			after, _ := out.Field("_id")
			if !jsondoc.Equal(before, after) {
				t.Fatalf("update %s changed _id of %s: %s", data, d, out)
			}
		}
	})
}
