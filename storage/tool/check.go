// Package tool inspects and checks a data directory offline: the CURRENT
// file, every MANIFEST, WAL and SSTable, without opening the engine. It is
// what `minidbgo check` and `minidbgo inspect` run.
//
//	rep, err := tool.Check(vfs.Default, "data/MiniDBGo")
//	for _, f := range rep.Damaged() {
//		fmt.Println(f.Path, f.Err) // a *storage.CorruptionError: file and offset
//	}
//	for _, f := range rep.Orphans() {
//		fmt.Println(f.Path, f.OrphanErr) // crash leftovers Open removes
//	}
//	lay, err := tool.Inspect(vfs.Default, "data/MiniDBGo")
//	fmt.Println(lay.Levels[0].Files)
//
// # Caveats
//
// Neither function takes the directory's lock: run them on a directory no
// engine has open (take the lock with vfs.FS.Lock first), or a compaction
// may remove files while they are read.
package tool

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/minidbgo/minidbgo/storage"
	"github.com/minidbgo/minidbgo/storage/internal/base"
	"github.com/minidbgo/minidbgo/storage/internal/dbfile"
	"github.com/minidbgo/minidbgo/storage/internal/manifest"
	"github.com/minidbgo/minidbgo/storage/internal/sstable"
	"github.com/minidbgo/minidbgo/storage/internal/wal"
	"github.com/minidbgo/minidbgo/storage/vfs"
)

// ErrNotDataDir is returned by Check and Inspect for a directory that holds
// no CURRENT, MANIFEST, WAL or SSTable.
var ErrNotDataDir = errors.New("tool: not a MiniDBGo data directory")

// FileKind says what a file of a data directory is.
type FileKind string

// The kinds of file Check reports.
const (
	KindCurrent  FileKind = "CURRENT"
	KindManifest FileKind = "MANIFEST"
	KindWAL      FileKind = "WAL"
	KindSST      FileKind = "SST"
)

// FileReport is the result of checking one file.
type FileReport struct {
	// Path is the file's path relative to the data directory, e.g.
	// "sst/000004.sst".
	Path string
	Kind FileKind
	// Size is the file's size in bytes (0 for a missing file).
	Size int64
	// Live is set for the files the database uses: the MANIFEST named by
	// CURRENT, the tables it lists and the WALs at or after its log
	// number (every table and WAL when that MANIFEST is unreadable). Open
	// removes the others.
	Live bool
	// Records counts WAL and MANIFEST records, or a table's entries.
	Records int64
	// TailDropped is the number of bytes of a torn WAL or MANIFEST tail
	// that recovery ignores (not damage: an interrupted last write).
	TailDropped int64
	// Err is nil when every checksum and structure check passed; for
	// damage it is a *storage.CorruptionError naming the file and the
	// offset (-1 when the whole file is at fault, e.g. missing).
	Err error
	// Orphan is set, when the live MANIFEST is sound, for a file Open
	// removes without reading it: a table no edit names (written by a
	// flush or compaction that a crash interrupted before its edit was
	// durable, or retired by one) or a log before the log number. A crash
	// can leave such a file half written, so what checking it found is
	// OrphanErr, not Err: it is not damage.
	Orphan    bool
	OrphanErr error
}

// OK reports whether the file passed.
func (f FileReport) OK() bool { return f.Err == nil }

// Report is the result of Check: every file, in the order checked
// (CURRENT, manifests, WALs, tables).
type Report struct {
	Dir   string
	Files []FileReport
}

// Orphans returns the orphaned files (see FileReport.Orphan).
func (r Report) Orphans() []FileReport {
	var out []FileReport
	for _, f := range r.Files {
		if f.Orphan {
			out = append(out, f)
		}
	}
	return out
}

// Damaged returns the files that failed.
func (r Report) Damaged() []FileReport {
	var out []FileReport
	for _, f := range r.Files {
		if f.Err != nil {
			out = append(out, f)
		}
	}
	return out
}

// OK reports whether every file passed.
func (r Report) OK() bool { return len(r.Damaged()) == 0 }

// dirFiles are the engine's files in a data directory, by kind, sorted by
// file number.
type dirFiles struct {
	manifests, wals, ssts []string // names, without directory
	hasCurrent            bool
}

func listDir(fs vfs.FS, dir string) (dirFiles, error) {
	var d dirFiles
	names, err := fs.List(dir)
	if err != nil {
		return d, fmt.Errorf("tool: list %s: %w", dir, err)
	}
	for _, n := range names {
		if n == dbfile.CurrentFileName {
			d.hasCurrent = true
		} else if kind, _ := dbfile.Parse(n); kind == dbfile.KindManifest {
			d.manifests = append(d.manifests, n)
		}
	}
	list := func(sub string, want dbfile.Kind) ([]string, error) {
		names, err := fs.List(filepath.Join(dir, sub))
		if err != nil {
			if errors.Is(err, errNotExist) {
				return nil, nil
			}
			return nil, fmt.Errorf("tool: list %s: %w", filepath.Join(dir, sub), err)
		}
		var out []string
		for _, n := range names {
			if kind, _ := dbfile.Parse(n); kind == want {
				out = append(out, n)
			}
		}
		return out, nil
	}
	if d.wals, err = list(dbfile.WALDirName, dbfile.KindWAL); err != nil {
		return d, err
	}
	if d.ssts, err = list(dbfile.SSTDirName, dbfile.KindSST); err != nil {
		return d, err
	}
	if !d.hasCurrent && len(d.manifests) == 0 && len(d.wals) == 0 && len(d.ssts) == 0 {
		return d, fmt.Errorf("%w: %s", ErrNotDataDir, dir)
	}
	return d, nil
}

// fileNum is the number of a WAL, table or MANIFEST name.
func fileNum(name string) uint64 {
	_, n := dbfile.Parse(name)
	return n
}

// state is what replaying the live MANIFEST yields.
type state struct {
	manifest string // name named by CURRENT, "" if unreadable
	dbfile.Replayed
}

// readCurrent returns the MANIFEST name CURRENT holds.
func readCurrent(fs vfs.FS, dir string) (string, error) {
	name, err := dbfile.ReadCurrent(fs, dir)
	if errors.Is(err, errNotExist) {
		return "", base.Corruptf(dbfile.CurrentFileName, -1, "CURRENT is missing")
	}
	return name, err
}

// replayManifest reads every record of a MANIFEST, decodes each edit and
// applies it. Corruption is a *storage.CorruptionError naming the file.
func replayManifest(fs vfs.FS, dir, name string) (state, int64, error) {
	rp, err := dbfile.ReplayManifest(fs, dir, name, false)
	return state{manifest: name, Replayed: rp}, rp.TailDropped, err
}

// Check verifies every checksum of the data directory dir: CURRENT, every
// MANIFEST record (and that its edits make a valid version), every WAL
// record, and every block of every table (with sstable Verify: checksums,
// block structure, key order, index and properties), plus the agreement
// between the MANIFEST and the tables (present, same size, same key
// range), and the cross-check Open makes between the MANIFEST and the
// logs (a version whose log is gone while a later log exists lost an
// edit). Damage is reported per file in the Report; a file Open removes
// unread when the MANIFEST is sound is an orphan (Report.Orphans), which a
// crash can leave half written and which is not damage. The error is for
// problems that stop the check itself (an unreadable directory,
// ErrNotDataDir).
func Check(fs vfs.FS, dir string) (Report, error) {
	rep := Report{Dir: dir}
	files, err := listDir(fs, dir)
	if err != nil {
		return rep, err
	}

	// CURRENT and the live MANIFEST.
	cur := FileReport{Path: dbfile.CurrentFileName, Kind: KindCurrent, Live: true}
	if fi, err := fs.Stat(filepath.Join(dir, dbfile.CurrentFileName)); err == nil {
		cur.Size = fi.Size()
	}
	live, err := readCurrent(fs, dir)
	if err != nil && !isCorruption(err) {
		return rep, fmt.Errorf("tool: read CURRENT: %w", err)
	}
	cur.Err = err
	rep.Files = append(rep.Files, cur)

	var st state
	haveVersion := false
	if live != "" && !contains(files.manifests, live) {
		rep.Files = append(rep.Files, FileReport{Path: live, Kind: KindManifest, Live: true,
			Err: base.Corruptf(live, -1, "named by CURRENT but missing")})
	}
	for _, m := range files.manifests {
		fr := FileReport{Path: m, Kind: KindManifest, Live: m == live}
		if fi, err := fs.Stat(filepath.Join(dir, m)); err == nil {
			fr.Size = fi.Size()
		}
		s, tail, err := replayManifest(fs, dir, m)
		if err != nil && !isCorruption(err) {
			return rep, fmt.Errorf("tool: read %s: %w", m, err)
		}
		fr.Err, fr.Records, fr.TailDropped = err, s.Edits, tail
		if m == live && err == nil {
			st, haveVersion = s, true
			// The cross-check Open makes: a missing edit is damage.
			if err := dbfile.CheckLogNum(m, s.End, s.LogNum, fileNums(files.wals)); err != nil {
				fr.Err = err
			}
		}
		rep.Files = append(rep.Files, fr)
	}
	// Files Open removes unread are orphans when the version is sound.
	sound := haveVersion && cur.Err == nil
	for _, f := range rep.Files {
		if f.Kind == KindManifest && f.Live && f.Err != nil {
			sound = false
		}
	}
	orphan := func(fr *FileReport) {
		if sound && !fr.Live {
			fr.Orphan, fr.OrphanErr, fr.Err = true, fr.Err, nil
		}
	}
	for i := range rep.Files {
		if rep.Files[i].Kind == KindManifest {
			orphan(&rep.Files[i]) // a MANIFEST CURRENT does not name
		}
	}

	// WALs: every record's checksum. Those before the log number are
	// obsolete (Open removes them) but are checked all the same.
	for _, n := range files.wals {
		path := filepath.Join(dbfile.WALDirName, n)
		fr := FileReport{Path: path, Kind: KindWAL, Live: !haveVersion || fileNum(n) >= st.LogNum}
		fr.Size, fr.Records, fr.TailDropped, fr.Err = checkWAL(fs, dir, path)
		if fr.Err != nil && !isCorruption(fr.Err) {
			return rep, fmt.Errorf("tool: read %s: %w", path, fr.Err)
		}
		orphan(&fr)
		rep.Files = append(rep.Files, fr)
	}

	// Tables: those the version names, then any others (orphans, which
	// Open removes, checked all the same).
	metas := map[uint64]*manifest.FileMetadata{}
	if haveVersion {
		for l := range manifest.NumLevels {
			for _, f := range st.Version.Levels[l] {
				metas[f.FileNum] = f
			}
		}
	}
	present := map[uint64]bool{}
	for _, n := range files.ssts {
		num := fileNum(n)
		present[num] = true
		path := filepath.Join(dbfile.SSTDirName, n)
		meta := metas[num]
		fr := FileReport{Path: path, Kind: KindSST, Live: !haveVersion || meta != nil}
		fr.Size, fr.Records, fr.Err = checkTable(fs, dir, path, meta)
		if fr.Err != nil && !isCorruption(fr.Err) {
			return rep, fmt.Errorf("tool: read %s: %w", path, fr.Err)
		}
		orphan(&fr)
		rep.Files = append(rep.Files, fr)
	}
	if haveVersion {
		for l := range manifest.NumLevels {
			for _, f := range st.Version.Levels[l] {
				if present[f.FileNum] {
					continue
				}
				path := filepath.Join(dbfile.SSTDirName, dbfile.SSTFile(f.FileNum))
				rep.Files = append(rep.Files, FileReport{Path: path, Kind: KindSST, Live: true,
					Err: base.Corruptf(path, -1, "table at L%d named by %s is missing", l, st.manifest)})
			}
		}
	}
	return rep, nil
}

// checkWAL reads every record of a log.
func checkWAL(fs vfs.FS, dir, path string) (size, records, tail int64, err error) {
	f, err := fs.Open(filepath.Join(dir, path))
	if err != nil {
		return 0, 0, 0, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	r := wal.NewReader(f, path)
	for {
		_, err := r.Next()
		if err == io.EOF {
			return size, records, r.TailDropped(), nil
		}
		if err != nil {
			return size, records, 0, err
		}
		records++
	}
}

// checkTable opens a table, verifies every block, and compares it with
// its MANIFEST entry (nil for an orphan).
func checkTable(fs vfs.FS, dir, path string, meta *manifest.FileMetadata) (size, entries int64, err error) {
	f, err := fs.Open(filepath.Join(dir, path))
	if err != nil {
		return 0, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return 0, 0, err
	}
	size = fi.Size()
	if meta != nil && uint64(size) != meta.Size {
		f.Close()
		return size, 0, base.Corruptf(path, -1, "is %d bytes; the MANIFEST recorded %d", size, meta.Size)
	}
	r, err := sstable.Open(f, size, sstable.ReaderOptions{FileNum: fileNum(filepath.Base(path)), FileName: path})
	if err != nil {
		f.Close()
		return size, 0, err
	}
	defer r.Close()
	if err := r.Verify(); err != nil {
		return size, 0, err
	}
	p := r.Properties()
	if meta != nil && p.NumEntries > 0 {
		if base.Compare(p.Smallest, meta.Smallest) != 0 || base.Compare(p.Largest, meta.Largest) != 0 {
			return size, int64(p.NumEntries), base.Corruptf(path, -1, "key range %s differs from the MANIFEST's %s", rangeString(p.Smallest, p.Largest), meta)
		}
	}
	return size, int64(p.NumEntries), nil
}

func rangeString(smallest, largest []byte) string {
	return fmt.Sprintf("[%q-%q]", base.UserKey(smallest), base.UserKey(largest))
}

// fileNums are the numbers of names, in their order.
func fileNums(names []string) []uint64 {
	nums := make([]uint64, len(names))
	for i, n := range names {
		nums[i] = fileNum(n)
	}
	return nums
}

func isCorruption(err error) bool { return errors.Is(err, storage.ErrCorruption) }

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
