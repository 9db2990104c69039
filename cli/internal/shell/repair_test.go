package shell

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/stretchr/testify/require"
)

// TestRepairDamagedWAL: a log damaged in the middle makes the shell refuse
// the directory and say how to repair it; `minidbgo repair
// --wal=point-in-time` keeps the documents written before the damage.
func TestRepairDamagedWAL(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	db, err := docstore.Open(dir, nil)
	require.NoError(t, err)
	const n = 300
	for i := range n {
		_, err := db.InsertOne(context.Background(), "products", fmt.Appendf(nil, `{"_id":"p%04d","price":%d}`, i, i), docstore.WriteOptions{})
		require.NoError(t, err)
	}
	require.NoError(t, db.Close()) // the documents stay in the WAL
	logs, err := filepath.Glob(filepath.Join(dir, "wal", "*.log"))
	require.NoError(t, err)
	require.Len(t, logs, 1)
	b, err := os.ReadFile(logs[0])
	require.NoError(t, err)
	b[len(b)/2] ^= 0x55
	require.NoError(t, os.WriteFile(logs[0], b, 0o644))

	code, _, stderr := runCLI(t, "", nil, "--db", dir, "--http", "off", "-c", "count products")
	require.Equal(t, exitFailed, code)
	require.Contains(t, stderr, "minidbgo repair --wal=point-in-time --dir "+dir)

	code, _, stderr = runCLI(t, "", nil, "repair", "--dir", dir)
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "--wal=point-in-time")
	code, _, stderr = runCLI(t, "", nil, "repair", "--wal=everything", dir)
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, `unknown --wal mode "everything"`)

	code, stdout, stderr := runCLI(t, "", nil, "repair", "--wal=point-in-time", "--dir", dir)
	require.Equal(t, exitOK, code, stderr)
	require.Regexp(t, `discarded \d+ bytes of wal/\d{6}\.log from offset \d+; moved to .*/lost/`, stdout)
	require.Contains(t, stdout, "0 damaged")
	lost, err := filepath.Glob(filepath.Join(dir, "lost", "*.log"))
	require.NoError(t, err)
	require.Len(t, lost, 1)

	code, stdout, stderr = runCLI(t, "", nil, "--db", dir, "--http", "off", "--json", "-c", "count products")
	require.Equal(t, exitOK, code, stderr)
	count, err := strconv.Atoi(strings.TrimSpace(stdout))
	require.NoError(t, err, stdout)
	require.Greater(t, count, 0)
	require.Less(t, count, n)
	// The survivors are the first documents written: the last of them is
	// there and the next is not.
	code, stdout, stderr = runCLI(t, "", nil, "--db", dir, "--http", "off", "--json", "-c",
		fmt.Sprintf(`findOne products {"_id":"p%04d"}`, count-1), "-c", fmt.Sprintf(`findOne products {"_id":"p%04d"}`, count))
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, fmt.Sprintf(`"price":%d`, count-1))
	require.NotContains(t, stdout, fmt.Sprintf(`"price":%d}`, count))

	// A second repair finds nothing to do.
	code, stdout, stderr = runCLI(t, "", nil, "repair", "--wal=point-in-time", dir)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "no damage found")
}
