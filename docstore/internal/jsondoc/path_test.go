package jsondoc

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func mustParse(t testing.TB, s string) Value {
	t.Helper()
	v, err := Parse([]byte(s), Limits{})
	require.NoError(t, err, s)
	return v
}

func TestSplitPath(t *testing.T) {
	segs, err := SplitPath("a.b.0")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "0"}, segs)
	for _, bad := range []string{"", ".", "a.", ".a", "a..b"} {
		_, err := SplitPath(bad)
		require.ErrorIs(t, err, ErrInvalidPath, bad)
	}
}

func TestArrayIndex(t *testing.T) {
	for s, want := range map[string]int{"0": 0, "12": 12, "007": 7} {
		i, ok := ArrayIndex(s)
		require.True(t, ok, s)
		require.Equal(t, want, i)
	}
	for _, s := range []string{"", "-1", "a", "1a", "1234567890123"} {
		_, ok := ArrayIndex(s)
		require.False(t, ok, s)
	}
}

func TestLookup(t *testing.T) {
	v := mustParse(t, `{"a":{"b":[10,{"c":"x"}]},"n":null}`)
	for path, want := range map[string]string{
		"a.b.0": "10", "a.b.1.c": `"x"`, "n": "null", "a.b": `[10,{"c":"x"}]`,
	} {
		segs, _ := SplitPath(path)
		require.Equal(t, want, v.Lookup(segs).String(), path)
	}
	for _, path := range []string{"x", "a.x", "a.b.2", "a.b.c", "a.b.0.x", "n.x", "a.b.-1"} {
		segs, _ := SplitPath(path)
		require.True(t, v.Lookup(segs).IsMissing(), path)
	}
	require.Equal(t, v.String(), v.Lookup(nil).String())
}

func TestSetPath(t *testing.T) {
	orig := `{"a":{"b":1},"arr":[1,2],"s":"str","n":null}`
	for _, tc := range []struct{ path, val, want string }{
		{"a.b", "2", `{"a":{"b":2},"arr":[1,2],"s":"str","n":null}`},
		{"a.c", "3", `{"a":{"b":1,"c":3},"arr":[1,2],"s":"str","n":null}`},
		{"x.y.z", "true", `{"a":{"b":1},"arr":[1,2],"s":"str","n":null,"x":{"y":{"z":true}}}`},
		{"arr.1", `"x"`, `{"a":{"b":1},"arr":[1,"x"],"s":"str","n":null}`},
		{"arr.4", `5`, `{"a":{"b":1},"arr":[1,2,null,null,5],"s":"str","n":null}`},
		{"arr.3.k", `5`, `{"a":{"b":1},"arr":[1,2,null,{"k":5}],"s":"str","n":null}`},
		{"a", `[]`, `{"a":[],"arr":[1,2],"s":"str","n":null}`},
	} {
		v := mustParse(t, orig)
		segs, _ := SplitPath(tc.path)
		got, err := v.SetPath(segs, mustParse(t, tc.val))
		require.NoError(t, err, tc.path)
		require.Equal(t, tc.want, got.String(), tc.path)
		require.Equal(t, orig, v.String(), "copy on write")
	}
	for _, path := range []string{"s.x", "n.x", "arr.x", "a.b.c", "arr.0.x", "arr.100000"} {
		v := mustParse(t, orig)
		segs, _ := SplitPath(path)
		_, err := v.SetPath(segs, Int(1))
		var pe *PathError
		require.ErrorAs(t, err, &pe, path)
		require.Equal(t, path, pe.Path)
	}
	got, err := Missing().SetPath([]string{"a"}, Int(1))
	require.NoError(t, err)
	require.Equal(t, `{"a":1}`, got.String())
	_, err = Value{}.SetPath(nil, Int(1))
	require.Error(t, err)
}

func TestSetPathSharesUnchangedSubtrees(t *testing.T) {
	v := mustParse(t, `{"big":[1,2,3],"a":{"b":1}}`)
	got, err := v.SetPath([]string{"a", "b"}, Int(2))
	require.NoError(t, err)
	before, _ := v.Field("big")
	after, _ := got.Field("big")
	require.Same(t, &before.Elems()[0], &after.Elems()[0])
}

func TestUnsetPath(t *testing.T) {
	orig := `{"a":{"b":1,"c":2},"arr":[1,{"k":1,"j":2}],"s":"x"}`
	for path, want := range map[string]string{
		"a.b":     `{"a":{"c":2},"arr":[1,{"k":1,"j":2}],"s":"x"}`,
		"a":       `{"arr":[1,{"k":1,"j":2}],"s":"x"}`,
		"arr.0":   `{"a":{"b":1,"c":2},"arr":[null,{"k":1,"j":2}],"s":"x"}`,
		"arr.1.k": `{"a":{"b":1,"c":2},"arr":[1,{"j":2}],"s":"x"}`,
		"x":       orig, "a.x": orig, "s.x": orig, "arr.5": orig, "arr.k": orig, "arr.0.k": orig,
	} {
		v := mustParse(t, orig)
		segs, _ := SplitPath(path)
		require.Equal(t, want, v.UnsetPath(segs).String(), path)
		require.Equal(t, orig, v.String())
	}
}

func TestTypeName(t *testing.T) {
	require.Equal(t, "missing", TypeName(Missing()))
	require.Equal(t, "null", TypeName(Null()))
	require.Equal(t, "bool", TypeName(Bool(true)))
	require.Equal(t, "number", TypeName(Int(1)))
	require.Equal(t, "string", TypeName(String("")))
	require.Equal(t, "array", TypeName(Array(nil)))
	require.Equal(t, "object", TypeName(Object(nil)))
	require.Equal(t, "array", KindArray.String())
}
