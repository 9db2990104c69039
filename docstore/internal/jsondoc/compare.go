package jsondoc

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// MongoDB's comparison order (the BSON type order, restricted to JSON):
//
//	missing = null < numbers < strings < objects < arrays < booleans
//
// Within a bracket, numbers compare by exact value, strings bytewise
// (binary collation), objects member by member and arrays element by
// element (see Compare), false < true.

// Bracket returns v's rank in MongoDB's type order: 1 for missing and
// null, 2 numbers, 3 strings, 4 objects, 5 arrays, 6 booleans. Values of
// different brackets compare by bracket; within one, by Compare's rules.
func Bracket(v Value) int {
	switch v.kind {
	case KindMissing, KindNull:
		return 1
	case KindNumber:
		return 2
	case KindString:
		return 3
	case KindObject:
		return 4
	case KindArray:
		return 5
	case KindBool:
		return 6
	}
	panic("jsondoc: invalid kind")
}

// Compare returns -1, 0 or +1 as a sorts before, with or after b in
// MongoDB's total order:
//
//   - Missing and null compare equal and lowest: a missing value sorts as
//     null, as MongoDB does (Equal still tells them apart).
//   - Then numbers, by exact value on their literals: 1, 1.0, 1e0, 10e-1
//     are equal, -0 equals 0, and 9007199254740993 > 9007199254740992
//     (see CompareNumbers).
//   - Then strings, bytewise.
//   - Then objects, member by member in stored order: two members compare
//     by the bracket of their values, then their keys bytewise, then their
//     values; an object that is a prefix of the other sorts first. Members
//     whose value is missing are skipped (AppendJSON leaves them out).
//   - Then arrays, element by element, a prefix first. Missing elements
//     compare as null (AppendJSON writes them as null).
//   - Then booleans, false before true.
func Compare(a, b Value) int {
	if ba, bb := Bracket(a), Bracket(b); ba != bb {
		if ba < bb {
			return -1
		}
		return 1
	}
	switch a.kind {
	case KindMissing, KindNull:
		return 0
	case KindNumber:
		if a.s == b.s {
			return 0
		}
		return compareNorm(normalize(a.s), normalize(b.s))
	case KindString:
		return strings.Compare(a.s, b.s)
	case KindBool:
		switch {
		case a.b == b.b:
			return 0
		case b.b:
			return -1
		}
		return 1
	case KindArray:
		for i := 0; i < len(a.arr) && i < len(b.arr); i++ {
			if c := Compare(a.arr[i], b.arr[i]); c != 0 {
				return c
			}
		}
		return sign(len(a.arr) - len(b.arr))
	case KindObject:
		return compareObjects(a.obj, b.obj)
	}
	panic("jsondoc: invalid kind")
}

func compareObjects(a, b []Member) int {
	i, j := 0, 0
	for {
		for i < len(a) && a[i].Value.kind == KindMissing {
			i++
		}
		for j < len(b) && b[j].Value.kind == KindMissing {
			j++
		}
		switch {
		case i == len(a) && j == len(b):
			return 0
		case i == len(a):
			return -1
		case j == len(b):
			return 1
		}
		x, y := &a[i], &b[j]
		if bx, by := Bracket(x.Value), Bracket(y.Value); bx != by {
			return sign(bx - by)
		}
		if c := strings.Compare(x.Key, y.Key); c != 0 {
			return c
		}
		if c := Compare(x.Value, y.Value); c != 0 {
			return c
		}
		i++
		j++
	}
}

// Equal reports whether a and b are the same value: Compare(a, b) == 0,
// except that a missing value is equal only to another missing value, not
// to null (so {"a": null} and {} differ, while Compare sorts them
// together). Numbers are equal by value (1 equals 1.0). Inside arrays and
// objects, missing values follow Compare, because they have no JSON form
// of their own.
func Equal(a, b Value) bool {
	if (a.kind == KindMissing) != (b.kind == KindMissing) {
		return false
	}
	return Compare(a, b) == 0
}

// CompareNumbers compares two valid JSON number literals by their exact
// value, returning -1, 0 or +1. No float rounding takes place: literals
// of any length compare exactly, and so do exponents up to MaxExponent in
// magnitude, with no allocation proportional to an exponent. A literal
// whose normalized exponent lies beyond ±MaxExponent (only a literal with
// an exponent of 19 or more digits can) has its exponent clamped to that
// bound, so such numbers compare by the clamped exponent and then by their
// digits. Invalid literals give an unspecified result but never panic.
func CompareNumbers(a, b string) int {
	if a == b {
		return 0
	}
	return compareNorm(normalize(a), normalize(b))
}

// MaxExponent bounds the exponent NormalizeNumber returns (see
// CompareNumbers); it far exceeds any exponent a float64 can reach.
const MaxExponent = math.MaxInt >> 2

// NormalizeNumber returns the exact value of the valid JSON number literal
// lit in normalized decimal form: value = ±0.digits × 10^exp, with digits
// free of leading and trailing zeros. Zero (also -0, 0.0, 0e5) is
// (false, "", 0). Examples: 1, 1.0 and 10e-1 give (false, "1", 1); 123.4
// gives (false, "1234", 3); -0.05 gives (true, "5", -1). Equal values give
// identical results; exp is clamped to ±MaxExponent. Invalid literals give
// an unspecified result but never panic.
func NormalizeNumber(lit string) (neg bool, digits string, exp int) {
	n := normalize(lit)
	switch {
	case n.hi == "":
		digits = n.lo
	case n.lo == "":
		digits = n.hi
	default:
		digits = n.hi + n.lo
	}
	return n.neg, digits, n.exp
}

// NumberFromDecimal returns the number ±0.digits × 10^exp (the form
// NormalizeNumber returns) written as a canonical literal: plain decimal
// for moderate exponents (150, 1.5, 0.0015), otherwise scientific
// (1.5e30, 1e-7). It is an error if digits is not in normalized form (only
// decimal digits, none leading or trailing zero; empty only for zero with
// neg false and exp 0) or exp exceeds ±MaxExponent.
func NumberFromDecimal(neg bool, digits string, exp int) (Value, error) {
	if digits == "" {
		if neg || exp != 0 {
			return Value{}, errors.New("jsondoc: zero must be (false, \"\", 0)")
		}
		return numberUnchecked("0"), nil
	}
	for i := 0; i < len(digits); i++ {
		if !isDigit(digits[i]) {
			return Value{}, errors.New("jsondoc: non-digit in decimal digits")
		}
	}
	if digits[0] == '0' || digits[len(digits)-1] == '0' {
		return Value{}, errors.New("jsondoc: decimal digits have a leading or trailing zero")
	}
	if exp > MaxExponent || exp < -MaxExponent {
		return Value{}, errors.New("jsondoc: decimal exponent out of range")
	}
	n := len(digits)
	b := make([]byte, 0, n+24)
	if neg {
		b = append(b, '-')
	}
	switch {
	case exp >= n && exp-n <= 20: // an integer: 150
		b = append(b, digits...)
		for range exp - n {
			b = append(b, '0')
		}
	case exp > 0 && exp < n: // 1.5
		b = append(b, digits[:exp]...)
		b = append(b, '.')
		b = append(b, digits[exp:]...)
	case exp <= 0 && exp > -6: // 0.0015
		b = append(b, '0', '.')
		for range -exp {
			b = append(b, '0')
		}
		b = append(b, digits...)
	default: // 1.5e30
		b = append(b, digits[0])
		if n > 1 {
			b = append(b, '.')
			b = append(b, digits[1:]...)
		}
		b = append(b, 'e')
		b = strconv.AppendInt(b, int64(exp-1), 10)
	}
	return numberUnchecked(string(b)), nil
}

// norm is a number literal in normalized form: ±0.(hi+lo) × 10^exp, where
// hi+lo has no leading or trailing zeros (both empty for zero). The digits
// are kept as two substrings of the literal (either side of its decimal
// point) so that normalizing never allocates.
type norm struct {
	neg    bool
	hi, lo string
	exp    int
}

// normalize decomposes a JSON number literal. It tolerates invalid input
// (the result is then unspecified) and never panics.
func normalize(lit string) norm {
	var n norm
	i := 0
	if i < len(lit) && lit[i] == '-' {
		n.neg = true
		i++
	}
	s := i
	for i < len(lit) && isDigit(lit[i]) {
		i++
	}
	intPart := lit[s:i]
	frac := ""
	if i < len(lit) && lit[i] == '.' {
		i++
		s = i
		for i < len(lit) && isDigit(lit[i]) {
			i++
		}
		frac = lit[s:i]
	}
	e := 0
	if i < len(lit) && (lit[i] == 'e' || lit[i] == 'E') {
		i++
		eneg := false
		if i < len(lit) && (lit[i] == '+' || lit[i] == '-') {
			eneg = lit[i] == '-'
			i++
		}
		for ; i < len(lit) && isDigit(lit[i]); i++ {
			if e <= MaxExponent/10 {
				e = e*10 + int(lit[i]-'0')
			} else {
				e = MaxExponent + 1 // saturate; clampExp clamps the sum
			}
		}
		if eneg {
			e = -e
		}
	}
	// Strip leading zeros; point is where the decimal point sits relative
	// to the start of hi+lo.
	k := 0
	for k < len(intPart) && intPart[k] == '0' {
		k++
	}
	intPart = intPart[k:]
	point := len(intPart)
	if intPart == "" {
		k = 0
		for k < len(frac) && frac[k] == '0' {
			k++
		}
		frac = frac[k:]
		point = -k
	}
	// Strip trailing zeros.
	k = len(frac)
	for k > 0 && frac[k-1] == '0' {
		k--
	}
	frac = frac[:k]
	if frac == "" {
		k = len(intPart)
		for k > 0 && intPart[k-1] == '0' {
			k--
		}
		intPart = intPart[:k]
	}
	if intPart == "" && frac == "" {
		return norm{}
	}
	n.hi, n.lo = intPart, frac
	n.exp = clampExp(e, point)
	return n
}

// clampExp returns point+e clamped to ±MaxExponent without overflow.
func clampExp(e, point int) int {
	switch {
	case e > MaxExponent:
		e = MaxExponent + 1
	case e < -MaxExponent:
		e = -MaxExponent - 1
	}
	// |e| <= MaxInt/4+1 and |point| <= MaxInt/2: the sum cannot overflow.
	x := e + point
	switch {
	case x > MaxExponent:
		return MaxExponent
	case x < -MaxExponent:
		return -MaxExponent
	}
	return x
}

func compareNorm(a, b norm) int {
	sa, sb := a.sign(), b.sign()
	if sa != sb {
		return sign(sa - sb)
	}
	if sa == 0 {
		return 0
	}
	c := 0
	if a.exp != b.exp {
		c = sign(a.exp - b.exp)
	} else {
		c = compareDigits(a.hi, a.lo, b.hi, b.lo)
	}
	if sa < 0 {
		return -c
	}
	return c
}

func (n norm) sign() int {
	switch {
	case n.hi == "" && n.lo == "":
		return 0
	case n.neg:
		return -1
	}
	return 1
}

// compareDigits compares a1+a2 with b1+b2 lexicographically (a proper
// prefix first) without concatenating.
func compareDigits(a1, a2, b1, b2 string) int {
	for {
		if a1 == "" {
			a1, a2 = a2, ""
		}
		if b1 == "" {
			b1, b2 = b2, ""
		}
		switch {
		case a1 == "" && b1 == "":
			return 0
		case a1 == "":
			return -1
		case b1 == "":
			return 1
		}
		k := min(len(a1), len(b1))
		if c := strings.Compare(a1[:k], b1[:k]); c != 0 {
			return c
		}
		a1, b1 = a1[k:], b1[k:]
	}
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
