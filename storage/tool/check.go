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
	"strconv"
	"strings"

	"github.com/minidbgo/minidbgo/storage"
	"github.com/minidbgo/minidbgo/storage/internal/base"
	"github.com/minidbgo/minidbgo/storage/internal/manifest"
	"github.com/minidbgo/minidbgo/storage/internal/sstable"
	"github.com/minidbgo/minidbgo/storage/internal/wal"
	"github.com/minidbgo/minidbgo/storage/vfs"
)

// The names the engine gives the files of a data directory (see
// storage/filenames.go).
const (
	currentFile = "CURRENT"
	walDir      = "wal"
	sstDir      = "sst"
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
		switch {
		case n == currentFile:
			d.hasCurrent = true
		case strings.HasPrefix(n, "MANIFEST-") && isNum(strings.TrimPrefix(n, "MANIFEST-")):
			d.manifests = append(d.manifests, n)
		}
	}
	list := func(sub, suffix string) ([]string, error) {
		names, err := fs.List(filepath.Join(dir, sub))
		if err != nil {
			if errors.Is(err, errNotExist) {
				return nil, nil
			}
			return nil, fmt.Errorf("tool: list %s: %w", filepath.Join(dir, sub), err)
		}
		var out []string
		for _, n := range names {
			if strings.HasSuffix(n, suffix) && isNum(strings.TrimSuffix(n, suffix)) {
				out = append(out, n)
			}
		}
		return out, nil
	}
	if d.wals, err = list(walDir, ".log"); err != nil {
		return d, err
	}
	if d.ssts, err = list(sstDir, ".sst"); err != nil {
		return d, err
	}
	if !d.hasCurrent && len(d.manifests) == 0 && len(d.wals) == 0 && len(d.ssts) == 0 {
		return d, fmt.Errorf("%w: %s", ErrNotDataDir, dir)
	}
	return d, nil
}

func isNum(s string) bool {
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil && s != ""
}

func fileNum(name string) uint64 {
	i := strings.IndexFunc(name, func(r rune) bool { return r < '0' || r > '9' })
	if i < 0 {
		i = len(name)
	}
	n, _ := strconv.ParseUint(name[:i], 10, 64)
	return n
}

// state is what replaying the live MANIFEST yields.
type state struct {
	manifest    string // name named by CURRENT, "" if unreadable
	version     *manifest.Version
	logNum      uint64
	nextFileNum uint64
	lastSeq     uint64
	edits       int64
	end         int64 // offset where the edits applied end
}

// readCurrent returns the MANIFEST name CURRENT holds.
func readCurrent(fs vfs.FS, dir string) (string, error) {
	f, err := fs.Open(filepath.Join(dir, currentFile))
	if err != nil {
		if errors.Is(err, errNotExist) {
			return "", base.Corruptf(currentFile, -1, "CURRENT is missing")
		}
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return "", err
	}
	name := strings.TrimSuffix(string(b), "\n")
	if !strings.HasPrefix(name, "MANIFEST-") || !isNum(strings.TrimPrefix(name, "MANIFEST-")) {
		return "", base.Corruptf(currentFile, 0, "names %q, not a MANIFEST", string(b))
	}
	return name, nil
}

// replayManifest reads every record of a MANIFEST, decodes each edit and
// applies it. Corruption is a *storage.CorruptionError naming the file.
func replayManifest(fs vfs.FS, dir, name string) (state, int64, error) {
	st := state{manifest: name, version: &manifest.Version{}}
	f, err := fs.Open(filepath.Join(dir, name))
	if err != nil {
		if errors.Is(err, errNotExist) {
			return st, 0, base.Corruptf(name, -1, "named by CURRENT but missing")
		}
		return st, 0, err
	}
	defer f.Close()
	r := wal.NewReader(f, name)
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return st, 0, err
		}
		var e manifest.VersionEdit
		if err := e.Decode(rec); err != nil {
			return st, 0, &storage.CorruptionError{File: name, Offset: r.Offset(), Err: err}
		}
		v, err := st.version.Apply(&e)
		if err != nil {
			return st, 0, &storage.CorruptionError{File: name, Offset: r.Offset(), Err: err}
		}
		st.version = v
		if e.LogNum != 0 {
			st.logNum = e.LogNum
		}
		if e.NextFileNum != 0 {
			st.nextFileNum = e.NextFileNum
		}
		if e.LastSeq != 0 {
			st.lastSeq = uint64(e.LastSeq)
		}
		st.edits++
	}
	if st.edits == 0 {
		return st, r.TailDropped(), base.Corruptf(name, 0, "no complete version edit")
	}
	st.end = r.TailOffset()
	if r.TailDropped() == 0 {
		if fi, err := f.Stat(); err == nil {
			st.end = fi.Size()
		}
	}
	return st, r.TailDropped(), nil
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
	cur := FileReport{Path: currentFile, Kind: KindCurrent, Live: true}
	if fi, err := fs.Stat(filepath.Join(dir, currentFile)); err == nil {
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
		fr.Err, fr.Records, fr.TailDropped = err, s.edits, tail
		if m == live && err == nil {
			st, haveVersion = s, true
			// The cross-check Open makes: a missing edit is damage.
			if err := checkLogNum(m, s.end, s.logNum, files.wals); err != nil {
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
		path := filepath.Join(walDir, n)
		fr := FileReport{Path: path, Kind: KindWAL, Live: !haveVersion || fileNum(n) >= st.logNum}
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
			for _, f := range st.version.Levels[l] {
				metas[f.FileNum] = f
			}
		}
	}
	present := map[uint64]bool{}
	for _, n := range files.ssts {
		num := fileNum(n)
		present[num] = true
		path := filepath.Join(sstDir, n)
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
			for _, f := range st.version.Levels[l] {
				if present[f.FileNum] {
					continue
				}
				path := filepath.Join(sstDir, fmt.Sprintf("%06d.sst", f.FileNum))
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

// checkLogNum is the cross-check Open makes (see storage/open.go): a log
// is removed only after an edit retiring it is durable, so a version whose
// log is gone while a later log exists is missing an edit. end is where
// the MANIFEST's edits end.
func checkLogNum(manifestName string, end int64, logNum uint64, wals []string) error {
	if logNum == 0 {
		return nil
	}
	var later uint64
	for _, n := range wals {
		switch num := fileNum(n); {
		case num == logNum:
			return nil
		case num > logNum && later == 0:
			later = num
		}
	}
	if later == 0 {
		return nil
	}
	return base.Corruptf(manifestName, end, "its edits end naming log %06d, which is gone although the later log %06d exists: "+
		"an edit is missing (damage, not a torn write)", logNum, later)
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
