package docstore

import (
	"testing"
	"time"

	"github.com/minidbgo/minidbgo/storage"
	"github.com/minidbgo/minidbgo/storage/vfs"
	"github.com/stretchr/testify/require"
)

// TestCloseJoinsStatsFold checks that Close waits for a stats fold in
// progress instead of closing the engine under it, and that no fold
// starts once Close has begun.
func TestCloseJoinsStatsFold(t *testing.T) {
	db, err := Open("/db", &Options{Storage: &storage.Options{FS: vfs.NewMem()}})
	require.NoError(t, err)
	require.NoError(t, db.createCollection("c"))
	c := db.getCollection("c")
	require.NotNil(t, c)

	c.ddl.Lock() // the fold waits for it
	db.afterWrite(c, statsFoldEvery)
	require.True(t, c.foldsQueue.Load(), "a fold was started")
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	select {
	case err := <-closed:
		c.ddl.Unlock()
		t.Fatalf("Close returned (%v) while a stats fold was still running", err)
	case <-time.After(100 * time.Millisecond):
	}
	c.ddl.Unlock()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return after the fold could finish")
	}
	require.False(t, c.foldsQueue.Load(), "the fold finished before Close returned")

	// After Close, no fold starts.
	db.afterWrite(c, statsFoldEvery)
	require.False(t, c.foldsQueue.Load())
}
