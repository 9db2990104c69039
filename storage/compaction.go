package storage

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/minidbgo/minidbgo/storage/internal/base"
	"github.com/minidbgo/minidbgo/storage/internal/manifest"
	"github.com/minidbgo/minidbgo/storage/internal/sstable"
)

// Compaction streams a k-way merge of its input tables (one iterator per L0
// table, one concatenating iterator per deeper level) into new tables cut
// at TargetFileSize. Its memory is a block per input plus the output
// table's pending block, index and filter — never the data.
//
// For each user key it keeps the newest version and every older version a
// live snapshot may still read; it drops a tombstone once no snapshot can
// see past it and no deeper level holds the key. An input that fails its
// checksum aborts the compaction: corrupt data is never rewritten into a
// clean-looking table. The damaged table is recorded (damage.go) and no
// automatic compaction picks it again: retrying would fail the same way
// for ever.

// maybeScheduleCompaction wakes the compaction worker.
func (d *DB) maybeScheduleCompaction() {
	if d.opts.DisableAutomaticCompactions {
		return
	}
	select {
	case d.compactC <- struct{}{}:
	default:
	}
}

// compactLoop is the compaction worker: it runs automatic compactions one
// at a time until none is due.
func (d *DB) compactLoop() {
	defer d.wg.Done()
	backoff := 100 * time.Millisecond
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-d.compactC:
		}
		for d.ctx.Err() == nil {
			ran, err := d.compactOnce()
			if err != nil {
				if d.ctx.Err() != nil {
					return
				}
				d.m.bgErrors.Add(1)
				if errors.Is(err, ErrCorruption) && d.noteCorruption(err) {
					// The picker now skips the damaged table: look for
					// other work at once rather than retry this one.
					d.opts.Logger.Error("storage: compaction met a damaged table; not retrying it", "err", err)
					continue
				}
				d.opts.Logger.Error("storage: compaction failed; will retry", "err", err, "retry_in", backoff)
				select {
				case <-d.ctx.Done():
					return
				case <-time.After(backoff):
				}
				backoff = min(backoff*2, 10*time.Second)
				continue
			}
			backoff = 100 * time.Millisecond
			if !ran {
				break
			}
		}
	}
}

func (d *DB) compactOnce() (bool, error) {
	d.compactMu.Lock()
	defer d.compactMu.Unlock()
	d.mu.Lock()
	if d.mu.closing || d.readOnlyErr() != nil {
		d.mu.Unlock()
		return false, nil
	}
	c := d.pickCompactionLocked()
	if c == nil {
		d.mu.Unlock()
		return false, nil
	}
	return true, d.runCompactionLocked(c)
}

// Compact flushes the memtable and merges every table into one level,
// dropping shadowed versions and tombstones that no snapshot needs. It
// blocks until done; automatic compactions wait meanwhile.
func (d *DB) Compact() error {
	if d.closed.Load() {
		return ErrClosed
	}
	if err := d.Flush(); err != nil {
		return err
	}
	d.compactMu.Lock()
	defer d.compactMu.Unlock()
	d.mu.Lock()
	if d.mu.closing {
		d.mu.Unlock()
		return ErrClosed
	}
	c := d.pickManualCompactionLocked()
	if c == nil {
		d.mu.Unlock()
		return nil
	}
	if ce := d.compactionDamage(c); ce != nil {
		d.mu.Unlock()
		return degradedError("cannot compact a damaged table", ce)
	}
	d.m.manualCompactions.Add(1)
	err := d.runCompactionLocked(c)
	if err != nil && errors.Is(err, ErrCorruption) {
		d.noteCorruption(err)
	}
	return err
}

// runCompactionLocked runs c and installs its result. It is called with
// d.mu held and compactMu held, and returns with d.mu released.
func (d *DB) runCompactionLocked(c *compaction) error {
	start := time.Now()
	c.version = d.mu.version
	c.version.Ref()
	smallestSnap := d.smallestSnapshotLocked()
	if c.trivialMove {
		edit := &manifest.VersionEdit{}
		for _, f := range c.inputs[0].files {
			edit.DeletedFiles = append(edit.DeletedFiles, manifest.DeletedFile{Level: c.inputs[0].level, FileNum: f.FileNum})
			edit.NewFiles = append(edit.NewFiles, manifest.NewFile{Level: c.outputLevel, Meta: f})
		}
		err := d.logAndApplyLocked(edit)
		if err == nil {
			d.mu.compactPtr[c.inputs[0].level] = append([]byte(nil), c.largest...)
			d.updateReadStateLocked()
			d.m.trivialMoves.Add(1)
		}
		c.version.Unref(d.obsoleteFileLocked)
		d.signalChangedLocked()
		d.mu.Unlock()
		return err
	}
	d.m.compactionsRunning.Add(1)
	d.mu.Unlock()

	outputs, bytesIn, err := d.mergeCompaction(c, smallestSnap)
	if err == nil && len(outputs) > 0 {
		err = d.syncDir(filepath.Join(d.dir, sstDirName))
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	d.m.compactionsRunning.Add(-1)
	if err == nil {
		edit := &manifest.VersionEdit{}
		for _, in := range c.inputs {
			for _, f := range in.files {
				edit.DeletedFiles = append(edit.DeletedFiles, manifest.DeletedFile{Level: in.level, FileNum: f.FileNum})
			}
		}
		var bytesOut uint64
		for _, m := range outputs {
			edit.NewFiles = append(edit.NewFiles, manifest.NewFile{Level: c.outputLevel, Meta: m})
			bytesOut += m.Size
		}
		err = d.logAndApplyLocked(edit)
		if err == nil {
			if !c.manual && len(c.inputs[0].files) > 0 && c.inputs[0].level > 0 {
				d.mu.compactPtr[c.inputs[0].level] = append([]byte(nil), c.largest...)
			}
			d.updateReadStateLocked()
			d.m.compactions.Add(1)
			d.m.compactBytesIn.Add(bytesIn)
			d.m.compactBytesOut.Add(bytesOut)
			d.opts.Logger.Info("storage: compacted",
				"inputs", c.numInputFiles(), "output_level", c.outputLevel, "outputs", len(outputs),
				"bytes_in", bytesIn, "bytes_out", bytesOut, "took", time.Since(start))
		}
	}
	if err != nil && !d.editMayBeDurable() {
		for _, m := range outputs {
			d.removeFile(sstPath(d.dir, m.FileNum))
		}
	}
	c.version.Unref(d.obsoleteFileLocked)
	d.signalChangedLocked()
	return err
}

// mergeCompaction writes the merged output tables. On error it removes
// what it wrote.
func (d *DB) mergeCompaction(c *compaction, smallestSnap base.SeqNum) (outputs []*manifest.FileMetadata, bytesIn uint64, err error) {
	var iters []base.InternalIterator
	for _, in := range c.inputs {
		for _, f := range in.files {
			bytesIn += f.Size
		}
		if in.level == 0 {
			for i := len(in.files) - 1; i >= 0; i-- {
				li := newLevelIter(d, in.files[i:i+1], nil, nil)
				li.compaction = true
				iters = append(iters, li)
			}
		} else if len(in.files) > 0 {
			li := newLevelIter(d, in.files, nil, nil)
			li.compaction = true
			iters = append(iters, li)
		}
	}
	mi := newMergingIter(iters)
	defer mi.Close()

	var (
		w          *sstable.Writer
		wNum       uint64
		curKey     []byte
		hasCurKey  bool
		lastSeqKey base.SeqNum
		lastAdded  []byte
	)
	cleanup := func() {
		if w != nil {
			w.Abort()
			d.removeFile(sstPath(d.dir, wNum))
		}
		for _, m := range outputs {
			d.removeFile(sstPath(d.dir, m.FileNum))
		}
		outputs = nil
	}
	finish := func() error {
		m, err := d.finishTable(wNum, w)
		w = nil
		if err != nil {
			return err
		}
		outputs = append(outputs, m)
		return nil
	}
	n := 0
	for ok := mi.First(); ok; ok = mi.Next() {
		if n++; n%1024 == 0 && d.ctx.Err() != nil {
			cleanup()
			return nil, 0, ErrClosed
		}
		ikey := mi.Key()
		ukey := base.UserKey(ikey)
		seq := base.Seq(ikey)
		if !hasCurKey || !bytes.Equal(ukey, curKey) {
			curKey = append(curKey[:0], ukey...)
			hasCurKey = true
			lastSeqKey = base.MaxSeqNum + 1
		}
		drop := false
		switch {
		case lastSeqKey <= smallestSnap:
			// A newer version of this key is visible to every reader.
			drop = true
		case base.KindOf(ikey) == base.KindDelete && seq <= smallestSnap && c.bottommost:
			// Nothing below can resurface once this tombstone goes.
			drop = true
		}
		lastSeqKey = seq
		if drop {
			continue
		}
		if w != nil && w.EstimatedSize() >= uint64(d.opts.TargetFileSize) && !bytes.Equal(ukey, lastAdded) {
			if err := finish(); err != nil {
				cleanup()
				return nil, 0, err
			}
		}
		if w == nil {
			d.mu.Lock()
			wNum = d.mu.nextFileNum
			d.mu.nextFileNum++
			d.mu.Unlock()
			if w, err = d.newTableWriter(wNum); err != nil {
				cleanup()
				return nil, 0, err
			}
		}
		if err := w.Add(ikey, mi.Value()); err != nil {
			cleanup()
			return nil, 0, fmt.Errorf("storage: compaction output %s: %w", sstName(wNum), err)
		}
		killpoint("compaction.mid")
		lastAdded = append(lastAdded[:0], ukey...)
	}
	if err := mi.Err(); err != nil {
		cleanup()
		return nil, 0, fmt.Errorf("storage: compaction input: %w", err)
	}
	if w != nil {
		if err := finish(); err != nil {
			cleanup()
			return nil, 0, err
		}
	}
	return outputs, bytesIn, nil
}
