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

	split := func(s string) ([]arg, error) {
		args, err := splitArgs(s, func(i int) locator { return statementLocator(s, i) })
		for i := range args {
			args[i].at = nil // funcs do not compare
		}
		return args, err
	}
	args, err := split(`updateOne  products {"_id": "p 1"} {"$set":{"n":"]"}}`)
	require.NoError(t, err)
	require.Equal(t, []arg{{text: "updateOne"}, {text: "products"}, {text: `{"_id": "p 1"}`, json: true}, {text: `{"$set":{"n":"]"}}`, json: true}}, args)
	args, err = split(`use "my coll"`)
	require.NoError(t, err)
	require.Equal(t, []arg{{text: "use"}, {text: "my coll"}}, args)
	_, err = split(`findOne c {"a":1}x`)
	require.ErrorContains(t, err, `unexpected 'x' at column 18`)
	_, err = split(`findOne c {"a":"1}`)
	require.Error(t, err)

	// Relaxed JSON: single quotes (holding brackets and ") and o'clock.
	require.Equal(t, 0, depth(`find c {a: '}"{'}`))
	require.Equal(t, 0, depth(`use o'clock`))
	require.Equal(t, 1, depth(`db.c.find(`))
	args, err = split(`find c {a: '} x'} 'two words'`)
	require.NoError(t, err)
	require.Equal(t, []arg{{text: "find"}, {text: "c"}, {text: `{a: '} x'}`, json: true}, {text: "two words"}}, args)
}

func TestRelaxJSON(t *testing.T) {
	for in, want := range map[string]string{
		`{price: {$gt: 10}}`:                 `{"price": {"$gt": 10}}`,
		`{'name': 'Laptop', tags: ['a',]}`:   `{"name": "Laptop", "tags": ["a"]}`,
		`{a: 'it\'s "x"', stock.shop: 1,}`:   `{"a": "it's \"x\"", "stock.shop": 1}`,
		`{"strict": [1, 2.5e3, true, null]}`: `{"strict": [1, 2.5e3, true, null]}`,
		`{1: 'one', _id: "p1"}`:              `{"1": "one", "_id": "p1"}`,
		`[{a: 1,}, {},]`:                     `[{"a": 1}, {}]`,
	} {
		got, err := relaxJSON("filter", in, statementLocator(in, 0))
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	// Errors name the column of the user's line (here the argument starts
	// at column 11), never an offset into converted text.
	line := `find c x  {name: 'a', price: }`
	for in, want := range map[string]string{
		`{name: 'a', price: }`: `filter is not valid JSON: invalid character '}' looking for beginning of value at column 30`,
		`{name: Laptop}`:       `filter is not valid JSON: unquoted value Laptop (quote strings: 'Laptop' or "Laptop") at column 18`,
		`{a: 1, a: 2}`:         `filter has the key "a" twice (the second at column 18)`,
		`{a: 'x}`:              `filter is not valid JSON: unterminated string at column 15`,
		`{a: [1,,2]}`:          `filter is not valid JSON: invalid character ',' looking for beginning of value at column 18`,
		`{,}`:                  `filter is not valid JSON: invalid character ',' looking for beginning of object key string at column 12`,
		`{a: 1]`:               `filter is not valid JSON: unexpected ']' at column 16`,
		`{"a": "x\q"}`:         `filter is not valid JSON: bad string: invalid character 'q' in string escape code at column 17`,
		`{_id: ObjectId('x')}`: `filter is not valid JSON: ObjectId(...) is JavaScript, which the shell does not run (an _id is a string: '...'; a date, an ISO string) at column 17`,
		`{a: -1e999}`:          `filter has the number -1e999, which overflows a 64-bit float, at column 15`,
		`{a: 01}`:              `filter is not valid JSON: invalid character '1' after object key:value pair at column 16`,
	} {
		_, err := relaxJSON("filter", in, statementLocator(line, 10))
		require.EqualError(t, err, want, in)
	}
	_, err := relaxJSON("filter", "{a: 1,\n b: x}", statementLocator("find c {a: 1,\n b: x}", 7))
	require.EqualError(t, err, `filter is not valid JSON: unquoted value x (quote strings: 'x' or "x") at line 2, column 5`)
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
