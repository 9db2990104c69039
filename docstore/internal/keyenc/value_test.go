package keyenc

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
)

// num returns the number lit, keeping lit when jsondoc.Number accepts it
// and otherwise (beyond float64) its canonical form.
func num(lit string) jsondoc.Value {
	if v, err := jsondoc.Number(lit); err == nil {
		return v
	}
	v, err := jsondoc.NumberFromDecimal(jsondoc.NormalizeNumber(lit))
	if err != nil {
		panic(err)
	}
	return v
}

func str(s string) jsondoc.Value { return jsondoc.String(s) }

func obj(kv ...any) jsondoc.Value {
	ms := []jsondoc.Member{}
	for i := 0; i < len(kv); i += 2 {
		ms = append(ms, jsondoc.Member{Key: kv[i].(string), Value: kv[i+1].(jsondoc.Value)})
	}
	return jsondoc.Object(ms)
}

func arr(vs ...jsondoc.Value) jsondoc.Value { return jsondoc.Array(append([]jsondoc.Value{}, vs...)) }

var (
	null    = jsondoc.Null()
	missing = jsondoc.Missing()
	fals    = jsondoc.Bool(false)
	tru     = jsondoc.Bool(true)
)

// orderedValues lists values in ascending jsondoc.Compare order; values
// within one inner slice are equal and must encode identically.
var orderedValues = [][]jsondoc.Value{
	{missing, null},
	{num("-1e999999999")},
	{num("-1e300")},
	{num("-123456789012345678901234567891")},
	{num("-123456789012345678901234567890"), num("-1.2345678901234567890123456789e29")},
	{num("-9007199254740993")},
	{num("-9007199254740992")},
	{num("-100"), num("-1e2"), num("-100.00")},
	{num("-12.5")},
	{num("-12")},
	{num("-1.25")},
	{num("-1"), num("-1.0"), num("-10e-1")},
	{num("-0.5")},
	{num("-1e-300")},
	{num("0"), num("-0"), num("0.0e10"), num("0e-5")},
	{num("1e-300")},
	{num("1e-7"), num("0.0000001")},
	{num("0.01")},
	{num("0.1"), num("1e-1")},
	{num("0.5")},
	{num("1"), num("1.0"), num("1e0"), num("10e-1")},
	{num("1.25")},
	{num("1.3")},
	{num("12")},
	{num("12.5"), num("125e-1")},
	{num("63")},
	{num("64")},
	{num("99")},
	{num("100"), num("1e2")},
	{num("9007199254740992")},
	{num("9007199254740993")},
	{num("1e300")},
	{num("1e999999999")},
	{str("")},
	{str("\x00")},
	{str("A")},
	{str("a")},
	{str("a\x00")},
	{str("a\x00b")},
	{str("ab")},
	{str("b")},
	{str("\xff")},
	{obj(), obj("x", missing)},
	{obj("a", null), obj("z", missing, "a", null)},
	{obj("a", null, "b", null)},
	{obj("b", null)},
	{obj("a", num("1")), obj("a", num("1.0"))},
	{obj("a", num("1"), "b", null)},
	{obj("a", num("2"))},
	{obj("b", num("1"))},
	{obj("a", str(""))},
	{obj("a\x00", str(""))},
	{obj("a", obj())},
	{obj("a", obj("a", null))},
	{obj("a", arr())},
	{obj("a", fals)},
	{obj("a", tru)},
	{obj("b", fals)},
	{arr()},
	{arr(null), arr(missing)},
	{arr(null, null)},
	{arr(num("-1"))},
	{arr(num("1")), arr(num("1e0"))},
	{arr(num("1"), str("x"))},
	{arr(num("2"))},
	{arr(str("a"))},
	{arr(obj())},
	{arr(arr())},
	{arr(arr(null))},
	{arr(fals)},
	{arr(tru)},
	{fals},
	{tru},
}

func TestValueOrder(t *testing.T) {
	for i, gi := range orderedValues {
		for j, gj := range orderedValues {
			for _, a := range gi {
				for _, b := range gj {
					require.Equal(t, sign(i-j), jsondoc.Compare(a, b), "jsondoc.Compare(%s, %s)", a, b)
					ea, eb := AppendValue(nil, a), AppendValue(nil, b)
					assert.Equal(t, sign(i-j), bytes.Compare(ea, eb), "order(%s, %s): %x vs %x", a, b, ea, eb)
					da, db := AppendValueDesc(nil, a), AppendValueDesc(nil, b)
					assert.Equal(t, sign(j-i), bytes.Compare(da, db), "desc order(%s, %s): %x vs %x", a, b, da, db)
				}
			}
		}
	}
}

func TestValueRoundTrip(t *testing.T) {
	for _, g := range orderedValues {
		for _, v := range g {
			enc := AppendValue(nil, v)
			got, rest, err := DecodeValue(append(enc, 0x42))
			require.NoError(t, err, "%s: %x", v, enc)
			assert.Equal(t, []byte{0x42}, rest)
			assert.Zero(t, jsondoc.Compare(v, got), "%s decoded as %s", v, got)
			assert.Equal(t, enc, AppendValue(nil, got), "%s: re-encoding", v)

			desc := AppendValueDesc(nil, v)
			got, rest, err = DecodeValueDesc(append(desc, 0x42))
			require.NoError(t, err, "%s: %x", v, desc)
			assert.Equal(t, []byte{0x42}, rest)
			assert.Zero(t, jsondoc.Compare(v, got), "%s decoded as %s", v, got)

			rest, err = SkipValue(append(enc, 7), false)
			require.NoError(t, err)
			assert.Equal(t, []byte{7}, rest)
			rest, err = SkipValue(append(desc, 7), true)
			require.NoError(t, err)
			assert.Equal(t, []byte{7}, rest)
		}
	}
}

func TestNumberEncoding(t *testing.T) {
	for _, tc := range []struct {
		lit  string
		want []byte
	}{
		{"0", []byte{tagNumber, numZero}},
		{"-0.0", []byte{tagNumber, numZero}},
		{"1", []byte{tagNumber, numPos, 0x81, 11, 0}},
		{"1.0", []byte{tagNumber, numPos, 0x81, 11, 0}},
		{"12", []byte{tagNumber, numPos, 0x82, 13, 0}},
		{"123", []byte{tagNumber, numPos, 0x83, 13, 31, 0}},
		{"0.05", []byte{tagNumber, numPos, 0x7F, 51, 0}},
		{"-1", []byte{tagNumber, numNeg, ^byte(0x81), ^byte(11), 0xFF}},
		{"1e63", []byte{tagNumber, numPos, 0xC0, 64, 11, 0}},
		{"1e-65", []byte{tagNumber, numPos, 0x40, 11, 0}},
		{"1e-66", []byte{tagNumber, numPos, 0x3F, ^byte(64), 11, 0}},
	} {
		assert.Equal(t, tc.want, AppendValue(nil, num(tc.lit)), tc.lit)
	}
	v, _, err := DecodeValue([]byte{tagNumber, numPos, 0x83, 13, 31, 0})
	require.NoError(t, err)
	assert.Equal(t, "123", v.NumberLiteral())
	v, _, err = DecodeValue(AppendValue(nil, num("-12.50e1")))
	require.NoError(t, err)
	assert.Equal(t, "-125", v.NumberLiteral())
	v, _, err = DecodeValue(AppendValue(nil, num("1E999999999")))
	require.NoError(t, err)
	assert.Equal(t, "1e999999999", v.NumberLiteral())
}

func TestExpOrder(t *testing.T) {
	xs := []int64{math.MinInt64, -jsondoc.MaxExponent, -1 << 40, -65536, -65535, -257, -256, -255, -65, -64, -63, -1, 0, 1, 63, 64, 65, 255, 256, 65535, 65536, 1 << 40, jsondoc.MaxExponent, math.MaxInt64}
	for i, x := range xs {
		enc := appendExp(nil, x)
		for _, mask := range []byte{0, 0xFF} {
			m := append([]byte(nil), enc...)
			for k := range m {
				m[k] ^= mask
			}
			got, rest, err := decodeExp(append(m, 9), mask)
			require.NoError(t, err, "%d", x)
			assert.Equal(t, x, got)
			assert.Equal(t, []byte{9}, rest)
		}
		for j, y := range xs {
			assert.Equal(t, sign(i-j), bytes.Compare(enc, appendExp(nil, y)), "exp %d vs %d", x, y)
		}
	}
	for _, b := range [][]byte{
		{}, {0xC0}, {0xC0, 63}, {0xC1, 0, 200}, {0xC7, 0x80, 0, 0, 0, 0, 0, 0, 0},
		{0x3F, 0xC0}, {0x3E, 0xFF, 0x00}, {0x37}, {0xC8},
	} {
		_, _, err := decodeExp(b, 0)
		assert.ErrorIs(t, err, ErrMalformed, "%x", b)
	}
}

func TestDecodeValueMalformed(t *testing.T) {
	for _, b := range [][]byte{
		nil,
		{0x01},
		{tagNumber},
		{tagNumber, 0x04},
		{tagNumber, numPos},
		{tagNumber, numPos, 0x81},
		{tagNumber, numPos, 0x81, 0},        // no digits
		{tagNumber, numPos, 0x81, 1, 0},     // digits "00"
		{tagNumber, numPos, 0x81, 5, 0},     // leading zero
		{tagNumber, numPos, 0x81, 11, 1, 0}, // trailing "00"
		{tagNumber, numPos, 0x81, 102, 0},   // not a digit pair
		{tagNumber, numPos, 0xC7, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 11, 0}, // exponent too large
		{tagString, 'a'},
		{tagString, 'a', 0x00, 0x05},
		{tagBool},
		{tagBool, 2},
		{tagArray},
		{tagArray, tagNull},
		{tagArray, 0x07, 0},
		{tagObject},
		{tagObject, tagNull},
		{tagObject, tagNull, 'a', 0, 1},
		{tagObject, tagNull, 'a', 0, 1, tagNull, 'a', 0, 1, 0}, // duplicate key
		{tagObject, 0x07, 'a', 0, 1, 0},
	} {
		_, _, err := DecodeValue(b)
		assert.ErrorIs(t, err, ErrMalformed, "%x", b)
		_, err = SkipValue(b, false)
		assert.ErrorIs(t, err, ErrMalformed, "skip %x", b)
	}
	deep := bytes.Repeat([]byte{tagArray}, MaxDecodeDepth+1)
	_, _, err := DecodeValue(deep)
	assert.ErrorIs(t, err, ErrMalformed)
}

func sign(x int) int {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

// gen builds random values from fuzz input.
type gen struct{ b []byte }

func (g *gen) next() byte {
	if len(g.b) == 0 {
		return 0
	}
	c := g.b[0]
	g.b = g.b[1:]
	return c
}

var numberPool = []string{
	"0", "-0", "0.0", "1", "1.0", "1e0", "10e-1", "-1", "-1.0", "0.5", "5e-1", "-0.5",
	"2", "12", "12.5", "125e-1", "100", "1e2", "63", "64", "65", "99", "-64", "-65",
	"9007199254740992", "9007199254740993", "-9007199254740993", "1e300", "1e-300", "-1e300",
	"-1e-300", "1e999999999", "-1e999999999", "1e-999999999", "123456789012345678901234567890",
	"0.30000000000000004", "0.3", "1.25", "1.3",
}

var stringAlphabet = []byte{0x00, 0x01, 'a', 'b', 0xFE, 0xFF}

var keyPool = []string{"", "a", "b", "a\x00", "ab", "_id"}

func (g *gen) number() jsondoc.Value {
	c := g.next()
	if c < 128 {
		return num(numberPool[int(c)%len(numberPool)])
	}
	// A generated literal: sign, 1–4 digits, an optional fraction and
	// exponent, from a small alphabet so that equal values recur.
	lit := ""
	if c&1 != 0 {
		lit = "-"
	}
	n := 1 + int(c>>1&3)
	for i := range n {
		d := g.next() % 4
		if i == 0 && d == 0 && n > 1 {
			d = 1
		}
		lit += fmt.Sprint(d)
	}
	if c&8 != 0 {
		lit += "." + fmt.Sprint(g.next()%4) + fmt.Sprint(g.next()%3)
	}
	switch {
	case c&16 != 0:
		lit += fmt.Sprintf("e%d", int(int8(g.next()))%8)
	case c&32 != 0:
		lit += fmt.Sprintf("E%+d", int(int8(g.next()))*int(g.next())*1000)
	}
	return num(lit)
}

func (g *gen) value(depth int) jsondoc.Value {
	c := g.next()
	k := c % 8
	if depth >= 3 && k >= 6 {
		k -= 4
	}
	switch k {
	case 0:
		return missing
	case 1:
		return null
	case 2, 3:
		return g.number()
	case 4:
		n := int(g.next() % 5)
		s := make([]byte, n)
		for i := range s {
			s[i] = stringAlphabet[int(g.next())%len(stringAlphabet)]
		}
		return str(string(s))
	case 5:
		return jsondoc.Bool(c&8 != 0)
	case 6:
		n := int(g.next() % 4)
		elems := make([]jsondoc.Value, n)
		for i := range elems {
			elems[i] = g.value(depth + 1)
		}
		return jsondoc.Array(elems)
	default:
		n := int(g.next() % 4)
		members := []jsondoc.Member{}
	members:
		for range n {
			key := keyPool[int(g.next())%len(keyPool)]
			for _, m := range members {
				if m.Key == key {
					continue members
				}
			}
			members = append(members, jsondoc.Member{Key: key, Value: g.value(depth + 1)})
		}
		return jsondoc.Object(members)
	}
}

func concat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

func fuzzSeeds(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{2, 4, 2, 5})
	f.Add([]byte{2, 7, 1, 2, 8, 2, 5, 2, 6})
	f.Add([]byte{6, 2, 2, 1, 3, 2, 6, 2, 2, 1, 3, 3})
	f.Add([]byte{7, 3, 1, 2, 1, 7, 3, 1, 2, 2})
	f.Add([]byte{4, 3, 0, 2, 1, 4, 4, 2, 0, 1, 5})
	f.Add([]byte{2, 200, 1, 2, 3, 2, 177, 3, 1, 0, 7})
	f.Add([]byte{2, 231, 1, 2, 3, 9, 2, 201, 2, 1, 0, 200})
	f.Add([]byte("\x07\x02\x01\x04\x02\x00\x05\x07\x02\x01\x04\x02\x00\x01"))
	for _, g := range orderedValues {
		for _, v := range g {
			f.Add(AppendValue(nil, v))
		}
	}
}

// maxFuzzInput caps the fuzz inputs of this package's targets: each
// iteration's work and allocation stay bounded whatever the fuzzer
// generates (RELIABILITY.md S11).
const maxFuzzInput = 64 << 10

func FuzzValueOrder(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		g := gen{b: data}
		a1, a2, b1, b2 := g.value(0), g.value(0), g.value(0), g.value(0)
		if len(data) > 0 && data[len(data)-1]&1 != 0 {
			b1 = a1 // force ties on the first field
		}
		c1, c2 := jsondoc.Compare(a1, b1), jsondoc.Compare(a2, b2)
		ea1, ea2, eb1, eb2 := AppendValue(nil, a1), AppendValue(nil, a2), AppendValue(nil, b1), AppendValue(nil, b2)
		if got := bytes.Compare(ea1, eb1); got != c1 {
			t.Fatalf("order(%s, %s) = %d, want %d\n%x\n%x", a1, b1, got, c1, ea1, eb1)
		}
		if c1 == 0 && !bytes.Equal(ea1, eb1) {
			t.Fatalf("equal values %s and %s encode differently: %x vs %x", a1, b1, ea1, eb1)
		}
		want := c1
		if want == 0 {
			want = c2
		}
		if got := bytes.Compare(concat(ea1, ea2), concat(eb1, eb2)); got != want {
			t.Fatalf("compound order(%s %s, %s %s) = %d, want %d", a1, a2, b1, b2, got, want)
		}
		da1, da2, db1, db2 := AppendValueDesc(nil, a1), AppendValueDesc(nil, a2), AppendValueDesc(nil, b1), AppendValueDesc(nil, b2)
		if got := bytes.Compare(da1, db1); got != -c1 {
			t.Fatalf("desc order(%s, %s) = %d, want %d", a1, b1, got, -c1)
		}
		if got := bytes.Compare(concat(da1, da2), concat(db1, db2)); got != -want {
			t.Fatalf("desc compound order(%s %s, %s %s) = %d, want %d", a1, a2, b1, b2, got, -want)
		}
		mixed := c1
		if mixed == 0 {
			mixed = -c2
		}
		if got := bytes.Compare(concat(ea1, da2), concat(eb1, db2)); got != mixed {
			t.Fatalf("asc,desc order(%s %s, %s %s) = %d, want %d", a1, a2, b1, b2, got, mixed)
		}
		mixed = -c1
		if mixed == 0 {
			mixed = c2
		}
		if got := bytes.Compare(concat(da1, ea2), concat(db1, eb2)); got != mixed {
			t.Fatalf("desc,asc order(%s %s, %s %s) = %d, want %d", a1, a2, b1, b2, got, mixed)
		}
	})
}

func FuzzDecodeValue(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		// Arbitrary bytes decode to a canonical encoding or fail cleanly.
		for _, desc := range []bool{false, true} {
			decode, appendv := DecodeValue, AppendValue
			if desc {
				decode, appendv = DecodeValueDesc, AppendValueDesc
			}
			v, rest, err := decode(data)
			skipRest, skipErr := SkipValue(data, desc)
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("decode(%x, desc=%v): %v does not wrap ErrMalformed", data, desc, err)
				}
				if skipErr == nil {
					t.Fatalf("SkipValue(%x, %v) accepts what decode rejects: %v", data, desc, err)
				}
				continue
			}
			if skipErr != nil || len(skipRest) != len(rest) {
				t.Fatalf("SkipValue(%x, %v) = %x, %v; decode rest %x", data, desc, skipRest, skipErr, rest)
			}
			if enc := appendv(nil, v); !bytes.Equal(enc, data[:len(data)-len(rest)]) {
				t.Fatalf("decode(%x, desc=%v) = %s, re-encoded as %x", data, desc, v, enc)
			}
		}
		// Generated values round-trip.
		g := gen{b: data}
		v := g.value(0)
		enc := AppendValue(nil, v)
		got, rest, err := DecodeValue(enc)
		if err != nil || len(rest) != 0 || jsondoc.Compare(v, got) != 0 {
			t.Fatalf("DecodeValue(AppendValue(%s)) = %s, %x, %v", v, got, rest, err)
		}
		got, rest, err = DecodeValueDesc(AppendValueDesc(nil, v))
		if err != nil || len(rest) != 0 || jsondoc.Compare(v, got) != 0 {
			t.Fatalf("DecodeValueDesc(AppendValueDesc(%s)) = %s, %x, %v", v, got, rest, err)
		}
	})
}

func TestLargeObject(t *testing.T) {
	var members []jsondoc.Member
	for i := range 40 {
		members = append(members, jsondoc.Member{Key: fmt.Sprintf("k%02d", i), Value: num(fmt.Sprint(i))})
	}
	v := jsondoc.Object(members)
	enc := AppendValue(nil, v)
	got, rest, err := DecodeValue(enc)
	require.NoError(t, err)
	assert.Empty(t, rest)
	assert.True(t, jsondoc.Equal(v, got))

	// The same key twice, after the small-object limit.
	dupEnc := AppendValue(nil, jsondoc.Object(append(members[:20:20], members[3])))
	_, _, err = DecodeValue(dupEnc)
	assert.ErrorIs(t, err, ErrMalformed)
	_, err = SkipValue(dupEnc, false)
	assert.ErrorIs(t, err, ErrMalformed)
}
