package storage

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/minidbgo/minidbgo/storage/internal/base"
	"github.com/minidbgo/minidbgo/storage/internal/manifest"
	"github.com/minidbgo/minidbgo/storage/internal/sstable"
)

// Flush freezes the memtable, if it holds anything, and waits until it and
// every memtable frozen before it are written to L0 tables. A flush
// attempt that fails while it waits (a full disk, say) ends the wait with
// that error; the flush worker retries in the background, and the WAL
// keeps the writes meanwhile. It fails with ErrDegraded when L0 is full
// and a damaged table blocks the compaction that would make room, and with
// ErrClosed when Close begins.
func (d *DB) Flush() error {
	w := &writer{flush: true}
	if err := d.commit(w); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	target := w.rot
	if target == nil && len(d.mu.imm) > 0 {
		target = d.mu.imm[len(d.mu.imm)-1]
	}
	epoch := d.mu.flushEpoch
	for target != nil && containsMem(d.mu.imm, target) {
		if d.mu.flushErr != nil && d.mu.flushEpoch != epoch {
			return d.mu.flushErr
		}
		if d.mu.closing {
			return ErrClosed
		}
		if err := d.stallDamageLocked(); err != nil {
			return err
		}
		ch := d.mu.changed
		d.mu.Unlock()
		<-ch
		d.mu.Lock()
	}
	return nil
}

func containsMem(list []*memTable, m *memTable) bool {
	for _, x := range list {
		if x == m {
			return true
		}
	}
	return false
}

// flushLoop is the flush worker: it writes frozen memtables to L0, oldest
// first. Errors are logged and counted, and the flush is retried with
// backoff; they never crash the process.
func (d *DB) flushLoop() {
	defer d.wg.Done()
	backoff := 10 * time.Millisecond
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-d.flushC:
		}
		for d.ctx.Err() == nil {
			more, err := d.flushOne()
			if err != nil {
				d.m.bgErrors.Add(1)
				if permanentIOError(err) || d.checkDir() != nil {
					// No retry will write a table: stop taking writes.
					d.setReadOnly(fmt.Errorf("storage: flush: %w", err))
				}
				d.opts.Logger.Error("storage: flush failed; will retry", "err", err, "retry_in", backoff)
				select {
				case <-d.ctx.Done():
					return
				case <-time.After(backoff):
				}
				backoff = min(backoff*2, 5*time.Second)
				continue
			}
			backoff = 10 * time.Millisecond
			if !more {
				break
			}
		}
	}
}

// flushOne writes the oldest immutable memtable to L0. It reports whether
// there may be more to flush.
func (d *DB) flushOne() (bool, error) {
	d.mu.Lock()
	for {
		if len(d.mu.imm) == 0 || d.mu.closing {
			d.mu.Unlock()
			return false, nil
		}
		if d.opts.DisableAutomaticCompactions || len(d.mu.version.Levels[0]) < d.opts.L0StopWritesThreshold {
			break
		}
		// Too many L0 tables: wait for compaction, which backs up the
		// immutable queue and eventually stalls writers.
		d.m.l0Stalls.Add(1)
		ch := d.mu.changed
		d.mu.Unlock()
		d.maybeScheduleCompaction()
		select {
		case <-ch:
		case <-d.ctx.Done():
			return false, nil
		}
		d.mu.Lock()
	}
	mem := d.mu.imm[0]
	d.mu.Unlock()

	start := time.Now()
	meta, err := d.writeL0(mem)
	if err == nil {
		err = d.syncDir(filepath.Join(d.dir, sstDirName))
	}

	d.mu.Lock()
	d.mu.flushEpoch++
	if err != nil {
		d.mu.flushErr = err
		if meta != nil {
			d.removeFile(sstPath(d.dir, meta.FileNum))
		}
		d.signalChangedLocked()
		d.mu.Unlock()
		return true, err
	}
	next := d.mu.mem.walNum
	if len(d.mu.imm) > 1 {
		next = d.mu.imm[1].walNum
	}
	edit := &manifest.VersionEdit{LogNum: next}
	if meta != nil {
		edit.NewFiles = []manifest.NewFile{{Level: 0, Meta: meta}}
	}
	if err := d.logAndApplyLocked(edit); err != nil {
		d.mu.flushErr = err
		if meta != nil && !d.editMayBeDurable() {
			d.removeFile(sstPath(d.dir, meta.FileNum))
		}
		d.signalChangedLocked()
		d.mu.Unlock()
		return true, err
	}
	d.mu.flushErr = nil
	d.mu.imm = d.mu.imm[1:]
	d.mu.logNum = next
	d.updateReadStateLocked()
	d.signalChangedLocked()
	more := len(d.mu.imm) > 0
	d.mu.Unlock()

	d.removeFile(walPath(d.dir, mem.walNum))
	d.m.flushes.Add(1)
	if meta != nil {
		d.m.bytesFlushed.Add(meta.Size)
		d.opts.Logger.Debug("storage: flushed memtable", "table", sstName(meta.FileNum), "bytes", meta.Size, "took", time.Since(start))
	}
	d.maybeScheduleCompaction()
	return more, nil
}

// writeL0 writes a memtable to a new table. It returns nil metadata when
// the memtable is empty.
func (d *DB) writeL0(mem *memTable) (*manifest.FileMetadata, error) {
	if mem.Empty() {
		return nil, nil
	}
	d.mu.Lock()
	num := d.mu.nextFileNum
	d.mu.nextFileNum++
	d.mu.Unlock()
	it := mem.NewIter(nil, nil)
	defer it.Close()
	w, err := d.newTableWriter(num)
	if err != nil {
		return nil, err
	}
	for ok := it.First(); ok; ok = it.Next() {
		if err := w.Add(it.Key(), it.Value()); err != nil {
			w.Abort()
			d.removeFile(sstPath(d.dir, num))
			return nil, fmt.Errorf("storage: flush to %s: %w", sstName(num), err)
		}
		killpoint("sst.write.mid")
	}
	if err := it.Err(); err != nil {
		w.Abort()
		d.removeFile(sstPath(d.dir, num))
		return nil, err
	}
	meta, err := d.finishTable(num, w)
	if err != nil {
		return nil, err
	}
	return meta, nil
}

func (d *DB) newTableWriter(num uint64) (*sstable.Writer, error) {
	f, err := d.fs.Create(sstPath(d.dir, num))
	if err != nil {
		return nil, fmt.Errorf("storage: create %s: %w", sstName(num), err)
	}
	return sstable.NewWriter(f, sstable.WriterOptions{
		BlockSize:       d.opts.BlockSize,
		Compression:     d.opts.Compression.sstable(),
		BloomBitsPerKey: d.opts.BloomBitsPerKey,
	}), nil
}

// finishTable closes (and syncs) a table writer and describes the table.
func (d *DB) finishTable(num uint64, w *sstable.Writer) (*manifest.FileMetadata, error) {
	wm, err := w.Close()
	if err != nil {
		d.removeFile(sstPath(d.dir, num))
		return nil, fmt.Errorf("storage: finish %s: %w", sstName(num), err)
	}
	return &manifest.FileMetadata{
		FileNum:     num,
		Size:        wm.Size,
		Smallest:    wm.Smallest,
		Largest:     wm.Largest,
		SmallestSeq: wm.SmallestSeq,
		LargestSeq:  wm.LargestSeq,
	}, nil
}

// logAndApplyLocked records an edit in the MANIFEST, durably, then installs
// the version it produces. A MANIFEST write or sync failure makes the DB
// read-only: whether the edit is on disk is unknown.
//
// d.mu is released during the MANIFEST write and sync (and the rotation to
// a new MANIFEST), so that readers, Metrics and writers rotating the
// memtable do not wait for the disk. As in Pebble, a manifest lock —
// d.mu.manifestBusy, waited for on d.mu.manifestCond — serialises version
// edits meanwhile: the version the edit is applied to is still the
// current one when the result is installed (only logAndApplyLocked
// installs versions after Open), and the MANIFEST writer has one user. The
// edit's NextFileNum is the counter before the write: a number taken
// meanwhile (a WAL, an output table) is above it, so recovery takes such a
// file for what it is, newer than the edit.
// REQUIRES: d.mu, which is released and re-acquired: the caller must not
// rely on the state d.mu guards, other than the version, staying the same
// across the call.
func (d *DB) logAndApplyLocked(edit *manifest.VersionEdit) error {
	for d.mu.manifestBusy {
		d.mu.manifestCond.Wait()
	}
	if err := d.readOnlyErr(); err != nil {
		return err
	}
	if d.mu.manifest == nil {
		return ErrClosed
	}
	edit.NextFileNum = d.mu.nextFileNum
	edit.LastSeq = max(base.SeqNum(d.visibleSeq.Load()), 1)
	nv, err := d.mu.version.Apply(edit)
	if err != nil {
		return fmt.Errorf("storage: apply version edit: %w", err)
	}
	d.mu.manifestBusy = true
	defer func() {
		d.mu.manifestBusy = false
		d.mu.manifestCond.Broadcast()
	}()
	mw := d.mu.manifest
	d.mu.Unlock()
	_, err = mw.WriteRecord(edit.Encode(nil))
	if err != nil {
		err = fmt.Errorf("storage: MANIFEST append: %w", err)
	} else if err = mw.Sync(); err != nil {
		err = fmt.Errorf("storage: MANIFEST sync: %w", err)
	}
	if err != nil {
		d.setReadOnly(err)
	}
	d.mu.Lock()
	if err != nil {
		return d.readOnlyErr()
	}
	nv.Ref()
	old := d.mu.version
	d.mu.version = nv
	old.Unref(d.obsoleteFileLocked)
	if mw.Size() > manifestRotateBytes {
		if err := d.rotateManifestLocked(); err != nil {
			d.opts.Logger.Warn("storage: MANIFEST rotation failed; continuing with the old one", "err", err)
		}
	}
	return nil
}

// editMayBeDurable reports, after logAndApplyLocked failed, whether the
// edit may have reached the MANIFEST anyway: a failed write or sync made
// the DB read-only, and the record may be on disk (a failed fsync says
// nothing about the write before it). The tables the edit adds must then
// stay: the next Open deletes them if no edit names them, and would
// refuse to open if one named a table that was deleted.
func (d *DB) editMayBeDurable() bool { return d.readOnlyErr() != nil }

// rotateManifestLocked replaces the MANIFEST with a new one holding a
// snapshot of the current version. It releases d.mu for the I/O.
// REQUIRES: d.mu and d.mu.manifestBusy set by the caller.
func (d *DB) rotateManifestLocked() error {
	num := d.mu.nextFileNum
	d.mu.nextFileNum++
	snap := manifest.Snapshot(d.mu.version, d.mu.logNum, d.mu.nextFileNum, max(base.SeqNum(d.visibleSeq.Load()), 1))
	d.mu.Unlock()
	w, err := d.createManifest(num, snap)
	d.mu.Lock()
	if err != nil {
		return err
	}
	d.installManifestLocked(w, num)
	return nil
}

// manifestRotateBytes is the MANIFEST size beyond which a new one, holding
// only a snapshot, replaces it.
const manifestRotateBytes = 16 << 20
