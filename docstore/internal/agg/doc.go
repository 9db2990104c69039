// Package agg runs MongoDB aggregation pipelines over a stream of
// documents: it parses and compiles the stages and expressions, and
// chains them as iterators. Streaming stages ($match, $project,
// $addFields/$set, $unset, $skip, $limit, $unwind, $replaceRoot,
// $lookup) hold one document at a time; the blocking stages ($sort,
// $group, $sortByCount, $count, $facet) hold at most Env.MaxMemory bytes
// (estimated in-memory size) each and then spill sorted runs to files in
// Env.SpillDir, which they merge (an external merge sort); without a
// SpillDir they fail with code too_large instead.
//
// # Spill runs
//
// A run file is a sequence of records, each a uvarint length and that
// many bytes. A $sort run holds the documents' JSON in sort order. A
// $group run holds, per group in key order, two records: the group key's
// keyenc.AppendValue encoding, then the JSON array [_id, state1, …] of
// the accumulators' partial states (see accumulator.state). Runs are
// temporary: they are removed when the pipeline is closed, and the
// docstore removes its spill directory at open.
//
// The caller (the docstore) takes a leading $match (and a $sort that an
// index gives in order) into its scan; Run sees the rest.
package agg
