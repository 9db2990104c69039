package memtable

import (
	"bytes"

	"github.com/minidbgo/minidbgo/storage/internal/base"
)

// iterator walks level 0 of a MemTable's skiplist. It is not safe for
// concurrent use, but any number of iterators may run beside the writer.
type iterator struct {
	m     *MemTable
	n     *node // current node; nil when not positioned
	key   []byte
	value []byte

	lower []byte // nil: unbounded
	upper []byte // nil: unbounded
	// upperKey sorts before every entry whose user key is upper.
	upperKey searchKey
}

var _ base.InternalIterator = (*iterator)(nil)

// NewIter returns an iterator over the MemTable's internal keys, in
// base.Compare order. It is unpositioned; call First or SeekGE.
//
// The iterator may observe entries added after its creation, so callers
// filter by sequence number. lower and upper are optional user-key bounds
// (nil means unbounded): First and SeekGE start at lower at the earliest,
// and iteration ends at the first user key >= upper. The iterator keeps
// lower and upper; the caller must not modify them while it is in use.
func (m *MemTable) NewIter(lower, upper []byte) base.InternalIterator {
	it := &iterator{m: m, lower: lower, upper: upper}
	if upper != nil {
		it.upperKey = makeSearchKey(upper, maxTrailer)
	}
	return it
}

// SeekGE moves to the first entry whose internal key is >= key, which must
// be an internal key, or to the first entry at or after lower if that is
// later.
func (it *iterator) SeekGE(key []byte) bool {
	ukey := base.UserKey(key)
	if it.lower != nil && bytes.Compare(ukey, it.lower) < 0 {
		return it.seekLower()
	}
	k := makeSearchKey(ukey, base.Trailer(key))
	return it.setNode(it.m.seekGE(&k))
}

// First moves to the first entry, or the first at or after lower.
func (it *iterator) First() bool {
	if it.lower != nil {
		return it.seekLower()
	}
	head := it.m.arena.node(0)
	return it.setNode(linkRef(head[wTower].Load()))
}

// seekLower moves to the first entry whose user key is >= lower.
func (it *iterator) seekLower() bool {
	k := makeSearchKey(it.lower, maxTrailer)
	return it.setNode(it.m.seekGE(&k))
}

// Next moves to the following entry.
func (it *iterator) Next() bool {
	if it.n == nil {
		return false
	}
	return it.setNode(linkRef(it.n[wTower].Load()))
}

// setNode positions the iterator at ref, or unpositions it if ref is nil or
// at or past upper.
func (it *iterator) setNode(ref nodeRef) bool {
	if ref == 0 {
		it.clear()
		return false
	}
	n := it.m.arena.node(ref)
	if it.upper != nil && it.m.compareUserKey(n, &it.upperKey) >= 0 {
		it.clear()
		return false
	}
	it.n = n
	it.key, it.value = it.m.entry(n)
	return true
}

func (it *iterator) clear() { it.n, it.key, it.value = nil, nil, nil }

// Valid reports whether the iterator is positioned at an entry.
func (it *iterator) Valid() bool { return it.n != nil }

// Key returns the current internal key. It stays valid for the MemTable's
// lifetime, longer than base.InternalIterator promises.
func (it *iterator) Key() []byte { return it.key }

// Value returns the current value. Like Key, it outlives the positioning.
func (it *iterator) Value() []byte { return it.value }

// Err returns nil: a MemTable iterator cannot fail.
func (it *iterator) Err() error { return nil }

// Close unpositions the iterator. It always returns nil.
func (it *iterator) Close() error {
	it.clear()
	return nil
}
