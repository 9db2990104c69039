package keyenc

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendString(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want []byte
	}{
		{"", []byte{0x00, 0x01}},
		{"a", []byte{'a', 0x00, 0x01}},
		{"\x00", []byte{0x00, 0xFF, 0x00, 0x01}},
		{"a\x00b", []byte{'a', 0x00, 0xFF, 'b', 0x00, 0x01}},
		{"\xff\x01", []byte{0xFF, 0x01, 0x00, 0x01}},
	} {
		got := AppendString([]byte("pre"), tc.s)
		assert.Equal(t, append([]byte("pre"), tc.want...), got, "%q", tc.s)
		s, rest, err := DecodeString(append(got[3:], "tail"...))
		require.NoError(t, err)
		assert.Equal(t, tc.s, s)
		assert.Equal(t, "tail", string(rest))
	}
}

func TestStringOrder(t *testing.T) {
	ordered := []string{"", "\x00", "\x00\x00", "\x00\x01", "\x01", "a", "a\x00", "a\x00\x00", "a\x01", "a:", "a:b", "a/", "ab", "b", "\xfe", "\xff", "\xff\x00", "\xff\xff"}
	for _, a := range ordered {
		for _, b := range ordered {
			want := strings.Compare(a, b)
			got := bytes.Compare(AppendString(nil, a), AppendString(nil, b))
			assert.Equal(t, want, got, "%q vs %q", a, b)
			if a != b {
				// Self-delimiting: what follows never changes the order.
				got = bytes.Compare(append(AppendString(nil, a), 0xFF), append(AppendString(nil, b), 0x00))
				assert.Equal(t, want, got, "%q+FF vs %q+00", a, b)
			}
		}
	}
}

func TestDecodeStringMalformed(t *testing.T) {
	for _, b := range [][]byte{
		nil,
		[]byte("abc"),
		{'a', 0x00},
		{'a', 0x00, 0x02},
		{0x00, 0xFF},
		{0x00, 0xFF, 0x00},
	} {
		_, _, err := DecodeString(b)
		assert.ErrorIs(t, err, ErrMalformed, "%x", b)
	}
}

func FuzzStringOrder(f *testing.F) {
	f.Add("", "\x00")
	f.Add("a", "a\x00")
	f.Add("a\x00", "a\x01")
	f.Add("users:1", "users/1")
	f.Add("\xff", "\xff\x00\x01")
	f.Fuzz(func(t *testing.T, a, b string) {
		if len(a)+len(b) > maxFuzzInput {
			return
		}
		ea, eb := AppendString(nil, a), AppendString(nil, b)
		if got, want := bytes.Compare(ea, eb), strings.Compare(a, b); got != want {
			t.Fatalf("order(%q, %q) = %d, want %d", a, b, got, want)
		}
		// Compound keys compare field by field.
		ca := AppendString(append([]byte(nil), ea...), b)
		cb := AppendString(append([]byte(nil), eb...), a)
		want := strings.Compare(a, b)
		if want == 0 {
			want = strings.Compare(b, a)
		}
		if got := bytes.Compare(ca, cb); got != want {
			t.Fatalf("compound order(%q+%q, %q+%q) = %d, want %d", a, b, b, a, got, want)
		}
		for _, s := range []string{a, b} {
			enc := AppendString(nil, s)
			got, rest, err := DecodeString(append(enc, s...))
			if err != nil || got != s || string(rest) != s {
				t.Fatalf("DecodeString(AppendString(%q)) = %q, %q, %v", s, got, rest, err)
			}
			rest, ok := matchString(enc, s)
			if !ok || len(rest) != 0 {
				t.Fatalf("matchString(AppendString(%q)) failed", s)
			}
		}
		if _, ok := matchString(ea, b); ok != (a == b) {
			t.Fatalf("matchString(AppendString(%q), %q) = %v", a, b, ok)
		}
		// Arbitrary bytes decode or fail cleanly.
		if s, rest, err := DecodeString([]byte(a)); err == nil {
			if !bytes.Equal(append(AppendString(nil, s), rest...), []byte(a)) {
				t.Fatalf("DecodeString(%q) = %q, %q: not canonical", a, s, rest)
			}
		} else if !errors.Is(err, ErrMalformed) {
			t.Fatalf("DecodeString(%q): %v", a, err)
		}
	})
}
