package docstore

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minidbgo/minidbgo/storage"
	"github.com/minidbgo/minidbgo/storage/vfs"
	"github.com/stretchr/testify/require"
)

// replLog is a stand-in for the Raft log: the proposer appends the
// encoded command and applies it on the primary at its index.
type replLog struct {
	mu      sync.Mutex
	entries [][]byte
	primary *DB
}

func (l *replLog) propose(ctx context.Context, cmd *WriteCommand) (CommandResult, error) {
	b, err := EncodeCommand(cmd)
	if err != nil {
		return CommandResult{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, b)
	c, err := DecodeCommand(b)
	if err != nil {
		return CommandResult{}, err
	}
	rs, err := l.primary.ApplyCommands(context.Background(), uint64(len(l.entries)), []*WriteCommand{c})
	if err != nil {
		return CommandResult{}, err
	}
	return rs[0], nil
}

// applyAll applies the log's entries from index first on db, in groups.
func (l *replLog) applyTo(t *testing.T, db *DB, first uint64, group int) []CommandResult {
	t.Helper()
	var out []CommandResult
	for i := int(first) - 1; i < len(l.entries); i += group {
		var cmds []*WriteCommand
		for j := i; j < min(i+group, len(l.entries)); j++ {
			c, err := DecodeCommand(l.entries[j])
			require.NoError(t, err)
			cmds = append(cmds, c)
		}
		rs, err := db.ApplyCommands(context.Background(), uint64(i+1), cmds)
		require.NoError(t, err)
		out = append(out, rs...)
	}
	return out
}

// replDump is a dump without its header line (whose seq is the engine's).
func replDump(t *testing.T, db *DB) string {
	t.Helper()
	var buf bytes.Buffer
	_, err := db.Dump(context.Background(), &buf)
	require.NoError(t, err)
	s := buf.String()
	return s[strings.IndexByte(s, '\n')+1:]
}

// revs lists every document's _id and revision.
func revs(t *testing.T, db *DB, col string) map[string]uint64 {
	t.Helper()
	ids, _ := findIDs(t, db, col, Query{Limit: 1000})
	m := map[string]uint64{}
	for _, id := range ids {
		d, err := db.Get(context.Background(), col, id)
		require.NoError(t, err)
		m[id] = d.Rev
	}
	return m
}

// TestReplicatedWritesAreDeterministic: every write method, called on a
// DB with a Proposer, becomes a command; applying the log on a second DB
// (in groups, at another time) gives the same documents, revisions,
// generated _ids, $currentDate values and change feed.
func TestReplicatedWritesAreDeterministic(t *testing.T) {
	ctx := context.Background()
	primary := openMem(t, nil)
	l := &replLog{primary: primary}
	primary.SetProposer(l.propose)

	r, err := primary.InsertOne(ctx, "c", []byte(`{"a":1}`), WriteOptions{})
	require.NoError(t, err)
	require.True(t, r.Created)
	require.Len(t, r.ID, 24)
	_, err = primary.InsertMany(ctx, "c", [][]byte{[]byte(`{"a":2}`), []byte(`{"_id":"x","a":3}`)})
	require.NoError(t, err)
	_, err = primary.InsertNew(ctx, "c", [][]byte{[]byte(`{"_id":"x"}`)})
	require.Equal(t, "duplicate_key", errCode(err), "a failing command fails on the primary")
	_, err = primary.Replace(ctx, "c", "y", []byte(`{"b":1}`), WriteOptions{})
	require.NoError(t, err)
	_, err = primary.Update(ctx, "c", "y", []byte(`{"$inc":{"b":1},"$currentDate":{"at":true}}`), WriteOptions{})
	require.NoError(t, err)
	_, err = primary.MergePatch(ctx, "c", "x", []byte(`{"m":true}`), WriteOptions{})
	require.NoError(t, err)
	spec, _ := ParseIndexSpec([]byte(`{"name":"by_a","fields":["a"]}`))
	require.NoError(t, primary.CreateIndex(ctx, "c", spec, nil))
	_, err = primary.UpdateMany(ctx, "c", []byte(`{"a":{"$gte":2}}`), []byte(`{"$inc":{"a":10},"$currentDate":{"u":true}}`))
	require.NoError(t, err)
	up, err := primary.UpsertMany(ctx, "c", []byte(`{"k":"new"}`), []byte(`{"$set":{"v":1}}`))
	require.NoError(t, err)
	require.NotEmpty(t, up.UpsertedID)
	require.NoError(t, primary.Delete(ctx, "c", "y", WriteOptions{}))
	_, err = primary.InsertOne(ctx, "d", []byte(`{"_id":"z"}`), WriteOptions{})
	require.NoError(t, err)
	require.NoError(t, primary.DropCollection(ctx, "d"))
	_, err = primary.DeleteMany(ctx, "c", []byte(`{"a":12}`))
	require.NoError(t, err)
	require.NoError(t, primary.DropIndex(ctx, "c", "by_a"))
	require.Equal(t, uint64(len(l.entries)), primary.AppliedIndex())

	time.Sleep(20 * time.Millisecond) // the replica applies later: no clock may leak in
	replica := openMem(t, nil)
	rs := l.applyTo(t, replica, 1, 3)
	require.Equal(t, "duplicate_key", errCode(rs[2].Err), "the failing command fails on the replica too")
	require.Equal(t, primary.AppliedIndex(), replica.AppliedIndex())
	require.Equal(t, replDump(t, primary), replDump(t, replica))
	require.Equal(t, revs(t, primary, "c"), revs(t, replica, "c"))
	require.Equal(t, allChanges(t, primary, ""), allChanges(t, replica, ""))
	require.Equal(t, primary.FeedSeq(), replica.FeedSeq())
	require.NotEmpty(t, allChanges(t, replica, ""))
}

// TestApplyCommandsSkipsApplied: after a restart, entries at or below the
// stored applied index are skipped, so a non-idempotent update is applied
// once; later entries apply.
func TestApplyCommandsSkipsApplied(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewMem()
	open := func() *DB {
		db, err := Open("/db", &Options{Storage: &storage.Options{FS: fs}})
		require.NoError(t, err)
		return db
	}
	cmds := []*WriteCommand{
		{Kind: CmdReplace, Col: "c", ID: "n", Bodies: [][]byte{[]byte(`{"_id":"n","v":0}`)}, Now: 1},
		{Kind: CmdUpdate, Col: "c", ID: "n", Bodies: [][]byte{[]byte(`{"$inc":{"v":1}}`)}, Now: 2},
		{Kind: CmdUpdate, Col: "c", ID: "missing", Bodies: [][]byte{[]byte(`{"$inc":{"v":1}}`)}, Now: 3},
		{Kind: CmdUpdateMany, Col: "c", Bodies: [][]byte{[]byte(`{}`), []byte(`{"$inc":{"v":1}}`)}, Now: 4},
	}
	db := open()
	rs, err := db.ApplyCommands(ctx, 1, cmds)
	require.NoError(t, err)
	require.Equal(t, "not_found", errCode(rs[2].Err))
	require.Equal(t, uint64(4), db.AppliedIndex())
	require.NoError(t, db.Close())

	db = open()
	defer db.Close()
	require.Equal(t, uint64(4), db.AppliedIndex())
	rs, err = db.ApplyCommands(ctx, 1, append(cmds, &WriteCommand{Kind: CmdUpdate, Col: "c", ID: "n", Bodies: [][]byte{[]byte(`{"$inc":{"v":100}}`)}, Now: 5}))
	require.NoError(t, err)
	for i := range 4 {
		require.True(t, rs[i].Skipped, "entry %d", i+1)
	}
	require.False(t, rs[4].Skipped)
	d, err := db.Get(ctx, "c", "n")
	require.NoError(t, err)
	require.JSONEq(t, `{"_id":"n","v":102}`, string(d.JSON))
	require.Equal(t, uint64(5)<<revShift, d.Rev&^(1<<revShift-1), "the revision comes from the index")
	require.Equal(t, uint64(5), db.AppliedIndex())
}

// TestClusterMeta: CmdSetMeta sets and deletes metadata.
func TestClusterMeta(t *testing.T) {
	db := openMem(t, nil)
	_, err := db.ApplyCommands(context.Background(), 1, []*WriteCommand{
		{Kind: CmdSetMeta, ID: "url/n1", Bodies: [][]byte{[]byte("http://a")}},
		{Kind: CmdSetMeta, ID: "url/n2", Bodies: [][]byte{[]byte("http://b")}},
		{Kind: CmdSetMeta, ID: "url/n1"},
	})
	require.NoError(t, err)
	m, err := db.ClusterMeta()
	require.NoError(t, err)
	require.Equal(t, map[string]string{"url/n2": "http://b"}, m)
	require.Equal(t, uint64(3), db.AppliedIndex())
	_ = fmt.Sprint()
}

// TestApplyGeneratesIDsFromTheEntry: an InsertOne or InsertMany command
// whose documents have no _id (the proposer fills them in, but a command
// is applied on every node whatever it holds) gets the same _ids on every
// node: made from the entry, not from the node's clock and counter.
func TestApplyGeneratesIDsFromTheEntry(t *testing.T) {
	cmds := []*WriteCommand{
		{Kind: CmdInsertOne, Col: "c", Bodies: [][]byte{[]byte(`{"v":1}`)}, Now: 1_000_000_000},
		{Kind: CmdInsertMany, Col: "c", Bodies: [][]byte{[]byte(`{"v":2}`), []byte(`{"v":3}`)}, Now: 2_000_000_000},
	}
	var dumps []string
	for range 2 {
		db := openMem(t, nil)
		_, err := db.ApplyCommands(context.Background(), 7, cmds)
		require.NoError(t, err)
		var b bytes.Buffer
		_, err = db.Dump(context.Background(), &b)
		require.NoError(t, err)
		require.Equal(t, 3, strings.Count(b.String(), `"doc":`))
		dumps = append(dumps, b.String())
	}
	require.Equal(t, dumps[0], dumps[1], "both nodes generated the same _ids")
}
