package httpd

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd/client"
	"github.com/minidbgo/minidbgo/storage"
	"github.com/minidbgo/minidbgo/storage/vfs"
	"github.com/minidbgo/minidbgo/storage/vfs/errorfs"
)

// TestBackupRoute: GET /api/backup streams an archive that restores into
// a directory docstore opens with the same documents and indexes; the
// server's checkpoint is gone afterwards; compress=none gives a plain
// tar; a bad compress value is 400.
func TestBackupRoute(t *testing.T) {
	fs := vfs.NewMem()
	e := newEnv(t, envOptions{storage: &storage.Options{FS: fs}})
	e.seed()
	mustStatus(t, e.do("POST", "/api/products/_indexes", `{"fields":["price"]}`), http.StatusCreated)
	dump := mustStatus(t, e.do("GET", "/api/dumpDB", nil), http.StatusOK).body

	for i, c := range []struct{ query, ct, file string }{
		{"", "application/zstd", "minidbgo-backup.tar.zst"},
		{"?compress=zstd", "application/zstd", "minidbgo-backup.tar.zst"},
		{"?compress=none", "application/x-tar", "minidbgo-backup.tar"},
	} {
		r := mustStatus(t, e.do("GET", "/api/backup"+c.query, nil, "Accept-Encoding", "gzip, zstd"), http.StatusOK)
		require.Equal(t, c.ct, r.header.Get("Content-Type"))
		require.Empty(t, r.header.Get("Content-Encoding"), "the body is the archive, not an encoding of it")
		require.Contains(t, r.header.Get("Content-Disposition"), c.file)
		names, err := fs.List("db/tmp")
		require.NoError(t, err)
		require.Empty(t, names, "the checkpoint is removed after streaming")

		dir := fmt.Sprintf("/restored%d", i)
		_, err = storage.RestoreBackup(bytes.NewReader(r.body), dir, &storage.RestoreOptions{FS: fs})
		require.NoError(t, err)
		db, err := docstore.Open(dir, &docstore.Options{Storage: &storage.Options{FS: fs}})
		require.NoError(t, err)
		var got bytes.Buffer
		_, err = db.Dump(context.Background(), &got)
		require.NoError(t, err)
		require.NoError(t, db.Close())
		require.Equal(t, string(dump), got.String())
	}

	errorBody(t, e.do("GET", "/api/backup?compress=gzip", nil), http.StatusBadRequest, "invalid_parameter")
	h := mustStatus(t, e.do("HEAD", "/api/backup", nil), http.StatusOK)
	require.Equal(t, "application/zstd", h.header.Get("Content-Type"))
}

// TestBackupNeedsAdmin: a backup holds every document, so it needs the
// admin scope.
func TestBackupNeedsAdmin(t *testing.T) {
	e := authEnv(t, Config{})
	errorBody(t, e.do("GET", "/api/backup", nil), http.StatusUnauthorized, "unauthorized")
	for _, k := range []string{readKey, writeKey} {
		e.key = k
		errorBody(t, e.do("GET", "/api/backup", nil), http.StatusForbidden, "forbidden")
	}
	e.key = adminKey
	mustStatus(t, e.do("GET", "/api/backup", nil), http.StatusOK)
}

// TestBackupFails: a checkpoint that cannot be written (the disk refuses
// files in tmp/) is a JSON error that names no server file, and leaves
// no checkpoint behind.
func TestBackupFails(t *testing.T) {
	mem := vfs.NewMem()
	efs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind == errorfs.OpCreate && strings.Contains(op.Path, "/tmp/") {
			return errorfs.ErrNoSpace
		}
		return nil
	}))
	e := newEnv(t, envOptions{storage: &storage.Options{FS: efs}})
	e.seed()
	eb := errorBody(t, e.do("GET", "/api/backup", nil), http.StatusInsufficientStorage, "insufficient_storage")
	for _, leak := range []string{"db/", "tmp", ".log", ".sst", "MANIFEST", "checkpoint"} {
		require.NotContains(t, eb.Error, leak)
	}
	names, err := mem.List("db/tmp")
	require.NoError(t, err)
	require.Empty(t, names)
	mustStatus(t, e.do("GET", "/api/products/p1", nil), http.StatusOK)
}

// TestClientBackup downloads a backup with the Go client and restores it
// onto the OS filesystem, where docstore opens it with the same data.
func TestClientBackup(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, envOptions{storage: &storage.Options{FS: vfs.NewMem()}})
	e.seed()
	c := client.New(e.url + "/")
	c.HTTPClient = e.hc
	var dump bytes.Buffer
	_, err := c.Dump(ctx, &dump)
	require.NoError(t, err)

	for _, o := range []*client.BackupOptions{nil, {Uncompressed: true}} {
		var archive bytes.Buffer
		n, err := c.Backup(ctx, &archive, o)
		require.NoError(t, err)
		require.Equal(t, int64(archive.Len()), n)
		dir := filepath.Join(t.TempDir(), "db")
		_, err = storage.RestoreBackup(bytes.NewReader(archive.Bytes()), dir, nil)
		require.NoError(t, err)
		db, err := docstore.Open(dir, nil)
		require.NoError(t, err)
		var got bytes.Buffer
		_, err = db.Dump(ctx, &got)
		require.NoError(t, err)
		require.NoError(t, db.Close())
		require.Equal(t, dump.String(), got.String())
	}
}
