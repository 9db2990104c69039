package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/docstore"
)

// newFSMNode returns a Node with its data open under a new directory and
// no Raft: enough for its state machine (fsm), which is what Raft calls.
func newFSMNode(t *testing.T) *Node {
	t.Helper()
	n := &Node{
		cfg:     Config{NodeID: "fsm", Dir: t.TempDir()},
		logger:  slog.New(slog.DiscardHandler),
		closing: make(chan struct{}),
		started: make(chan struct{}),
	}
	db, err := n.openDB(n.dataDir())
	require.NoError(t, err)
	n.db.Store(db)
	n.noteApplied(db.AppliedIndex())
	// A restore replaces the DB: close the one live at the end.
	t.Cleanup(func() { _ = n.DB().Close() })
	return n
}

// cmdLog is the Raft entry of cmd at index.
func cmdLog(t *testing.T, index uint64, cmd *docstore.WriteCommand) *raft.Log {
	t.Helper()
	if cmd.Now == 0 {
		cmd.Now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()
	}
	b, err := docstore.EncodeCommand(cmd)
	require.NoError(t, err)
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: b}
}

func insertCmd(col, doc string) *docstore.WriteCommand {
	return &docstore.WriteCommand{Kind: docstore.CmdInsertOne, Col: col, Bodies: [][]byte{[]byte(doc)}}
}

// dump returns db's dump.
func dump(t *testing.T, db *docstore.DB) string {
	t.Helper()
	var b bytes.Buffer
	_, err := db.Dump(context.Background(), &b)
	require.NoError(t, err)
	return b.String()
}

func docJSON(t *testing.T, db *docstore.DB, col, id string) string {
	t.Helper()
	d, err := db.Get(context.Background(), col, id)
	require.NoError(t, err)
	return string(d.JSON)
}

func errCode(err error) docstore.Code {
	var e *docstore.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// TestFSMApplyBatch applies a batch mixing a configuration entry, commands,
// an entry that does not decode and a command that fails: each command's
// response is its result, the bad entry's is its error, and the applied
// index is the last entry's.
func TestFSMApplyBatch(t *testing.T) {
	n := newFSMNode(t)
	f := (*fsm)(n)
	logs := []*raft.Log{
		{Index: 1, Term: 1, Type: raft.LogConfiguration, Data: []byte("not a command")},
		cmdLog(t, 2, insertCmd("users", `{"_id":"u1","name":"ann","age":30}`)),
		cmdLog(t, 3, insertCmd("users", `{"_id":"u2","name":"bob","age":40}`)),
		{Index: 4, Term: 1, Type: raft.LogCommand, Data: []byte("{not json")},
		cmdLog(t, 5, &docstore.WriteCommand{Kind: docstore.CmdUpdate, Col: "users", ID: "u1", Bodies: [][]byte{[]byte(`{"$set":{"age":31}}`)}}),
		// Inserting u2 again, insert-only, fails the same way on every
		// replica.
		cmdLog(t, 6, &docstore.WriteCommand{Kind: docstore.CmdInsertOne, Col: "users", Bodies: [][]byte{[]byte(`{"_id":"u2","name":"other"}`)}, Opts: docstore.WriteOptions{Insert: true}}),
		cmdLog(t, 7, &docstore.WriteCommand{Kind: docstore.CmdSetMeta, ID: "url/n1", Bodies: [][]byte{[]byte("http://n1")}}),
	}
	out := f.ApplyBatch(logs)
	require.Len(t, out, len(logs))

	require.Nil(t, out[0], "a configuration entry has no response")
	for _, i := range []int{1, 2, 4} {
		r, ok := out[i].(docstore.CommandResult)
		require.True(t, ok, "entry %d: response %T", logs[i].Index, out[i])
		require.NoError(t, r.Err, "entry %d", logs[i].Index)
		require.False(t, r.Skipped)
	}
	require.Equal(t, "u1", out[1].(docstore.CommandResult).One.ID)
	require.True(t, out[1].(docstore.CommandResult).One.Created)
	// A revision is made from the entry's index: the same on every node.
	require.Equal(t, uint64(2), out[1].(docstore.CommandResult).One.Rev>>24)
	require.Equal(t, uint64(5), out[4].(docstore.CommandResult).One.Rev>>24)

	bad, ok := out[3].(error)
	require.True(t, ok, "an entry that does not decode answers its error, got %T", out[3])
	require.Contains(t, bad.Error(), "bad command")

	dup := out[5].(docstore.CommandResult)
	require.Equal(t, docstore.CodeDuplicateKey, errCode(dup.Err), "%v", dup.Err)

	db := n.DB()
	require.Equal(t, uint64(7), db.AppliedIndex())
	require.Equal(t, uint64(7), n.applied.Load())
	require.JSONEq(t, `{"_id":"u1","name":"ann","age":31}`, docJSON(t, db, "users", "u1"))
	require.JSONEq(t, `{"_id":"u2","name":"bob","age":40}`, docJSON(t, db, "users", "u2"))
	meta, err := db.ClusterMeta()
	require.NoError(t, err)
	require.Equal(t, map[string]string{"url/n1": "http://n1"}, meta)

	// Apply, one entry at a time, is the same as a batch of one.
	r := f.Apply(cmdLog(t, 8, &docstore.WriteCommand{Kind: docstore.CmdDelete, Col: "users", ID: "u2"}))
	require.NoError(t, r.(docstore.CommandResult).Err)
	require.Equal(t, uint64(8), db.AppliedIndex())
	_, err = db.Get(context.Background(), "users", "u2")
	require.Equal(t, docstore.CodeNotFound, errCode(err), "%v", err)
}

// TestFSMApplyNonContiguous applies a batch whose command entries are not
// consecutive (a configuration entry between them): both runs apply.
func TestFSMApplyNonContiguous(t *testing.T) {
	n := newFSMNode(t)
	out := (*fsm)(n).ApplyBatch([]*raft.Log{
		cmdLog(t, 1, insertCmd("c", `{"_id":"a"}`)),
		{Index: 2, Term: 1, Type: raft.LogConfiguration},
		cmdLog(t, 3, insertCmd("c", `{"_id":"b"}`)),
		cmdLog(t, 4, insertCmd("c", `{"_id":"c"}`)),
	})
	for _, i := range []int{0, 2, 3} {
		require.NoError(t, out[i].(docstore.CommandResult).Err)
	}
	require.Equal(t, uint64(4), n.DB().AppliedIndex())
	n2, err := n.DB().Count(context.Background(), "c", nil)
	require.NoError(t, err)
	require.Equal(t, int64(3), n2)
}

// TestFSMReapplySkipped: entries at or below the applied index — Raft
// replays the log after a restart — are skipped, even when their data
// would now write something else, in the same process and after the data
// is reopened.
func TestFSMReapplySkipped(t *testing.T) {
	n := newFSMNode(t)
	f := (*fsm)(n)
	f.ApplyBatch([]*raft.Log{
		cmdLog(t, 1, insertCmd("c", `{"_id":"a","v":1}`)),
		cmdLog(t, 2, insertCmd("c", `{"_id":"b","v":2}`)),
		cmdLog(t, 3, &docstore.WriteCommand{Kind: docstore.CmdUpdateMany, Col: "c", Bodies: [][]byte{[]byte(`{}`), []byte(`{"$inc":{"v":10}}`)}}),
	})
	before := dump(t, n.DB())
	require.Equal(t, uint64(3), n.DB().AppliedIndex())

	// Entries 2 and 3 again (with other data: skipped all the same), then 4.
	out := f.ApplyBatch([]*raft.Log{
		cmdLog(t, 2, insertCmd("c", `{"_id":"x"}`)),
		cmdLog(t, 3, &docstore.WriteCommand{Kind: docstore.CmdUpdateMany, Col: "c", Bodies: [][]byte{[]byte(`{}`), []byte(`{"$inc":{"v":10}}`)}}),
		cmdLog(t, 4, insertCmd("c", `{"_id":"d","v":4}`)),
	})
	require.True(t, out[0].(docstore.CommandResult).Skipped)
	require.True(t, out[1].(docstore.CommandResult).Skipped)
	require.False(t, out[2].(docstore.CommandResult).Skipped)
	require.NoError(t, out[2].(docstore.CommandResult).Err)
	require.JSONEq(t, `{"_id":"a","v":11}`, docJSON(t, n.DB(), "c", "a"))
	_, err := n.DB().Get(context.Background(), "c", "x")
	require.Equal(t, docstore.CodeNotFound, errCode(err))
	require.Equal(t, uint64(4), n.DB().AppliedIndex())
	after := dump(t, n.DB())
	require.NotEqual(t, before, after)

	// Reopen the data, as after a restart (the engine fsyncs periodically:
	// Close flushes), and replay the whole log: nothing changes.
	require.NoError(t, n.DB().Close())
	db, err := n.openDB(n.dataDir())
	require.NoError(t, err)
	n.db.Store(db)
	require.Equal(t, uint64(4), db.AppliedIndex())
	out = f.ApplyBatch([]*raft.Log{
		cmdLog(t, 1, insertCmd("c", `{"_id":"a","v":1}`)),
		cmdLog(t, 2, insertCmd("c", `{"_id":"b","v":2}`)),
		cmdLog(t, 3, &docstore.WriteCommand{Kind: docstore.CmdUpdateMany, Col: "c", Bodies: [][]byte{[]byte(`{}`), []byte(`{"$inc":{"v":10}}`)}}),
		cmdLog(t, 4, insertCmd("c", `{"_id":"d","v":4}`)),
	})
	for i, o := range out {
		require.True(t, o.(docstore.CommandResult).Skipped, "entry %d", i+1)
	}
	require.Equal(t, after, dump(t, db))
}

// persist takes a snapshot of n's state machine into store at index and
// returns the snapshot's ID.
func persist(t *testing.T, n *Node, store raft.SnapshotStore, index uint64) string {
	t.Helper()
	snap, err := (*fsm)(n).Snapshot()
	require.NoError(t, err)
	defer snap.Release()
	sink, err := store.Create(raft.SnapshotVersionMax, index, 1, raft.Configuration{}, 1, nil)
	require.NoError(t, err)
	require.NoError(t, snap.Persist(sink))
	return sink.ID()
}

// fillFSM applies entries 1..k of assorted commands to n.
func fillFSM(t *testing.T, n *Node) uint64 {
	t.Helper()
	cmds := []*docstore.WriteCommand{
		{Kind: docstore.CmdCreateIndex, Col: "users", Bodies: [][]byte{[]byte(`{"name":"age_1","fields":[{"path":"age"}]}`)}},
		{Kind: docstore.CmdInsertMany, Col: "users", Bodies: [][]byte{[]byte(`{"_id":"u1","age":30}`), []byte(`{"_id":"u2","age":40}`), []byte(`{"_id":"u3","age":50}`)}},
		{Kind: docstore.CmdUpdate, Col: "users", ID: "u1", Bodies: [][]byte{[]byte(`{"$set":{"name":"ann"}}`)}},
		{Kind: docstore.CmdDelete, Col: "users", ID: "u2"},
		insertCmd("orders", `{"_id":"o1","user":"u1","total":12.5}`),
		// The proposer gives a document without one its _id (InsertOne).
		insertCmd("orders", `{"_id":"o2","total":7}`),
		{Kind: docstore.CmdSetMeta, ID: "url/n1", Bodies: [][]byte{[]byte("http://127.0.0.1:1")}},
	}
	var logs []*raft.Log
	for i, c := range cmds {
		logs = append(logs, cmdLog(t, uint64(i+1), c))
	}
	for i, o := range (*fsm)(n).ApplyBatch(logs) {
		require.NoError(t, o.(docstore.CommandResult).Err, "entry %d", i+1)
	}
	return uint64(len(cmds))
}

// TestFSMSnapshotRestore: a snapshot restored into a fresh state machine
// gives the same data — dump, applied index, cluster metadata — and both
// then apply the next entries alike; entries the snapshot holds are
// skipped.
func TestFSMSnapshotRestore(t *testing.T) {
	src := newFSMNode(t)
	last := fillFSM(t, src)
	want := dump(t, src.DB())
	require.Contains(t, want, `"age_1"`)

	store, err := raft.NewFileSnapshotStore(t.TempDir(), 2, io.Discard)
	require.NoError(t, err)
	id := persist(t, src, store, last)

	dst := newFSMNode(t)
	oldDir := dst.dataDir()
	// The fresh node has something of its own, which the restore replaces.
	(*fsm)(dst).ApplyBatch([]*raft.Log{cmdLog(t, 1, insertCmd("stale", `{"_id":"s"}`))})
	_, rc, err := store.Open(id)
	require.NoError(t, err)
	require.NoError(t, (*fsm)(dst).Restore(rc))

	require.Equal(t, want, dump(t, dst.DB()))
	require.Equal(t, last, dst.DB().AppliedIndex())
	require.Equal(t, last, dst.applied.Load())
	srcMeta, err := src.DB().ClusterMeta()
	require.NoError(t, err)
	dstMeta, err := dst.DB().ClusterMeta()
	require.NoError(t, err)
	require.Equal(t, srcMeta, dstMeta)

	// DATA names the restored directory; the replaced one is gone.
	ptr, err := os.ReadFile(filepath.Join(dst.cfg.Dir, dataPointer))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(strings.TrimSpace(string(ptr)), "data-"), "DATA %q", ptr)
	require.Equal(t, filepath.Join(dst.cfg.Dir, strings.TrimSpace(string(ptr))), dst.dataDir())
	require.NoDirExists(t, oldDir)

	// Replaying entries the snapshot holds changes nothing; the next
	// entries apply the same on both replicas.
	next := []*raft.Log{
		cmdLog(t, last-1, insertCmd("orders", `{"_id":"dup"}`)),
		cmdLog(t, last, insertCmd("orders", `{"_id":"dup2"}`)),
		cmdLog(t, last+1, insertCmd("orders", `{"_id":"o3","total":99}`)),
		cmdLog(t, last+2, &docstore.WriteCommand{Kind: docstore.CmdUpdateMany, Col: "users", Bodies: [][]byte{[]byte(`{"age":{"$gte":40}}`), []byte(`{"$inc":{"age":1}}`)}}),
	}
	outSrc := (*fsm)(src).ApplyBatch(next)
	outDst := (*fsm)(dst).ApplyBatch(next)
	require.True(t, outDst[0].(docstore.CommandResult).Skipped)
	require.True(t, outDst[1].(docstore.CommandResult).Skipped)
	require.Equal(t, outSrc[2].(docstore.CommandResult).One, outDst[2].(docstore.CommandResult).One)
	require.Equal(t, dump(t, src.DB()), dump(t, dst.DB()))

	// The restored data is what a restart opens.
	require.NoError(t, dst.DB().Close())
	db, err := dst.openDB(dst.dataDir())
	require.NoError(t, err)
	dst.db.Store(db)
	require.Equal(t, dump(t, src.DB()), dump(t, db))
}

// TestFSMRestoreBadSnapshot: a snapshot that is not a backup archive fails
// the restore and leaves the live data as it was.
func TestFSMRestoreBadSnapshot(t *testing.T) {
	n := newFSMNode(t)
	fillFSM(t, n)
	want := dump(t, n.DB())
	db := n.DB()
	err := (*fsm)(n).Restore(io.NopCloser(strings.NewReader("this is not a backup archive")))
	require.Error(t, err)
	require.Contains(t, err.Error(), "restore snapshot")
	require.Same(t, db, n.DB())
	require.Equal(t, want, dump(t, n.DB()))
	_, err = os.Stat(filepath.Join(n.cfg.Dir, dataPointer))
	require.True(t, os.IsNotExist(err), "DATA must not be written: %v", err)
}

// TestFSMPersistFailureCancels: a snapshot whose backup fails is
// cancelled, not left half-written in the store.
func TestFSMPersistFailureCancels(t *testing.T) {
	n := newFSMNode(t)
	fillFSM(t, n)
	snap, err := (*fsm)(n).Snapshot()
	require.NoError(t, err)
	require.NoError(t, n.DB().Close())
	store, err := raft.NewFileSnapshotStore(t.TempDir(), 2, io.Discard)
	require.NoError(t, err)
	sink, err := store.Create(raft.SnapshotVersionMax, 7, 1, raft.Configuration{}, 1, nil)
	require.NoError(t, err)
	require.Error(t, snap.Persist(sink))
	metas, err := store.List()
	require.NoError(t, err)
	require.Empty(t, metas)
	// Reopen so that the cleanup's Close has an open DB.
	db, err := n.openDB(n.dataDir())
	require.NoError(t, err)
	n.db.Store(db)
}

// TestFSMRestoreOlderSnapshot: a snapshot whose data is older than the
// node's (its backup's applied index is lower: snapshots are taken on
// every node, their checkpoint when persisted) does not move the node's
// data back; Raft's replay of the entries after it is skipped.
func TestFSMRestoreOlderSnapshot(t *testing.T) {
	var logs []*raft.Log
	for i := range 8 {
		logs = append(logs, cmdLog(t, uint64(i+1), insertCmd("c", fmt.Sprintf(`{"_id":"d%d","v":%d}`, i+1, i+1))))
	}
	src := newFSMNode(t)
	(*fsm)(src).ApplyBatch(logs[:5])
	store, err := raft.NewFileSnapshotStore(t.TempDir(), 2, io.Discard)
	require.NoError(t, err)
	id := persist(t, src, store, 5)

	dst := newFSMNode(t)
	(*fsm)(dst).ApplyBatch(logs)
	want := dump(t, dst.DB())
	db := dst.DB()
	_, rc, err := store.Open(id)
	require.NoError(t, err)
	require.NoError(t, (*fsm)(dst).Restore(rc))
	require.Equal(t, want, dump(t, dst.DB()), "the node's data went back to the snapshot's")
	require.Same(t, db, dst.DB())
	require.Equal(t, uint64(8), dst.DB().AppliedIndex())
	ents, err := os.ReadDir(dst.cfg.Dir)
	require.NoError(t, err)
	for _, e := range ents {
		require.False(t, strings.HasPrefix(e.Name(), "data-"), "left behind: %s", e.Name())
	}

	// Raft goes on from the snapshot's index: 6..8 are skipped, 9 applies.
	out := (*fsm)(dst).ApplyBatch(append(logs[5:], cmdLog(t, 9, insertCmd("c", `{"_id":"d9","v":9}`))))
	for i := range 3 {
		require.True(t, out[i].(docstore.CommandResult).Skipped)
	}
	require.NoError(t, out[3].(docstore.CommandResult).Err)
	require.Equal(t, uint64(9), dst.DB().AppliedIndex())
}
