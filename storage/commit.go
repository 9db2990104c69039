package storage

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/minidbgo/minidbgo/storage/internal/base"
)

// The commit pipeline is LevelDB's writer queue. Each writer enqueues under
// wmu; the writer at the head is the leader. The leader makes room in the
// memtable, folds the writers queued behind it into one group, assigns
// their sequence numbers, and — without holding wmu — appends their batches
// to the WAL, makes them durable with one write and one fsync (per the
// durability mode), and applies them to the memtable. Only then does it
// publish the group's last sequence number to readers, so a reader never
// sees a write that could still be lost. Then it wakes the group and hands
// leadership to the next writer.
//
// Only one leader exists at a time, so the WAL and the memtable have a
// single writer.

// maxGroupBytes bounds the bytes one group commit writes.
const maxGroupBytes = 1 << 20

type writer struct {
	batch *Batch
	flush bool // rotate the memtable instead of writing (DB.Flush)
	done  bool
	err   error
	rot   *memTable // the memtable a flush request froze
	cond  sync.Cond
}

// Put sets key to value.
func (d *DB) Put(key, value []byte) error {
	var b Batch
	b.data = make([]byte, batchHeaderLen, batchHeaderLen+len(key)+len(value)+11)
	b.Put(key, value)
	if err := d.commit(&writer{batch: &b}); err != nil {
		return err
	}
	d.m.puts.Add(1)
	return nil
}

// Delete removes key. Deleting an absent key is not an error.
func (d *DB) Delete(key []byte) error {
	var b Batch
	b.data = make([]byte, batchHeaderLen, batchHeaderLen+len(key)+11)
	b.Delete(key)
	if err := d.commit(&writer{batch: &b}); err != nil {
		return err
	}
	d.m.deletes.Add(1)
	return nil
}

// Apply commits a batch atomically: after Apply returns nil every entry is
// durable (per the durability mode) and visible; after an error, or a crash
// at any point, either all entries are present or none is.
func (d *DB) Apply(b *Batch) error {
	if b == nil || b.count == 0 {
		if d.closed.Load() {
			return ErrClosed
		}
		return nil
	}
	if err := d.commit(&writer{batch: b}); err != nil {
		return err
	}
	d.m.batches.Add(1)
	d.m.puts.Add(uint64(b.count - b.dels))
	d.m.deletes.Add(uint64(b.dels))
	return nil
}

func (d *DB) commit(w *writer) error {
	w.cond.L = &d.wmu
	d.wmu.Lock()
	if d.closed.Load() {
		d.wmu.Unlock()
		return ErrClosed
	}
	if err := d.readOnlyErr(); err != nil {
		d.wmu.Unlock()
		return err
	}
	d.writers = append(d.writers, w)
	for !w.done && d.writers[0] != w {
		w.cond.Wait()
	}
	if w.done {
		d.wmu.Unlock()
		return w.err
	}

	// w leads.
	err := d.readOnlyErr()
	if err == nil {
		err = d.makeRoomForWrite(w.flush)
	}
	group := d.writers[:1]
	if err != nil {
		switch {
		case errors.Is(err, ErrBusy):
			// Everyone queued has waited as long as the leader.
			group = d.writers
			d.m.busy.Add(uint64(len(group)))
		case errors.Is(err, ErrDegraded):
			// The stall is permanent: no one queued would get further.
			group = d.writers
			d.m.degradedBusy.Add(uint64(len(group)))
		}
	} else if w.flush {
		w.rot = d.lastRotated
	} else {
		if d.opts.Durability.Mode == DurabilityGroup {
			// Writers the previous group released are re-enqueueing: give
			// them a moment so this group's fsync covers them too, instead
			// of the queue settling into two half-size groups.
			for i := 0; i < 8 && len(d.writers) < d.lastGroup; i++ {
				d.wmu.Unlock()
				runtime.Gosched()
				d.wmu.Lock()
			}
		}
		size := len(w.batch.data)
		if d.opts.Durability.Mode != DurabilitySync {
			for _, o := range d.writers[1:] {
				if o.flush || size+len(o.batch.data) > maxGroupBytes {
					break
				}
				size += len(o.batch.data)
				group = d.writers[:len(group)+1]
			}
		}
		seq := d.lastSeq + 1
		for _, gw := range group {
			gw.batch.setSeq(seq)
			seq += base.SeqNum(gw.batch.count)
		}
		d.lastSeq = seq - 1
		d.lastGroup = len(group)
		d.wmu.Unlock()
		err = d.writeGroup(group)
		if err == nil && (d.opts.Durability.Mode == DurabilitySync || d.opts.Durability.Mode == DurabilityGroup) {
			// Durable — unless the directory was deleted under us and the
			// WAL is an unlinked file no Open will read.
			err = d.checkDir()
		}
		d.wmu.Lock()
		if err != nil {
			d.setReadOnly(err)
			err = d.readOnlyErr()
		} else {
			d.visibleSeq.Store(uint64(d.lastSeq))
		}
	}

	for _, gw := range group {
		gw.err = err
		gw.done = true
		if gw != w {
			gw.cond.Signal()
		}
	}
	n := copy(d.writers, d.writers[len(group):])
	clear(d.writers[n:])
	d.writers = d.writers[:n]
	if len(d.writers) > 0 {
		d.writers[0].cond.Signal()
	}
	d.wmu.Unlock()
	return err
}

// writeGroup appends the group's batches to the WAL, makes them durable per
// the durability mode, and applies them to the memtable. It runs without wmu
// but as the only leader.
func (d *DB) writeGroup(group []*writer) error {
	var bytes int
	for _, gw := range group {
		if _, err := d.walW.WriteRecord(gw.batch.data); err != nil {
			return fmt.Errorf("storage: WAL append: %w", err)
		}
		bytes += len(gw.batch.data)
	}
	killpoint("wal.append.after")
	switch d.opts.Durability.Mode {
	case DurabilitySync, DurabilityGroup:
		killpoint("wal.sync.before")
		if err := d.walW.Sync(); err != nil {
			return fmt.Errorf("storage: WAL sync: %w", err)
		}
		killpoint("wal.sync.after")
		d.m.walSyncs.Add(1)
	case DurabilityPeriodic:
		if err := d.walW.Flush(); err != nil {
			return fmt.Errorf("storage: WAL write: %w", err)
		}
	}
	d.m.walBytes.Add(uint64(bytes))
	d.m.groups.Add(1)

	mem := d.mu.mem // stable: only the leader rotates it
	var userBytes uint64
	for _, gw := range group {
		r, err := newBatchReader(gw.batch.data)
		if err != nil {
			return err
		}
		r.key = d.seqKeyBuf // completes SETSEQ keys; only the leader uses it
		seq := r.seq
		for {
			kind, key, value, ok, err := r.next()
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			if r.seqKey {
				mem.AddUncounted(seq, kind, key, value)
			} else {
				mem.Add(seq, kind, key, value)
			}
			userBytes += uint64(len(key) + len(value))
			seq++
		}
		d.seqKeyBuf = r.key[:0]
	}
	d.m.bytesIn.Add(userBytes)
	return nil
}

// makeRoomForWrite freezes the memtable when it is full (or when force is
// set and it is not empty), stalling while the immutable queue is full. A
// stall that only a compaction blocked by a damaged table could end fails
// at once with ErrDegraded.
// REQUIRES: wmu, held by the leader; it is released while stalling.
func (d *DB) makeRoomForWrite(force bool) error {
	d.lastRotated = nil
	var deadline time.Time
	var epoch uint64
	stalled := false
	for {
		mem := d.mu.mem
		full := mem.Records() >= d.opts.MemTableRecords || mem.ApproximateBytes() >= d.opts.MemTableBytes
		if mem.Empty() || (!full && !force) {
			return nil
		}
		d.mu.Lock()
		if len(d.mu.imm) < d.opts.MaxImmutableMemTables {
			err := d.rotateLocked()
			d.mu.Unlock()
			return err
		}
		if err := d.stallDamageLocked(); err != nil {
			d.mu.Unlock()
			return err
		}
		// Stall until the flush worker makes room.
		if !stalled {
			stalled = true
			d.m.stalls.Add(1)
			deadline = time.Now().Add(d.opts.WriteStallTimeout)
			epoch = d.mu.flushEpoch
		}
		if force && d.mu.flushEpoch != epoch && d.mu.flushErr != nil {
			// An explicit Flush (or Compact) waits for the flush worker
			// as long as it succeeds, and no longer: a flush attempt
			// failed since the stall began (a full disk, say), so say
			// why rather than wait for the retries.
			err := d.mu.flushErr
			d.mu.Unlock()
			return err
		}
		if err := d.readOnlyErr(); err != nil {
			d.mu.Unlock()
			return err
		}
		var timeout <-chan time.Time
		var t *time.Timer
		if !force {
			wait := time.Until(deadline)
			if wait <= 0 {
				d.mu.Unlock()
				return ErrBusy
			}
			t = time.NewTimer(wait)
			timeout = t.C
		}
		changed := d.mu.changed
		d.mu.Unlock()
		d.wmu.Unlock()
		select {
		case <-changed:
		case <-timeout:
		case <-d.ctx.Done():
		}
		if t != nil {
			t.Stop()
		}
		d.wmu.Lock()
		if d.ctx.Err() != nil {
			return ErrClosed
		}
	}
}

// rotateLocked freezes the memtable and starts a new WAL for its successor.
// REQUIRES: wmu (as leader) and d.mu.
func (d *DB) rotateLocked() error {
	num := d.mu.nextFileNum
	old := d.walW
	if err := d.openWAL(num); err != nil {
		// The memtable is full and no new log can take its successor's
		// writes: a directory that refuses files (read-only, full, or
		// deleted) will refuse the next attempt too. Stop here, once,
		// rather than fail and use up a file number per write.
		d.setReadOnly(err)
		return d.readOnlyErr()
	}
	d.mu.nextFileNum++
	// The old WAL holds the frozen memtable until it is flushed: make it
	// durable now, whatever the mode.
	if err := old.Close(); err != nil {
		d.setReadOnly(fmt.Errorf("storage: close WAL: %w", err))
		return d.readOnlyErr()
	}
	d.lastRotated = d.mu.mem
	d.mu.imm = append(d.mu.imm, d.mu.mem)
	d.mu.mem = newMemTable(num)
	d.updateReadStateLocked()
	select {
	case d.flushC <- struct{}{}:
	default:
	}
	return nil
}

// periodicSyncLoop fsyncs the WAL every interval (DurabilityPeriodic).
func (d *DB) periodicSyncLoop(interval time.Duration) {
	d.every(interval, func() bool {
		d.wmu.Lock()
		f := d.walFile
		d.wmu.Unlock()
		if f == nil {
			return true
		}
		// The leader flushes every group before acknowledging it, so the
		// file holds every acknowledged write; fsync it without the lock.
		if err := f.Sync(); err != nil {
			d.wmu.Lock()
			current := d.walFile == f
			d.wmu.Unlock()
			if current && !d.closed.Load() {
				d.setReadOnly(fmt.Errorf("storage: periodic WAL sync: %w", err))
			}
			return true
		}
		d.m.walSyncs.Add(1)
		return true
	})
}

// every runs tick every interval, on a goroutine counted in d.wg, until
// the engine closes or tick returns false.
func (d *DB) every(interval time.Duration, tick func() bool) {
	defer d.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-t.C:
		}
		if !tick() {
			return
		}
	}
}
