// Package cache is the engine's block cache: a bounded, sharded map from
// (file number, block offset) to an immutable decompressed block, with
// CLOCK (second-chance) eviction.
//
// # Memory
//
// Block memory lives outside the Go heap, in anonymous memory mapped with
// mmap: slabs carved into slots whose sizes are multiples of 256 bytes
// (a block over 64 KiB, which holds one very large value, goes on the Go
// heap). So the cache's bytes do not
// count towards the live heap, and do not raise the garbage collector's
// heap target: a 64 MiB cache costs 64 MiB of RSS, not 64 MiB plus
// GOGC% of it. Where mmap is unavailable or fails, blocks fall back to
// the Go heap.
//
// Because the memory is not garbage collected, blocks are reference
// counted. Alloc returns a Value holding one reference; Get returns a
// Value with a new reference; Set gives the cache a reference of its own.
// Every reference is dropped with Value.Release, and a block's slot is
// reused once the cache has evicted it and the last holder has released
// it. A slice obtained from Value.Bytes must not be used after Release.
// Builds with the race detector overwrite freed slots, so that a use
// after release reads garbage in tests.
//
// # Accounting
//
// The capacity is in bytes. Each entry is charged its slot size (the
// block rounded up to its size class, or to whole pages) plus a fixed
// per-entry overhead (EntryOverhead) for its bookkeeping, so the charged
// size is the memory the cache really holds. The capacity is split evenly
// over up to 16 shards; keys are spread over the shards by a hash of
// (file number, offset), and each shard is a mutex, a map and a circular
// list in insertion order. A hit only marks its entry referenced; when a
// shard is full, the oldest entry is evicted unless it is marked, in which
// case it is unmarked and moved to the front (second chance). Small caches
// use fewer shards (each shard gets at least 1 MiB) so that they can still
// hold large blocks.
//
// # Caveats
//
// Values are shared, not copied: a Value passed to Set must never be
// modified afterwards, and the bytes of a Value returned by Get must not be
// modified by the caller.
//
// An entry larger than a shard's capacity is not cached. A Cache built with
// a capacity <= 0 is disabled: Get always misses, Set drops the value, and
// Alloc uses the Go heap.
//
// A Cache is safe for concurrent use. The methods of a nil *Cache behave like
// those of a disabled cache. Close empties the cache; its mappings are
// unmapped once every outstanding Value has been released.
package cache

import (
	"sync"
	"sync/atomic"
)

// EntryOverhead is the number of bytes charged for each entry on top of its
// slot: the Value struct and its map slot.
const EntryOverhead = 128

const (
	maxShards        = 16
	minShardCapacity = 1 << 20
)

// Value classes that are not slab size classes.
const (
	heapClass = -1 // Go heap memory, freed by the garbage collector
)

// Value is a reference-counted block. See the package comment.
type Value struct {
	buf   []byte
	refs  atomic.Int32
	a     *allocator // nil for heap memory
	class int32      // slab size class, or heapClass
	slot  int        // bytes of the slot

	// Cache bookkeeping, guarded by the shard's mutex.
	key        key
	charge     int64
	cached     bool
	referenced bool
	prev, next *Value
}

// Bytes returns the block. It must not be modified, and must not be used
// after the caller's reference is released.
func (v *Value) Bytes() []byte { return v.buf }

// Release drops one reference. The memory is reused once the last one is
// gone.
func (v *Value) Release() {
	switch n := v.refs.Add(-1); {
	case n > 0:
	case n == 0:
		if v.a != nil {
			v.a.release(v)
		}
	default:
		panic("cache: Value released more often than acquired")
	}
}

func (v *Value) size() int64 {
	if v.class == heapClass {
		return int64(len(v.buf))
	}
	return int64(v.slot)
}

// Cache is a bounded, sharded block cache. See the package comment.
type Cache struct {
	capacity int64
	shards   []shard
	alloc    *allocator // nil when disabled
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
	// Mapped is the memory mapped outside the Go heap for blocks: the
	// cached ones, those evicted but still held, and free slots.
	Mapped int64
}

type key struct {
	fileNum, offset uint64
}

type shard struct {
	mu       sync.Mutex // protects the fields below
	capacity int64
	size     int64
	hits     uint64
	misses   uint64
	closed   bool
	m        map[key]*Value
	// lru is the sentinel of a circular list: lru.next is the newest
	// entry, lru.prev the next candidate for eviction.
	lru Value
	_   [64]byte // keeps neighbouring shards' locks off one cache line
}

// New returns a cache holding at most capacityBytes bytes. A capacity <= 0
// returns a disabled cache, which is still usable.
func New(capacityBytes int64) *Cache {
	c := &Cache{capacity: max(capacityBytes, 0)}
	if capacityBytes <= 0 {
		return c
	}
	c.alloc = newAllocator()
	n := maxShards
	for n > 1 && capacityBytes/int64(n) < minShardCapacity {
		n /= 2
	}
	c.shards = make([]shard, n)
	per := capacityBytes / int64(n)
	for i := range c.shards {
		s := &c.shards[i]
		s.capacity = per
		s.m = make(map[key]*Value)
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

// Alloc returns a Value of n bytes, holding one reference, for the caller
// to fill and then pass to Set. Its memory is outside the Go heap unless
// the cache is disabled or closed.
func (c *Cache) Alloc(n int) *Value {
	if c == nil || c.alloc == nil {
		return heapValue(n)
	}
	return c.alloc.alloc(n)
}

// Get returns the block cached for (fileNum, offset) with a new reference,
// which the caller must release, and marks it recently used.
func (c *Cache) Get(fileNum, offset uint64) (*Value, bool) {
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
	v, ok := s.m[k]
	if !ok {
		s.misses++
		s.mu.Unlock()
		return nil, false
	}
	s.hits++
	v.referenced = true
	v.refs.Add(1)
	s.mu.Unlock()
	return v, true
}

// Set caches v as the block at (fileNum, offset), replacing any previous
// value, and evicts entries until the shard fits its capacity. The cache
// takes a reference of its own; the caller keeps (and must still release)
// its reference, and must not modify v afterwards. A value too large for a
// shard, or one that is already cached, is not cached.
func (c *Cache) Set(fileNum, offset uint64, v *Value) {
	if c == nil || len(c.shards) == 0 {
		return
	}
	k := key{fileNum, offset}
	s := c.shard(k)
	charge := v.size() + EntryOverhead
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || v.cached {
		return
	}
	if old, ok := s.m[k]; ok {
		s.removeLocked(old)
	}
	if charge > s.capacity {
		return
	}
	v.refs.Add(1)
	v.key, v.charge, v.cached, v.referenced = k, charge, true, false
	s.m[k] = v
	s.size += charge
	s.pushFrontLocked(v)
	for s.size > s.capacity {
		e := s.lru.prev
		if e.referenced && e != v {
			e.referenced = false
			s.unlinkLocked(e)
			s.pushFrontLocked(e)
			continue
		}
		s.removeLocked(e)
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

// Close empties the cache and stops caching; Get then misses and Alloc
// uses the Go heap. The mapped memory is unmapped once every Value handed
// out has been released.
func (c *Cache) Close() {
	if c == nil || c.alloc == nil {
		return
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.closed = true
		for e := s.lru.next; e != &s.lru; {
			next := e.next
			s.removeLocked(e)
			e = next
		}
		s.mu.Unlock()
	}
	c.alloc.close()
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
	if c.alloc != nil {
		m.Mapped = c.alloc.maps.mapped()
	}
	return m
}

// pushFrontLocked links e as the newest entry.
// REQUIRES: s.mu.
func (s *shard) pushFrontLocked(e *Value) {
	e.prev = &s.lru
	e.next = s.lru.next
	e.next.prev = e
	s.lru.next = e
}

// unlinkLocked takes e out of the list.
// REQUIRES: s.mu.
func (s *shard) unlinkLocked(e *Value) {
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
}

// removeLocked unlinks e, forgets it and drops the cache's reference
// (freeing a slot takes the allocator's lock, always after a shard's).
// REQUIRES: s.mu.
func (s *shard) removeLocked(e *Value) {
	s.unlinkLocked(e)
	delete(s.m, e.key)
	s.size -= e.charge
	e.cached = false
	e.Release()
}
