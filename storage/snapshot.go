package storage

import (
	"container/list"

	"github.com/minidbgo/minidbgo/storage/internal/base"
)

// Snapshot is a fixed point in the database's history: Get and NewIter on
// it see exactly the writes acknowledged before it was taken. Compactions
// keep every version a live snapshot can read, so a Snapshot must be closed
// when done. Safe for concurrent use.
type Snapshot struct {
	db   *DB
	seq  base.SeqNum
	elem *list.Element // in db.mu.snapshots; nil once closed
}

// NewSnapshot takes a snapshot of the current state.
func (d *DB) NewSnapshot() *Snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := &Snapshot{db: d, seq: base.SeqNum(d.visibleSeq.Load())}
	s.elem = d.mu.snapshots.l.PushBack(s)
	return s
}

// Get returns a copy of key's value as of the snapshot, or ErrNotFound.
func (s *Snapshot) Get(key []byte) ([]byte, error) {
	if s.db.closed.Load() {
		return nil, ErrClosed
	}
	return s.db.get(key, s.seq)
}

// NewIter returns an iterator over the snapshot.
func (s *Snapshot) NewIter(o *IterOptions) *Iterator { return s.db.newIter(o, s.seq, nil) }

// Close releases the snapshot. Closing twice is harmless.
func (s *Snapshot) Close() error {
	d := s.db
	d.mu.Lock()
	defer d.mu.Unlock()
	if s.elem != nil {
		d.mu.snapshots.l.Remove(s.elem)
		s.elem = nil
	}
	return nil
}

// snapshotList holds the live snapshots in creation order, so the oldest
// is at the front. Guarded by DB.mu.
type snapshotList struct{ l *list.List }

func (s *snapshotList) init() { s.l = list.New() }

func (s *snapshotList) oldest() (base.SeqNum, bool) {
	if e := s.l.Front(); e != nil {
		return e.Value.(*Snapshot).seq, true
	}
	return 0, false
}

// Seq returns the snapshot's sequence number. The snapshot sees exactly the
// entries committed with sequence numbers up to it; among the keys that
// Batch.PutSeqKey wrote, those ending in a number <= Seq.
func (s *Snapshot) Seq() uint64 { return uint64(s.seq) }
