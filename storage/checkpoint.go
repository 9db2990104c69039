package storage

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/minidbgo/minidbgo/storage/internal/base"
	"github.com/minidbgo/minidbgo/storage/internal/manifest"
	"github.com/minidbgo/minidbgo/storage/internal/wal"
	"github.com/minidbgo/minidbgo/storage/vfs"
)

// A checkpoint is a copy of the database, as of one point in its history,
// in a new directory that Open opens as an ordinary data directory. It is
// cheap because tables are immutable: they are hard-linked, not copied
// (copied only when linking fails, as across filesystems). Pebble's
// Checkpoint is the model. The steps:
//
//  1. Flush, so that little of the data is left in logs (an optimisation:
//     a failed flush only makes the copied log longer).
//  2. Capture, as the commit pipeline's leader (so no group is being
//     written) and under d.mu with no version edit in progress (so the
//     version, the memtables and their logs agree): write the log's
//     buffered tail to the file, reference the current version, and open
//     the log of every memtable not yet in a table, noting its size. The
//     reference keeps the version's tables from being deleted however
//     many compactions obsolete them meanwhile; the open handles keep the
//     logs readable after a flush removes them. visibleSeq is the point
//     in history: every write up to it is in those tables or in those
//     first bytes of those logs, and nothing later is.
//  3. Without locks, in <dir>.checkpoint-tmp: link (or copy) the tables,
//     copy the captured bytes of each log, and write a MANIFEST holding
//     exactly those tables and CURRENT; sync every file and directory.
//  4. Rename <dir>.checkpoint-tmp to dir and sync the parent, so that dir
//     appears complete or not at all. A crash leaves the temporary
//     directory, which the next Checkpoint to the same dir removes; the
//     source directory is only read.
//
// What a checkpoint does not carry: LOCK (Open takes its own), lost/ (logs
// recovery set aside, never read) and the data-directory marker. The
// marker records that a database was created at a path — not which
// database — so a checkpoint keeps no identity of its source: opened with
// Options.DirMarker at its own path, it gets a fresh marker for that path
// on its first Open. Copying the source's marker would be wrong in both
// directions: beside the checkpoint it would name the source's directory,
// and the LOCK identity Open records (datadir.go) is per process anyway.

// checkpointTmpSuffix ends the name of the directory a checkpoint is
// built in, beside its target.
const checkpointTmpSuffix = ".checkpoint-tmp"

// copyBufferSize is the buffer a copied file is streamed through.
const copyBufferSize = 256 << 10

// Checkpoint writes a consistent copy of the database, as of the moment it
// is called, into dir, which must not exist or be an empty directory. Open
// opens dir as a database equal to this one at that moment; the copy
// shares no state with it (tables are hard links to immutable files, or
// copies). Writes, flushes and compactions may run meanwhile: the tables
// the copy needs are protected from deletion until they are linked.
//
// dir is built in a sibling directory, dir+".checkpoint-tmp", and renamed
// into place at the end, so that a crash leaves dir absent (or empty)
// rather than half written; a leftover temporary directory is removed by
// the next Checkpoint to the same dir. The copy does not include the
// data-directory marker (see Options.DirMarker): Open writes one for the
// new path. Checkpoint fails on a read-only DB and must not run
// concurrently with Close.
func (d *DB) Checkpoint(dir string) error {
	_, err := d.checkpoint(dir, false)
	return err
}

// checkpointState is what the capture step pins.
type checkpointState struct {
	v           *manifest.Version
	logs        []checkpointLog // oldest first
	logNum      uint64
	nextFileNum uint64
	seq         base.SeqNum
	snap        *Snapshot // for tests only: a snapshot at seq
}

// checkpointLog is a log to copy: its first size bytes, through f.
type checkpointLog struct {
	num  uint64
	f    vfs.File
	size int64
}

func (st *checkpointState) closeLogs() {
	for _, l := range st.logs {
		_ = l.f.Close()
	}
	st.logs = nil
}

// checkpoint implements Checkpoint. With snap it also returns a snapshot
// taken at the checkpoint's point in history (tests compare the two); the
// caller closes it.
func (d *DB) checkpoint(dir string, snap bool) (*Snapshot, error) {
	if d.closed.Load() {
		return nil, ErrClosed
	}
	dir = filepath.Clean(dir)
	if err := d.checkCheckpointTarget(dir); err != nil {
		return nil, err
	}
	if err := d.Flush(); err != nil {
		if errors.Is(err, ErrClosed) || errors.Is(err, ErrReadOnly) {
			return nil, err
		}
		// The logs still hold whatever the flush did not write.
		d.opts.Logger.Warn("storage: checkpoint: flush failed; copying the logs instead", "err", err)
	}
	st, err := d.checkpointCapture(snap)
	if err != nil {
		return nil, err
	}
	defer func() {
		st.closeLogs()
		d.mu.Lock()
		st.v.Unref(d.obsoleteFileLocked)
		d.mu.Unlock()
	}()
	tmp := dir + checkpointTmpSuffix
	if err := d.writeCheckpoint(tmp, dir, st); err != nil {
		if rerr := removeAll(d.fs, tmp); rerr != nil {
			d.opts.Logger.Warn("storage: checkpoint: cannot remove the partial copy", "dir", tmp, "err", rerr)
		}
		if st.snap != nil {
			_ = st.snap.Close()
		}
		return nil, err
	}
	d.opts.Logger.Info("storage: checkpoint written", "dir", dir, "seq", uint64(st.seq))
	return st.snap, nil
}

// checkCheckpointTarget fails unless dir is absent or an empty directory.
func (d *DB) checkCheckpointTarget(dir string) error {
	fi, err := d.fs.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("storage: checkpoint target %s: %w", dir, err)
	case !fi.IsDir():
		return fmt.Errorf("storage: checkpoint target %s exists and is not a directory: %w", dir, os.ErrExist)
	}
	names, err := d.fs.List(dir)
	if err != nil {
		return fmt.Errorf("storage: checkpoint target %s: %w", dir, err)
	}
	if len(names) > 0 {
		return fmt.Errorf("storage: checkpoint target %s is not empty (it holds %d entries, such as %q): %w",
			dir, len(names), names[0], os.ErrExist)
	}
	return nil
}

// checkpointCapture is step 2: it waits to lead the commit pipeline, then
// pins what the checkpoint copies. The caller unrefs st.v and closes the
// logs.
func (d *DB) checkpointCapture(snap bool) (*checkpointState, error) {
	w := &writer{flush: true} // a flush entry: no leader groups it with batches
	w.cond.L = &d.wmu
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if d.closed.Load() {
		return nil, ErrClosed
	}
	if err := d.readOnlyErr(); err != nil {
		return nil, err
	}
	d.writers = append(d.writers, w)
	for !w.done && d.writers[0] != w {
		w.cond.Wait()
	}
	if w.done {
		// A leader failed the whole queue (ErrBusy, ErrDegraded).
		if w.err == nil {
			return nil, errors.New("storage: checkpoint: the commit queue was drained")
		}
		return nil, w.err
	}
	defer func() {
		// Hand leadership on, as commit does.
		d.writers = slices.Delete(d.writers, 0, 1)
		if len(d.writers) > 0 {
			d.writers[0].cond.Signal()
		}
	}()
	if err := d.readOnlyErr(); err != nil {
		return nil, err
	}
	// No group is in flight: the WAL writer is ours to flush. In
	// DurabilityNone mode acknowledged writes may still be in its buffer.
	if d.walW != nil {
		if err := d.walW.Flush(); err != nil {
			return nil, fmt.Errorf("storage: checkpoint: write the WAL buffer: %w", err)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.mu.manifestBusy {
		d.mu.manifestCond.Wait()
	}
	st := &checkpointState{
		v:           d.mu.version,
		logNum:      d.mu.logNum,
		nextFileNum: d.mu.nextFileNum,
		seq:         base.SeqNum(d.visibleSeq.Load()),
	}
	mems := append(slices.Clone(d.mu.imm), d.mu.mem)
	for _, m := range mems {
		if m.walNum < st.logNum {
			continue // cannot happen: logNum is the oldest memtable's log
		}
		f, err := d.fs.Open(walPath(d.dir, m.walNum))
		if err == nil {
			var size int64
			if m == d.mu.mem && d.walNum == m.walNum && d.walW != nil {
				size = d.walW.Size() // flushed above: the file's length
			} else {
				var fi os.FileInfo
				if fi, err = f.Stat(); err == nil {
					size = fi.Size()
				}
			}
			if err == nil {
				st.logs = append(st.logs, checkpointLog{num: m.walNum, f: f, size: size})
				continue
			}
			_ = f.Close()
		}
		st.closeLogs()
		return nil, fmt.Errorf("storage: checkpoint: open %s: %w", walName(m.walNum), err)
	}
	st.v.Ref()
	if snap {
		st.snap = &Snapshot{db: d, seq: st.seq}
		st.snap.elem = d.mu.snapshots.l.PushBack(st.snap)
	}
	return st, nil
}

// writeCheckpoint is steps 3 and 4: it builds the copy in tmp and renames
// it to dir.
func (d *DB) writeCheckpoint(tmp, dir string, st *checkpointState) error {
	if _, err := d.fs.Stat(tmp); err == nil {
		d.opts.Logger.Warn("storage: checkpoint: removing a partial copy left by an earlier attempt", "dir", tmp)
		if err := removeAll(d.fs, tmp); err != nil {
			return fmt.Errorf("storage: checkpoint: remove the leftover %s: %w", tmp, err)
		}
	}
	for _, sub := range []string{tmp, filepath.Join(tmp, walDirName), filepath.Join(tmp, sstDirName)} {
		if err := d.fs.MkdirAll(sub, 0o755); err != nil {
			return fmt.Errorf("storage: checkpoint: create %s: %w", sub, err)
		}
	}
	buf := make([]byte, copyBufferSize)
	for l := range manifest.NumLevels {
		for _, f := range st.v.Levels[l] {
			if err := linkOrCopy(d.fs, sstPath(d.dir, f.FileNum), sstPath(tmp, f.FileNum), buf); err != nil {
				return fmt.Errorf("storage: checkpoint: %s: %w", sstName(f.FileNum), err)
			}
		}
	}
	for _, lg := range st.logs {
		if err := copyFile(d.fs, io.NewSectionReader(lg.f, 0, lg.size), walPath(tmp, lg.num), lg.size, buf); err != nil {
			return fmt.Errorf("storage: checkpoint: %s: %w", walName(lg.num), err)
		}
	}

	// The MANIFEST names exactly the linked tables; its number is above
	// every file's, as Open requires of new files.
	num := st.nextFileNum
	snap := manifest.Snapshot(st.v, st.logNum, num+1, max(st.seq, 1))
	if err := writeSyncedFile(d.fs, filepath.Join(tmp, manifestName(num)), func(f vfs.File) error {
		w := wal.NewWriter(f)
		if _, err := w.WriteRecord(snap.Encode(nil)); err != nil {
			return err
		}
		return w.Flush()
	}); err != nil {
		return fmt.Errorf("storage: checkpoint: write %s: %w", manifestName(num), err)
	}
	if err := writeSyncedFile(d.fs, filepath.Join(tmp, currentFileName), func(f vfs.File) error {
		_, err := io.WriteString(f, manifestName(num)+"\n")
		return err
	}); err != nil {
		return fmt.Errorf("storage: checkpoint: write CURRENT: %w", err)
	}
	for _, sub := range []string{filepath.Join(tmp, walDirName), filepath.Join(tmp, sstDirName), tmp} {
		if err := d.syncDir(sub); err != nil {
			return fmt.Errorf("storage: checkpoint: %w", err)
		}
	}
	if err := d.fs.Rename(tmp, dir); err != nil {
		return fmt.Errorf("storage: checkpoint: rename %s to %s: %w", tmp, dir, err)
	}
	if err := d.syncDir(filepath.Dir(dir)); err != nil {
		// Not known to be durable: take it back rather than leave a
		// copy the caller was told failed.
		if rerr := removeAll(d.fs, dir); rerr != nil {
			d.opts.Logger.Warn("storage: checkpoint: cannot remove the unsynced copy", "dir", dir, "err", rerr)
		}
		return fmt.Errorf("storage: checkpoint: %w", err)
	}
	return nil
}

// linkOrCopy makes dst a hard link to src, or a synced copy of it when
// linking fails (across filesystems, or where links are not supported).
func linkOrCopy(fs vfs.FS, src, dst string, buf []byte) error {
	if err := fs.Link(src, dst); err == nil {
		return nil
	}
	f, err := fs.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return copyFile(fs, f, dst, fi.Size(), buf)
}

// copyFile writes the size bytes r yields to a new file dst, through buf,
// and syncs it. Fewer bytes than size is an error.
func copyFile(fs vfs.FS, r io.Reader, dst string, size int64, buf []byte) error {
	return writeSyncedFile(fs, dst, func(f vfs.File) error {
		n, err := io.CopyBuffer(f, io.LimitReader(onlyReader{r}, size), buf)
		if err == nil && n != size {
			err = fmt.Errorf("copied %d of %d bytes: %w", n, size, io.ErrUnexpectedEOF)
		}
		return err
	})
}

// onlyReader hides every method but Read, so that io.CopyBuffer uses the
// buffer it is given instead of a WriterTo or ReaderFrom.
type onlyReader struct{ io.Reader }

// writeSyncedFile creates name, lets write fill it, and syncs and closes
// it; on error the file is removed.
func writeSyncedFile(fs vfs.FS, name string, write func(vfs.File) error) error {
	f, err := fs.Create(name)
	if err != nil {
		return err
	}
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = fs.Remove(name)
	}
	return err
}

// removeAll removes path and everything under it, as rm -rf; a missing
// path is not an error.
func removeAll(fs vfs.FS, path string) error {
	fi, err := fs.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		names, err := fs.List(path)
		if err != nil {
			return err
		}
		for _, n := range names {
			if err := removeAll(fs, filepath.Join(path, n)); err != nil {
				return err
			}
		}
	}
	if err := fs.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
