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
	"strings"

	"github.com/minidbgo/minidbgo/storage/internal/base"
	"github.com/minidbgo/minidbgo/storage/internal/cache"
	"github.com/minidbgo/minidbgo/storage/internal/manifest"
	"github.com/minidbgo/minidbgo/storage/internal/wal"
)

var errNotExist = os.ErrNotExist

// Open opens the database in dir, creating it if it does not exist, and
// recovers whatever the last process left: it replays the MANIFEST, replays
// the WAL into new L0 tables (dropping a torn tail, refusing damage in the
// middle with a *CorruptionError) and removes orphaned files. A nil opts
// selects the defaults.
//
// A directory can be open in one DB at a time: a second Open, from this or
// another process, fails with an error naming the holder's pid.
func Open(dir string, opts *Options) (*DB, error) {
	o := opts.withDefaults()
	d := &DB{dir: dir, opts: o, fs: o.FS,
		flushC: make(chan struct{}, 1), compactC: make(chan struct{}, 1)}
	d.mu.changed = make(chan struct{})
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
	d.blockCache = cache.New(max(o.BlockCacheBytes, 0))
	d.tc = newTableCache(d.fs, dir, d.blockCache, o.MaxOpenTables)

	if err := d.recover(); err != nil {
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
	oldManifest := ""

	current, err := readSmallFile(d, filepath.Join(d.dir, currentFileName))
	switch {
	case err == nil:
		name := strings.TrimSuffix(current, "\n")
		kind, _ := parseFileName(name)
		if kind != kindManifest || strings.ContainsAny(name, "/\\\n") {
			return base.Corruptf(currentFileName, 0, "names %q, not a MANIFEST", current)
		}
		oldManifest = name
		v, logNum, nextFileNum, lastSeq, err = d.replayManifest(name)
		if err != nil {
			return err
		}
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
		seq, err := d.replayWAL(n)
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
		err = d.fs.Rename(walPath(d.dir, num), filepath.Join(lostDir, fmt.Sprintf("%06d.log", num)))
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

func readSmallFile(d *DB, path string) (string, error) {
	f, err := d.fs.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return "", err
	}
	return string(b), nil
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

// replayManifest rebuilds the version from a MANIFEST. A torn final record
// is dropped (its edit was never acknowledged); damage before the end is a
// *CorruptionError.
func (d *DB) replayManifest(name string) (*manifest.Version, uint64, uint64, base.SeqNum, error) {
	f, err := d.fs.Open(filepath.Join(d.dir, name))
	if err != nil {
		if errors.Is(err, errNotExist) {
			return nil, 0, 0, 0, base.Corruptf(name, -1, "named by CURRENT but missing")
		}
		return nil, 0, 0, 0, fmt.Errorf("storage: open %s: %w", name, err)
	}
	defer f.Close()
	r := wal.NewReader(f, name)
	v := &manifest.Version{}
	var logNum, nextFileNum uint64
	var lastSeq base.SeqNum
	n := 0
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, 0, 0, err
		}
		var e manifest.VersionEdit
		if err := e.Decode(rec); err != nil {
			return nil, 0, 0, 0, &base.CorruptionError{File: name, Offset: r.Offset(), Err: err}
		}
		nv, err := v.Apply(&e)
		if err != nil {
			return nil, 0, 0, 0, &base.CorruptionError{File: name, Offset: r.Offset(), Err: err}
		}
		v = nv
		if e.LogNum != 0 {
			logNum = e.LogNum
		}
		if e.NextFileNum != 0 {
			nextFileNum = e.NextFileNum
		}
		if e.LastSeq != 0 {
			lastSeq = e.LastSeq
		}
		n++
	}
	if n == 0 {
		return nil, 0, 0, 0, base.Corruptf(name, 0, "no complete version edit")
	}
	// Every table the version names must exist.
	for l := range manifest.NumLevels {
		for _, f := range v.Levels[l] {
			if _, err := d.fs.Stat(sstPath(d.dir, f.FileNum)); err != nil {
				return nil, 0, 0, 0, base.Corruptf(sstName(f.FileNum), -1, "table at L%d named by %s is missing: %v", l, name, err)
			}
		}
	}
	return v, logNum, nextFileNum, lastSeq, nil
}

// replayWAL applies one WAL's batches to memtables, flushing them into L0
// tables added to the version. It returns the highest sequence number seen.
func (d *DB) replayWAL(num uint64) (base.SeqNum, error) {
	name := fmt.Sprintf("%s/%06d.log", walDirName, num)
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
			mem.Add(seq, kind, key, value)
			maxSeq = max(maxSeq, seq)
			seq++
		}
		if mem.Len() >= d.opts.MemTableRecords || mem.ApproximateBytes() >= d.opts.MemTableBytes {
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
// REQUIRES: d.mu (or exclusive access during Open).
func (d *DB) writeNewManifestLocked() error {
	num := d.mu.nextFileNum
	d.mu.nextFileNum++
	name := manifestName(num)
	path := filepath.Join(d.dir, name)
	f, err := d.fs.Create(path)
	if err != nil {
		return fmt.Errorf("storage: create %s: %w", name, err)
	}
	w := wal.NewWriter(f)
	snap := manifest.Snapshot(d.mu.version, d.mu.logNum, d.mu.nextFileNum, d.lastSeqForManifest())
	if _, err := w.WriteRecord(snap.Encode(nil)); err != nil {
		_ = w.Close()
		return fmt.Errorf("storage: write %s: %w", name, err)
	}
	if err := w.Sync(); err != nil {
		_ = w.Close()
		return fmt.Errorf("storage: sync %s: %w", name, err)
	}
	if err := d.setCurrent(name); err != nil {
		_ = w.Close()
		return err
	}
	if d.mu.manifest != nil {
		_ = d.mu.manifest.Close()
		d.removeFile(filepath.Join(d.dir, manifestName(d.mu.manifestNum)))
	}
	d.mu.manifest = w
	d.mu.manifestNum = num
	return nil
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
