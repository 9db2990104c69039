// Package memtable is the engine's sorted in-memory table: a skiplist of
// internal keys in base.Compare order (user key ascending, then sequence
// number descending), with lock-free reads beside a single writer.
//
// # Basics
//
//	m := memtable.New()
//	m.Add(7, base.KindSet, []byte("k"), []byte("v"))   // one writer at a time
//	v, kind, ok := m.Get([]byte("k"), 7)               // any goroutine
//	it := m.NewIter(nil, nil)                          // any goroutine
//	for ok := it.First(); ok; ok = it.Next() { ... }
//
// # Layout
//
// Nothing is allocated per entry. Nodes live in a node arena of 512 KiB
// chunks of 64-bit words; keys and values are copied into a data arena of
// 256 KiB byte chunks. Neither arena holds a Go pointer, so the garbage
// collector never scans them, and neither ever moves or reuses a byte, so
// slices into the data arena stay valid for the MemTable's lifetime. A node
// is 4+height words, its tower inline:
//
//	node arena chunk ([65536]atomic.Uint64)
//	+--------+---------+----------------+---------------+----------+-----+----------+---
//	| prefix | trailer | data chunk|off | keyLen|valLen | tower[0] | ... | tower[h-1] | next node ...
//	+--------+---------+----------------+---------------+----------+-----+----------+---
//	  word 0   word 1    word 2 (32|32)   word 3 (32|32)   word 4 ...        |
//	                          |                                              v
//	                          |                                  nodeRef = chunk<<16 | word
//	                          v
//	data arena chunk ([]byte, 256 KiB; entries > 32 KiB get a chunk of their own)
//	+---- ... ---+-------------------+---- ... ----+---- ... ---+---
//	| user key   | trailer (8 B, LE) | value       | next entry ...
//	+---- ... ---+-------------------+---- ... ----+---- ... ---+---
//	|<------ internal key ---------->|
//
// The prefix word holds the user key's first 8 bytes, big-endian and
// zero-padded, so that most comparisons during a search are settled by the
// node alone, without touching the data arena. The trailer word repeats the
// key's trailer for the same reason. A tower word holds the nodeRef of the
// next node at that level; nodeRef 0 is the head node (maxHeight levels),
// which nothing links to, so 0 also means nil. Towers grow with branching
// factor 1/4, drawn from a per-MemTable PCG source.
//
// # Concurrency
//
// Every word is an atomic.Uint64. The writer fills in a new node, and copies
// its bytes, before it publishes the node with an atomic store into its
// predecessor's tower, level 0 first. A reader that loads a link therefore
// sees a complete node and complete bytes. Arena chunk tables are
// copy-on-grow behind atomic pointers, published before any link into the new
// chunk. Readers take no locks and never retry.
//
// # Caveats
//
// Entries are never removed; a MemTable is dropped as a whole once flushed.
// Add must be serialized by the caller.
package memtable
