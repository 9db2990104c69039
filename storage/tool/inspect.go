package tool

import (
	"os"
	"path/filepath"

	"github.com/minidbgo/minidbgo/storage/internal/dbfile"
	"github.com/minidbgo/minidbgo/storage/internal/manifest"
	"github.com/minidbgo/minidbgo/storage/internal/sstable"
	"github.com/minidbgo/minidbgo/storage/vfs"
)

var errNotExist = os.ErrNotExist

// NumLevels is the number of levels of the LSM tree, level 0 included.
const NumLevels = manifest.NumLevels

// Layout describes a data directory: the live MANIFEST's version (levels
// and tables), its counters, and the WAL files.
type Layout struct {
	Dir string `json:"dir"`
	// Manifest is the MANIFEST named by CURRENT.
	Manifest     string `json:"manifest"`
	ManifestSize int64  `json:"manifestSize"`
	// LogNum is the oldest WAL still needed; NextFileNum the next file
	// number; LastSeq the last sequence number the MANIFEST recorded
	// (WAL records after it are replayed at Open).
	LogNum      uint64 `json:"logNum"`
	NextFileNum uint64 `json:"nextFileNum"`
	LastSeq     uint64 `json:"lastSeq"`
	// Levels has NumLevels entries, level 0 first.
	Levels []LevelLayout `json:"levels"`
	WALs   []WALInfo     `json:"wals"`
	// Tables and TableBytes total the levels.
	Tables     int    `json:"tables"`
	TableBytes uint64 `json:"tableBytes"`
	WALBytes   int64  `json:"walBytes"`
}

// LevelLayout is one level of the tree.
type LevelLayout struct {
	Level int         `json:"level"`
	Bytes uint64      `json:"bytes"`
	Files []TableInfo `json:"files"`
}

// TableInfo describes one table: its MANIFEST entry and, when the table
// could be opened, its properties.
type TableInfo struct {
	FileNum uint64 `json:"fileNum"`
	Path    string `json:"path"`
	Size    uint64 `json:"size"`
	// Smallest and Largest are the table's first and last user keys.
	Smallest    []byte `json:"smallest"`
	Largest     []byte `json:"largest"`
	SmallestSeq uint64 `json:"smallestSeq"`
	LargestSeq  uint64 `json:"largestSeq"`
	// Entries, Deletions, DataBlocks and Compression come from the table's
	// properties block; Error says why they could not be read.
	Entries     uint64 `json:"entries"`
	Deletions   uint64 `json:"deletions"`
	DataBlocks  uint64 `json:"dataBlocks"`
	Compression string `json:"compression,omitempty"`
	Error       string `json:"error,omitempty"`
}

// WALInfo describes one write-ahead log.
type WALInfo struct {
	FileNum uint64 `json:"fileNum"`
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	// Live is set for logs at or after LogNum, which Open replays.
	Live bool `json:"live"`
}

// Inspect reads the data directory dir's CURRENT and MANIFEST and returns
// its layout, with each table's properties. It verifies only what it
// reads (the MANIFEST's records, each table's footer, index and
// properties); Check verifies everything. A damaged CURRENT or MANIFEST
// is an error matching storage.ErrCorruption.
func Inspect(fs vfs.FS, dir string) (Layout, error) {
	lay := Layout{Dir: dir}
	files, err := listDir(fs, dir)
	if err != nil {
		return lay, err
	}
	live, err := readCurrent(fs, dir)
	if err != nil {
		return lay, err
	}
	st, _, err := replayManifest(fs, dir, live)
	if err != nil {
		return lay, err
	}
	lay.Manifest, lay.LogNum, lay.NextFileNum, lay.LastSeq = live, st.LogNum, st.NextFileNum, uint64(st.LastSeq)
	if fi, err := fs.Stat(filepath.Join(dir, live)); err == nil {
		lay.ManifestSize = fi.Size()
	}
	lay.Levels = make([]LevelLayout, NumLevels)
	for l := range NumLevels {
		ll := LevelLayout{Level: l, Bytes: st.Version.LevelSize(l), Files: []TableInfo{}}
		for _, f := range st.Version.Levels[l] {
			ll.Files = append(ll.Files, tableInfo(fs, dir, f))
		}
		lay.Tables += len(ll.Files)
		lay.TableBytes += ll.Bytes
		lay.Levels[l] = ll
	}
	lay.WALs = []WALInfo{}
	for _, n := range files.wals {
		w := WALInfo{FileNum: fileNum(n), Path: filepath.Join(dbfile.WALDirName, n)}
		w.Live = w.FileNum >= st.LogNum
		if fi, err := fs.Stat(filepath.Join(dir, w.Path)); err == nil {
			w.Size = fi.Size()
		}
		lay.WALBytes += w.Size
		lay.WALs = append(lay.WALs, w)
	}
	return lay, nil
}

func tableInfo(fs vfs.FS, dir string, f *manifest.FileMetadata) TableInfo {
	path := filepath.Join(dbfile.SSTDirName, dbfile.SSTFile(f.FileNum))
	ti := TableInfo{FileNum: f.FileNum, Path: path, Size: f.Size,
		Smallest: f.SmallestUserKey(), Largest: f.LargestUserKey(),
		SmallestSeq: uint64(f.SmallestSeq), LargestSeq: uint64(f.LargestSeq)}
	file, err := fs.Open(filepath.Join(dir, path))
	if err != nil {
		ti.Error = err.Error()
		return ti
	}
	r, err := sstable.Open(file, int64(f.Size), sstable.ReaderOptions{FileNum: f.FileNum, FileName: path})
	if err != nil {
		file.Close()
		ti.Error = err.Error()
		return ti
	}
	defer r.Close()
	p := r.Properties()
	ti.Entries, ti.Deletions, ti.DataBlocks = p.NumEntries, p.NumDeletions, p.NumDataBlocks
	ti.Compression = p.Compression.String()
	return ti
}
