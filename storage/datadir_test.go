package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minidbgo/minidbgo/storage/vfs"
	"github.com/minidbgo/minidbgo/storage/vfs/errorfs"
	"github.com/stretchr/testify/require"
)

// TestDataDirRemovedUnderEngine deletes the data directory under an open
// engine (rm -rf): the next write is refused read-only with
// ErrDataDirLost instead of being acknowledged into the unlinked WAL, and
// writes acknowledged before are readable.
func TestDataDirRemovedUnderEngine(t *testing.T) {
	for _, mode := range []Durability{{Mode: DurabilityGroup}, {Mode: DurabilitySync}} {
		t.Run(mode.String(), func(t *testing.T) {
			mem := vfs.NewMem()
			db, err := Open("/srv/db", &Options{FS: mem, Durability: mode, DirCheckInterval: -1})
			require.NoError(t, err)
			require.NoError(t, db.Put([]byte("a"), []byte("1")))
			require.NoError(t, mem.RemoveAll("/srv/db"))
			err = db.Put([]byte("b"), []byte("2"))
			require.ErrorIs(t, err, ErrReadOnly)
			require.ErrorIs(t, err, ErrDataDirLost)
			require.ErrorIs(t, db.Put([]byte("c"), []byte("3")), ErrDataDirLost)
			require.True(t, db.Metrics().ReadOnly)
			require.ErrorIs(t, db.ReadOnlyErr(), ErrDataDirLost)
			_, err = db.Get([]byte("b"))
			require.ErrorIs(t, err, ErrNotFound, "a refused write is not visible")
			v, err := db.Get([]byte("a"))
			require.NoError(t, err)
			require.Equal(t, "1", string(v))
			_ = db.Close()
		})
	}
}

// TestDataDirReplacedDetectedIdle: with no writes, the periodic check
// notices a directory deleted and created again (a new LOCK file), in
// every durability mode, so that readiness can report it.
func TestDataDirReplacedDetectedIdle(t *testing.T) {
	mem := vfs.NewMem()
	db, err := Open("/srv/db", &Options{FS: mem, Durability: Durability{Mode: DurabilityPeriodic, Interval: time.Hour},
		DirCheckInterval: 5 * time.Millisecond})
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Put([]byte("a"), []byte("1")))
	require.NoError(t, mem.RemoveAll("/srv/db"))
	require.NoError(t, mem.MkdirAll("/srv/db", 0o755))
	require.NoError(t, mem.WriteFile("/srv/db/LOCK", []byte("123\n")))
	require.Eventually(t, func() bool { return db.ReadOnlyErr() != nil }, 10*time.Second, time.Millisecond)
	require.ErrorIs(t, db.ReadOnlyErr(), ErrDataDirLost)
	require.Contains(t, db.ReadOnlyErr().Error(), "not the one this process locked")
	require.ErrorIs(t, db.Put([]byte("b"), []byte("2")), ErrReadOnly)
}

// TestWALCreateFailureReadOnly makes the directory refuse new files (as
// chmod a-w does): the rotation that needs a new WAL turns the engine
// read-only once, instead of failing every write with a new file number.
func TestWALCreateFailureReadOnly(t *testing.T) {
	efs := errorfs.Wrap(vfs.NewMem(), nil)
	db, err := Open("/db", &Options{FS: efs, MemTableRecords: 4, DirCheckInterval: -1})
	require.NoError(t, err)
	defer db.Close()
	efs.SetInjector(errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind == errorfs.OpCreate {
			return syscall.EACCES
		}
		return nil
	}))
	var firstErr error
	for i := range 20 {
		if err := db.Put([]byte(fmt.Sprintf("k%02d", i)), []byte("v")); err != nil {
			firstErr = err
			break
		}
	}
	require.ErrorIs(t, firstErr, ErrReadOnly)
	next := db.Metrics().NextFileNumber
	for i := range 5 {
		require.ErrorIs(t, db.Put([]byte(fmt.Sprintf("x%d", i)), []byte("v")), ErrReadOnly)
	}
	require.Equal(t, next, db.Metrics().NextFileNumber, "a refused write uses no file number")
}

// TestMarkerRefusesEmptyDir: with DirMarker, a database deleted while the
// engine was down is not silently replaced by an empty one; Init creates
// it on purpose; a first start, and a database whose marker is missing,
// open as before.
func TestMarkerRefusesEmptyDir(t *testing.T) {
	mem := vfs.NewMem()
	opts := &Options{FS: mem, DirMarker: true}
	db, err := Open("/srv/db", opts) // first start: no marker, no database
	require.NoError(t, err)
	require.NoError(t, db.Put([]byte("a"), []byte("1")))
	require.NoError(t, db.Close())
	marker := MarkerPath("/srv/db")
	require.Equal(t, "/srv/.db.minidbgo", marker)
	text, err := mem.ReadFile(marker)
	require.NoError(t, err)
	require.Contains(t, string(text), "created: ")
	require.Contains(t, mem.CrashClone(vfs.CrashCloneOptions{}).String(), ".db.minidbgo (", "the marker is durable")

	// Deleted, or emptied (a mount point stays), or never mounted.
	for _, wipe := range []func(){
		func() { require.NoError(t, mem.RemoveAll("/srv/db")) },
		func() {
			require.NoError(t, mem.RemoveAll("/srv/db"))
			require.NoError(t, mem.MkdirAll("/srv/db", 0o755))
		},
	} {
		wipe()
		_, err = Open("/srv/db", opts)
		require.ErrorIs(t, err, ErrDataMissing)
		require.Contains(t, err.Error(), marker)
		require.Contains(t, err.Error(), "--init")
		_, serr := mem.Stat("/srv/db/CURRENT")
		require.Error(t, serr, "a refused Open creates nothing")
	}

	db, err = Open("/srv/db", &Options{FS: mem, DirMarker: true, Init: true})
	require.NoError(t, err)
	_, err = db.Get([]byte("a"))
	require.ErrorIs(t, err, ErrNotFound)
	require.NoError(t, db.Put([]byte("b"), []byte("2")))
	require.NoError(t, db.Close())

	// A database without its marker (an upgrade, or a marker deleted):
	// it opens, and gets its marker back.
	require.NoError(t, mem.Remove(marker))
	db, err = Open("/srv/db", opts)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	_, err = mem.Stat(marker)
	require.NoError(t, err)

	// Without DirMarker nothing changes.
	require.NoError(t, mem.RemoveAll("/srv/db"))
	db, err = Open("/srv/db", &Options{FS: mem})
	require.NoError(t, err)
	require.NoError(t, db.Close())
}

// TestMarkerUnwritableParent: a parent that refuses the marker costs only
// the protection, with a warning.
func TestMarkerUnwritableParent(t *testing.T) {
	efs := errorfs.Wrap(vfs.NewMem(), errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind == errorfs.OpCreate && strings.Contains(op.Path, markerSuffix) {
			return syscall.EROFS
		}
		return nil
	}))
	var logs strings.Builder
	db, err := Open("/srv/db", &Options{FS: efs, DirMarker: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	require.NoError(t, db.Close())
	require.Contains(t, logs.String(), "marker")
	_, err = efs.Stat(filepath.Join("/srv", ".db"+markerSuffix+".tmp"))
	require.True(t, errors.Is(err, errNotExist), "no temporary file left")
}

// TestFlushPermissionDeniedReadOnly: a flush that cannot create its
// table for lack of permission will never succeed: the engine turns
// read-only instead of stalling writers into ErrBusy for ever.
func TestFlushPermissionDeniedReadOnly(t *testing.T) {
	efs := errorfs.Wrap(vfs.NewMem(), nil)
	db, err := Open("/db", &Options{FS: efs, DirCheckInterval: -1, MaxImmutableMemTables: 1,
		WriteStallTimeout: 50 * time.Millisecond, MemTableRecords: 2})
	require.NoError(t, err)
	defer db.Close()
	efs.SetInjector(errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind == errorfs.OpCreate && strings.HasSuffix(op.Path, ".sst") {
			return syscall.EACCES
		}
		return nil
	}))
	require.NoError(t, db.Put([]byte("a"), []byte("1")))
	require.NoError(t, db.Put([]byte("b"), []byte("2")))
	require.NoError(t, db.Put([]byte("c"), []byte("3"))) // rotates; the flush fails
	require.Eventually(t, func() bool { return db.ReadOnlyErr() != nil }, 10*time.Second, time.Millisecond)
	require.ErrorIs(t, db.Put([]byte("d"), []byte("4")), ErrReadOnly)
	v, err := db.Get([]byte("a"))
	require.NoError(t, err)
	require.Equal(t, "1", string(v))
}
