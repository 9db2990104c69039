package shell

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDepthAndSplit(t *testing.T) {
	require.Equal(t, 0, depth(`insertOne c {"a":[1,2]}`))
	require.Equal(t, 2, depth(`insertOne c {"a":[1,`))
	require.Equal(t, 0, depth(`insertOne c {"a":"}]{["}`))
	require.Equal(t, 1, depth(`insertOne c {"a":"\"}"`))
	require.Equal(t, 1, depth("x {\n\"a\": {\n}"))
	require.Equal(t, -1, depth("}"))

	args, err := splitArgs(`updateOne  products {"_id": "p 1"} {"$set":{"n":"]"}}`)
	require.NoError(t, err)
	require.Equal(t, []arg{{text: "updateOne"}, {text: "products"}, {text: `{"_id": "p 1"}`, json: true}, {text: `{"$set":{"n":"]"}}`, json: true}}, args)
	args, err = splitArgs(`use "my coll"`)
	require.NoError(t, err)
	require.Equal(t, []arg{{text: "use"}, {text: "my coll"}}, args)
	_, err = splitArgs(`findOne c {"a":1}x`)
	require.ErrorContains(t, err, "after the JSON value")
	_, err = splitArgs(`findOne c {"a":"1}`)
	require.Error(t, err)
}

func TestIDFilterAndUpdateDoc(t *testing.T) {
	for f, want := range map[string]string{`{"_id":"p1"}`: "p1", ` { "_id" : "a b" } `: "a b"} {
		id, ok := idFilter([]byte(f))
		require.True(t, ok, f)
		require.Equal(t, want, id)
	}
	for _, f := range []string{`{"_id":1}`, `{"_id":{"$eq":"x"}}`, `{"_id":"a","b":1}`, `{}`, `{"_id":"a","_id":"b"}`, `[]`} {
		_, ok := idFilter([]byte(f))
		require.False(t, ok, f)
	}
	require.True(t, isUpdateDoc([]byte(`{"$set":{"a":1}}`)))
	require.False(t, isUpdateDoc([]byte(`{"a":1}`)))
	require.False(t, isUpdateDoc([]byte(`{}`)))
}
