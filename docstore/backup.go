package docstore

import (
	"context"
	"io"

	"github.com/minidbgo/minidbgo/storage"
)

// Checkpoint writes a consistent copy of the database into dir, which
// must not exist or be empty: a data directory that Open opens as this
// database at the moment of the call. See storage.DB.Checkpoint.
func (db *DB) Checkpoint(dir string) error { return db.engine.Checkpoint(dir) }

// Backup streams a physical backup of the database to w: a checkpoint as
// a tar archive with a CRC-32C per file, zstd-compressed unless
// o.Uncompressed. storage.RestoreBackup (minidbgo restore) unpacks it
// into a data directory Open opens. See storage.DB.Backup.
func (db *DB) Backup(ctx context.Context, w io.Writer, o *storage.BackupOptions) (storage.BackupStats, error) {
	return db.engine.Backup(ctx, w, o)
}
