package jsondoc

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseFields(t *testing.T) {
	doc := `{"_id":"a","skip":{"x":[1,"]}",{"y":"\"}"}]},"age":36,"s":"q\\\"","tags":["a","b"],"n":-1.5e3,"t":true,"z":null}`
	full, err := Parse([]byte(doc), Limits{})
	require.NoError(t, err)
	for _, keep := range [][]string{{"age"}, {"tags", "z"}, {"_id", "n", "t"}, {"skip"}, {}} {
		want := map[string]bool{}
		for _, k := range keep {
			want[k] = true
		}
		got, err := ParseFields([]byte(doc), func(k string) bool { return want[k] })
		require.NoError(t, err)
		require.Len(t, got.Members(), len(keep))
		for _, k := range keep {
			a, _ := got.Field(k)
			b, _ := full.Field(k)
			require.True(t, Equal(a, b), k)
		}
	}
}

func FuzzParseFields(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":{"c":[1,2]},"d":"x"}`))
	f.Add([]byte(`{"a":"\"","b":[}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		v, err := ParseFields(data, func(k string) bool { return k == "a" || k == "d" })
		if err != nil {
			return
		}
		full, ferr := Parse(data, Limits{})
		if ferr != nil {
			return // invalid input: any result is acceptable
		}
		for _, k := range []string{"a", "d"} {
			a, okA := v.Field(k)
			b, okB := full.Field(k)
			if okA != okB || !Equal(a, b) {
				t.Fatalf("field %s: partial %v/%v, full %v/%v", k, a, okA, b, okB)
			}
		}
	})
}
