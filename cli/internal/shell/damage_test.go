package shell

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/stretchr/testify/require"
)

// flushedDocs writes 610 documents, 600 of them in two flushed tables.
func flushedDocs(t *testing.T, dir string) {
	t.Helper()
	db, err := docstore.Open(dir, nil)
	require.NoError(t, err)
	for i := range 610 {
		_, err := db.InsertOne(context.Background(), "products", fmt.Appendf(nil, `{"_id":"p%04d","price":%d}`, i, i), docstore.WriteOptions{})
		require.NoError(t, err)
		if i == 299 || i == 599 {
			require.NoError(t, db.Flush())
		}
	}
	require.NoError(t, db.Close())
}

// TestRepairDamagedManifest: a byte flipped 5 bytes before the end of the
// MANIFEST, in the edit of the last flush (issue 20, item 1). check names
// the MANIFEST and an offset, the shell refuses the directory and says to
// repair, and repair keeps every document.
func TestRepairDamagedManifest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	flushedDocs(t, dir)
	mans, err := filepath.Glob(filepath.Join(dir, "MANIFEST-*"))
	require.NoError(t, err)
	require.Len(t, mans, 1)
	b, err := os.ReadFile(mans[0])
	require.NoError(t, err)
	b[len(b)-5] ^= 0x01
	require.NoError(t, os.WriteFile(mans[0], b, 0o644))

	code, stdout, _ := runCLI(t, "", nil, "check", "--dir", dir)
	require.Equal(t, exitFailed, code)
	require.Regexp(t, `DAMAGED +`+regexp.QuoteMeta(filepath.Base(mans[0]))+` .*corrupt at offset \d+`, stdout)
	require.NotContains(t, stdout, "torn tail")

	code, _, stderr := runCLI(t, "", nil, "--db", dir, "--http", "off", "-c", "count products")
	require.Equal(t, exitFailed, code)
	require.Contains(t, stderr, "minidbgo repair --wal=point-in-time --dir "+dir)

	code, stdout, stderr = runCLI(t, "", nil, "repair", "--wal=point-in-time", "--dir", dir)
	require.Equal(t, exitOK, code, stderr)
	require.Regexp(t, `rebuilt the version from the edits of MANIFEST-\d+ before offset \d+; kept 1 tables of lost flushes`, stdout)
	require.Contains(t, stdout, "0 damaged")

	code, stdout, stderr = runCLI(t, "", nil, "--db", dir, "--http", "off", "--json", "-c", "count products")
	require.Equal(t, exitOK, code, stderr)
	count, err := strconv.Atoi(strings.TrimSpace(stdout))
	require.NoError(t, err, stdout)
	require.Equal(t, 610, count)
}

// TestCheckOrphanTable: a half-written table a crash left before its
// flush edit was durable is an orphan the next open removes, not damage
// (issue 20, item 6): check exits 0 and says so.
func TestCheckOrphanTable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	flushedDocs(t, dir)
	ssts, err := filepath.Glob(filepath.Join(dir, "sst", "*.sst"))
	require.NoError(t, err)
	require.NotEmpty(t, ssts)
	b, err := os.ReadFile(ssts[0])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sst", "999999.sst"), b[:len(b)/2], 0o644))

	code, stdout, stderr := runCLI(t, "", nil, "check", "--dir", dir)
	require.Equal(t, exitOK, code, stdout+stderr)
	require.Regexp(t, `orphan +sst/999999\.sst .*crash leftover, not damage .*removed at the next open`, stdout)
	require.Contains(t, stdout, "0 damaged, 1 orphaned")
	require.NotContains(t, stderr, "damaged")

	code, stdout, stderr = runCLI(t, "", nil, "--db", dir, "--http", "off", "--json", "-c", "count products")
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, "610", strings.TrimSpace(stdout))
	_, err = os.Stat(filepath.Join(dir, "sst", "999999.sst"))
	require.ErrorIs(t, err, os.ErrNotExist)
}
