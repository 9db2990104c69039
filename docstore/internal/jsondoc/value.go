package jsondoc

// Kind is the JSON type of a Value. The zero Kind, KindMissing, stands for
// an absent field (MongoDB's "missing"), which is distinct from null.
type Kind uint8

// The kinds of Value.
const (
	KindMissing Kind = iota
	KindNull
	KindBool
	KindNumber
	KindString
	KindArray
	KindObject
)

// Value is an immutable JSON value. Numbers keep their literal text exactly
// as written, so 9007199254740993 is never rounded. Object members keep
// their order and have unique keys. The zero Value is missing.
type Value struct {
	kind Kind
	b    bool
	s    string // the string, or the number's literal
	arr  []Value
	obj  []Member
}

// Member is one key/value pair of an object.
type Member struct {
	Key   string
	Value Value
}

// Missing returns the missing value.
func Missing() Value { return Value{} }

// Null returns JSON null.
func Null() Value { return Value{kind: KindNull} }

// Bool returns a JSON boolean.
func Bool(b bool) Value { return Value{kind: KindBool, b: b} }

// String returns a JSON string.
func String(s string) Value { return Value{kind: KindString, s: s} }

// Array returns a JSON array holding elems (not copied).
func Array(elems []Value) Value { return Value{kind: KindArray, arr: elems} }

// Object returns a JSON object holding members (not copied). The caller
// guarantees the keys are unique.
func Object(members []Member) Value { return Value{kind: KindObject, obj: members} }

// numberUnchecked returns a number from a literal already validated.
func numberUnchecked(lit string) Value { return Value{kind: KindNumber, s: lit} }

// Kind returns the value's kind.
func (v Value) Kind() Kind { return v.kind }

// IsMissing reports whether v is the missing value.
func (v Value) IsMissing() bool { return v.kind == KindMissing }

// BoolValue returns a boolean's value (false for other kinds).
func (v Value) BoolValue() bool { return v.b }

// Str returns a string's value ("" for other kinds).
func (v Value) Str() string {
	if v.kind != KindString {
		return ""
	}
	return v.s
}

// NumberLiteral returns a number's literal text ("" for other kinds).
func (v Value) NumberLiteral() string {
	if v.kind != KindNumber {
		return ""
	}
	return v.s
}

// Elems returns an array's elements (nil for other kinds). Do not modify.
func (v Value) Elems() []Value { return v.arr }

// Members returns an object's members (nil for other kinds). Do not modify.
func (v Value) Members() []Member { return v.obj }

// Field returns an object's member value by key.
func (v Value) Field(key string) (Value, bool) {
	for i := range v.obj {
		if v.obj[i].Key == key {
			return v.obj[i].Value, true
		}
	}
	return Value{}, false
}
