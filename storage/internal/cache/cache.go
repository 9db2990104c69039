// Package cache is the engine's block cache: a bounded, sharded LRU map from
// (file number, block offset) to an immutable decompressed block.
//
// # Basics
//
// The capacity is in bytes. Each entry is charged len(value) plus a fixed
// per-entry overhead (EntryOverhead) that approximates the bookkeeping
// memory, so the cache's real footprint stays close to its capacity even
// for small blocks. The capacity is split evenly over up to 16 shards; keys
// are spread over the shards by a hash of (file number, offset), and each
// shard is a mutex, a map and an intrusive doubly-linked LRU list. Small
// caches use fewer shards (each shard gets at least 1 MiB) so that they
// can still hold large blocks.
//
// # Caveats
//
// Values are shared, not copied: a value passed to Set must never be
// modified afterwards, and a value returned by Get must not be modified by
// the caller. An evicted value stays valid for as long as someone holds it;
// the garbage collector frees it.
//
// An entry larger than a shard's capacity is not cached. A Cache built with
// a capacity <= 0 is disabled: Get always misses and Set drops the value.
//
// A Cache is safe for concurrent use. The methods of a nil *Cache behave like
// those of a disabled cache.
package cache

import (
	"sync"
	"sync/atomic"
)

// EntryOverhead is the number of bytes charged for each entry on top of the
// length of its value: the entry struct and its map slot.
const EntryOverhead = 96

const (
	maxShards        = 16
	minShardCapacity = 1 << 20
)

// Cache is a bounded, sharded LRU block cache. See the package comment.
type Cache struct {
	capacity int64
	shards   []shard
	// disabledMisses counts the Gets of a disabled cache.
	disabledMisses atomic.Uint64
}

// Metrics is a snapshot of a Cache's counters.
type Metrics struct {
	Hits     uint64 // Gets that found their block
	Misses   uint64 // Gets that did not
	Size     int64  // bytes charged, including EntryOverhead per entry
	Capacity int64  // the configured capacity in bytes
	Count    int64  // number of cached entries
}

type key struct {
	fileNum, offset uint64
}

type entry struct {
	key        key
	value      []byte
	charge     int64
	prev, next *entry
}

type shard struct {
	mu       sync.Mutex // protects the fields below
	capacity int64
	size     int64
	hits     uint64
	misses   uint64
	m        map[key]*entry
	// lru is the sentinel of a circular list: lru.next is the most recently
	// used entry, lru.prev the least recently used one.
	lru entry
	_   [64]byte // keeps neighbouring shards' locks off one cache line
}

// New returns a cache holding at most capacityBytes bytes. A capacity <= 0
// returns a disabled cache, which is still usable.
func New(capacityBytes int64) *Cache {
	c := &Cache{capacity: max(capacityBytes, 0)}
	if capacityBytes <= 0 {
		return c
	}
	n := maxShards
	for n > 1 && capacityBytes/int64(n) < minShardCapacity {
		n /= 2
	}
	c.shards = make([]shard, n)
	per := capacityBytes / int64(n)
	for i := range c.shards {
		s := &c.shards[i]
		s.capacity = per
		s.m = make(map[key]*entry)
		s.lru.next = &s.lru
		s.lru.prev = &s.lru
	}
	return c
}

func (c *Cache) shard(k key) *shard {
	// A multiplicative mix of both halves; the top bits select the shard.
	h := k.fileNum*0x9e3779b97f4a7c15 ^ k.offset*0xc2b2ae3d27d4eb4f
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 32
	return &c.shards[h%uint64(len(c.shards))]
}

// Get returns the block cached for (fileNum, offset) and marks it most
// recently used. The returned slice must not be modified.
func (c *Cache) Get(fileNum, offset uint64) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	if len(c.shards) == 0 {
		c.disabledMisses.Add(1)
		return nil, false
	}
	k := key{fileNum, offset}
	s := c.shard(k)
	s.mu.Lock()
	e, ok := s.m[k]
	if !ok {
		s.misses++
		s.mu.Unlock()
		return nil, false
	}
	s.hits++
	s.moveToFrontLocked(e)
	v := e.value
	s.mu.Unlock()
	return v, true
}

// Set caches value as the block at (fileNum, offset), replacing any previous
// value, and evicts least recently used entries until the shard fits its
// capacity. The cache keeps value: the caller must not modify it afterwards.
// A value too large for a shard is not cached.
func (c *Cache) Set(fileNum, offset uint64, value []byte) {
	if c == nil || len(c.shards) == 0 {
		return
	}
	k := key{fileNum, offset}
	s := c.shard(k)
	charge := int64(len(value)) + EntryOverhead
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[k]; ok {
		s.removeLocked(e)
	}
	if charge > s.capacity {
		return
	}
	e := &entry{key: k, value: value, charge: charge}
	s.m[k] = e
	s.size += charge
	s.pushFrontLocked(e)
	for s.size > s.capacity {
		s.removeLocked(s.lru.prev)
	}
}

// EvictFile drops every block of fileNum, typically because the file was
// deleted. It visits every entry of the cache.
func (c *Cache) EvictFile(fileNum uint64) {
	if c == nil {
		return
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for e := s.lru.next; e != &s.lru; {
			next := e.next
			if e.key.fileNum == fileNum {
				s.removeLocked(e)
			}
			e = next
		}
		s.mu.Unlock()
	}
}

// Size returns the number of bytes currently charged to the cache.
func (c *Cache) Size() int64 {
	if c == nil {
		return 0
	}
	var n int64
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += s.size
		s.mu.Unlock()
	}
	return n
}

// Capacity returns the capacity the cache was created with (0 when
// disabled).
func (c *Cache) Capacity() int64 {
	if c == nil {
		return 0
	}
	return c.capacity
}

// Metrics returns a snapshot of the cache's counters.
func (c *Cache) Metrics() Metrics {
	if c == nil {
		return Metrics{}
	}
	m := Metrics{Capacity: c.capacity, Misses: c.disabledMisses.Load()}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		m.Hits += s.hits
		m.Misses += s.misses
		m.Size += s.size
		m.Count += int64(len(s.m))
		s.mu.Unlock()
	}
	return m
}

// pushFrontLocked links e as the most recently used entry.
// REQUIRES: s.mu.
func (s *shard) pushFrontLocked(e *entry) {
	e.prev = &s.lru
	e.next = s.lru.next
	e.next.prev = e
	s.lru.next = e
}

// moveToFrontLocked marks e as the most recently used entry.
// REQUIRES: s.mu.
func (s *shard) moveToFrontLocked(e *entry) {
	if s.lru.next == e {
		return
	}
	e.prev.next = e.next
	e.next.prev = e.prev
	s.pushFrontLocked(e)
}

// removeLocked unlinks e and forgets it.
// REQUIRES: s.mu.
func (s *shard) removeLocked(e *entry) {
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
	delete(s.m, e.key)
	s.size -= e.charge
}
