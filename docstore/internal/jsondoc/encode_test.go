package jsondoc

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	for _, in := range []string{
		`{}`, `[]`, `null`, `true`, `false`, `0`, `-0.0e-0`, `""`,
		`{"a":[1,2,{"b":null}],"c":"d","e":{"f":[[]]}}`,
		`"\u0000\u001f\"\\\/\b\f\n\r\t é 😀 \u2028"`,
		`{"":"","\u00e9":1}`,
		`[9007199254740993,1e-400,-1.5E-10]`,
		`{"_id":"64b7f0c2a1e4d3b2c1a09f8e","n":123456789012345678901234567890}`,
	} {
		v, err := Parse([]byte(in), Limits{})
		require.NoError(t, err, in)
		enc := AppendJSON(nil, v)
		v2, err := Parse(enc, Limits{})
		require.NoError(t, err, "%s -> %s", in, enc)
		require.True(t, Equal(v, v2), "%s -> %s", in, enc)
		require.Equal(t, string(enc), string(AppendJSON(nil, v2)), "idempotent")
	}
}

func TestAppendJSONEscapes(t *testing.T) {
	v := mustParse(t, "\"a\\\"b\\\\c\\/d\\u0001\\u001f\\n\\t\\r\\b\\f\\u007f\\u00e9\"")
	require.Equal(t, "\"a\\\"b\\\\c/d\\u0001\\u001f\\n\\t\\r\\b\\f\x7fé\"", v.String())
}

func TestAppendJSONConstructed(t *testing.T) {
	v := Object([]Member{
		{Key: "bad\xff", Value: String("x\xc3")},
		{Key: "gone", Value: Missing()},
		{Key: "arr", Value: Array([]Value{Missing(), Int(-3)})},
		{Key: "empty", Value: Array(nil)},
		{Key: "obj", Value: Object(nil)},
	})
	require.Equal(t, `{"bad`+"\ufffd"+`":"x`+"\ufffd"+`","arr":[null,-3],"empty":[],"obj":{}}`, v.String())
	_, err := Parse([]byte(v.String()), Limits{})
	require.NoError(t, err)
	require.Equal(t, "null", Missing().String())
	buf := AppendJSON([]byte("prefix:"), Bool(true))
	require.Equal(t, "prefix:true", string(buf))
}
