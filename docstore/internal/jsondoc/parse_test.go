package jsondoc

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		in     string
		code   string
		offset int64
		msg    string // substring of the message, optional
	}{
		// RELIABILITY §4 rows 1–12.
		{`{"a":`, CodeInvalidJSON, 5, "unexpected end of input"},
		{``, CodeEmptyBody, 0, "empty body"},
		{" \n\t ", CodeEmptyBody, 4, ""},
		{`{"a":1}{"b":2}`, CodeTrailingData, 7, ""},
		{`{"a":1,"a":2}`, CodeDuplicateKey, 7, `duplicate key "a"`},
		{"{\"a\":\"x\xffy\"}", CodeInvalidUTF8, 7, "0xff"},
		{`"\ud800"`, CodeInvalidUTF8, 1, "lone surrogate"},
		{`"\udc00"`, CodeInvalidUTF8, 1, "lone surrogate"},
		{`"\ud800x"`, CodeInvalidUTF8, 1, "lone surrogate"},
		{`"\ud800\n"`, CodeInvalidUTF8, 1, "lone surrogate"},
		{`"\ud800\u0041"`, CodeInvalidUTF8, 1, "lone surrogate"},
		{strings.Repeat("[", 10001), CodeTooDeep, 64, "limit of 64"},
		{strings.Repeat(`{"a":`, 65) + "1" + strings.Repeat("}", 65), CodeTooDeep, 64 * 5, ""},
		{`1e400`, CodeNumberOutOfRange, 0, "overflows"},
		{`[1,-1e400]`, CodeNumberOutOfRange, 3, ""},
		{`{"n":1` + strings.Repeat("0", 400) + `}`, CodeNumberOutOfRange, 5, ""},
		{`NaN`, CodeInvalidJSON, 0, "'N'"},
		{`Infinity`, CodeInvalidJSON, 0, "'I'"},
		{`-Infinity`, CodeInvalidJSON, 1, "'I'"},
		// Grammar.
		{`{"a" 1}`, CodeInvalidJSON, 5, "after object key"},
		{`{"a":1,}`, CodeInvalidJSON, 7, "object key"},
		{`{a:1}`, CodeInvalidJSON, 1, "object key"},
		{`[1,]`, CodeInvalidJSON, 3, "beginning of value"},
		{`[1 2]`, CodeInvalidJSON, 3, "after array element"},
		{`{"a":1 "b":2}`, CodeInvalidJSON, 7, "after object key:value pair"},
		{`[`, CodeInvalidJSON, 1, "unexpected end of input"},
		{`"abc`, CodeInvalidJSON, 4, "unexpected end of input"},
		{`"\`, CodeInvalidJSON, 2, "unexpected end of input"},
		{`"\u12`, CodeInvalidJSON, 5, "unexpected end of input"},
		{`"\ud800`, CodeInvalidJSON, 7, "unexpected end of input"},
		{`"\ud800\`, CodeInvalidJSON, 8, "unexpected end of input"},
		{`"\u12g4"`, CodeInvalidJSON, 5, "hexadecimal"},
		{`"\x"`, CodeInvalidJSON, 2, "escape"},
		{"\"a\tb\"", CodeInvalidJSON, 2, "control character"},
		{"\"a\x00b\"", CodeInvalidJSON, 2, "control character"},
		{`01`, CodeInvalidJSON, 1, "leading zero"},
		{`-01`, CodeInvalidJSON, 2, "leading zero"},
		{`1.`, CodeInvalidJSON, 2, "unexpected end of input"},
		{`1.e5`, CodeInvalidJSON, 2, "decimal point"},
		{`.5`, CodeInvalidJSON, 0, "beginning of value"},
		{`+1`, CodeInvalidJSON, 0, "beginning of value"},
		{`1e`, CodeInvalidJSON, 2, "unexpected end of input"},
		{`1e+`, CodeInvalidJSON, 3, "unexpected end of input"},
		{`-`, CodeInvalidJSON, 1, "unexpected end of input"},
		{`- 1`, CodeInvalidJSON, 1, "in number"},
		{`tru`, CodeInvalidJSON, 3, "unexpected end of input"},
		{`trUe`, CodeInvalidJSON, 2, "literal true"},
		{`nul`, CodeInvalidJSON, 3, ""},
		{`True`, CodeInvalidJSON, 0, ""},
		{`'x'`, CodeInvalidJSON, 0, ""},
		{"\xef\xbb\xbf{}", CodeInvalidJSON, 0, "U+FEFF"},
		{"\xff", CodeInvalidUTF8, 0, "0xff"},
		{`123abc`, CodeTrailingData, 3, ""},
		{`{} x`, CodeTrailingData, 3, ""},
		{`[] []`, CodeTrailingData, 3, ""},
		{"{\"a\":1}\x00", CodeTrailingData, 7, ""},
	} {
		t.Run(tc.in[:min(len(tc.in), 20)], func(t *testing.T) {
			_, err := Parse([]byte(tc.in), Limits{})
			var se *SyntaxError
			require.ErrorAs(t, err, &se, "input %q", tc.in)
			assert.Equal(t, tc.code, se.Code, "%q: %v", tc.in, err)
			assert.Equal(t, tc.offset, se.Offset, "%q: %v", tc.in, err)
			assert.Contains(t, se.Msg, tc.msg)
			assert.True(t, strings.HasPrefix(err.Error(), "invalid JSON at byte "), err.Error())
		})
	}
}

func TestSyntaxErrorMessage(t *testing.T) {
	_, err := Parse([]byte(`{"a":`), Limits{})
	require.EqualError(t, err, "invalid JSON at byte 5: unexpected end of input")
	_, err = Parse([]byte(`{"a":1,"a":2}`), Limits{})
	require.EqualError(t, err, `invalid JSON at byte 7: duplicate key "a"`)
}

func TestParseDepth(t *testing.T) {
	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	_, err := Parse([]byte(nest(64)), Limits{})
	require.NoError(t, err)
	_, err = Parse([]byte(nest(65)), Limits{})
	require.Error(t, err)
	var se *SyntaxError
	require.ErrorAs(t, err, &se)
	require.Equal(t, CodeTooDeep, se.Code)

	_, err = Parse([]byte(nest(3)), Limits{MaxDepth: 2})
	require.ErrorAs(t, err, &se)
	require.Equal(t, int64(2), se.Offset)
	_, err = Parse([]byte(nest(2000)), Limits{MaxDepth: 5000})
	require.NoError(t, err)

	// Scalars and empty containers at the limit.
	objs := strings.Repeat(`{"a":`, 63) + `{}` + strings.Repeat("}", 63)
	_, err = Parse([]byte(objs), Limits{})
	require.NoError(t, err)
}

func TestParseDocument(t *testing.T) {
	for _, in := range []string{`[]`, `"x"`, `null`, ` 5`, `true`} {
		_, err := ParseDocument([]byte(in), Limits{})
		var se *SyntaxError
		require.ErrorAs(t, err, &se, in)
		require.Equal(t, CodeDocumentMustBeObject, se.Code, in)
	}
	_, err := ParseDocument([]byte(` [1`), Limits{})
	var se *SyntaxError
	require.ErrorAs(t, err, &se)
	require.Equal(t, CodeInvalidJSON, se.Code, "grammar errors win over the object rule")

	v, err := ParseDocument([]byte(` {"_id":"u1","age":36} `), Limits{})
	require.NoError(t, err)
	require.Equal(t, KindObject, v.Kind())
	id, ok := v.Field("_id")
	require.True(t, ok)
	require.Equal(t, "u1", id.Str())
}

func TestParseValues(t *testing.T) {
	v, err := Parse([]byte(` {"s":"a\"b\\c\/d\n\u00e9\ud83d\ude00","n":-0.5e+3,"t":true,"f":false,"z":null,`+
		`"a":[1,[],{}],"o":{"k":"v"},"e":"","u":"\u0000"} `), Limits{})
	require.NoError(t, err)
	get := func(k string) Value { x, ok := v.Field(k); require.True(t, ok, k); return x }
	require.Equal(t, "a\"b\\c/d\né😀", get("s").Str())
	require.Equal(t, "-0.5e+3", get("n").NumberLiteral())
	require.Equal(t, KindBool, get("t").Kind())
	require.True(t, get("t").BoolValue())
	require.False(t, get("f").BoolValue())
	require.Equal(t, KindNull, get("z").Kind())
	require.Len(t, get("a").Elems(), 3)
	require.Equal(t, KindArray, get("a").Elems()[1].Kind())
	require.Equal(t, KindObject, get("a").Elems()[2].Kind())
	require.Equal(t, "", get("e").Str())
	require.Equal(t, KindString, get("e").Kind())
	require.Equal(t, "\x00", get("u").Str())
	var keys []string
	for _, m := range v.Members() {
		keys = append(keys, m.Key)
	}
	require.Equal(t, []string{"s", "n", "t", "f", "z", "a", "o", "e", "u"}, keys, "member order kept")
}

func TestParseExactNumbers(t *testing.T) {
	for _, lit := range []string{"9007199254740993", "-9223372036854775809", "0.1", "1e-400",
		"123456789012345678901234567890", "-0", "0e0", "1E+2", "1.5e308", strings.Repeat("9", 300)} {
		v, err := Parse([]byte(lit), Limits{})
		require.NoError(t, err, lit)
		require.Equal(t, lit, v.NumberLiteral())
		require.Equal(t, lit, v.String(), "encoded exactly")
	}
	for _, lit := range []string{"1e400", "-1e400", "1.8e308", "1e99999999999999999999", strings.Repeat("9", 309)} {
		_, err := Parse([]byte(lit), Limits{})
		var se *SyntaxError
		require.ErrorAs(t, err, &se, lit)
		require.Equal(t, CodeNumberOutOfRange, se.Code, lit)
	}
}

func TestParseManyKeys(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := range 100000 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"k`)
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString(itoa(i))
		b.WriteString(`":1`)
	}
	in := b.String()
	v, err := Parse([]byte(in+"}"), Limits{})
	require.NoError(t, err)
	require.Equal(t, 100000, v.Len())

	_, err = Parse([]byte(in+`,"k7":2}`), Limits{})
	var se *SyntaxError
	require.ErrorAs(t, err, &se)
	require.Equal(t, CodeDuplicateKey, se.Code)
	require.Equal(t, int64(len(in)+1), se.Offset)
}

func itoa(i int) string { return Int(int64(i)).NumberLiteral() }

func TestParseDoesNotAliasInput(t *testing.T) {
	in := []byte(`{"a":"hello","b":["x"]}`)
	v, err := Parse(in, Limits{})
	require.NoError(t, err)
	for i := range in {
		in[i] = ' '
	}
	require.Equal(t, `{"a":"hello","b":["x"]}`, v.String())
}

func TestSyntaxErrorIsError(t *testing.T) {
	_, err := Parse([]byte(`x`), Limits{})
	var se *SyntaxError
	require.True(t, errors.As(err, &se))
}
