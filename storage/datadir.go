package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/minidbgo/minidbgo/storage/internal/dbfile"
	"github.com/minidbgo/minidbgo/storage/vfs"
)

// The data directory's identity. An operator can delete the directory (or
// empty it, or swap another in) under a running engine: the open WAL is
// then an unlinked file, fsyncs still succeed, and every write
// acknowledged from then on is gone at the next Open. The engine notices
// through the LOCK file it holds: Open records its identity (device and
// inode), and checkDir compares it with what the path names now — before
// each group is acknowledged in the sync and group modes, every
// Options.DirCheckInterval, and after every I/O error. A lost directory
// makes the engine read-only with ErrDataDirLost.
//
// A restart after such a deletion would find an empty directory and
// silently create an empty database. With Options.DirMarker, Open keeps a
// marker beside the directory (MarkerPath) once a database exists, and
// refuses to create one where the marker says a database was
// (ErrDataMissing) unless Options.Init is set. The marker lives outside
// the directory because whatever deletes the directory deletes what is in
// it; it says only that a database was created at that path.

// markerSuffix ends the name of the marker file.
const markerSuffix = ".minidbgo"

// MarkerPath returns the marker Options.DirMarker keeps for the data
// directory dir: ".<name>.minidbgo" in dir's parent, where <name> is
// dir's last element ("data/.MiniDBGo.minidbgo" for "data/MiniDBGo").
// It returns "" for a filesystem root, which has no parent.
func MarkerPath(dir string) string {
	dir = filepath.Clean(dir)
	base := filepath.Base(dir)
	if base == "." || base == ".." {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return ""
		}
		dir, base = abs, filepath.Base(abs)
	}
	if base == string(filepath.Separator) || base == "." || base == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(dir), "."+base+markerSuffix)
}

// checkDataMissing refuses to create a database in a directory that has
// none when its marker says one was created there. It runs at the start
// of Open, before anything is created. A directory that exists with
// CURRENT, or any error other than "does not exist", is left to recover.
func (d *DB) checkDataMissing() error {
	marker := MarkerPath(d.dir)
	if !d.opts.DirMarker || marker == "" {
		return nil
	}
	if _, err := d.fs.Stat(filepath.Join(d.dir, currentFileName)); !errors.Is(err, errNotExist) {
		return nil
	}
	if _, err := d.fs.Stat(marker); err != nil {
		return nil // no marker: the first start at this path
	}
	if d.opts.Init {
		d.opts.Logger.Warn("storage: creating a new, empty database where the marker says one existed (Init)",
			"dir", d.dir, "marker", marker)
		return nil
	}
	written := ""
	if text, err := dbfile.ReadSmallFile(d.fs, marker); err == nil {
		for _, line := range strings.Split(text, "\n") {
			if v, ok := strings.CutPrefix(line, "created: "); ok {
				written = " on " + strings.TrimSpace(v)
			}
		}
	}
	return fmt.Errorf("%w: %s holds no database, but the marker %s says one was created there%s: "+
		"the directory was deleted or emptied, or the volume that holds it is not mounted. "+
		"Restore or mount it; to start over with a new, empty database instead, open with Init "+
		"(minidbgo-server --init), or delete the marker",
		ErrDataMissing, d.dir, marker, written)
}

// ensureMarker writes the marker if it is missing (or, with Init, anew),
// once Open has a database. Failure only costs the protection: it is
// logged, not returned.
func (d *DB) ensureMarker() {
	marker := MarkerPath(d.dir)
	if !d.opts.DirMarker || marker == "" {
		return
	}
	if _, err := d.fs.Stat(marker); err == nil && !d.opts.Init {
		return
	}
	content := fmt.Sprintf("MiniDBGo data-directory marker\ndirectory: %s\ncreated: %s\n\n"+
		"A MiniDBGo database was created in the directory above. While this file\n"+
		"exists, the server refuses to start on that directory if the database\n"+
		"is missing from it (deleted, or its volume not mounted) instead of\n"+
		"creating an empty one. Delete this file, or start the server once with\n"+
		"--init, to create a new database there on purpose.\n",
		d.dir, time.Now().UTC().Format(time.RFC3339))
	if err := d.writeFileAtomic(marker, []byte(content)); err != nil {
		// A parent the process may not write (a container's "/", a
		// systemd StateDirectory's /var/lib) is a deployment choice,
		// not a fault.
		level := slog.LevelWarn
		if permanentIOError(err) {
			level = slog.LevelInfo
		}
		d.opts.Logger.Log(context.Background(), level,
			"storage: cannot write the data-directory marker; a deleted or unmounted data directory will not be detected at the next start",
			"marker", marker, "err", err)
	}
}

// writeFileAtomic writes path via path.tmp, a sync, a rename and a sync
// of the parent directory.
func (d *DB) writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := d.fs.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = d.fs.Rename(tmp, path)
	}
	if err != nil {
		_ = d.fs.Remove(tmp)
		return err
	}
	return d.syncDir(filepath.Dir(path))
}

// recordDirIdentity remembers the LOCK file Open holds. REQUIRES: the
// lock is held.
func (d *DB) recordDirIdentity() error {
	fi, err := d.fs.Stat(filepath.Join(d.dir, lockFileName))
	if err != nil {
		return fmt.Errorf("storage: stat %s: %w", lockFileName, err)
	}
	d.lockInfo = fi
	return nil
}

// checkDir returns an error wrapping ErrDataDirLost if the data
// directory's LOCK file is no longer the one Open locked: the directory
// was deleted, emptied, moved or replaced. Other errors (a failing disk)
// say nothing about the directory's identity and give nil.
func (d *DB) checkDir() error {
	if d.lockInfo == nil {
		return nil
	}
	fi, err := d.fs.Stat(filepath.Join(d.dir, lockFileName))
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("%w: its %s file is gone", ErrDataDirLost, lockFileName)
	case err != nil:
		return nil
	case !vfs.SameFile(fi, d.lockInfo):
		return fmt.Errorf("%w: its %s file is not the one this process locked", ErrDataDirLost, lockFileName)
	}
	return nil
}

// dirCheckLoop runs checkDir every interval until the engine closes or
// turns read-only.
func (d *DB) dirCheckLoop(interval time.Duration) {
	d.every(interval, func() bool {
		if d.readOnlyErr() != nil {
			return false
		}
		if err := d.checkDir(); err != nil && !d.closed.Load() {
			d.setReadOnly(err)
			return false
		}
		return true
	})
}

// permanentIOError reports whether a background I/O error will not go
// away by retrying: the directory refuses writes.
func permanentIOError(err error) bool {
	return errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EROFS)
}

// ReadOnlyErr returns why the engine refuses writes — an error wrapping
// ErrReadOnly, and ErrDataDirLost when the data directory was removed or
// replaced — or nil while it accepts them. A read-only engine stays so
// until it is closed and opened again.
func (d *DB) ReadOnlyErr() error { return d.readOnlyErr() }
