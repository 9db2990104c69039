package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/minidbgo/minidbgo/storage/internal/base"
	"github.com/minidbgo/minidbgo/storage/internal/cache"
	"github.com/minidbgo/minidbgo/storage/internal/dbfile"
	"github.com/minidbgo/minidbgo/storage/internal/manifest"
	"github.com/minidbgo/minidbgo/storage/internal/sstable"
	"github.com/minidbgo/minidbgo/storage/internal/wal"
)

var errNotExist = os.ErrNotExist

// Open opens the database in dir, creating it if it does not exist, and
// recovers whatever the last process left: it replays the MANIFEST, replays
// the WAL into new L0 tables and removes orphaned files. A torn tail of the
// MANIFEST or a WAL (a last record cut short by a crash) is dropped; damage
// anywhere else, the last record included (a complete record whose
// checksum fails), and a MANIFEST that lacks an edit the logs on disk show
// was durable, make Open fail with a *CorruptionError naming the file and
// offset, without changing a file. A nil opts selects the defaults.
//
// A directory can be open in one DB at a time: a second Open, from this or
// another process, fails with an error naming the holder's pid.
func Open(dir string, opts *Options) (*DB, error) {
	o := opts.withDefaults()
	d := &DB{dir: dir, opts: o, fs: o.FS,
		flushC: make(chan struct{}, 1), compactC: make(chan struct{}, 1)}
	d.mu.changed = make(chan struct{})
	d.mu.manifestCond.L = &d.mu.Mutex
	d.mu.snapshots.init()

	if err := d.checkDataMissing(); err != nil {
		return nil, err
	}
	for _, sub := range []string{dir, filepath.Join(dir, walDirName), filepath.Join(dir, sstDirName)} {
		if err := d.fs.MkdirAll(sub, 0o755); err != nil {
			return nil, fmt.Errorf("storage: create %s: %w", sub, err)
		}
	}
	lock, err := d.fs.Lock(filepath.Join(dir, lockFileName))
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", dir, err)
	}
	d.lock = lock
	if err := d.recordDirIdentity(); err != nil {
		_ = lock.Close()
		return nil, err
	}
	d.removeScratch() // a backup's checkpoint a crash left (backup.go)
	d.blockCache = cache.New(max(o.BlockCacheBytes, 0))
	d.tc = newTableCache(d.fs, dir, d.blockCache, o.MaxOpenTables)

	err = d.recover()
	if err == nil {
		// Every live table's footer, index, filter and properties
		// (damage.go); data blocks are checked when read.
		err = d.verifyTables()
	}
	if err != nil {
		d.tc.close()
		if d.mu.manifest != nil {
			_ = d.mu.manifest.Close()
		}
		_ = lock.Close()
		return nil, err
	}

	d.ensureMarker()

	d.ctx, d.cancel = context.WithCancel(context.Background())
	if o.DirCheckInterval > 0 {
		d.wg.Add(1)
		go d.dirCheckLoop(o.DirCheckInterval)
	}
	d.wg.Add(2)
	go d.flushLoop()
	go d.compactLoop()
	if o.Durability.Mode == DurabilityPeriodic {
		d.wg.Add(1)
		go d.periodicSyncLoop(o.Durability.Interval)
	}
	d.maybeScheduleCompaction()
	return d, nil
}

func (d *DB) recover() error {
	v := &manifest.Version{}
	var logNum, nextFileNum uint64
	var lastSeq base.SeqNum
	var manifestEnd int64
	var adoptedSeq base.SeqNum // batches up to it are in adopted tables
	oldManifest := ""
	pointInTime := d.opts.WALRecovery == WALRecoveryPointInTime

	name, err := dbfile.ReadCurrent(d.fs, d.dir)
	var ce *base.CorruptionError
	switch {
	case err == nil:
		oldManifest = name
		v, logNum, nextFileNum, lastSeq, manifestEnd, err = d.replayManifest(name, pointInTime)
		if err != nil {
			return err
		}
	case errors.As(err, &ce):
		return err
	case errors.Is(err, errNotExist):
		// A new database, unless files say otherwise.
		if err := d.checkNoOrphanData(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("storage: read CURRENT: %w", err)
	}

	// File numbers may have been used after the last edit was logged.
	walNums, sstNums, manifestNums, err := d.listFiles()
	if err != nil {
		return err
	}
	if oldManifest != "" {
		// A version whose log is gone while a later log exists lost an
		// edit: the flush that retired the log was durable, so its table
		// must not be taken for an orphan and deleted.
		if err := dbfile.CheckLogNum(oldManifest, manifestEnd, logNum, walNums); err != nil {
			var ce *base.CorruptionError
			if !pointInTime || !errors.As(err, &ce) {
				return err
			}
			if d.recovery.DamagedManifest == "" {
				d.recovery.DamagedManifest, d.recovery.ManifestDamageOffset = ce.File, ce.Offset
			}
		}
		if d.recovery.DamagedManifest != "" {
			if v, adoptedSeq, err = d.adoptTables(v, nextFileNum, sstNums); err != nil {
				return err
			}
			lastSeq = max(lastSeq, adoptedSeq)
		}
	}
	for _, n := range slices.Concat(walNums, sstNums, manifestNums) {
		nextFileNum = max(nextFileNum, n+1)
	}
	nextFileNum = max(nextFileNum, 1)
	d.mu.version = v
	v.Ref()
	d.mu.nextFileNum = nextFileNum
	d.mu.logNum = logNum

	// Replay every WAL at or after logNum, oldest first, into L0 tables. In
	// point-in-time mode, the first damage ends the replay: later logs
	// would leave a hole in the history.
	lost := make(map[uint64]bool)
	for _, n := range walNums {
		if n < logNum {
			continue
		}
		if d.recovery.DamagedLog != "" {
			lost[n] = true
			d.recovery.DiscardedLogs = append(d.recovery.DiscardedLogs, walName(n))
			continue
		}
		seq, err := d.replayWAL(n, adoptedSeq)
		if err != nil {
			return err
		}
		lastSeq = max(lastSeq, seq)
		if d.recovery.DamagedLog != "" {
			lost[n] = true
		}
	}
	newWAL := d.mu.nextFileNum
	d.mu.nextFileNum++
	d.lastSeq = lastSeq
	d.visibleSeq.Store(uint64(lastSeq))
	d.mu.logNum = newWAL
	if err := d.syncDir(filepath.Join(d.dir, sstDirName)); err != nil {
		return err
	}
	if err := d.writeNewManifestLocked(); err != nil {
		return err
	}

	// Start the new WAL.
	if err := d.openWAL(newWAL); err != nil {
		return err
	}
	d.mu.mem = newMemTable(newWAL)
	d.updateReadStateLocked()

	// Remove what no longer belongs: old WALs, tables no version has, old
	// manifests, temporary files.
	live := make(map[uint64]bool)
	for l := range manifest.NumLevels {
		for _, f := range d.mu.version.Levels[l] {
			live[f.FileNum] = true
		}
	}
	for _, n := range walNums {
		if lost[n] {
			d.keepLostWAL(n)
			continue
		}
		d.removeFile(walPath(d.dir, n))
	}
	for _, n := range sstNums {
		if !live[n] {
			d.removeFile(sstPath(d.dir, n))
		}
	}
	for _, n := range manifestNums {
		if n != d.mu.manifestNum {
			d.removeFile(filepath.Join(d.dir, manifestName(n)))
		}
	}
	if oldManifest != "" {
		d.opts.Logger.Info("storage: recovered", "dir", d.dir, "manifest", oldManifest, "last_seq", uint64(lastSeq))
	}
	if r := d.recovery; r.DamagedManifest != "" {
		d.opts.Logger.Warn("storage: point-in-time recovery rebuilt the version from a damaged MANIFEST",
			"manifest", r.DamagedManifest, "offset", r.ManifestDamageOffset,
			"adopted_tables", r.AdoptedTables, "set_aside_tables", r.SetAsideTables, "moved_to", lostDirName+"/")
	}
	if r := d.recovery; r.DamagedLog != "" {
		d.opts.Logger.Warn("storage: point-in-time recovery discarded writes",
			"log", r.DamagedLog, "offset", r.DamageOffset, "bytes", r.DamagedBytes,
			"later_logs", len(r.DiscardedLogs), "moved_to", lostDirName+"/")
	}
	return nil
}

// keepLostWAL moves a log that point-in-time recovery discarded (all or
// part of it) to lost/, where an operator can still inspect it; the engine
// never reads lost/. If the move fails the log is removed, as a replayed
// log would be.
func (d *DB) keepLostWAL(num uint64) {
	lostDir := filepath.Join(d.dir, lostDirName)
	err := d.fs.MkdirAll(lostDir, 0o755)
	if err == nil {
		err = d.fs.Rename(walPath(d.dir, num), filepath.Join(lostDir, dbfile.WALFile(num)))
	}
	if err != nil {
		d.opts.Logger.Warn("storage: cannot keep a discarded log; removing it", "log", walName(num), "err", err)
		d.removeFile(walPath(d.dir, num))
	}
}

func (d *DB) removeFile(path string) {
	if err := d.fs.Remove(path); err != nil && !errors.Is(err, errNotExist) {
		d.opts.Logger.Warn("storage: remove", "file", path, "err", err)
	}
}

// checkNoOrphanData refuses to create a new database over the data files of
// one whose CURRENT is missing: that is a damaged database, not a new one.
func (d *DB) checkNoOrphanData() error {
	walNums, sstNums, manifestNums, err := d.listFiles()
	if err != nil {
		return err
	}
	if len(sstNums) > 0 || len(manifestNums) > 0 {
		return base.Corruptf(currentFileName, -1, "CURRENT is missing but %d tables and %d manifests exist", len(sstNums), len(manifestNums))
	}
	_ = walNums // WALs without a manifest: a crash during the very first Open; replayed.
	return nil
}

func (d *DB) listFiles() (walNums, sstNums, manifestNums []uint64, err error) {
	names, err := d.fs.List(filepath.Join(d.dir, walDirName))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("storage: list WAL directory: %w", err)
	}
	for _, n := range names {
		if k, num := parseFileName(n); k == kindWAL {
			walNums = append(walNums, num)
		}
	}
	names, err = d.fs.List(filepath.Join(d.dir, sstDirName))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("storage: list table directory: %w", err)
	}
	for _, n := range names {
		switch k, num := parseFileName(n); k {
		case kindSST:
			sstNums = append(sstNums, num)
		case kindTemp:
			d.removeFile(filepath.Join(d.dir, sstDirName, n))
		}
	}
	names, err = d.fs.List(d.dir)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("storage: list %s: %w", d.dir, err)
	}
	for _, n := range names {
		switch k, num := parseFileName(n); k {
		case kindManifest:
			manifestNums = append(manifestNums, num)
		case kindTemp:
			d.removeFile(filepath.Join(d.dir, n))
		}
	}
	slices.Sort(walNums)
	slices.Sort(sstNums)
	slices.Sort(manifestNums)
	return walNums, sstNums, manifestNums, nil
}

// replayManifest rebuilds the version from a MANIFEST and returns it with
// the offset where the edits it applied end. A torn final record is
// dropped (its edit was never acknowledged); damage, the last record
// included, is a *CorruptionError, unless pointInTime: then the version is
// the one the edits before the damage make, and d.recovery says where the
// damage is.
func (d *DB) replayManifest(name string, pointInTime bool) (v *manifest.Version, logNum, nextFileNum uint64, lastSeq base.SeqNum, end int64, err error) {
	rp, err := dbfile.ReplayManifest(d.fs, d.dir, name, pointInTime)
	if err != nil {
		var ce *base.CorruptionError
		if !errors.As(err, &ce) {
			err = fmt.Errorf("storage: read %s: %w", name, err)
		}
		return nil, 0, 0, 0, 0, err
	}
	if rp.Damage != nil {
		d.recovery.DamagedManifest, d.recovery.ManifestDamageOffset = name, rp.Damage.Offset
	}
	// Every table the version names must exist.
	for l := range manifest.NumLevels {
		for _, f := range rp.Version.Levels[l] {
			if _, err := d.fs.Stat(sstPath(d.dir, f.FileNum)); err != nil {
				return nil, 0, 0, 0, 0, base.Corruptf(sstName(f.FileNum), -1, "table at L%d named by %s is missing: %v", l, name, err)
			}
		}
	}
	return rp.Version, rp.LogNum, rp.NextFileNum, rp.LastSeq, rp.End, nil
}

// adoptTables completes a version that point-in-time recovery rebuilt
// from the edits before a MANIFEST's damage. A table that no surviving edit
// names and that was created after the last of them (its number is at
// least nextFileNum) is one of two things. The output of a flush whose
// edit was lost holds writes newer than every table of the version (its
// smallest sequence number is above their largest): it is added to L0,
// since its log may be gone. The output of a compaction holds writes that
// its inputs, still in the version, hold too: it is set aside in lost/,
// as is any such table that fails verification (half written). Tables
// numbered before nextFileNum were obsolete when the last surviving edit
// was written; Open removes them as usual. It returns the new version and
// the largest sequence number adopted.
func (d *DB) adoptTables(v *manifest.Version, nextFileNum uint64, sstNums []uint64) (*manifest.Version, base.SeqNum, error) {
	named := make(map[uint64]bool)
	var maxSeq base.SeqNum
	for l := range manifest.NumLevels {
		for _, f := range v.Levels[l] {
			named[f.FileNum] = true
			maxSeq = max(maxSeq, f.LargestSeq)
		}
	}
	var adopted base.SeqNum
	for _, num := range sstNums {
		if named[num] || num < nextFileNum {
			continue
		}
		meta, err := d.readTableMeta(num)
		if err == nil && meta.SmallestSeq > maxSeq {
			nv, aerr := v.Apply(&manifest.VersionEdit{NewFiles: []manifest.NewFile{{Level: 0, Meta: meta}}})
			if aerr == nil {
				v, maxSeq, adopted = nv, meta.LargestSeq, meta.LargestSeq
				d.recovery.AdoptedTables = append(d.recovery.AdoptedTables, sstName(num))
				continue
			}
			err = aerr
		}
		if err == nil {
			err = fmt.Errorf("its writes (seqs %d-%d) are not newer than the version's (up to %d)", meta.SmallestSeq, meta.LargestSeq, maxSeq)
		}
		lostDir := filepath.Join(d.dir, lostDirName)
		if merr := d.fs.MkdirAll(lostDir, 0o755); merr != nil {
			return nil, 0, fmt.Errorf("storage: create %s: %w", lostDir, merr)
		}
		if merr := d.fs.Rename(sstPath(d.dir, num), filepath.Join(lostDir, dbfile.SSTFile(num))); merr != nil {
			return nil, 0, fmt.Errorf("storage: set aside %s: %w", sstName(num), merr)
		}
		d.recovery.SetAsideTables = append(d.recovery.SetAsideTables, sstName(num))
		d.opts.Logger.Warn("storage: set aside a table the damaged MANIFEST does not name", "table", sstName(num), "reason", err)
	}
	return v, adopted, nil
}

// readTableMeta verifies a table and describes it from its properties.
func (d *DB) readTableMeta(num uint64) (*manifest.FileMetadata, error) {
	f, err := d.fs.Open(sstPath(d.dir, num))
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	r, err := sstable.Open(f, st.Size(), sstable.ReaderOptions{FileNum: num, FileName: sstName(num)})
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	defer r.Close()
	if err := r.Verify(); err != nil {
		return nil, err
	}
	p := r.Properties()
	if p.NumEntries == 0 {
		return nil, base.Corruptf(sstName(num), -1, "empty table")
	}
	return &manifest.FileMetadata{FileNum: num, Size: uint64(st.Size()), Smallest: p.Smallest, Largest: p.Largest,
		SmallestSeq: p.SmallestSeq, LargestSeq: p.LargestSeq}, nil
}

// replayWAL applies one WAL's batches to memtables, flushing them into L0
// tables added to the version. It returns the highest sequence number seen.
// Batches numbered up to skipSeq are skipped: they are in tables
// adoptTables added (a flush writes a log's every batch to one table).
func (d *DB) replayWAL(num uint64, skipSeq base.SeqNum) (base.SeqNum, error) {
	name := walName(num)
	f, err := d.fs.Open(walPath(d.dir, num))
	if err != nil {
		return 0, fmt.Errorf("storage: open %s: %w", name, err)
	}
	defer f.Close()
	r := wal.NewReader(f, name)
	pointInTime := d.opts.WALRecovery == WALRecoveryPointInTime
	r.SetTolerateCorruption(pointInTime)
	d.recovery.Logs++
	mem := newMemTable(num)
	var maxSeq base.SeqNum
	flush := func() error {
		if mem.Empty() {
			return nil
		}
		meta, err := d.writeL0(mem)
		if err != nil {
			return err
		}
		if meta != nil {
			// Recorded in the version now and in the MANIFEST by the
			// snapshot Open writes once every WAL is replayed.
			applied, err := d.mu.version.Apply(&manifest.VersionEdit{NewFiles: []manifest.NewFile{{Level: 0, Meta: meta}}})
			if err != nil {
				return err
			}
			applied.Ref()
			d.mu.version.Unref(func(*manifest.FileMetadata) {})
			d.mu.version = applied
		}
		mem = newMemTable(num)
		return nil
	}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			if n := r.TailDropped(); n > 0 && pointInTime {
				d.recovery.DamagedLog, d.recovery.DamageOffset, d.recovery.DamagedBytes = name, r.TailOffset(), n
			} else if n > 0 {
				d.recovery.TailBytesDropped += n
				d.opts.Logger.Warn("storage: dropped torn WAL tail", "file", name, "bytes", n)
			}
			break
		}
		if err != nil {
			return 0, err
		}
		br, err := newBatchReader(rec)
		if err == nil && pointInTime {
			err = br.validate()
		}
		if err != nil {
			if pointInTime {
				// A record with a valid checksum that does not decode:
				// the history ends before it.
				size := int64(-1)
				if st, serr := f.Stat(); serr == nil {
					size = st.Size()
				}
				d.recovery.DamagedLog, d.recovery.DamageOffset = name, r.Offset()
				d.recovery.DamagedBytes = max(size-r.Offset(), 0)
				break
			}
			return 0, &base.CorruptionError{File: name, Offset: r.Offset(), Err: err}
		}
		if skipSeq > 0 && br.seq <= skipSeq {
			continue
		}
		d.recovery.Records++
		seq := br.seq
		for {
			kind, key, value, ok, err := br.next()
			if err != nil {
				return 0, &base.CorruptionError{File: name, Offset: r.Offset(), Err: err}
			}
			if !ok {
				break
			}
			if br.seqKey {
				mem.AddUncounted(seq, kind, key, value)
			} else {
				mem.Add(seq, kind, key, value)
			}
			maxSeq = max(maxSeq, seq)
			seq++
		}
		if mem.Records() >= d.opts.MemTableRecords || mem.ApproximateBytes() >= d.opts.MemTableBytes {
			if err := flush(); err != nil {
				return 0, err
			}
		}
	}
	if err := flush(); err != nil {
		return 0, err
	}
	return maxSeq, nil
}

// writeNewManifestLocked starts a new MANIFEST holding a snapshot of the
// current version, points CURRENT at it and removes the old one.
// REQUIRES: exclusive access during Open.
func (d *DB) writeNewManifestLocked() error {
	num := d.mu.nextFileNum
	d.mu.nextFileNum++
	snap := manifest.Snapshot(d.mu.version, d.mu.logNum, d.mu.nextFileNum, d.lastSeqForManifest())
	w, err := d.createManifest(num, snap)
	if err != nil {
		return err
	}
	d.installManifestLocked(w, num)
	return nil
}

// createManifest writes MANIFEST-num holding snap, syncs it and points
// CURRENT at it. It needs no lock: the file number is the caller's.
func (d *DB) createManifest(num uint64, snap *manifest.VersionEdit) (*wal.Writer, error) {
	name := manifestName(num)
	f, err := d.fs.Create(filepath.Join(d.dir, name))
	if err != nil {
		return nil, fmt.Errorf("storage: create %s: %w", name, err)
	}
	w := wal.NewWriter(f)
	if _, err := w.WriteRecord(snap.Encode(nil)); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("storage: write %s: %w", name, err)
	}
	if err := w.Sync(); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("storage: sync %s: %w", name, err)
	}
	if err := d.setCurrent(name); err != nil {
		_ = w.Close()
		return nil, err
	}
	return w, nil
}

// installManifestLocked makes w, which CURRENT names, the MANIFEST edits
// are appended to, and removes the old one.
// REQUIRES: d.mu (or exclusive access during Open).
func (d *DB) installManifestLocked(w *wal.Writer, num uint64) {
	if d.mu.manifest != nil {
		_ = d.mu.manifest.Close()
		d.removeFile(filepath.Join(d.dir, manifestName(d.mu.manifestNum)))
	}
	d.mu.manifest = w
	d.mu.manifestNum = num
}

func (d *DB) lastSeqForManifest() base.SeqNum {
	return max(base.SeqNum(d.visibleSeq.Load()), d.lastSeq)
}

// setCurrent atomically points CURRENT at a manifest: write CURRENT.tmp,
// sync it, rename it over CURRENT, sync the directory.
func (d *DB) setCurrent(manifestName string) error {
	tmp := filepath.Join(d.dir, currentFileName+".tmp")
	f, err := d.fs.Create(tmp)
	if err != nil {
		return fmt.Errorf("storage: create CURRENT.tmp: %w", err)
	}
	if _, err := f.Write([]byte(manifestName + "\n")); err != nil {
		_ = f.Close()
		return fmt.Errorf("storage: write CURRENT.tmp: %w", err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("storage: sync CURRENT.tmp: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("storage: close CURRENT.tmp: %w", err)
	}
	killpoint("manifest.current.before")
	if err := d.fs.Rename(tmp, filepath.Join(d.dir, currentFileName)); err != nil {
		return fmt.Errorf("storage: rename CURRENT.tmp: %w", err)
	}
	killpoint("manifest.current.after")
	return d.syncDir(d.dir)
}

func (d *DB) syncDir(dir string) error {
	f, err := d.fs.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("storage: open directory %s: %w", dir, err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("storage: sync directory %s: %w", dir, err)
	}
	return nil
}

// openWAL creates a WAL file and makes its directory entry durable before
// any write is acknowledged in it. REQUIRES: wmu held or exclusive access.
func (d *DB) openWAL(num uint64) error {
	f, err := d.fs.Create(walPath(d.dir, num))
	if err != nil {
		return fmt.Errorf("storage: create WAL %06d.log: %w", num, err)
	}
	if err := d.syncDir(filepath.Join(d.dir, walDirName)); err != nil {
		_ = f.Close()
		return err
	}
	d.walW = wal.NewWriter(f)
	d.walFile = f
	d.walNum = num
	return nil
}

// compareUser orders user keys.
func compareUser(a, b []byte) int { return bytes.Compare(a, b) }
