package storage

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/minidbgo/minidbgo/storage/vfs"
	"github.com/stretchr/testify/require"
)

// backupOf fills a database on fs and returns its contents and a backup.
func backupOf(t *testing.T, fs vfs.FS, o *BackupOptions) ([]string, []byte) {
	t.Helper()
	db, err := Open("/data/db", &Options{FS: fs, MemTableRecords: 64, DirCheckInterval: -1})
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	fillCheckpointDB(t, db)
	want := contents(t, db.NewIter(nil))
	var buf bytes.Buffer
	st, err := db.Backup(context.Background(), &buf, o)
	require.NoError(t, err)
	require.Greater(t, st.Files, 3)
	require.Positive(t, st.Bytes)
	names, err := fs.List("/data/db/tmp")
	require.NoError(t, err)
	require.Empty(t, names, "the backup's checkpoint is removed after streaming")
	return want, buf.Bytes()
}

// tarEntries lists the names in an uncompressed archive.
func tarEntries(t *testing.T, b []byte) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		require.NoError(t, err)
		names = append(names, h.Name)
	}
}

func TestBackupRestoreRoundTrip(t *testing.T) {
	for _, o := range []*BackupOptions{nil, {Uncompressed: true}} {
		t.Run(fmt.Sprintf("uncompressed=%v", o != nil), func(t *testing.T) {
			fs := vfs.NewMem()
			want, archive := backupOf(t, fs, o)
			if o == nil {
				require.True(t, bytes.HasPrefix(archive, zstdMagic), "zstd by default")
			} else {
				names := tarEntries(t, archive)
				require.Equal(t, BackupHeaderName, names[0])
				require.Equal(t, BackupSumName, names[len(names)-1])
				require.Equal(t, "CURRENT", names[len(names)-2])
				require.Contains(t, strings.Join(names, " "), "sst/")
			}
			st, err := RestoreBackup(bytes.NewReader(archive), "/restored/db", &RestoreOptions{FS: fs})
			require.NoError(t, err)
			require.Greater(t, st.Files, 3)
			require.Equal(t, want, openContents(t, fs, "/restored/db"))
			_, err = fs.Stat("/restored/db.restore-tmp")
			require.ErrorIs(t, err, os.ErrNotExist)
		})
	}
}

// TestRestoreBadArchive: a truncated archive, a flipped byte (in a file's
// data, compressed or not) and something that is not a backup each fail
// with ErrBadBackup and a message saying what is wrong, and leave no
// directory behind.
func TestRestoreBadArchive(t *testing.T) {
	fs := vfs.NewMem()
	_, plain := backupOf(t, fs, &BackupOptions{Uncompressed: true})
	_, packed := backupOf(t, vfs.NewMem(), nil)

	// Where the first table's data starts in the plain archive.
	tr := tar.NewReader(bytes.NewReader(plain))
	var sstOff int
	for {
		h, err := tr.Next()
		require.NoError(t, err)
		if strings.HasPrefix(h.Name, "sst/") && h.Typeflag == tar.TypeReg {
			rest, err := io.ReadAll(tr)
			require.NoError(t, err)
			sstOff = bytes.Index(plain, rest[:64]) + len(rest)/2
			break
		}
	}
	flip := func(b []byte, off int) []byte {
		c := bytes.Clone(b)
		c[off] ^= 0x01
		return c
	}
	sumAt := bytes.LastIndex(plain, []byte(`{"files":`))
	require.Positive(t, sumAt)

	tests := []struct {
		name, want string
		archive    []byte
	}{
		{"empty", "empty", nil},
		{"not a tar", "not a MiniDBGo backup", []byte(strings.Repeat("hello world\n", 200))},
		{"truncated in a table", "truncated", plain[:sstOff]},
		{"truncated before the checksums", "truncated", plain[:sumAt-512]},
		{"truncated mid-checksums", "truncated", plain[:sumAt+5]},
		{"truncated compressed", "truncated", packed[:len(packed)*2/3]},
		{"flipped byte in a table", "is corrupt: its CRC-32C", flip(plain, sstOff)},
		{"flipped byte compressed", "damaged", flip(packed, len(packed)/2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := RestoreBackup(bytes.NewReader(tt.archive), "/restored/db", &RestoreOptions{FS: fs})
			t.Log(err)
			require.ErrorIs(t, err, ErrBadBackup)
			require.ErrorContains(t, err, tt.want)
			for _, p := range []string{"/restored/db", "/restored/db.restore-tmp"} {
				_, serr := fs.Stat(p)
				require.ErrorIs(t, serr, os.ErrNotExist, "%s after %v", p, err)
			}
		})
	}
}

// TestRestoreTarget: a target that holds files is refused unless Force,
// which swaps the restored directory in; a target in use is refused even
// with Force.
func TestRestoreTarget(t *testing.T) {
	fs := vfs.NewMem()
	want, archive := backupOf(t, fs, nil)

	db, err := Open("/other", &Options{FS: fs, DirCheckInterval: -1})
	require.NoError(t, err)
	require.NoError(t, db.Put([]byte("old"), []byte("1")))

	_, err = RestoreBackup(bytes.NewReader(archive), "/other", &RestoreOptions{FS: fs})
	require.ErrorIs(t, err, os.ErrExist)
	require.ErrorContains(t, err, "is not empty")
	_, err = RestoreBackup(bytes.NewReader(archive), "/other", &RestoreOptions{FS: fs, Force: true})
	require.ErrorIs(t, err, vfs.ErrLocked, "the directory is open")
	require.NoError(t, db.Close())
	require.Equal(t, []string{"old=1"}, openContents(t, fs, "/other"), "refusals change nothing")

	_, err = RestoreBackup(bytes.NewReader(archive), "/other", &RestoreOptions{FS: fs, Force: true})
	require.NoError(t, err)
	require.Equal(t, want, openContents(t, fs, "/other"))
	for _, p := range []string{"/other.restore-old", "/other.restore-tmp"} {
		_, err := fs.Stat(p)
		require.ErrorIs(t, err, os.ErrNotExist)
	}

	// A bad archive with Force leaves the old directory.
	_, err = RestoreBackup(bytes.NewReader(archive[:len(archive)/2]), "/other", &RestoreOptions{FS: fs, Force: true})
	require.ErrorIs(t, err, ErrBadBackup)
	require.Equal(t, want, openContents(t, fs, "/other"))
}

// failingWriter fails after n bytes.
type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		return 0, errors.New("client went away")
	}
	w.n -= len(p)
	return len(p), nil
}

// TestBackupScratchRemoved: a backup whose writer fails removes its
// checkpoint; one a crash left is removed by the next Open.
func TestBackupScratchRemoved(t *testing.T) {
	fs := vfs.NewMem()
	db, err := Open("/data/db", &Options{FS: fs, DirCheckInterval: -1})
	require.NoError(t, err)
	fillCheckpointDB(t, db)
	_, err = db.Backup(context.Background(), &failingWriter{n: 1000}, &BackupOptions{Uncompressed: true})
	require.ErrorContains(t, err, "client went away")
	names, err := fs.List("/data/db/tmp")
	require.NoError(t, err)
	require.Empty(t, names)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = db.Backup(ctx, io.Discard, nil)
	require.ErrorIs(t, err, context.Canceled)

	// A crash mid-backup: the checkpoint stays behind.
	require.NoError(t, db.Checkpoint("/data/db/tmp/backup-1"))
	require.NoError(t, db.Close())
	db, err = Open("/data/db", &Options{FS: fs, DirCheckInterval: -1})
	require.NoError(t, err)
	defer db.Close()
	_, err = fs.Stat("/data/db/tmp")
	require.ErrorIs(t, err, os.ErrNotExist, "Open removed the leftover")
}
