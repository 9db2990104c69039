// Package dbfile names the files of a data directory and reads the two
// that say what the database holds: CURRENT and the MANIFEST it names.
// The engine's Open and the offline tools (storage/tool: check, inspect,
// repair) share it, so that they agree on what a directory holds.
//
// A data directory holds:
//
//	LOCK               exclusive lock; holds the owner's pid
//	CURRENT            name of the live MANIFEST, written via CURRENT.tmp + rename
//	MANIFEST-000123    log of version edits (WAL framing)
//	wal/000124.log     write-ahead logs (WAL framing), one per memtable
//	sst/000125.sst     SSTables
//	lost/000124.log    logs discarded by point-in-time WAL recovery, kept
//	                   for inspection and never read by the engine
//
// File numbers come from one counter recorded in the MANIFEST, so a number
// is never reused.
package dbfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/minidbgo/minidbgo/storage/internal/base"
	"github.com/minidbgo/minidbgo/storage/internal/manifest"
	"github.com/minidbgo/minidbgo/storage/internal/wal"
	"github.com/minidbgo/minidbgo/storage/vfs"
)

// The fixed names of a data directory.
const (
	LockFileName    = "LOCK"
	CurrentFileName = "CURRENT"
	WALDirName      = "wal"
	SSTDirName      = "sst"
	LostDirName     = "lost"
)

// Kind says what a file name is.
type Kind int

// The kinds of name Parse recognises.
const (
	KindUnknown Kind = iota
	KindWAL
	KindSST
	KindManifest
	KindTemp
)

// Parse recognises the names the engine writes: "000124.log",
// "000125.sst", "MANIFEST-000123" and any "*.tmp", and returns the file
// number (0 for a temporary file).
func Parse(name string) (Kind, uint64) {
	switch {
	case strings.HasSuffix(name, ".tmp"):
		return KindTemp, 0
	case strings.HasPrefix(name, "MANIFEST-"):
		if n, err := strconv.ParseUint(name[len("MANIFEST-"):], 10, 64); err == nil {
			return KindManifest, n
		}
	case strings.HasSuffix(name, ".log"):
		if n, err := strconv.ParseUint(strings.TrimSuffix(name, ".log"), 10, 64); err == nil {
			return KindWAL, n
		}
	case strings.HasSuffix(name, ".sst"):
		if n, err := strconv.ParseUint(strings.TrimSuffix(name, ".sst"), 10, 64); err == nil {
			return KindSST, n
		}
	}
	return KindUnknown, 0
}

// WALFile is a log's base name: "000124.log".
func WALFile(num uint64) string { return fmt.Sprintf("%06d.log", num) }

// SSTFile is a table's base name: "000125.sst".
func SSTFile(num uint64) string { return fmt.Sprintf("%06d.sst", num) }

// WALName is a log's name relative to the data directory, as errors and
// logs give it: "wal/000124.log".
func WALName(num uint64) string { return WALDirName + "/" + WALFile(num) }

// SSTName is a table's name relative to the data directory, as errors and
// logs give it: "sst/000125.sst".
func SSTName(num uint64) string { return SSTDirName + "/" + SSTFile(num) }

// ManifestName is a MANIFEST's name: "MANIFEST-000123".
func ManifestName(num uint64) string { return fmt.Sprintf("MANIFEST-%06d", num) }

// WALPath is the path of log num in the data directory dir.
func WALPath(dir string, num uint64) string { return filepath.Join(dir, WALDirName, WALFile(num)) }

// SSTPath is the path of table num in the data directory dir.
func SSTPath(dir string, num uint64) string { return filepath.Join(dir, SSTDirName, SSTFile(num)) }

// ReadCurrent returns the MANIFEST name that dir's CURRENT holds. A
// CURRENT that names anything else is a *base.CorruptionError; a missing
// one is the filesystem's error (errors.Is(err, fs.ErrNotExist)), as is a
// failed read.
func ReadCurrent(fs vfs.FS, dir string) (string, error) {
	b, err := ReadSmallFile(fs, filepath.Join(dir, CurrentFileName))
	if err != nil {
		return "", err
	}
	name := strings.TrimSuffix(b, "\n")
	if kind, _ := Parse(name); kind != KindManifest {
		return "", base.Corruptf(CurrentFileName, 0, "names %q, not a MANIFEST", b)
	}
	return name, nil
}

// ReadSmallFile returns the first 4 KiB of a small text file, such as
// CURRENT or the directory marker.
func ReadSmallFile(fs vfs.FS, path string) (string, error) {
	f, err := fs.Open(path)
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

// Replayed is what replaying a MANIFEST yields.
type Replayed struct {
	// Version is the version its edits make.
	Version *manifest.Version
	// LogNum, NextFileNum and LastSeq are the last values its edits set.
	LogNum      uint64
	NextFileNum uint64
	LastSeq     base.SeqNum
	// Edits counts the edits applied.
	Edits int64
	// End is the offset where the edits applied end (-1 if unknown).
	End int64
	// TailDropped counts the bytes of a torn final record, which was
	// never acknowledged and is ignored.
	TailDropped int64
	// Damage, set only when ReplayManifest was asked to stop at damage,
	// is the damaged record the replay stopped at; End is its offset.
	Damage *base.CorruptionError
}

// ReplayManifest reads the MANIFEST name in dir, decodes every edit and
// applies it. A torn final record is dropped. Damage, the last record
// included, is a *base.CorruptionError naming the file and offset, unless
// stopAtDamage: then the replay ends before the damaged record and
// Replayed.Damage says where it is. A MANIFEST without one complete edit,
// or missing, is a *base.CorruptionError; other I/O errors are returned as
// the filesystem gave them.
func ReplayManifest(fs vfs.FS, dir, name string, stopAtDamage bool) (Replayed, error) {
	rp := Replayed{Version: &manifest.Version{}, End: -1}
	f, err := fs.Open(filepath.Join(dir, name))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return rp, base.Corruptf(name, -1, "named by CURRENT but missing")
		}
		return rp, err
	}
	defer f.Close()
	r := wal.NewReader(f, name)
	// damaged ends the replay at a damaged edit when stopAtDamage and
	// returns nil; otherwise it returns err.
	damaged := func(err error) error {
		var ce *base.CorruptionError
		if !stopAtDamage || !errors.As(err, &ce) {
			return err
		}
		rp.Damage, rp.End = ce, ce.Offset
		return nil
	}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if err := damaged(err); err != nil {
				return rp, err
			}
			break
		}
		var e manifest.VersionEdit
		nv, err := rp.Version, e.Decode(rec)
		if err == nil {
			nv, err = rp.Version.Apply(&e)
		}
		if err != nil {
			if err := damaged(&base.CorruptionError{File: name, Offset: r.Offset(), Err: err}); err != nil {
				return rp, err
			}
			break
		}
		rp.Version = nv
		if e.LogNum != 0 {
			rp.LogNum = e.LogNum
		}
		if e.NextFileNum != 0 {
			rp.NextFileNum = e.NextFileNum
		}
		if e.LastSeq != 0 {
			rp.LastSeq = e.LastSeq
		}
		rp.Edits++
	}
	rp.TailDropped = r.TailDropped()
	if rp.Edits == 0 {
		return rp, base.Corruptf(name, 0, "no complete version edit")
	}
	switch {
	case rp.Damage != nil:
	case rp.TailDropped > 0:
		rp.End = r.TailOffset()
	default:
		if st, err := f.Stat(); err == nil {
			rp.End = st.Size()
		}
	}
	return rp, nil
}

// CheckLogNum cross-checks a recovered version against the logs on disk
// (walNums, sorted). A log is removed only after an edit retiring it is
// durable, and logs are numbered in the order they are created, so if the
// version's log is gone while a later one exists, an edit that retired it
// is missing from the MANIFEST (damaged, or cut off at a record boundary):
// the version is not the last durable one, and the tables it lacks are not
// orphans. end is the offset where the MANIFEST's surviving edits end.
func CheckLogNum(manifestName string, end int64, logNum uint64, walNums []uint64) error {
	if logNum == 0 || slices.Contains(walNums, logNum) {
		return nil
	}
	for _, n := range walNums {
		if n > logNum {
			return base.Corruptf(manifestName, end, "its edits end naming log %06d, which is gone although the later log %06d exists: "+
				"an edit is missing (damage, not a torn write)", logNum, n)
		}
	}
	return nil
}
