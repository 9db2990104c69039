// Package keyenc holds the docstore's order-preserving byte encodings and
// its key layout. For any values a and b,
//
//	sign(bytes.Compare(AppendValue(nil, a), AppendValue(nil, b))) == jsondoc.Compare(a, b)
//
// and every encoding is self-delimiting (no encoding is a proper prefix of
// another), so encodings concatenate into compound keys that sort field by
// field. AppendValueDesc inverts every byte of the ascending encoding;
// inversion keeps the prefix property and so exactly reverses the order,
// also inside compound keys.
//
// # Strings
//
// AppendString escapes each 0x00 as 0x00 0xFF and terminates with
// 0x00 0x01, so any byte string (':', '/', NUL, 0xFF…) is safe and sorts
// bytewise, a proper prefix first:
//
//	"a"      61 00 01
//	"a\x00"  61 00 FF 00 01
//	"ab"     61 62 00 01
//
// # Values
//
// A value is a tag byte for its type bracket (MongoDB's BSON order) and a
// body; 0x00 ends arrays and objects and sorts below every tag:
//
//	null, missing  05
//	number         10 <number>
//	string         20 <AppendString>
//	object         30 { <tag of value> <AppendString key> <body of value> }* 00
//	array          40 { <value> }* 00
//	boolean        50 00 (false) | 50 01 (true)
//
// An object member puts its value's tag before its key, because members
// compare by the bracket of their value, then by key, then by value.
// Members whose value is missing are left out; missing array elements
// encode as null.
//
// # Numbers
//
// A number is normalized to ±0.d1d2…dn × 10^e (jsondoc.NormalizeNumber),
// so equal values — 1, 1.0, 1e0, 10e-1 — encode identically and the order
// is exact for any literal:
//
//	negative  01 ^( <exp> <digit pairs> 00 )
//	zero      02
//	positive  03 <exp> <digit pairs> 00
//
// Digit pairs pack two decimal digits d1d2 into one byte 1+10·d1+d2 (an odd
// final digit is padded with 0); the 00 terminator sorts a shorter digit
// string first. For negative numbers the bytes after 01 are inverted, so a
// larger magnitude sorts first. The exponent e is an order-preserving
// variable-length integer:
//
//	-64 ≤ e < 64   one byte 0x80+e                      (40..BF)
//	e ≥ 64         C0+n-1, then e in n big-endian bytes  (C0..C7)
//	e < -64        40-n,   then e's low n bytes          (38..3F)
//
// with n the fewest bytes holding e (or ^e when negative). Decoding
// accepts only this canonical form, so a decoded value re-encodes to the
// same bytes.
//
// # Keys
//
// The database's keyspace; col, idx and id are AppendString forms, so one
// collection's documents (or indexes) never interleave with another's,
// even when one name is a prefix of the other ("a", "ab"):
//
//	+-----+-----+-----+
//	| 'd' | col | id  |                                 document
//	+-----+-----+-----+
//	+-----+-----+
//	| 'm' | col |                                       collection metadata
//	+-----+-----+
//	+-----+-----+-----+----------------------+-----+
//	| 'i' | col | idx | value1 … valueN       | id  |   index entry
//	+-----+-----+-----+----------------------+-----+
//	+-----+-----+---------------+
//	| 's' | col | id uint64 BE  |                       statistics (0: base)
//	+-----+-----+---------------+
//	+-----+-----+---------------+-----+
//	| 'x' | col | ms uint64 BE  | id  |                 expiry (expiry.go)
//	+-----+-----+---------------+-----+
//
// Index values are AppendValue or, for descending fields, AppendValueDesc
// forms; the trailing id keeps entries unique and DecodeIndexKeyID recovers
// it. DocPrefix, IndexCollectionPrefix and IndexPrefix give the ranges;
// PrefixEnd turns a prefix into an exclusive upper bound. StatsPrefix and
// StatsKey give the statistics keys (their values are the docstore's);
// ExpiryPrefix, ExpiryKey and ExpiryBound the expiry keys, which sort by
// time within a collection.
package keyenc
