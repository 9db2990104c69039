package docstore

import (
	"strconv"
	"strings"

	"github.com/minidbgo/minidbgo/storage"
)

// The engine's lifecycle and health, as the server and the shell need
// them: callers of docstore never hold the storage engine itself.

// Flush writes the engine's memtable to a table and waits for it (see
// storage.DB.Flush): a clean shutdown does it so that the next start
// replays no log.
func (db *DB) Flush() error { return db.engine.Flush() }

// Compact compacts the whole database and waits for it (POST
// /api/_compact, the shell's compact).
func (db *DB) Compact() error { return db.engine.Compact() }

// Metrics returns the engine's counters and gauges.
func (db *DB) Metrics() storage.Metrics { return db.engine.Metrics() }

// Ready returns nil while the database serves reads and writes. Otherwise
// it says why not: an error matching storage.ErrReadOnly once an I/O
// error, a full disk or a lost data directory (storage.ErrDataDirLost)
// stopped writes until a restart, or a *DegradedError once a damaged
// table was found. It reads two flags and takes no engine-wide lock.
func (db *DB) Ready() error {
	if err := db.engine.ReadOnlyErr(); err != nil {
		return err
	}
	if damage := db.engine.Damage(); len(damage) > 0 {
		return &DegradedError{Tables: damage}
	}
	return nil
}

// DegradedError is Ready's answer once damaged tables were found: the
// engine serves every undamaged document, reads of the damaged blocks
// fail, and writes stop once L0 is full (storage.ErrDegraded, which it
// matches with errors.Is).
type DegradedError struct {
	// Tables are the damaged tables, each with its file (as
	// "sst/000012.sst") and the offset of the damage (-1 when unknown).
	Tables []storage.CorruptionError
}

// Error names the damaged tables and the offsets of their damage.
func (e *DegradedError) Error() string {
	var b strings.Builder
	b.WriteString("degraded: damaged table ")
	for i, ce := range e.Tables {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(ce.File)
		if ce.Offset >= 0 {
			b.WriteString(" (offset " + strconv.FormatInt(ce.Offset, 10) + ")")
		}
	}
	return b.String()
}

// Unwrap makes a DegradedError match storage.ErrDegraded.
func (e *DegradedError) Unwrap() error { return storage.ErrDegraded }
