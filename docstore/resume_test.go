package docstore

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/minidbgo/minidbgo/storage"
	"github.com/minidbgo/minidbgo/storage/vfs"
	"github.com/stretchr/testify/require"
)

// TestManyCommandResumesAfterCrash applies an UpdateMany ($inc) and a
// DeleteMany command of several batches, takes a crash image after each
// batch, and applies the entry again on each image, as Raft does after a
// restart: every document is updated (or deleted) exactly once, and the
// documents, revisions, change feed, result and applied index are those
// of the uninterrupted run. The UpdateMany scans an index on the field
// it increments, so no scan position would resume it.
func TestManyCommandResumesAfterCrash(t *testing.T) {
	ctx := context.Background()
	const n = 900 // 4 batches of manyChunk
	for _, tc := range []struct {
		name    string
		cmd     *WriteCommand
		matched int64
	}{
		{"UpdateMany", &WriteCommand{Kind: CmdUpdateMany, Col: "c", Now: 1e18,
			Bodies: [][]byte{[]byte(`{"v":{"$gte":0}}`), []byte(`{"$inc":{"v":1},"$currentDate":{"at":true}}`)}}, n},
		{"DeleteMany", &WriteCommand{Kind: CmdDeleteMany, Col: "c", Now: 1e18,
			Bodies: [][]byte{[]byte(`{"n":{"$gte":50}}`)}}, n - 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			db, err := Open("/db", &Options{Storage: &storage.Options{FS: fs}})
			require.NoError(t, err)
			var docs [][]byte
			for i := 0; i < n; i++ {
				docs = append(docs, []byte(fmt.Sprintf(`{"_id":"d%04d","n":%d,"v":%d}`, i, i, i%7)))
			}
			spec, err := ParseIndexSpec([]byte(`{"name":"v_1","fields":["v"]}`))
			require.NoError(t, err)
			specJSON, err := json.Marshal(spec)
			require.NoError(t, err)
			setup := []*WriteCommand{
				{Kind: CmdInsertMany, Col: "c", Bodies: docs, Now: 1e18},
				{Kind: CmdCreateIndex, Col: "c", Bodies: [][]byte{specJSON}, Now: 1e18},
			}
			rs, err := db.ApplyCommands(ctx, 1, setup)
			require.NoError(t, err)
			require.NoError(t, rs[0].Err)
			require.NoError(t, rs[1].Err)

			var images []*vfs.MemFS
			manyBatchHook = func() { images = append(images, fs.CrashClone(vfs.CrashCloneOptions{})) }
			rs, err = db.ApplyCommands(ctx, 3, []*WriteCommand{tc.cmd})
			manyBatchHook = nil
			require.NoError(t, err)
			require.NoError(t, rs[0].Err)
			require.Len(t, images, 4)
			want := rs[0].Multi
			require.Equal(t, tc.matched, want.Matched)
			wantDump, wantRevs, wantFeed := replDump(t, db), revs(t, db, "c"), allChanges(t, db, "")
			require.Equal(t, uint64(3), db.AppliedIndex())
			require.NoError(t, db.Close())

			for i, img := range images {
				when := fmt.Sprintf("crash after batch %d", i+1)
				db, err := Open("/db", &Options{Storage: &storage.Options{FS: img}})
				require.NoError(t, err)
				require.Equal(t, uint64(2), db.AppliedIndex(), when)
				// Raft applies every entry above its snapshot again.
				rs, err := db.ApplyCommands(ctx, 1, append(append([]*WriteCommand(nil), setup...), tc.cmd))
				require.NoError(t, err, when)
				require.True(t, rs[0].Skipped && rs[1].Skipped, when)
				require.NoError(t, rs[2].Err, when)
				require.Equal(t, want, rs[2].Multi, when)
				require.Equal(t, uint64(3), db.AppliedIndex(), when)
				require.Equal(t, wantDump, replDump(t, db), when)
				require.Equal(t, wantRevs, revs(t, db, "c"), when)
				require.Equal(t, wantFeed, allChanges(t, db, ""), when)
				_, err = db.engine.Get(progressKey)
				require.ErrorIs(t, err, storage.ErrNotFound, "%s: the progress record is left", when)
				require.NoError(t, db.Close())
			}
		})
	}
}
