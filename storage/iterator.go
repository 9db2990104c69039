package storage

import (
	"bytes"

	"github.com/minidbgo/minidbgo/storage/internal/base"
)

// Iterator walks the live keys of a DB or Snapshot in ascending order,
// within optional bounds. It streams: it holds one position in each memtable
// and level, never the key set. It sees the database as of its creation
// (or its snapshot's). An Iterator is not safe for concurrent use and must
// be closed; it pins the tables it reads until then.
//
//	it := db.NewIter(&storage.IterOptions{Prefix: []byte("users/")})
//	defer it.Close()
//	for ok := it.First(); ok; ok = it.Next() {
//		fmt.Printf("%s=%s\n", it.Key(), it.Value())
//	}
//	if err := it.Err(); err != nil { ... }
type Iterator struct {
	rs     *readState
	iter   *mergingIter
	seq    base.SeqNum
	lower  []byte
	upper  []byte
	key    []byte
	value  []byte
	valid  bool
	err    error
	closed bool
	onDone func()
}

// NewIter returns an iterator over the current state of the database. A nil
// o iterates everything.
func (d *DB) NewIter(o *IterOptions) *Iterator {
	return d.newIter(o, base.SeqNum(d.visibleSeq.Load()), nil)
}

func (d *DB) newIter(o *IterOptions, seq base.SeqNum, onDone func()) *Iterator {
	it := &Iterator{seq: seq, onDone: onDone}
	if d.closed.Load() {
		it.err = ErrClosed
		it.closed = true
		return it
	}
	if o != nil {
		it.lower, it.upper = o.LowerBound, o.UpperBound
		if o.Prefix != nil {
			if it.lower == nil || bytes.Compare(o.Prefix, it.lower) > 0 {
				it.lower = o.Prefix
			}
			if succ := prefixSuccessor(o.Prefix); succ != nil && (it.upper == nil || bytes.Compare(succ, it.upper) < 0) {
				it.upper = succ
			}
		}
		it.lower = bytes.Clone(it.lower)
		it.upper = bytes.Clone(it.upper)
	}
	rs := d.loadReadState()
	it.rs = rs
	iters := make([]base.InternalIterator, 0, 2+len(rs.imm)+len(rs.v.Levels[0])+6)
	iters = append(iters, rs.mem.NewIter(it.lower, it.upper))
	for i := len(rs.imm) - 1; i >= 0; i-- {
		iters = append(iters, rs.imm[i].NewIter(it.lower, it.upper))
	}
	l0 := rs.v.Levels[0]
	for i := len(l0) - 1; i >= 0; i-- {
		f := l0[i]
		if !rangeOverlaps(f.SmallestUserKey(), f.LargestUserKey(), it.lower, it.upper) {
			continue
		}
		iters = append(iters, newLevelIter(d, l0[i:i+1], it.lower, it.upper))
	}
	for l := 1; l < len(rs.v.Levels); l++ {
		if files := rs.v.Levels[l]; len(files) > 0 {
			iters = append(iters, newLevelIter(d, files, it.lower, it.upper))
		}
	}
	it.iter = newMergingIter(iters)
	d.m.iterators.Add(1)
	return it
}

// rangeOverlaps reports whether [smallest, largest] meets [lower, upper).
func rangeOverlaps(smallest, largest, lower, upper []byte) bool {
	if lower != nil && bytes.Compare(largest, lower) < 0 {
		return false
	}
	if upper != nil && bytes.Compare(smallest, upper) >= 0 {
		return false
	}
	return true
}

// prefixSuccessor returns the smallest key greater than every key with the
// prefix, or nil if there is none (the prefix is all 0xff).
func prefixSuccessor(prefix []byte) []byte {
	s := bytes.Clone(prefix)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] != 0xff {
			s[i]++
			return s[:i+1]
		}
	}
	return nil
}

// First moves to the first key within the bounds.
func (it *Iterator) First() bool {
	if it.closed || it.err != nil {
		return false
	}
	if it.lower != nil {
		it.iter.SeekGE(base.MakeSearchKey(it.lower, it.seq))
	} else {
		it.iter.First()
	}
	return it.findNext(nil)
}

// SeekGE moves to the first key >= key within the bounds.
func (it *Iterator) SeekGE(key []byte) bool {
	if it.closed || it.err != nil {
		return false
	}
	if it.lower != nil && bytes.Compare(key, it.lower) < 0 {
		key = it.lower
	}
	it.iter.SeekGE(base.MakeSearchKey(key, it.seq))
	return it.findNext(nil)
}

// Next moves to the next key.
func (it *Iterator) Next() bool {
	if !it.valid {
		return false
	}
	it.iter.Next()
	return it.findNext(it.key)
}

// findNext positions on the newest visible version of the first user key
// after skip (nil: at or after the current position) that is not deleted.
func (it *Iterator) findNext(skip []byte) bool {
	it.valid = false
	skipping := skip != nil
	for ; it.iter.Valid(); it.iter.Next() {
		ikey := it.iter.Key()
		if base.Seq(ikey) > it.seq {
			continue
		}
		ukey := base.UserKey(ikey)
		if skipping && bytes.Equal(ukey, skip) {
			continue
		}
		if it.upper != nil && bytes.Compare(ukey, it.upper) >= 0 {
			break
		}
		if base.KindOf(ikey) == base.KindDelete {
			it.key = append(it.key[:0], ukey...)
			skip, skipping = it.key, true
			continue
		}
		it.key = append(it.key[:0], ukey...)
		it.value = it.iter.Value()
		it.valid = true
		return true
	}
	if err := it.iter.Err(); err != nil {
		it.err = err
		it.rs.db.noteCorruption(err)
	}
	return false
}

// Valid reports whether the iterator is positioned at a key.
func (it *Iterator) Valid() bool { return it.valid }

// Key returns the current key. It is valid until the next positioning call.
func (it *Iterator) Key() []byte { return it.key }

// Value returns the current value. It must not be modified, and is valid
// until the next positioning call.
func (it *Iterator) Value() []byte { return it.value }

// Err returns the error, if any, that stopped the iteration.
func (it *Iterator) Err() error { return it.err }

// Close releases the iterator. It returns the iteration error, if any.
func (it *Iterator) Close() error {
	if it.closed {
		if it.err == ErrClosed {
			return nil
		}
		return it.err
	}
	it.closed = true
	it.valid = false
	if err := it.iter.Close(); err != nil && it.err == nil {
		it.err = err
	}
	it.rs.unref()
	if it.onDone != nil {
		it.onDone()
	}
	return it.err
}
