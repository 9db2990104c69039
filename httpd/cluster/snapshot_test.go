package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestClusterSnapshotCatchUp: a follower that was down while the leader
// compacted its log catches up by installing a snapshot, which replaces
// its data (and the HTTP server on it) while it serves.
func TestClusterSnapshotCatchUp(t *testing.T) {
	nodes := startCluster(t, 3, func(c *Config) {
		c.SnapshotThreshold = 8
		c.SnapshotInterval = 50 * time.Millisecond
		c.TrailingLogs = 4
	})
	leader := waitLeader(t, nodes)
	var down *testNode
	for _, tn := range nodes {
		if tn != leader {
			down = tn
		}
	}
	downLast := down.node.raft.LastIndex()
	down.stop()

	want := map[string]int{}
	for i := range 40 {
		id := fmt.Sprint("s", i)
		put(t, nodes, "kv", id, i)
		want[id] = i
	}
	leader = waitLeader(t, nodes)
	require.Eventually(t, func() bool {
		metas, err := leader.node.snaps.List()
		// The log the stopped node needs next is compacted away.
		return err == nil && len(metas) > 0 && metas[0].Index > downLast+4+1
	}, waitFor, tick, "the leader took no snapshot")

	down.start(down.listen())
	require.Eventually(t, func() bool { return hasDocs(down, "kv", want) }, waitFor, tick)
	ptr, err := os.ReadFile(filepath.Join(down.dir, dataPointer))
	require.NoError(t, err, "the follower installed a snapshot")
	require.True(t, strings.HasPrefix(string(ptr), "data-"))

	// Its HTTP server serves the restored data (consistency=none may be
	// stale for a moment, and a request in flight while a restore swaps
	// the data may fail: retried).
	hc := testClient(t)
	var code int
	var body string
	require.Eventually(t, func() bool {
		code, _, body = do(t, hc, "GET", down.url+"/api/kv/s39?consistency=none", "")
		return code == 200
	}, waitFor, tick, "GET on the restored node never answered 200")
	require.Contains(t, body, `"v":39`)
}

// TestOpenRestoresSnapshot: a node whose data is behind its latest Raft
// snapshot (here: lost) restores the snapshot when it opens, then Raft
// replays the log after it.
func TestOpenRestoresSnapshot(t *testing.T) {
	tn := newTestNode(t, "solo", nil)
	tn.start(tn.listen())
	nodes := []*testNode{tn}
	waitRegistered(t, nodes)
	want := map[string]int{}
	for i := range 5 {
		put(t, nodes, "kv", fmt.Sprint("p", i), i)
		want[fmt.Sprint("p", i)] = i
	}
	require.NoError(t, tn.node.raft.Snapshot().Error())
	for i := range 3 {
		put(t, nodes, "kv", fmt.Sprint("q", i), i)
		want[fmt.Sprint("q", i)] = i
	}
	tn.stop()
	require.NoError(t, os.RemoveAll(filepath.Join(tn.dir, "data")))

	tn.start(tn.listen())
	// Restored at open, before Raft ran: the snapshot's documents.
	require.True(t, hasDocs(tn, "kv", map[string]int{"p0": 0, "p4": 4}))
	ptr, err := os.ReadFile(filepath.Join(tn.dir, dataPointer))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(ptr), "data-"))
	// Then the log after it.
	require.Eventually(t, func() bool { return hasDocs(tn, "kv", want) }, waitFor, tick)
	waitRegistered(t, nodes)
}
