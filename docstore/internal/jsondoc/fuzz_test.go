package jsondoc

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// maxFuzzInput caps the fuzz inputs of this package's targets: each
// iteration's work and allocation stay bounded whatever the fuzzer
// generates (RELIABILITY.md S11).
const maxFuzzInput = 64 << 10

// FuzzJSONDoc checks that Parse never panics, that rejections are
// *SyntaxError with an offset inside the input, and that accepted input
// canonicalises idempotently: AppendJSON's output re-parses to an Equal
// value and encodes to the same bytes.
func FuzzJSONDoc(f *testing.F) {
	for _, s := range []string{
		`{"a":1}`, `{"a":`, ``, `{"a":1}{"b":2}`, `{"a":1,"a":2}`, "\"\xff\"", `"\ud800"`,
		`1e400`, `9007199254740993`, `NaN`, `[[[[]]]]`, `{"s":"\u00e9\ud83d\ude00\n"}`,
		`[1,-0.5e+3,true,false,null,"x",{}]`, `  {"a" : [ 1 , 2 ] }  `, `-`, `01`, `"\u0000"`,
		string(benchDoc),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		v, err := Parse(data, Limits{})
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *SyntaxError", err)
			}
			if se.Offset < 0 || se.Offset > int64(len(data)) || se.Code == "" {
				t.Fatalf("bad error for %q: %+v", data, se)
			}
			return
		}
		enc := AppendJSON(nil, v)
		v2, err := Parse(enc, Limits{})
		if err != nil {
			t.Fatalf("re-parse of %q (from %q): %v", enc, data, err)
		}
		if !Equal(v, v2) || Compare(v, v2) != 0 {
			t.Fatalf("round trip changed %q into %q", data, enc)
		}
		if enc2 := AppendJSON(nil, v2); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not idempotent: %q then %q", enc, enc2)
		}
		if _, err := ParseDocument(data, Limits{}); (err == nil) != (v.Kind() == KindObject) {
			t.Fatalf("ParseDocument disagrees with Parse on %q: %v", data, err)
		}
	})
}

// FuzzParseDepth checks the depth limit on nested arrays and objects of
// any depth: exactly the inputs deeper than MaxDepth fail with too_deep,
// and the parser never recurses past the limit.
func FuzzParseDepth(f *testing.F) {
	f.Add(uint16(64), false, int8(0))
	f.Add(uint16(65), true, int8(0))
	f.Add(uint16(10001), false, int8(0))
	f.Add(uint16(3), true, int8(2))
	f.Fuzz(func(t *testing.T, depth uint16, objects bool, maxDepth int8) {
		open, closeTok := "[", "]"
		if objects {
			open, closeTok = `{"k":`, "}"
		}
		in := strings.Repeat(open, int(depth)) + "0" + strings.Repeat(closeTok, int(depth))
		limit := int(maxDepth)
		if limit <= 0 {
			limit = DefaultMaxDepth
		}
		_, err := Parse([]byte(in), Limits{MaxDepth: int(maxDepth)})
		var se *SyntaxError
		switch {
		case int(depth) > limit:
			if !errors.As(err, &se) || se.Code != CodeTooDeep || se.Offset != int64(limit*len(open)) {
				t.Fatalf("depth %d, limit %d: got %v, want too_deep at %d", depth, limit, err, limit*len(open))
			}
		case err != nil:
			t.Fatalf("depth %d, limit %d: %v", depth, limit, err)
		}
		// Truncated input of the same depth is rejected, never a panic.
		if _, err := Parse([]byte(in[:len(in)/2]), Limits{MaxDepth: int(maxDepth)}); err == nil && depth > 0 {
			t.Fatalf("truncated %q accepted", in[:len(in)/2])
		}
	})
}
