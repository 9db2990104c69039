package agg

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
)

var fuzzDocs = []string{
	`{"_id":"1","a":1,"b":"x","c":[1,{"d":2},[3]],"e":{"f":null,"g":[{"h":1}]},"t":"2020-01-02T03:04:05Z"}`,
	`{"_id":"2","a":2.5,"b":null,"c":[],"e":{"f":"y"},"t":1577934245000}`,
	`{"_id":"3","b":true,"c":"s","e":[1,2]}`,
	`{"_id":"4","a":-9223372036854775808,"b":{"$x":1},"c":[[[]]],"e":{}}`,
}

// FuzzPipeline parses arbitrary pipelines and runs those that parse over
// a few documents, in memory and with a tiny memory limit and no
// spilling: nothing may panic, and every error is an *Error or the
// context's.
func FuzzPipeline(f *testing.F) {
	if raw, err := os.ReadFile("../../testdata/agg/cases.json"); err == nil {
		var cases []struct {
			Pipeline json.RawMessage `json:"pipeline"`
		}
		if json.Unmarshal(raw, &cases) == nil {
			for _, c := range cases {
				f.Add([]byte(c.Pipeline))
			}
		}
	}
	f.Add([]byte(`[{"$group":{"_id":{"$cond":[{"$gt":["$a",1]},"$b",{"$concat":["$b","z"]}]},"n":{"$sum":{"$multiply":["$a",2]}}}}]`))
	var docs []jsondoc.Value
	for _, d := range fuzzDocs {
		v, err := jsondoc.Parse([]byte(d), jsondoc.Limits{})
		if err != nil {
			f.Fatal(err)
		}
		docs = append(docs, v)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := jsondoc.Parse(data, jsondoc.Limits{MaxDepth: 32})
		if err != nil {
			return
		}
		p, err := Parse(v)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Parse error %T: %v", err, err)
			}
			return
		}
		for _, max := range []int64{1 << 20, 256} {
			env := &Env{Ctx: context.Background(), MaxMemory: max}
			it := p.Open(SliceIter(docs), env, 0)
			for n := 0; n < 10000; n++ {
				_, ok, err := it.Next()
				if err != nil {
					if _, isErr := err.(*Error); !isErr {
						t.Fatalf("run error %T: %v", err, err)
					}
					break
				}
				if !ok {
					break
				}
			}
			_ = it.Close()
		}
	})
}
