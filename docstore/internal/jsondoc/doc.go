// Package jsondoc is MiniDBGo's JSON document model: a strict parser, an
// exact value representation, serialisation and MongoDB's comparison order.
//
// # Values
//
// A Value is immutable and cheap to copy. Numbers keep their literal text,
// so 9007199254740993 and 0.1 are stored and written back byte for byte;
// Float64 and Int64 convert on demand, and Compare orders numbers by their
// exact value. Objects keep member order. Edits (SetPath, UnsetPath) return
// new values that share every unchanged subtree with the old one.
//
// # Strict parsing
//
// Parse accepts RFC 8259 JSON and additionally rejects, with a *SyntaxError
// whose Code names the rule and whose Offset is the byte where it broke:
//
//	empty_body               nothing but whitespace
//	invalid_json             any grammar error: {"a":, NaN, Infinity, 01, 1., 'x'
//	trailing_data            {"a":1}{"b":2}: exactly one value per input
//	duplicate_key            {"a":1,"a":2} (the offset is the second key's)
//	invalid_utf8             raw invalid UTF-8, and "\ud800" (a lone surrogate)
//	too_deep                 nesting deeper than Limits.MaxDepth (default 64);
//	                         depth is checked before descending, so 10,001 [
//	                         costs 65 frames, not 10,001
//	number_out_of_range      1e400: magnitude beyond float64 (1e-400 is kept)
//	document_must_be_object  ParseDocument of [], "x" or null
//
// A parse allocates one copy of the input as a string (unescaped strings are
// substrings of it), one slab per object or array and one string per string
// with escapes; a 200-byte document parses in about a microsecond.
//
// # Paths
//
// SplitPath turns "a.b.0" into segments. Value.Lookup navigates objects,
// with numeric segments indexing arrays; it does not expand arrays the way
// query filters do (the query package does that).
//
// # Caveats
//
// Values from the constructors are trusted: Object does not check for
// duplicate keys and String does not check UTF-8 (AppendJSON writes U+FFFD
// for invalid bytes so that its output is always valid JSON).
package jsondoc
