package storage

import (
	"errors"

	"github.com/minidbgo/minidbgo/storage/internal/base"
	"github.com/minidbgo/minidbgo/storage/internal/manifest"
)

// mergingIter merges sorted internal iterators with a binary min-heap. It
// holds one position per child, so its memory does not depend on the data.
type mergingIter struct {
	iters []base.InternalIterator
	heap  []int // indexes into iters, ordered by current key
	err   error
}

var _ base.InternalIterator = (*mergingIter)(nil)

func newMergingIter(iters []base.InternalIterator) *mergingIter {
	return &mergingIter{iters: iters, heap: make([]int, 0, len(iters))}
}

func (m *mergingIter) less(i, j int) bool {
	return base.Compare(m.iters[m.heap[i]].Key(), m.iters[m.heap[j]].Key()) < 0
}

func (m *mergingIter) down(i int) {
	n := len(m.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && m.less(r, l) {
			c = r
		}
		if !m.less(c, i) {
			return
		}
		m.heap[i], m.heap[c] = m.heap[c], m.heap[i]
		i = c
	}
}

func (m *mergingIter) init() bool {
	m.heap = m.heap[:0]
	for i, it := range m.iters {
		if it.Valid() {
			m.heap = append(m.heap, i)
		} else if err := it.Err(); err != nil && m.err == nil {
			m.err = err
		}
	}
	if m.err != nil {
		m.heap = m.heap[:0]
		return false
	}
	for i := len(m.heap)/2 - 1; i >= 0; i-- {
		m.down(i)
	}
	return len(m.heap) > 0
}

// First implements base.InternalIterator.
func (m *mergingIter) First() bool {
	m.err = nil
	for _, it := range m.iters {
		it.First()
	}
	return m.init()
}

// SeekGE implements base.InternalIterator.
func (m *mergingIter) SeekGE(key []byte) bool {
	m.err = nil
	for _, it := range m.iters {
		it.SeekGE(key)
	}
	return m.init()
}

// Next implements base.InternalIterator.
func (m *mergingIter) Next() bool {
	if len(m.heap) == 0 {
		return false
	}
	it := m.iters[m.heap[0]]
	if it.Next() {
		m.down(0)
		return true
	}
	if err := it.Err(); err != nil {
		m.err = err
		m.heap = m.heap[:0]
		return false
	}
	last := len(m.heap) - 1
	m.heap[0] = m.heap[last]
	m.heap = m.heap[:last]
	if len(m.heap) > 0 {
		m.down(0)
	}
	return len(m.heap) > 0
}

// Valid implements base.InternalIterator.
func (m *mergingIter) Valid() bool { return len(m.heap) > 0 }

// Key implements base.InternalIterator.
func (m *mergingIter) Key() []byte { return m.iters[m.heap[0]].Key() }

// Value implements base.InternalIterator.
func (m *mergingIter) Value() []byte { return m.iters[m.heap[0]].Value() }

// Err implements base.InternalIterator.
func (m *mergingIter) Err() error { return m.err }

// Close implements base.InternalIterator.
func (m *mergingIter) Close() error {
	var errs []error
	for _, it := range m.iters {
		if err := it.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	m.heap = m.heap[:0]
	return errors.Join(errs...)
}

// levelIter concatenates the tables of a sorted level, opening one at a
// time through the table cache.
type levelIter struct {
	d            *DB
	files        []*manifest.FileMetadata
	lower, upper []byte
	idx          int
	h            *tableHandle
	iter         base.InternalIterator
	err          error
	compaction   bool // read without filling the block cache
}

var _ base.InternalIterator = (*levelIter)(nil)

func newLevelIter(d *DB, files []*manifest.FileMetadata, lower, upper []byte) *levelIter {
	return &levelIter{d: d, files: files, lower: lower, upper: upper, idx: -1}
}

func (l *levelIter) closeTable() {
	if l.iter != nil {
		if err := l.iter.Close(); err != nil && l.err == nil {
			l.err = err
		}
		l.iter = nil
	}
	if l.h != nil {
		l.h.release()
		l.h = nil
	}
}

// load opens table i; it reports false past the end or the upper bound.
func (l *levelIter) load(i int) bool {
	if l.idx == i && l.iter != nil {
		return true
	}
	l.closeTable()
	l.idx = i
	if i >= len(l.files) {
		return false
	}
	f := l.files[i]
	if l.upper != nil && compareUser(f.SmallestUserKey(), l.upper) >= 0 {
		return false
	}
	h, err := l.d.tc.get(f.FileNum, f.Size)
	if err != nil {
		l.err = err
		return false
	}
	l.h = h
	if l.compaction {
		l.iter = h.r.NewCompactionIter()
	} else {
		l.iter = h.r.NewIter(l.lower, l.upper)
	}
	return true
}

// skipForward moves to the first entry at or after the current table.
func (l *levelIter) skipForward(valid bool) bool {
	for !valid {
		if l.iter != nil {
			if err := l.iter.Err(); err != nil {
				l.err = err
				l.closeTable()
				return false
			}
		}
		if l.err != nil || !l.load(l.idx+1) {
			l.closeTable()
			return false
		}
		valid = l.iter.First()
	}
	return true
}

// First implements base.InternalIterator.
func (l *levelIter) First() bool {
	l.err = nil
	i := 0
	if l.lower != nil {
		i = manifest.FindFile(l.files, l.lower)
	}
	if !l.load(i) {
		l.closeTable()
		return false
	}
	return l.skipForward(l.iter.First())
}

// SeekGE implements base.InternalIterator.
func (l *levelIter) SeekGE(key []byte) bool {
	l.err = nil
	i := manifest.FindFile(l.files, base.UserKey(key))
	if !l.load(i) {
		l.closeTable()
		return false
	}
	return l.skipForward(l.iter.SeekGE(key))
}

// Next implements base.InternalIterator.
func (l *levelIter) Next() bool {
	if l.iter == nil {
		return false
	}
	return l.skipForward(l.iter.Next())
}

// Valid implements base.InternalIterator.
func (l *levelIter) Valid() bool { return l.iter != nil && l.iter.Valid() }

// Key implements base.InternalIterator.
func (l *levelIter) Key() []byte { return l.iter.Key() }

// Value implements base.InternalIterator.
func (l *levelIter) Value() []byte { return l.iter.Value() }

// Err implements base.InternalIterator.
func (l *levelIter) Err() error { return l.err }

// Close implements base.InternalIterator.
func (l *levelIter) Close() error {
	l.closeTable()
	return l.err
}
