package docstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/minidbgo/minidbgo/docstore/internal/keyenc"
	"github.com/stretchr/testify/require"
)

// TestReplicatedReaperIsDeterministic: with a Proposer set, the reaper
// proposes its deletes (CmdExpire) instead of writing locally, and a
// replica applying the log — with its own clock still before the
// documents' expiry — deletes the same documents at the entry's time:
// both end with the same documents, revisions and change feed, each
// reaped document with one expire record at the same seq.
func TestReplicatedReaperIsDeterministic(t *testing.T) {
	ctx := context.Background()
	start := time.Now().UnixMilli()
	pclock := newFakeClock(start)
	primary := openTTL(t, pclock)
	l := &replLog{primary: primary}
	primary.SetProposer(l.propose)
	primary.SetReaperGate(func() bool { return true })

	require.NoError(t, primary.CreateIndex(ctx, "c", ttlSpec(t, `{"name":"ts_ttl","fields":["ts"],"expireAfterSeconds":0}`), nil))
	docs := []string{
		fmt.Sprintf(`{"_id":"a","_expiresAt":%d}`, start+1000),
		fmt.Sprintf(`{"_id":"b","_expiresAt":%q}`, time.UnixMilli(start+1500).UTC().Format(time.RFC3339Nano)),
		fmt.Sprintf(`{"_id":"c","ts":%d}`, start+2000),
		`{"_id":"d","v":1}`,
		fmt.Sprintf(`{"_id":"e","_expiresAt":%d}`, start+1000),
		fmt.Sprintf(`{"_id":"f","_expiresAt":%d}`, start+60_000),
	}
	for _, d := range docs {
		_, err := primary.InsertOne(ctx, "c", []byte(d), WriteOptions{})
		require.NoError(t, err)
	}
	// e is rewritten before it expires: it stays.
	_, err := primary.MergePatch(ctx, "c", "e", []byte(`{"_expiresAt":null}`), WriteOptions{})
	require.NoError(t, err)
	before := len(l.entries)

	pclock.ns.Add(int64(3 * time.Second))
	n, err := primary.ReapExpired(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(3), n)
	require.Greater(t, len(l.entries), before, "the reaper proposed its deletes")
	for _, b := range l.entries[before:] {
		c, err := DecodeCommand(b)
		require.NoError(t, err)
		require.Equal(t, CmdExpire, c.Kind)
	}
	n, err = primary.ReapExpired(ctx)
	require.NoError(t, err)
	require.Zero(t, n)

	// The replica's clock is the start: were the deletes made by its
	// clock, nothing would have expired.
	replica := openTTL(t, newFakeClock(start))
	l.applyTo(t, replica, 1, 2)
	require.Equal(t, primary.AppliedIndex(), replica.AppliedIndex())
	require.Equal(t, replDump(t, primary), replDump(t, replica))
	require.Equal(t, map[string]uint64{"d": revs(t, primary, "c")["d"], "e": revs(t, primary, "c")["e"], "f": revs(t, primary, "c")["f"]}, revs(t, primary, "c"))
	require.Equal(t, revs(t, primary, "c"), revs(t, replica, "c"))
	pch, rch := allChanges(t, primary, ""), allChanges(t, replica, "")
	require.Equal(t, pch, rch)
	require.Equal(t, primary.FeedSeq(), replica.FeedSeq())
	expired := map[string]int{}
	for _, ch := range rch {
		if ch.Op == OpExpire {
			expired[ch.ID]++
		}
	}
	require.Equal(t, map[string]int{"a": 1, "b": 1, "c": 1}, expired)

	// A non-leader (its gate says no) does not reap, even with every
	// document due by its clock: nothing is proposed or written.
	rclock := newFakeClock(start + 3_600_000)
	follower := openTTL(t, rclock)
	l.applyTo(t, follower, 1, 5)
	proposed := 0
	follower.SetProposer(func(context.Context, *WriteCommand) (CommandResult, error) {
		proposed++
		return CommandResult{}, nil
	})
	follower.SetReaperGate(func() bool { return false })
	n, err = follower.ReapExpired(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	require.Zero(t, proposed)
	_, err = follower.engine.Get(keyenc.DocKey(nil, "c", "f"))
	require.NoError(t, err, "f, expired by the follower's clock, is still stored")
}

// TestApplyExpireRechecksAtEntryTime: a CmdExpire lists a document that
// was rewritten (or not yet expired) by the entry's time: it stays, on
// every node; a bad key is a bad command that changes nothing.
func TestApplyExpireRechecksAtEntryTime(t *testing.T) {
	ctx := context.Background()
	db := openTTL(t, newFakeClock(0))
	_, err := db.ApplyCommands(ctx, 1, []*WriteCommand{
		{Kind: CmdReplace, Col: "c", ID: "a", Bodies: [][]byte{[]byte(`{"_expiresAt":5000}`)}, Now: 1},
		{Kind: CmdReplace, Col: "c", ID: "b", Bodies: [][]byte{[]byte(`{"_expiresAt":9000}`)}, Now: 1},
	})
	require.NoError(t, err)
	keys := [][]byte{keyenc.ExpiryKey(nil, "c", 5000, "a"), keyenc.ExpiryKey(nil, "c", 9000, "b")}
	rs, err := db.ApplyCommands(ctx, 3, []*WriteCommand{
		{Kind: CmdExpire, Col: "c", Bodies: keys, Now: int64(6000 * time.Millisecond)},
		{Kind: CmdExpire, Col: "c", Bodies: [][]byte{[]byte("junk")}, Now: int64(10000 * time.Millisecond)},
	})
	require.NoError(t, err)
	require.NoError(t, rs[0].Err)
	require.Equal(t, int64(1), rs[0].Multi.Deleted)
	require.Equal(t, "bad_request", errCode(rs[1].Err))
	require.Equal(t, uint64(4), db.AppliedIndex())
	_, err = db.engine.Get(keyenc.DocKey(nil, "c", "a"))
	require.Error(t, err, "a had expired by the entry's time")
	_, err = db.engine.Get(keyenc.DocKey(nil, "c", "b"))
	require.NoError(t, err, "b had not")
}

// TestReplicatedTTLIndexDropSweepsAtEntryTime: dropping a TTL index
// sweeps its expiry keys, deleting documents that have expired anyway;
// applied from the log it judges them at the entry's time, not by each
// node's clock, so nodes whose clocks disagree delete the same ones.
func TestReplicatedTTLIndexDropSweepsAtEntryTime(t *testing.T) {
	ctx := context.Background()
	start := time.Now().UnixMilli()
	primary := openTTL(t, newFakeClock(start+3_600_000))
	l := &replLog{primary: primary}
	primary.SetProposer(l.propose)
	require.NoError(t, primary.CreateIndex(ctx, "c", ttlSpec(t, `{"name":"ts_ttl","fields":["ts"],"expireAfterSeconds":3600}`), nil))
	_, err := primary.InsertOne(ctx, "c", []byte(fmt.Sprintf(`{"_id":"a","ts":%d,"_expiresAt":%d}`, start, start+600_000)), WriteOptions{})
	require.NoError(t, err)
	require.NoError(t, primary.DropIndex(ctx, "c", "ts_ttl"))

	replica := openTTL(t, newFakeClock(start))
	l.applyTo(t, replica, 1, 1)
	require.Equal(t, allChanges(t, primary, ""), allChanges(t, replica, ""))
	for _, db := range []*DB{primary, replica} {
		_, err = db.engine.Get(keyenc.DocKey(nil, "c", "a"))
		require.NoError(t, err, "a had not expired by the entries' time")
	}
}
