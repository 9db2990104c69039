package tool

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/minidbgo/minidbgo/storage"
	"github.com/minidbgo/minidbgo/storage/internal/dbfile"
	"github.com/minidbgo/minidbgo/storage/vfs"
)

// Repair recovers a directory whose write-ahead log or MANIFEST is
// damaged, which a default Open refuses. It opens dir with
// storage.WALRecoveryPointInTime, which keeps every batch before the
// first damaged record and moves the damaged log and every later one to
// dir/lost/, rebuilds the version from the MANIFEST's edits before its
// damage (adopting the tables of flushes whose edit was lost, moving other
// tables it cannot place to dir/lost/), then closes it, and reports what
// was replayed and discarded. It takes the directory's lock, so it fails
// on a directory in use. A damaged CURRENT or SSTable, or a MANIFEST
// without one sound edit, is not something it can repair: Open's error is
// returned as is.
func Repair(fs vfs.FS, dir string, logger *slog.Logger) (storage.Recovery, error) {
	db, err := storage.Open(dir, &storage.Options{FS: fs, WALRecovery: storage.WALRecoveryPointInTime, Logger: logger,
		DisableAutomaticCompactions: true})
	if err != nil {
		return storage.Recovery{}, err
	}
	r := db.Recovery()
	if err := db.Close(); err != nil {
		return r, fmt.Errorf("tool: close %s after recovery: %w", dir, err)
	}
	return r, nil
}

// Advice returns a sentence telling an operator what to do about err, an
// error from opening the data directory dir, or "" when there is nothing
// specific to say. A damaged write-ahead log or MANIFEST can be repaired;
// other damage can only be located.
func Advice(err error, dir string) string {
	var ce *storage.CorruptionError
	if !errors.As(err, &ce) {
		return ""
	}
	if strings.HasPrefix(ce.File, dbfile.WALDirName+"/") {
		return fmt.Sprintf("the write-ahead log is damaged before its end; `minidbgo repair --wal=point-in-time --dir %s` keeps every write before the damage and moves the rest to %s/lost/ (stop the server first; back up the directory if you can)", dir, dir)
	}
	if strings.HasPrefix(ce.File, "MANIFEST-") && ce.Offset > 0 {
		return fmt.Sprintf("the MANIFEST is damaged or lost an edit; `minidbgo repair --wal=point-in-time --dir %s` rebuilds it from the edits before the damage, keeps the tables of lost flushes and moves what it cannot place to %s/lost/ (stop the server first; back up the directory if you can)", dir, dir)
	}
	return fmt.Sprintf("`minidbgo check --dir %s` lists every damaged file; restore it from a dump (see docs/operations.md)", dir)
}
