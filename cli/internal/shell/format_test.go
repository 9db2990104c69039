package shell

import (
	"bytes"
	"encoding/json"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

func format(src string, pretty, color bool) string {
	var b bytes.Buffer
	formatJSON(&b, []byte(src), pretty, color)
	return b.String()
}

func TestFormatJSON(t *testing.T) {
	const doc = `{"_id":"p1","n":9007199254740993,"f":1.50,"s":"a \"quoted\" {brace} [x]","e":{},"a":[],"nested":{"tags":["x",{"k":null}],"ok":true}}`
	require.Equal(t, `{
  "_id": "p1",
  "n": 9007199254740993,
  "f": 1.50,
  "s": "a \"quoted\" {brace} [x]",
  "e": {},
  "a": [],
  "nested": {
    "tags": [
      "x",
      {
        "k": null
      }
    ],
    "ok": true
  }
}`, format(doc, true, false))
	// Compact output is the input without whitespace, byte for byte.
	require.Equal(t, doc, format(doc, false, false))
	var spaced bytes.Buffer
	require.NoError(t, json.Indent(&spaced, []byte(doc), "", "    "))
	require.Equal(t, doc, format(spaced.String(), false, false))
	// Scalars and empty containers at the top.
	for _, s := range []string{`3`, `"x"`, `null`, `[]`, `{}`, `true`} {
		require.Equal(t, s, format(s, true, false))
	}
}

func TestFormatColors(t *testing.T) {
	got := format(`{"a":"x","b":[1,false,null]}`, true, true)
	require.Equal(t, "{\n  "+colorKey+`"a"`+colorReset+": "+colorString+`"x"`+colorReset+",\n  "+
		colorKey+`"b"`+colorReset+": [\n    "+colorNumber+"1"+colorReset+",\n    "+colorBool+"false"+colorReset+
		",\n    "+colorNull+"null"+colorReset+"\n  ]\n}", got)
	// A string value that looks like a key is still a value.
	require.Contains(t, format(`{"k":"v","k2":{"x":"y"}}`, false, true), ":"+colorString+`"v"`)
}

func TestPrinter(t *testing.T) {
	var out bytes.Buffer
	var seen []string
	p := &printer{w: &out, seen: func(d []byte) { seen = append(seen, string(d)) }}
	p.doc([]byte(`{"a": 1}`))
	require.NoError(t, p.value(map[string]int{"n": 2}))
	p.line("%d", 3)
	p.tagged("col", []byte(`{"_id":"x"}`))
	require.Equal(t, "{\"a\":1}\n{\"n\":2}\n3\ncol {\"_id\":\"x\"}\n", out.String())
	require.Len(t, seen, 2)
}

func TestFieldPaths(t *testing.T) {
	var got []string
	fieldPaths([]byte(`{"_id":"x","a":{"b":{"c":{"d":1}}},"tags":[{"k":1},"y"],"n":1}`), 3, func(p string) { got = append(got, p) })
	sort.Strings(got)
	require.Equal(t, []string{"_id", "a", "a.b", "a.b.c", "n", "tags", "tags.k"}, got)
}
