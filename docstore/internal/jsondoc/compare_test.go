package jsondoc

import (
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func num(lit string) Value { return numberUnchecked(lit) }

func obj(kv ...any) Value {
	var ms []Member
	for i := 0; i < len(kv); i += 2 {
		ms = append(ms, Member{Key: kv[i].(string), Value: kv[i+1].(Value)})
	}
	return Object(ms)
}

func arr(vs ...Value) Value { return Array(vs) }

func TestCompareNumbers(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"9007199254740993", "9007199254740992", 1},
		{"1", "1.0", 0},
		{"1", "1e0", 0},
		{"1", "10e-1", 0},
		{"1.0", "0.1e1", 0},
		{"100", "1e2", 0},
		{"100", "1E+2", 0},
		{"-0", "0", 0},
		{"-0.0e5", "0", 0},
		{"0", "0e-999999999", 0},
		{"-1", "0", -1},
		{"-1", "-2", 1},
		{"-1.5", "-1.25", -1},
		{"1.5", "1.25", 1},
		{"0.1", "0.09", 1},
		{"0.001", "1e-3", 0},
		{"1e-300", "1e300", -1},
		{"-1e-300", "1e-300", -1},
		{"-1e300", "-1e-300", -1},
		{"1e999999999", "1e999999998", 1},
		{"1e999999999", "9e999999998", 1},
		{"-1e999999999", "-9e999999998", -1},
		{"1e-999999999", "0", 1},
		{"123456789012345678901234567890", "123456789012345678901234567891", -1},
		{"123456789012345678901234567890", "1.2345678901234567890123456789e29", 0},
		{"0.30000000000000004", "0.3", 1},
		{"12.5", "125e-1", 0},
		{"12", "12.000000000000000000000000001", -1},
		{"10", "9.99999999999999999999999999999", 1},
		{"5", "-5", 1},
	} {
		assert.Equal(t, tc.want, CompareNumbers(tc.a, tc.b), "CompareNumbers(%s, %s)", tc.a, tc.b)
		assert.Equal(t, -tc.want, CompareNumbers(tc.b, tc.a), "CompareNumbers(%s, %s)", tc.b, tc.a)
	}
}

func TestCompareNumbersHugeExponentNoAlloc(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		CompareNumbers("1e999999999999", "2.5e-999999999999")
		CompareNumbers("1.5", "15e-1")
	})
	assert.Zero(t, allocs)
}

func TestNormalizeNumber(t *testing.T) {
	for _, tc := range []struct {
		lit    string
		neg    bool
		digits string
		exp    int
	}{
		{"0", false, "", 0},
		{"-0", false, "", 0},
		{"0.000", false, "", 0},
		{"-0e99", false, "", 0},
		{"1", false, "1", 1},
		{"1.0", false, "1", 1},
		{"10e-1", false, "1", 1},
		{"123.4", false, "1234", 3},
		{"-0.05", true, "5", -1},
		{"1200", false, "12", 4},
		{"1e300", false, "1", 301},
		{"1e-300", false, "1", -299},
		{"1.5E+3", false, "15", 4},
		{"0.00120", false, "12", -2},
		{"1e999999999999999999999999", false, "1", MaxExponent},
		{"-1e-999999999999999999999999", true, "1", -MaxExponent},
	} {
		neg, digits, exp := NormalizeNumber(tc.lit)
		assert.Equal(t, tc.neg, neg, tc.lit)
		assert.Equal(t, tc.digits, digits, tc.lit)
		assert.Equal(t, tc.exp, exp, tc.lit)
	}
}

func TestNormalizeNumberInvalidNoPanic(t *testing.T) {
	for _, lit := range []string{"", "-", ".", "e", "1e", "1e+", "--1", "1.2.3", "abc", "0x10", "1e-"} {
		assert.NotPanics(t, func() { NormalizeNumber(lit); CompareNumbers(lit, "1") }, lit)
	}
}

func TestNumberFromDecimal(t *testing.T) {
	for _, tc := range []struct{ lit, want string }{
		{"0", "0"},
		{"-0.0", "0"},
		{"1", "1"},
		{"1.0", "1"},
		{"10e-1", "1"},
		{"150", "150"},
		{"1.5", "1.5"},
		{"-1.5", "-1.5"},
		{"0.0015", "0.0015"},
		{"0.1", "0.1"},
		{"1e-7", "1e-7"},
		{"0.000001", "0.000001"},
		{"1e20", "100000000000000000000"},
		{"1e21", "1e21"},
		{"1e22", "1e22"},
		{"1.5e30", "1.5e30"},
		{"-1.25e-30", "-1.25e-30"},
		{"123456789012345678901234567890", "123456789012345678901234567890"},
		{"9007199254740993", "9007199254740993"},
		{"1e999999999", "1e999999999"},
	} {
		neg, digits, exp := NormalizeNumber(tc.lit)
		v, err := NumberFromDecimal(neg, digits, exp)
		require.NoError(t, err, tc.lit)
		assert.Equal(t, tc.want, v.NumberLiteral(), tc.lit)
		assert.Zero(t, CompareNumbers(tc.lit, v.NumberLiteral()), tc.lit)
		assert.True(t, validLiteral.MatchString(v.NumberLiteral()), v.NumberLiteral())
	}
	for _, bad := range []struct {
		neg    bool
		digits string
		exp    int
	}{
		{true, "", 0}, {false, "", 1}, {false, "01", 1}, {false, "10", 1},
		{false, "1a", 1}, {false, "1", MaxExponent + 1}, {false, "1", -MaxExponent - 1},
	} {
		_, err := NumberFromDecimal(bad.neg, bad.digits, bad.exp)
		assert.Error(t, err, "%+v", bad)
	}
}

// orderedValues lists values in ascending order; values within one inner
// slice compare equal.
var orderedValues = [][]Value{
	{Missing(), Null()},
	{num("-1e300")},
	{num("-9007199254740993")},
	{num("-9007199254740992")},
	{num("-1"), num("-1.0"), num("-10e-1")},
	{num("-0.5")},
	{num("0"), num("-0"), num("0.0e10")},
	{num("1e-300")},
	{num("0.5")},
	{num("1"), num("1.0"), num("1e0"), num("10e-1")},
	{num("9007199254740992")},
	{num("9007199254740993")},
	{num("1e999999999")},
	{String("")},
	{String("\x00")},
	{String("A")},
	{String("a")},
	{String("a\x00")},
	{String("ab")},
	{String("b")},
	{String("\xff")},
	{obj(), obj("x", Missing())},
	{obj("a", Null()), obj("a", Missing(), "a", Null())},
	{obj("b", Null())},
	{obj("a", num("1")), obj("a", num("1.0"))},
	{obj("a", num("1"), "b", Null())},
	{obj("a", num("2"))},
	{obj("b", num("1"))},
	{obj("a", String(""))},
	{obj("a", obj())},
	{obj("a", arr())},
	{obj("a", Bool(false))},
	{obj("a", Bool(true))},
	{obj("b", Bool(false))},
	{arr()},
	{arr(Null()), arr(Missing())},
	{arr(Null(), Null())},
	{arr(num("1")), arr(num("1e0"))},
	{arr(num("1"), String("x"))},
	{arr(num("2"))},
	{arr(String("a"))},
	{arr(obj())},
	{arr(arr())},
	{arr(arr(Null()))},
	{arr(Bool(false))},
	{arr(Bool(true))},
	{Bool(false)},
	{Bool(true)},
}

func TestCompareOrder(t *testing.T) {
	for i, gi := range orderedValues {
		for j, gj := range orderedValues {
			want := sign(i - j)
			for _, a := range gi {
				for _, b := range gj {
					if got := Compare(a, b); got != want {
						t.Errorf("Compare(%s, %s) = %d, want %d", a, b, got, want)
					}
				}
			}
		}
	}
}

func TestCompareEqual(t *testing.T) {
	assert.False(t, Equal(Missing(), Null()))
	assert.False(t, Equal(Null(), Missing()))
	assert.True(t, Equal(Missing(), Missing()))
	assert.True(t, Equal(Null(), Null()))
	assert.Zero(t, Compare(Missing(), Null()))
	assert.True(t, Equal(num("1"), num("1.0")))
	assert.False(t, Equal(num("1"), String("1")))
	assert.False(t, Equal(Bool(false), num("0")))
	assert.True(t, Equal(arr(Missing()), arr(Null())))
	assert.True(t, Equal(obj("a", num("-0"), "b", String("x")), obj("a", num("0"), "b", String("x"))))
	assert.False(t, Equal(obj("a", num("1"), "b", num("2")), obj("b", num("2"), "a", num("1"))))
}

var validLiteral = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// fuzzLiteral returns s when it is a JSON number literal, otherwise a
// literal built from its bytes.
func fuzzLiteral(s string) string {
	if validLiteral.MatchString(s) {
		return s
	}
	var b strings.Builder
	digit := func(i int) byte {
		if i < len(s) {
			return '0' + s[i]%10
		}
		return '0'
	}
	flags := byte(0)
	if len(s) > 0 {
		flags = s[0]
	}
	if flags&1 != 0 {
		b.WriteByte('-')
	}
	n := len(s)
	intLen := 1 + int(flags>>1&3)
	if flags&8 != 0 {
		intLen = 1 // a leading 0
	}
	pos := 1
	for k := 0; k < intLen; k++ {
		d := digit(pos)
		if k == 0 {
			if flags&8 != 0 {
				d = '0'
			} else if d == '0' {
				d = '1'
			}
		}
		b.WriteByte(d)
		pos++
	}
	if flags&16 != 0 && pos < n {
		b.WriteByte('.')
		b.WriteByte(digit(pos))
		pos++
		for ; pos < n && s[pos] < 200; pos++ {
			b.WriteByte(digit(pos))
		}
	}
	if flags&32 != 0 {
		b.WriteString([]string{"e", "E", "e+", "e-"}[flags>>6])
		fmt.Fprint(&b, int(digit(pos)-'0')+int(digit(pos+1)-'0')*10)
	}
	return b.String()
}

// ratOf returns the exact value of lit when its exponent is small enough
// for big.Rat to hold it cheaply. A zero normalizes to exponent 0 whatever
// its literal says, and big.Rat rejects exponents beyond an int64
// ("0e10000000000000000000"), so zeros are answered here.
func ratOf(t *testing.T, lit string) (*big.Rat, bool) {
	_, digits, exp := NormalizeNumber(lit)
	if digits == "" {
		return new(big.Rat), true
	}
	if exp > 2000 || exp < -2000 || len(digits) > 2000 {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(lit)
	if !ok {
		t.Fatalf("big.Rat rejects %q", lit)
	}
	return r, true
}

func FuzzCompareNumbers(f *testing.F) {
	seeds := [][3]string{
		{"9007199254740993", "9007199254740992", "9007199254740992.5"},
		{"1", "1.0", "1e0"},
		{"10e-1", "-0", "0"},
		{"1e-300", "1e300", "-1e300"},
		{"1e999999999", "9e999999998", "-1e999999999"},
		{"123456789012345678901234567890", "1.2345678901234567890123456789e29", "0.000000000000000000001"},
		{"0.30000000000000004", "0.3", "3e-1"},
		{"1e99999999999999999999", "2e99999999999999999999", "1e-99999999999999999999"},
		{"\x01\x02\x03", "\x31\x00\x05\x06", "\xff\xfe"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, sa, sb, sc string) {
		if len(sa)+len(sb)+len(sc) > maxFuzzInput {
			return
		}
		a, b, c := fuzzLiteral(sa), fuzzLiteral(sb), fuzzLiteral(sc)
		for _, lit := range []string{a, b, c} {
			if !validLiteral.MatchString(lit) {
				t.Fatalf("fuzzLiteral made invalid %q", lit)
			}
		}
		ab, ba := CompareNumbers(a, b), CompareNumbers(b, a)
		if ab != -ba {
			t.Fatalf("antisymmetry: cmp(%s, %s) = %d, cmp(%s, %s) = %d", a, b, ab, b, a, ba)
		}
		bc, ac := CompareNumbers(b, c), CompareNumbers(a, c)
		if ab <= 0 && bc <= 0 && ac > 0 || ab >= 0 && bc >= 0 && ac < 0 {
			t.Fatalf("transitivity: cmp(%s,%s)=%d cmp(%s,%s)=%d cmp(%s,%s)=%d", a, b, ab, b, c, bc, a, c, ac)
		}
		// Equal values normalize identically.
		na, da, ea := NormalizeNumber(a)
		nb, db, eb := NormalizeNumber(b)
		if same := na == nb && da == db && ea == eb; same != (ab == 0) {
			t.Fatalf("cmp(%s, %s) = %d but normalized forms equal = %v", a, b, ab, same)
		}
		// The canonical literal has the same value and is a fixed point.
		v, err := NumberFromDecimal(na, da, ea)
		if err != nil {
			t.Fatalf("NumberFromDecimal(NormalizeNumber(%s)): %v", a, err)
		}
		if CompareNumbers(a, v.NumberLiteral()) != 0 || !validLiteral.MatchString(v.NumberLiteral()) {
			t.Fatalf("canonical form of %s is %s", a, v.NumberLiteral())
		}
		// Agreement with exact rational arithmetic.
		ra, okA := ratOf(t, a)
		rb, okB := ratOf(t, b)
		if okA && okB {
			if want := ra.Cmp(rb); ab != want {
				t.Fatalf("cmp(%s, %s) = %d, big.Rat says %d", a, b, ab, want)
			}
		}
	})
}
