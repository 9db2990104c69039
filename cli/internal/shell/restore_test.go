package shell

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/storage"
	"github.com/stretchr/testify/require"
)

// backupFile writes n documents to a new database, backs it up into a
// file and returns the file and the database's dump.
func backupFile(t *testing.T, n int, o *storage.BackupOptions) (string, string) {
	t.Helper()
	ctx := context.Background()
	db, err := docstore.Open(filepath.Join(t.TempDir(), "src"), nil)
	require.NoError(t, err)
	defer db.Close()
	for i := range n {
		_, err := db.InsertOne(ctx, "products", fmt.Appendf(nil, `{"_id":"p%04d","price":%d}`, i, i), docstore.WriteOptions{})
		require.NoError(t, err)
	}
	var dump, archive bytes.Buffer
	_, err = db.Dump(ctx, &dump)
	require.NoError(t, err)
	_, err = db.Backup(ctx, &archive, o)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "backup.tar")
	require.NoError(t, os.WriteFile(path, archive.Bytes(), 0o644))
	return path, dump.String()
}

// dumpOf opens dir with docstore and dumps it.
func dumpOf(t *testing.T, dir string) string {
	t.Helper()
	db, err := docstore.Open(dir, nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	var b bytes.Buffer
	_, err = db.Dump(context.Background(), &b)
	require.NoError(t, err)
	return b.String()
}

// TestRestoreCommand: minidbgo restore unpacks a backup into a new
// directory that docstore opens with the same documents; a directory
// that holds files is refused without --force and replaced with it.
func TestRestoreCommand(t *testing.T) {
	archive, want := backupFile(t, 300, nil)
	dir := filepath.Join(t.TempDir(), "db")

	code, stdout, stderr := runCLI(t, "", nil, "restore", "--from", archive, "--dir", dir)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "into "+dir)
	require.Equal(t, want, dumpOf(t, dir))

	// Another backup over it: refused, then forced.
	other, want2 := backupFile(t, 10, &storage.BackupOptions{Uncompressed: true})
	code, _, stderr = runCLI(t, "", nil, "restore", "--from", other, "--dir", dir)
	require.Equal(t, exitFailed, code)
	require.Contains(t, stderr, "is not empty")
	require.Contains(t, stderr, "--force")
	require.Equal(t, want, dumpOf(t, dir), "a refusal changes nothing")

	code, stdout, stderr = runCLI(t, "", nil, "restore", "--from", other, "--dir", dir, "--force", "--json")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, `"files"`)
	require.Equal(t, want2, dumpOf(t, dir))
	for _, p := range []string{dir + ".restore-tmp", dir + ".restore-old"} {
		_, err := os.Stat(p)
		require.ErrorIs(t, err, os.ErrNotExist)
	}

	// Usage.
	code, _, stderr = runCLI(t, "", nil, "restore", "--dir", dir)
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "--from")
}

// TestRestoreCommandBadArchive: a truncated archive and one with a
// flipped byte each fail with exit status 1, a message naming what is
// wrong, and the target directory unchanged (here: not created).
func TestRestoreCommandBadArchive(t *testing.T) {
	archive, _ := backupFile(t, 300, &storage.BackupOptions{Uncompressed: true})
	b, err := os.ReadFile(archive)
	require.NoError(t, err)
	packed, _ := backupFile(t, 300, nil)
	pb, err := os.ReadFile(packed)
	require.NoError(t, err)

	// A byte in the middle of the first table's data.
	off := bytes.Index(b, []byte("sst/0")) // the table's tar header
	require.Positive(t, off)
	off += 512 + 1000
	flipped := bytes.Clone(b)
	flipped[off] ^= 0x20
	pflipped := bytes.Clone(pb)
	pflipped[len(pb)/2] ^= 0x20

	for _, c := range []struct {
		name, want string
		data       []byte
	}{
		{"truncated", "truncated", b[:len(b)/2]},
		{"truncated compressed", "truncated", pb[:len(pb)/2]},
		{"flipped byte", "is corrupt", flipped},
		{"flipped byte compressed", "damaged", pflipped},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.tar")
			require.NoError(t, os.WriteFile(path, c.data, 0o644))
			dir := filepath.Join(t.TempDir(), "db")
			code, _, stderr := runCLI(t, "", nil, "restore", "--from", path, "--dir", dir)
			require.Equal(t, exitFailed, code)
			require.Contains(t, stderr, c.want)
			require.Contains(t, stderr, "is unchanged")
			for _, p := range []string{dir, dir + ".restore-tmp"} {
				_, err := os.Stat(p)
				require.ErrorIs(t, err, os.ErrNotExist, "%s: %s", p, stderr)
			}
		})
	}
}
