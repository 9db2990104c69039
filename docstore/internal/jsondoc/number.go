package jsondoc

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"strconv"
	"strings"
)

// ErrNotNumber is returned by arithmetic on a value that is not a number.
var ErrNotNumber = errors.New("jsondoc: not a number")

// ErrNumberRange is returned when a result cannot be represented as a JSON
// number: NaN, an infinity, or a float64 overflow.
var ErrNumberRange = errors.New("jsondoc: number out of range")

// Number returns a number from its JSON literal, which is kept exactly. It
// returns a *SyntaxError if lit is not a JSON number or overflows float64.
func Number(lit string) (Value, error) {
	if lit == "" {
		return Value{}, &SyntaxError{Code: CodeInvalidJSON, Msg: "empty number literal"}
	}
	end, err := scanNumber([]byte(lit), 0)
	if err != nil {
		return Value{}, err
	}
	if end != len(lit) {
		return Value{}, &SyntaxError{Code: CodeInvalidJSON, Offset: int64(end),
			Msg: fmt.Sprintf("invalid character %s after number", quoteByte([]byte(lit), end))}
	}
	return numberUnchecked(lit), nil
}

// Int returns the number i.
func Int(i int64) Value { return numberUnchecked(strconv.FormatInt(i, 10)) }

// Float returns the number f written in the shortest form that reads back
// as f (as encoding/json writes floats: 0.1, 1e+21, 1e-7). NaN and the
// infinities have no JSON form and return ErrNumberRange.
func Float(f float64) (Value, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return Value{}, fmt.Errorf("%w: %v", ErrNumberRange, f)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b := strconv.AppendFloat(make([]byte, 0, 24), f, format, -1, 64)
	if format == 'e' {
		// Shorten e-07 to e-7.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return numberUnchecked(string(b)), nil
}

// Float64 returns a number's value rounded to the nearest float64; ok is
// false for other kinds. A literal too small for float64 reads as ±0.
func (v Value) Float64() (f float64, ok bool) {
	if v.kind != KindNumber {
		return 0, false
	}
	f, err := strconv.ParseFloat(v.s, 64)
	if err != nil && !math.IsInf(f, 0) && f != 0 {
		return 0, false
	}
	return f, !math.IsInf(f, 0)
}

// Int64 returns a number's value when it is exactly an integer that fits an
// int64, however it is written: 7, 7.0, 0.7e1 and -0 all qualify; 7.5 and
// 1e19 do not.
func (v Value) Int64() (int64, bool) {
	if v.kind != KindNumber {
		return 0, false
	}
	if i, err := strconv.ParseInt(v.s, 10, 64); err == nil {
		return i, true
	}
	d, ok := decompose(v.s)
	if !ok || d.exp < 0 {
		return 0, false
	}
	if len(d.digits) == 0 {
		return 0, true
	}
	if int64(len(d.digits))+d.exp > 19 {
		return 0, false
	}
	var u uint64
	for i := 0; i < len(d.digits); i++ {
		u = u*10 + uint64(d.digits[i]-'0')
	}
	for range d.exp {
		hi, lo := bits.Mul64(u, 10)
		if hi != 0 {
			return 0, false
		}
		u = lo
	}
	switch {
	case !d.neg && u <= math.MaxInt64:
		return int64(u), true
	case d.neg && u <= 1<<63:
		return int64(-u), true // wraps to MinInt64 for 1<<63, as intended
	}
	return 0, false
}

// IsInteger reports whether v is a number whose exact value is an integer
// of any magnitude (3, 3.0, 1e30, -0 but not 3.5 or 1e-3).
func IsInteger(v Value) bool {
	if v.kind != KindNumber {
		return false
	}
	d, ok := decompose(v.s)
	return ok && (len(d.digits) == 0 || d.exp >= 0)
}

// IsIntegerLiteral reports whether v is a number written without a
// fraction or exponent, such as 42 or -7 (MongoDB's int/long, as opposed to
// double).
func IsIntegerLiteral(v Value) bool {
	if v.kind != KindNumber {
		return false
	}
	for i := 0; i < len(v.s); i++ {
		if c := v.s[i]; c == '.' || c == 'e' || c == 'E' {
			return false
		}
	}
	return true
}

// decimal is a number literal as ±digits × 10^exp, with digits free of
// leading and trailing zeros (empty for zero).
type decimal struct {
	neg    bool
	digits string
	exp    int64
}

// decompose splits a valid literal into a decimal. ok is false only for an
// exponent too large to represent, whose number is then not an integer we
// can use.
func decompose(lit string) (d decimal, ok bool) {
	i := 0
	if i < len(lit) && lit[i] == '-' {
		d.neg = true
		i++
	}
	intStart := i
	for i < len(lit) && isDigit(lit[i]) {
		i++
	}
	intPart := lit[intStart:i]
	frac := ""
	if i < len(lit) && lit[i] == '.' {
		i++
		fs := i
		for i < len(lit) && isDigit(lit[i]) {
			i++
		}
		frac = lit[fs:i]
	}
	var exp int64
	if i < len(lit) && (lit[i] == 'e' || lit[i] == 'E') {
		i++
		neg := false
		if lit[i] == '+' || lit[i] == '-' {
			neg = lit[i] == '-'
			i++
		}
		for ; i < len(lit); i++ {
			exp = exp*10 + int64(lit[i]-'0')
			if exp > 1<<40 {
				if allZero(intPart) && allZero(frac) {
					return decimal{neg: d.neg}, true
				}
				return decimal{}, false
			}
		}
		if neg {
			exp = -exp
		}
	}
	digits := intPart + frac
	exp -= int64(len(frac))
	k := 0
	for k < len(digits) && digits[k] == '0' {
		k++
	}
	digits = digits[k:]
	for len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
		exp++
	}
	if digits == "" {
		exp = 0
	}
	d.digits, d.exp = digits, exp
	return d, true
}

func allZero(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}

// MaxExactDigits bounds the significant digits of an Add or Mul result
// (and of the operands aligned to a common exponent, for Add): arithmetic
// is exact below it and refused with ErrNumberRange above it, so that the
// work and the result stay small whatever the operands are written as.
const MaxExactDigits = 10000

// Add returns a+b computed exactly on the numbers' decimal values, as
// stored (12345678901234567890 + 1 is 12345678901234567891, 0.1 + 0.2 is
// 0.3). It returns ErrNotNumber if either is not a number and
// ErrNumberRange if the exact sum has more than MaxExactDigits significant
// digits (after aligning the operands, so 1e20000 + 1 is refused) or lies
// beyond float64's range (the parser's limit); it never rounds.
func Add(a, b Value) (Value, error) {
	if a.kind != KindNumber || b.kind != KindNumber {
		return Value{}, fmt.Errorf("%w: cannot add %s and %s", ErrNotNumber, TypeName(a), TypeName(b))
	}
	x, y, err := exactPair(a, b, "+")
	if err != nil {
		return Value{}, err
	}
	intLits := IsIntegerLiteral(a) && IsIntegerLiteral(b)
	switch {
	case x.coef.Sign() == 0:
		return formatExact(y, intLits, a, b, "+")
	case y.coef.Sign() == 0:
		return formatExact(x, intLits, a, b, "+")
	}
	e := min(x.exp, y.exp)
	width := max(x.digits+x.exp-e, y.digits+y.exp-e)
	if width > MaxExactDigits {
		return Value{}, fmt.Errorf("%w: %s + %s needs more than %d digits to be exact", ErrNumberRange, truncateLit([]byte(a.s)), truncateLit([]byte(b.s)), MaxExactDigits)
	}
	sum := new(big.Int).Add(x.scaled(e), y.scaled(e))
	return formatExact(exactNum{coef: sum, exp: e}, intLits, a, b, "+")
}

// Mul returns a×b computed exactly, as Add does; errors are as for Add.
func Mul(a, b Value) (Value, error) {
	if a.kind != KindNumber || b.kind != KindNumber {
		return Value{}, fmt.Errorf("%w: cannot multiply %s and %s", ErrNotNumber, TypeName(a), TypeName(b))
	}
	x, y, err := exactPair(a, b, "×")
	if err != nil {
		return Value{}, err
	}
	intLits := IsIntegerLiteral(a) && IsIntegerLiteral(b)
	if x.coef.Sign() == 0 || y.coef.Sign() == 0 {
		return formatExact(exactNum{coef: new(big.Int)}, intLits, a, b, "×")
	}
	if x.digits+y.digits > MaxExactDigits {
		return Value{}, fmt.Errorf("%w: %s × %s needs more than %d digits to be exact", ErrNumberRange, truncateLit([]byte(a.s)), truncateLit([]byte(b.s)), MaxExactDigits)
	}
	p := new(big.Int).Mul(x.coef, y.coef)
	return formatExact(exactNum{coef: p, exp: x.exp + y.exp}, intLits, a, b, "×")
}

// exactNum is a number's exact value coef × 10^exp; digits is the number
// of decimal digits of coef.
type exactNum struct {
	coef   *big.Int
	exp    int64
	digits int64
}

func exactPair(a, b Value, op string) (x, y exactNum, err error) {
	var ok1, ok2 bool
	x, ok1 = exactOf(a)
	y, ok2 = exactOf(b)
	if !ok1 || !ok2 {
		return x, y, fmt.Errorf("%w: %s %s %s: an operand has more than %d digits or too large an exponent for exact arithmetic", ErrNumberRange, truncateLit([]byte(a.s)), op, truncateLit([]byte(b.s)), MaxExactDigits)
	}
	return x, y, nil
}

func exactOf(v Value) (exactNum, bool) {
	d, ok := decompose(v.s)
	if !ok {
		return exactNum{}, false
	}
	c := new(big.Int)
	if d.digits != "" {
		if int64(len(d.digits)) > MaxExactDigits {
			return exactNum{}, false
		}
		c.SetString(d.digits, 10)
		if d.neg {
			c.Neg(c)
		}
	}
	return exactNum{coef: c, exp: d.exp, digits: int64(len(d.digits))}, true
}

// scaled returns coef × 10^(exp-e), for e <= exp.
func (n exactNum) scaled(e int64) *big.Int {
	if n.exp == e {
		return n.coef
	}
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(n.exp-e), nil)
	return p.Mul(p, n.coef)
}

// formatExact writes n as a JSON number literal: an integer without
// exponent when both operands were integer literals, otherwise plain
// decimal notation for moderate magnitudes and e-notation beyond them (as
// Float chooses: below 1e-6 and from 1e21). It refuses a result beyond
// float64's range, which the parser would not read back.
func formatExact(n exactNum, intLits bool, a, b Value, op string) (Value, error) {
	neg := n.coef.Sign() < 0
	digits := new(big.Int).Abs(n.coef).String()
	exp := n.exp
	if digits == "0" {
		return numberUnchecked("0"), nil
	}
	k := len(digits)
	for k > 1 && digits[k-1] == '0' {
		k--
	}
	exp += int64(len(digits) - k)
	digits = digits[:k]
	var sb strings.Builder
	if neg {
		sb.WriteByte('-')
	}
	pointPos := int64(len(digits)) + exp // digits before the decimal point
	switch {
	case exp >= 0 && (intLits || exp <= 21):
		sb.WriteString(digits)
		for range exp {
			sb.WriteByte('0')
		}
	case exp < 0 && pointPos > 0:
		sb.WriteString(digits[:pointPos])
		sb.WriteByte('.')
		sb.WriteString(digits[pointPos:])
	case exp < 0 && pointPos > -6:
		sb.WriteString("0.")
		for range -pointPos {
			sb.WriteByte('0')
		}
		sb.WriteString(digits)
	default:
		sb.WriteByte(digits[0])
		if len(digits) > 1 {
			sb.WriteByte('.')
			sb.WriteString(digits[1:])
		}
		e := pointPos - 1
		sb.WriteByte('e')
		if e >= 0 {
			sb.WriteByte('+')
		}
		sb.WriteString(strconv.FormatInt(e, 10))
	}
	lit := sb.String()
	if f, err := strconv.ParseFloat(lit, 64); err != nil && math.IsInf(f, 0) {
		return Value{}, fmt.Errorf("%w: %s %s %s overflows a 64-bit float", ErrNumberRange, truncateLit([]byte(a.s)), op, truncateLit([]byte(b.s)))
	}
	return numberUnchecked(lit), nil
}

// IntegerPart returns a number's value truncated toward zero (7.9 → 7,
// -7.9 → -7, 1e20 → 100000000000000000000), exactly; ok is false for other
// kinds. Every number the parser accepts qualifies: its integer part has at
// most 309 digits.
func IntegerPart(v Value) (n *big.Int, ok bool) {
	if v.kind != KindNumber {
		return nil, false
	}
	if i, err := strconv.ParseInt(v.s, 10, 64); err == nil {
		return big.NewInt(i), true
	}
	d, ok := decompose(v.s)
	if !ok {
		// An exponent beyond 2^40 on a number the parser accepted is
		// negative: the value is below 1 in magnitude.
		return new(big.Int), true
	}
	digits := d.digits
	if d.exp < 0 {
		if -d.exp >= int64(len(digits)) {
			return new(big.Int), true
		}
		digits = digits[:int64(len(digits))+d.exp]
	}
	if digits == "" {
		return new(big.Int), true
	}
	n = new(big.Int)
	n.SetString(digits, 10)
	if d.exp > 0 {
		n.Mul(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(d.exp), nil))
	}
	if d.neg {
		n.Neg(n)
	}
	return n, true
}
