package storage

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/minidbgo/minidbgo/storage/vfs"
	"github.com/minidbgo/minidbgo/storage/vfs/errorfs"
	"github.com/stretchr/testify/require"
)

// TestManifestSyncFailureKeepsNewTables: when the MANIFEST sync of a
// flush's or a compaction's edit fails, the edit may still be on disk
// (fsync failed, the write did not), so the tables it names must not be
// removed: the next Open would find the MANIFEST naming a missing table
// and refuse to open. Tables no edit names are removed by Open.
func TestManifestSyncFailureKeepsNewTables(t *testing.T) {
	for _, op := range []string{"flush", "compact"} {
		t.Run(op, func(t *testing.T) {
			mem := vfs.NewMem()
			var arm atomic.Bool
			fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(o errorfs.Op) error {
				if arm.Load() && o.Kind == errorfs.OpFileSync && strings.Contains(o.Path, "MANIFEST-") {
					arm.Store(false)
					return errorfs.ErrInjected
				}
				return nil
			}))
			db, err := Open("/db", &Options{FS: fs, DirCheckInterval: -1, DisableAutomaticCompactions: true})
			require.NoError(t, err)
			for i := range 100 {
				require.NoError(t, db.Put([]byte(fmt.Sprintf("k%03d", i)), []byte("v")))
			}
			if op == "compact" {
				require.NoError(t, db.Flush())
				require.NoError(t, db.Put([]byte("k000"), []byte("w")))
				require.NoError(t, db.Flush())
				arm.Store(true)
				require.Error(t, db.Compact())
			} else {
				arm.Store(true)
				require.Error(t, db.Flush())
			}
			require.ErrorIs(t, db.ReadOnlyErr(), ErrReadOnly)
			_ = db.Close()

			got := openContents(t, mem, "/db")
			require.Len(t, got, 100)
		})
	}
}
