// Package memtable is the engine's sorted in-memory table: a skiplist of
// internal keys in base.Compare order (user key ascending, then sequence
// number descending) whose readers take no locks while a single writer
// inserts.
//
// # Basics
//
//	m := memtable.New()
//	m.Add(7, base.KindSet, []byte("k"), []byte("v")) // one writer at a time
//	v, kind, ok := m.Get([]byte("k"), 7)             // any goroutine
//	it := m.NewIter(nil, nil)                        // any goroutine
//	for ok := it.First(); ok; ok = it.Next() {
//		_, _ = it.Key(), it.Value()
//	}
//
// # Layout
//
// Nothing is allocated per entry. Nodes live in a node arena of 64 KiB chunks
// of atomic 64-bit words, and keys and values are copied into a data arena of
// 256 KiB byte chunks; an entry over 32 KiB gets a data chunk of its own.
// Neither arena holds a Go pointer, so the garbage collector never scans
// them, and neither ever moves or reuses a byte, so Key and Value slices stay
// valid for the MemTable's lifetime. A node of height h is 5+h words, its
// tower inline:
//
//	node (in a [8192]atomic.Uint64 chunk)
//	+-----------+------------+---------------+--------------+--------------+-----------+-----+-------------+
//	| key0      | key1       | trailer       | data         | lens         | link[0]   | ... | link[h-1]   |
//	| ukey[0:8] | ukey[8:16] | seq<<8 | kind | chunk | off  | klen | vlen  | ref | hint|     |             |
//	| BE, 0-pad | BE, 0-pad  |               | 32    | 32   | 32   | 32    | 32  | 32  |     |             |
//	+-----------+------------+---------------+--------------+--------------+-----------+-----+-------------+
//	                                              |                          |
//	           +----------------------------------+                          | ref = chunk<<13 | word
//	           v                                                             v
//	data chunk ([]byte)                                                  next node at this level
//	+---- ... ---+-------------------+---- ... ----+--- ...
//	| user key   | trailer (8 B, LE) | value       | next entry
//	+---- ... ---+-------------------+---- ... ----+--- ...
//	|<---------- klen -------------->|<-- vlen --->|
//
// key0 and key1 hold the user key's first 16 bytes, big-endian and
// zero-padded, so that a comparison reads the data arena only when two keys
// share their first 16 bytes and both are longer. A link packs the next
// node's ref with a hint, the top half of that node's key0: a search sees
// that the next node lies past its key, and descends, without touching it.
// On a table larger than the CPU caches every node touched is a cache miss,
// and with these two words a search touches about one new node per level.
//
// The head node is ref 0 and has every level; nothing links to it, so ref 0
// also means nil. Towers grow with probability 1/2 per level (see
// branchBits), drawn from a per-MemTable PCG source. Nodes are allocated from
// four height classes (1, 2, 3 and taller), each with its own chunks, so
// that the nodes a search visits on the upper levels sit close together. The
// writer remembers the last insert's splice (its predecessor on every
// level), so a run of ascending keys inserts without searching.
//
// # Concurrency
//
// The writer fills in a new node and copies its bytes before it publishes
// the node with an atomic store into its predecessor's link, level 0 first.
// A reader that loads a link therefore sees a complete node and its bytes.
// The arenas' chunk tables sit behind atomic pointers and are republished,
// before any link into a new chunk, whenever a chunk is added. A link's ref
// and hint change together in one word, so a reader never sees one without
// the other. Readers neither lock nor retry.
//
// # Caveats
//
// Add must be serialized by the caller. Entries are never removed; a
// MemTable is dropped whole once flushed. An entry's key and value together
// must stay under 4 GiB.
package memtable
