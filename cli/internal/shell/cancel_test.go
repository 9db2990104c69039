package shell

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd/client/api"
	"github.com/stretchr/testify/require"
)

// TestInterruptStopsEmbeddedCommand: Ctrl-C in the REPL cancels the
// command's context, and the embedded database honours it: the command
// fails with context.Canceled and writes nothing.
func TestInterruptStopsEmbeddedCommand(t *testing.T) {
	db, err := docstore.Open(filepath.Join(t.TempDir(), "db"), nil)
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	docs := make([][]byte, 0, 1000)
	for i := range 1000 {
		docs = append(docs, fmt.Appendf(nil, `{"_id":"d%04d","n":%d}`, i, i))
	}
	_, err = db.InsertMany(ctx, "c", docs)
	require.NoError(t, err)
	b := &localBackend{db: db}

	root, cancel := context.WithCancel(ctx)
	defer cancel()
	intr := &interrupter{root: cancel}
	intr.enterREPL()
	cctx, done := intr.start(root)
	defer done()
	intr.interrupt() // Ctrl-C while the command runs

	_, err = b.count(cctx, "c", json.RawMessage(`{"n":{"$gte":0}}`))
	require.ErrorIs(t, err, context.Canceled)
	_, err = b.find(cctx, "c", api.FindRequest{Filter: json.RawMessage(`{"n":-1}`)})
	require.ErrorIs(t, err, context.Canceled)
	_, err = b.updateMany(cctx, "c", json.RawMessage(`{}`), json.RawMessage(`{"$set":{"u":1}}`))
	require.ErrorIs(t, err, context.Canceled)
	_, err = b.createIndex(cctx, "c", api.IndexRequest{Name: "by_n", Fields: []string{"n"}}, nil)
	require.ErrorIs(t, err, context.Canceled)
	require.NoError(t, root.Err(), "the session goes on")

	n, err := db.Count(ctx, "c", []byte(`{"u":1}`))
	require.NoError(t, err)
	require.Zero(t, n, "the interrupted update wrote")
	specs, err := db.ListIndexes("c")
	require.NoError(t, err)
	require.Empty(t, specs, "the interrupted index build left its index")
}
