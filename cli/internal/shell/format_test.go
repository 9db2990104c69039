package shell

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
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
	got := format(`{"a":"x","b":[1,false,null],"c":[{}]}`, true, true)
	require.Equal(t, "{\n  "+colorKey+`"a"`+colorReset+": "+colorString+`"x"`+colorReset+",\n  "+
		colorKey+`"b"`+colorReset+": ["+colorNumber+"1"+colorReset+", "+colorBool+"false"+colorReset+
		", "+colorNull+"null"+colorReset+"],\n  "+colorKey+`"c"`+colorReset+": [\n    {}\n  ]\n}", got)
	// A string value that looks like a key is still a value.
	require.Contains(t, format(`{"k":"v","k2":{"x":"y"}}`, false, true), ":"+colorString+`"v"`)
}

// TestFormatScalarArrays: in the pretty format a short array of scalars
// is one line, as mongosh prints it, and a long one fills lines of
// arrayWidth; arrays holding objects or arrays keep an element a line.
func TestFormatScalarArrays(t *testing.T) {
	require.Equal(t, "{\n  \"tags\": [\"a\", \"b,]\", 1.5, true, null]\n}", format(`{"tags":[ "a" , "b,]", 1.5,true,null ]}`, true, false))
	long := `[` + strings.Repeat(`"abcdefghij",`, 11) + `"k"]`
	line := strings.Repeat(`"abcdefghij", `, 4) + `"abcdefghij",` + "\n  "
	require.Equal(t, "[\n  "+line+line+`"abcdefghij", "k"`+"\n]", format(long, true, false))
	require.Equal(t, "[\n  [1],\n  2\n]", format(`[[1],2]`, true, false))
	// Compact output is unchanged.
	require.Equal(t, `{"tags":["a","b"]}`, format(`{"tags":["a", "b"]}`, false, false))
}

// TestFormatTable: documents as a table, fields as columns in the order
// they first appear, values cut to maxCell characters.
func TestFormatTable(t *testing.T) {
	var b bytes.Buffer
	formatTable(&b, [][]byte{
		[]byte(`{"_id":"a","n":1,"s":"x\ny"}`),
		[]byte(`{"_id":"bb","t":[1,2],"long":"` + strings.Repeat("é", 40) + `"}`),
	})
	require.Equal(t, "_id  n  s       t      long\n"+
		"---  -  ------  -----  --------------------------------\n"+
		"a    1  \"x\\ny\"\n"+
		"bb              [1,2]  "+strings.Repeat("é", 31)+"…\n", b.String())
	var out bytes.Buffer
	p := &printer{w: &out, format: outTable}
	// A result object is a field a line; a document, a one-row table.
	require.NoError(t, p.value(map[string]any{"matched": 2, "upsertedId": "a"}))
	require.NoError(t, p.value([]int{1, 2}))
	p.doc([]byte(`{"_id":"a"}`))
	require.Equal(t, "matched     2\nupsertedId  a\n[1,2]\n_id\n---\na\n", out.String())
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
