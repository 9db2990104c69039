package jsondoc

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func mustNum(t testing.TB, lit string) Value {
	t.Helper()
	v, err := Number(lit)
	require.NoError(t, err, lit)
	return v
}

func TestNumber(t *testing.T) {
	for _, ok := range []string{"0", "-0", "1", "-1.5", "1e5", "1E-5", "0.000", "9007199254740993", "1e-400"} {
		v, err := Number(ok)
		require.NoError(t, err, ok)
		require.Equal(t, ok, v.NumberLiteral())
		require.Equal(t, KindNumber, v.Kind())
	}
	for lit, code := range map[string]string{
		"": CodeInvalidJSON, "01": CodeInvalidJSON, "1 ": CodeInvalidJSON, "NaN": CodeInvalidJSON,
		"1e400": CodeNumberOutOfRange, "+1": CodeInvalidJSON, "1.": CodeInvalidJSON, "0x10": CodeInvalidJSON,
	} {
		_, err := Number(lit)
		var se *SyntaxError
		require.ErrorAs(t, err, &se, lit)
		require.Equal(t, code, se.Code, lit)
	}
}

func TestIntFloat(t *testing.T) {
	require.Equal(t, "-9223372036854775808", Int(math.MinInt64).NumberLiteral())
	for f, want := range map[float64]string{
		0: "0", 1: "1", -2.5: "-2.5", 0.1: "0.1", 1e21: "1e+21", 1e20: "100000000000000000000",
		1e-7: "1e-7", 1.5e-300: "1.5e-300", 123456.789: "123456.789", math.MaxFloat64: "1.7976931348623157e+308",
	} {
		v, err := Float(f)
		require.NoError(t, err)
		require.Equal(t, want, v.NumberLiteral(), "%v", f)
		_, err = Number(v.NumberLiteral())
		require.NoError(t, err, "valid JSON")
		back, ok := v.Float64()
		require.True(t, ok)
		require.Equal(t, f, back)
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		_, err := Float(bad)
		require.ErrorIs(t, err, ErrNumberRange)
	}
}

func TestFloat64(t *testing.T) {
	f, ok := mustNum(t, "9007199254740993").Float64()
	require.True(t, ok)
	require.Equal(t, 9007199254740992.0, f, "rounded only on conversion")
	f, ok = mustNum(t, "1e-400").Float64()
	require.True(t, ok)
	require.Equal(t, 0.0, f)
	_, ok = String("1").Float64()
	require.False(t, ok)
}

func TestInt64(t *testing.T) {
	for lit, want := range map[string]int64{
		"0": 0, "-0": 0, "7": 7, "7.0": 7, "0.7e1": 7, "700e-2": 7, "1e18": 1e18, "-9223372036854775808": math.MinInt64,
		"9223372036854775807": math.MaxInt64, "9223372036854775807.000": math.MaxInt64, "-92233720368547758.08e2": math.MinInt64,
		"0e99999999999999999999": 0, "0.0e-5": 0, "9007199254740993": 9007199254740993,
	} {
		got, ok := mustNum(t, lit).Int64()
		require.True(t, ok, lit)
		require.Equal(t, want, got, lit)
		require.True(t, IsInteger(mustNum(t, lit)), lit)
	}
	for _, lit := range []string{"7.5", "1e19", "9223372036854775808", "-9223372036854775809", "1e-3", "1e-99999999999999999999", "1e300"} {
		_, ok := mustNum(t, lit).Int64()
		require.False(t, ok, lit)
	}
	require.True(t, IsInteger(mustNum(t, "1e30")))
	require.False(t, IsInteger(mustNum(t, "1.5")))
	require.False(t, IsInteger(String("1")))
	require.True(t, IsIntegerLiteral(mustNum(t, "-12")))
	require.False(t, IsIntegerLiteral(mustNum(t, "12.0")))
	require.False(t, IsIntegerLiteral(mustNum(t, "1e2")))
}

func TestAddMul(t *testing.T) {
	const overflow = "overflow"
	for _, tc := range []struct{ a, b, sum, prod string }{
		{"1", "2", "3", "2"},
		{"9007199254740993", "1", "9007199254740994", "9007199254740993"},
		// Exact beyond int64 and float64's 53 bits: never rounded.
		{"9223372036854775807", "1", "9223372036854775808", "9223372036854775807"},
		{"-9223372036854775808", "-1", "-9223372036854775809", "9223372036854775808"},
		{"12345678901234567890", "1", "12345678901234567891", "12345678901234567890"},
		{"12345678901234567890", "12345678901234567890", "24691357802469135780", "152415787532388367501905199875019052100"},
		{"9223372036854775807", "-1", "9223372036854775806", "-9223372036854775807"},
		{"1e19", "1", "10000000000000000001", "10000000000000000000"},
		{"1.5", "2", "3.5", "3"},
		{"0.1", "0.2", "0.3", "0.02"},
		{"1.10", "-1.1", "0", "-1.21"},
		{"4611686018427387904", "2", "4611686018427387906", "9223372036854775808"},
		{"7.0", "3", "10", "21"},
		{"-0", "0", "0", "0"},
		{"1e-7", "1e-7", "2e-7", "1e-14"},
		{"1e30", "1e30", "2e+30", "1e+60"},
		{"1e300", "1", "1" + strings.Repeat("0", 299) + "1", "1e+300"},
		{"1e300", "1e300", "2e+300", overflow},
		{"1.7976931348623157e308", "1.7976931348623157e308", overflow, overflow},
		{"1e-400", "1", "1." + strings.Repeat("0", 399) + "1", "1e-400"},
		{"1e-20000", "1", overflow, "1e-20000"},
	} {
		s, err := Add(mustNum(t, tc.a), mustNum(t, tc.b))
		if tc.sum == overflow {
			require.ErrorIs(t, err, ErrNumberRange, "%s+%s", tc.a, tc.b)
		} else {
			require.NoError(t, err, "%s+%s", tc.a, tc.b)
			require.Equal(t, tc.sum, s.NumberLiteral(), "%s+%s", tc.a, tc.b)
			_, err := Number(s.NumberLiteral())
			require.NoError(t, err)
		}
		p, err := Mul(mustNum(t, tc.a), mustNum(t, tc.b))
		if tc.prod == overflow {
			require.ErrorIs(t, err, ErrNumberRange, "%s*%s", tc.a, tc.b)
		} else {
			require.NoError(t, err, "%s*%s", tc.a, tc.b)
			require.Equal(t, tc.prod, p.NumberLiteral(), "%s*%s", tc.a, tc.b)
		}
	}
	_, err := Add(String("1"), Int(1))
	require.ErrorIs(t, err, ErrNotNumber)
	_, err = Mul(Int(1), Null())
	require.ErrorIs(t, err, ErrNotNumber)
	_, err = Mul(mustNum(t, "1e300"), mustNum(t, "1e300"))
	require.ErrorIs(t, err, ErrNumberRange)
	// Too many digits to be exact: refused, not rounded.
	long := "0." + strings.Repeat("3", MaxExactDigits+1)
	_, err = Add(mustNum(t, long), Int(1))
	require.ErrorIs(t, err, ErrNumberRange)
	half := "0." + strings.Repeat("3", MaxExactDigits/2+1)
	_, err = Mul(mustNum(t, half), mustNum(t, half))
	require.ErrorIs(t, err, ErrNumberRange)
}

func TestIntegerPart(t *testing.T) {
	for lit, want := range map[string]string{
		"7": "7", "7.9": "7", "-7.9": "-7", "0.5": "0", "-0": "0", "1e20": "100000000000000000000",
		"12345678901234567890.5": "12345678901234567890", "1.5e3": "1500", "0.0": "0", "-0.0e5": "0", "1e-400": "0", "-25e-1": "-2",
	} {
		n, ok := IntegerPart(mustNum(t, lit))
		require.True(t, ok, lit)
		require.Equal(t, want, n.String(), lit)
	}
	_, ok := IntegerPart(String("7"))
	require.False(t, ok)
}
