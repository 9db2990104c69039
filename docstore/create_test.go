package docstore

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/storage"
	"github.com/minidbgo/minidbgo/storage/vfs"
)

// TestCreateCollection: an empty collection is listed, survives a
// reopen, and creating it again or after a write reports it was not new.
func TestCreateCollection(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewMem()
	db, err := Open("/db", &Options{Storage: &storage.Options{FS: fs}})
	require.NoError(t, err)
	created, err := db.CreateCollection(ctx, "empty")
	require.NoError(t, err)
	require.True(t, created)
	created, err = db.CreateCollection(ctx, "empty")
	require.NoError(t, err)
	require.False(t, created)
	_, err = db.InsertOne(ctx, "full", []byte(`{"_id":"a"}`), WriteOptions{})
	require.NoError(t, err)
	created, err = db.CreateCollection(ctx, "full")
	require.NoError(t, err)
	require.False(t, created)
	_, err = db.CreateCollection(ctx, "bad/name")
	require.Equal(t, string(CodeInvalidName), errCode(err))
	require.NoError(t, db.Close())

	db, err = Open("/db", &Options{Storage: &storage.Options{FS: fs}})
	require.NoError(t, err)
	defer db.Close()
	cols, err := db.Collections()
	require.NoError(t, err)
	require.Equal(t, []CollectionInfo{{Name: "empty"}, {Name: "full", DocCount: 1, ByteSize: cols[1].ByteSize}}, cols)
}
