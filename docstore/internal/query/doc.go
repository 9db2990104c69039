// Package query implements MongoDB's query language over jsondoc values:
// filters, update operators, projections and sorts, plus the facts an index
// planner needs (Filter.Conditions, Lookup).
//
// # Filters
//
//	v, err := jsondoc.Parse([]byte(`{"age":{"$gte":18},"tags":"go"}`), jsondoc.Limits{})
//	f, err := query.ParseFilter(v)
//	if f.Match(doc) { … }
//
// Operators: $eq $ne $gt $gte $lt $lte $in $nin $exists $type $regex
// (with $options i, m, s, x) $and $or $nor $not $elemMatch $all $size
// $mod.
// The semantics are MongoDB's:
//
//   - A dot path reaches into nested objects and through arrays:
//     {"items.sku":"x"} matches when any element of items has sku "x";
//     a numeric segment ("items.0.sku") also indexes the array.
//   - An array matches when any element matches, or when the whole array
//     equals the operand ({"tags":["a","b"]}).
//   - Comparisons use jsondoc.Compare's BSON type order, but $gt, $gte,
//     $lt and $lte only match values of the operand's type bracket: a
//     number bound never matches a string.
//   - {"a":null} matches null and missing; $ne and $nin match missing
//     fields; $exists tests presence.
//   - $type takes names ("string", "number", "int", "long", "double",
//     "bool", "object", "array", "null") or BSON codes; an integer literal
//     is "int" when it fits 32 bits, else "long", and other numbers are
//     "double".
//   - $mod [divisor, remainder] truncates both, and the value, toward
//     zero (exactly, at any magnitude); the remainder has the value's sign.
//
// Errors are *QueryError naming the operator and where it is
// ("filter.price.$in: $in needs an array, got number").
//
// # Updates, projections and sorts
//
// ParseUpdate understands $set $unset $inc $mul $min $max $rename $push
// $pull $pullAll $addToSet $pop $currentDate on dot paths; Update.Apply
// returns a new document. $inc and $mul are exact on the stored decimal
// values (jsondoc.Add). $currentDate writes a date as an RFC 3339 UTC
// string with milliseconds ("2026-12-06T13:14:15.123Z") and a timestamp
// ({"$type":"timestamp"}) as integer milliseconds since the Unix epoch,
// since JSON has neither type. The positional operators $ (the index
// Filter.MatchedIndex reports for the filter given in UpdateEnv) and $[]
// (every element) may appear in update paths.
//
// ParseProjection handles inclusion and exclusion projections and $slice,
// ParseSort and ParseSortString sort keys, with MongoDB's rules for
// missing fields (as null) and arrays (ascending by the smallest element,
// descending by the largest).
//
// # Simplifications
//
//   - Regexes use Go's RE2 syntax (no backreferences or lookaround), and a
//     regex can only be given with $regex, not as a /literal/.
//   - Paths do not descend into arrays nested directly in arrays
//     ({"a.b":1} does not see {"a":[[{"b":1}]]}), as in MongoDB.
//   - Updates have no filtered positional operator ($[id], arrayFilters).
//     Conflicts between paths are found as written: {"a.$":…} and
//     {"a.0":…} in one update both apply, in order.
//   - Projections have no $elemMatch, $meta or positional ("a.$")
//     operators.
//   - $pull with an object operand treats it as a filter on object elements
//     (extra fields in the element are allowed), as MongoDB's implementation
//     does.
//
// # Cost
//
// $in (sorted, binary search), $all of more than 8 plain values,
// $addToSet with $each and $pullAll look values up in sets (valueSet,
// keyed by keyenc's order-preserving encoding, equal exactly for values
// Compare finds equal), so 20,000 values against a 1,000,000-element array
// cost one pass over the array, not 20,000.
//
// Values of the package's types are immutable after parsing and safe for
// concurrent use.
package query
