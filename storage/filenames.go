package storage

import "github.com/minidbgo/minidbgo/storage/internal/dbfile"

// The files of a data directory are named by internal/dbfile, which the
// offline tools share; its package doc draws the layout.
//
// With Options.DirMarker a marker lives beside the directory, in its
// parent: ".<name>.minidbgo", plain text, written once a database exists
// (see datadir.go and MarkerPath).
const (
	lockFileName    = dbfile.LockFileName
	currentFileName = dbfile.CurrentFileName
	walDirName      = dbfile.WALDirName
	sstDirName      = dbfile.SSTDirName
	lostDirName     = dbfile.LostDirName
)

const (
	kindWAL      = dbfile.KindWAL
	kindSST      = dbfile.KindSST
	kindManifest = dbfile.KindManifest
	kindTemp     = dbfile.KindTemp
)

func walPath(dir string, num uint64) string { return dbfile.WALPath(dir, num) }

func walName(num uint64) string { return dbfile.WALName(num) }

func sstPath(dir string, num uint64) string { return dbfile.SSTPath(dir, num) }

// sstName is a table's name relative to the data directory, as errors and
// logs give it: "sst/000125.sst".
func sstName(num uint64) string { return dbfile.SSTName(num) }

func manifestName(num uint64) string { return dbfile.ManifestName(num) }

// parseFileName recognises the names the engine writes.
func parseFileName(name string) (dbfile.Kind, uint64) { return dbfile.Parse(name) }
