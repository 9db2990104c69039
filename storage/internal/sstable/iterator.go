package sstable

import (
	"bytes"

	"github.com/minidbgo/minidbgo/storage/internal/base"
	"github.com/minidbgo/minidbgo/storage/internal/cache"
)

// tableIter is a two-level iterator: a blockIter over the index block picks
// data blocks, which are loaded lazily through the block cache, and a
// blockIter over the current data block yields the entries.
//
// Errors are sticky: once an error is met the iterator stays invalid.
type tableIter struct {
	r        *Reader
	lower    []byte // user key; nil = unbounded
	upper    []byte // user key, exclusive; nil = unbounded
	lowerKey []byte // the search key that seeks to lower

	index blockIter
	data  blockIter
	blk   *cache.Value // the block data iterates over; nil before the first
	valid bool
	err   error
	// noFill reads blocks without adding them to the cache, so a
	// compaction's one pass over its inputs does not evict the blocks
	// readers use.
	noFill bool
}

var _ base.InternalIterator = (*tableIter)(nil)

// NewCompactionIter returns an unbounded iterator that uses cached blocks
// but does not add the blocks it reads to the cache: for a single
// sequential pass, such as a compaction's.
func (r *Reader) NewCompactionIter() base.InternalIterator {
	it := r.NewIter(nil, nil).(*tableIter)
	it.noFill = true
	return it
}

// NewIter returns an iterator over the table's entries. lower and upper are
// optional user-key bounds (nil = unbounded): First and SeekGE never
// position before lower, and the iterator becomes invalid at the first user
// key >= upper. The iterator keeps lower and upper, which must not be
// modified while it is in use.
//
// Key and Value stay valid until the next positioning call; Value aliases a
// cached block (see Reader). An iterator is not safe for concurrent use,
// but a Reader serves any number of them.
func (r *Reader) NewIter(lower, upper []byte) base.InternalIterator {
	it := &tableIter{r: r, lower: lower, upper: upper}
	if lower != nil {
		it.lowerKey = base.MakeSearchKey(lower, base.MaxSeqNum)
	}
	it.data.key = make([]byte, 0, 64)
	if err := it.index.init(r.index, int64(r.footer.index.Offset)); err != nil {
		it.err = r.named(err)
	}
	return it
}

// loadBlock loads the data block the index iterator points at.
func (i *tableIter) loadBlock() bool {
	h, err := i.r.dataHandle(i.index.val)
	if err == nil {
		i.releaseBlock()
		// A compaction (noFill) reads each block once: it uses a cached
		// block but does not fill the cache.
		i.blk, err = i.r.dataBlock(h, !i.noFill)
		if err == nil {
			err = i.r.named(i.data.init(i.blk.Bytes(), int64(h.Offset)))
		}
	}
	if err != nil {
		i.err = err
		i.valid = false
		return false
	}
	return true
}

// releaseBlock drops the reference to the current data block.
func (i *tableIter) releaseBlock() {
	if i.blk != nil {
		i.data.data, i.data.val = nil, nil
		i.blk.Release()
		i.blk = nil
	}
}

func (i *tableIter) settle() bool {
	for !i.data.valid {
		if i.data.err != nil {
			i.err = i.r.named(i.data.err)
			i.valid = false
			return false
		}
		if !i.index.Next() {
			i.err = i.r.named(i.index.err)
			i.valid = false
			return false
		}
		if !i.loadBlock() {
			return false
		}
		i.data.First()
	}
	if i.upper != nil && bytes.Compare(base.UserKey(i.data.key), i.upper) >= 0 {
		i.valid = false
		return false
	}
	i.valid = true
	return true
}

// SeekGE moves to the first entry whose internal key is >= key, or >= the
// lower bound if key is below it.
func (i *tableIter) SeekGE(key []byte) bool {
	if i.err != nil {
		return false
	}
	if i.lower != nil && bytes.Compare(base.UserKey(key), i.lower) < 0 {
		key = i.lowerKey
	}
	if !i.index.SeekGE(key) {
		i.err = i.r.named(i.index.err)
		i.valid = false
		return false
	}
	if !i.loadBlock() {
		return false
	}
	i.data.SeekGE(key)
	return i.settle()
}

// First moves to the first entry at or above the lower bound.
func (i *tableIter) First() bool {
	if i.err != nil {
		return false
	}
	if i.lower != nil {
		return i.SeekGE(i.lowerKey)
	}
	if !i.index.First() {
		i.err = i.r.named(i.index.err)
		i.valid = false
		return false
	}
	if !i.loadBlock() {
		return false
	}
	i.data.First()
	return i.settle()
}

// Next moves to the following entry.
func (i *tableIter) Next() bool {
	if !i.valid {
		return false
	}
	i.data.Next()
	return i.settle()
}

// Valid reports whether the iterator is positioned at an entry.
func (i *tableIter) Valid() bool { return i.valid }

// Key returns the current internal key.
func (i *tableIter) Key() []byte { return i.data.key }

// Value returns the current value, which aliases a block.
func (i *tableIter) Value() []byte { return i.data.val }

// Err returns the first error the iterator met.
func (i *tableIter) Err() error { return i.err }

// Close releases the iterator and returns its error, if any.
func (i *tableIter) Close() error {
	i.valid = false
	i.releaseBlock()
	i.data = blockIter{}
	return i.err
}
