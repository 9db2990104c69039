package storage

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

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
//
// With Options.DirMarker a marker lives beside the directory, in its
// parent: ".<name>.minidbgo", plain text, written once a database exists
// (see datadir.go and MarkerPath).
const (
	lockFileName    = "LOCK"
	currentFileName = "CURRENT"
	walDirName      = "wal"
	sstDirName      = "sst"
	lostDirName     = "lost"
)

type fileKind int

const (
	kindUnknown fileKind = iota
	kindWAL
	kindSST
	kindManifest
	kindTemp
)

func walPath(dir string, num uint64) string {
	return filepath.Join(dir, walDirName, fmt.Sprintf("%06d.log", num))
}

func walName(num uint64) string { return fmt.Sprintf("%s/%06d.log", walDirName, num) }

func sstPath(dir string, num uint64) string {
	return filepath.Join(dir, sstDirName, fmt.Sprintf("%06d.sst", num))
}

// sstName is a table's name relative to the data directory, as errors and
// logs give it: "sst/000125.sst".
func sstName(num uint64) string { return fmt.Sprintf("%s/%06d.sst", sstDirName, num) }

func manifestName(num uint64) string { return fmt.Sprintf("MANIFEST-%06d", num) }

// parseFileName recognises the names the engine writes.
func parseFileName(name string) (fileKind, uint64) {
	switch {
	case strings.HasSuffix(name, ".tmp"):
		return kindTemp, 0
	case strings.HasPrefix(name, "MANIFEST-"):
		if n, err := strconv.ParseUint(name[len("MANIFEST-"):], 10, 64); err == nil {
			return kindManifest, n
		}
	case strings.HasSuffix(name, ".log"):
		if n, err := strconv.ParseUint(strings.TrimSuffix(name, ".log"), 10, 64); err == nil {
			return kindWAL, n
		}
	case strings.HasSuffix(name, ".sst"):
		if n, err := strconv.ParseUint(strings.TrimSuffix(name, ".sst"), 10, 64); err == nil {
			return kindSST, n
		}
	}
	return kindUnknown, 0
}
