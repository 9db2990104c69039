package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestClusterLeaderReadAfterFailover: a read at the default consistency
// (leader) that a new leader serves sees every write acknowledged before
// the old leader died — also before the new leader has applied the
// entries of earlier terms (it does once an entry of its own commits).
func TestClusterLeaderReadAfterFailover(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	c := testClient(t)
	for round := range 3 {
		old := waitRegistered(t, nodes)
		id := fmt.Sprint("r", round)
		put(t, nodes, "kv", id, round)
		old.crash()
		var leader *testNode
		require.Eventually(t, func() bool {
			for _, tn := range nodes {
				if tn.running() && tn.node.IsLeader() {
					leader = tn
					return true
				}
			}
			return false
		}, waitFor, time.Millisecond)
		// As soon as it leads (503 no_leader only if it lost it again).
		var code int
		var body string
		require.Eventually(t, func() bool {
			code, _, body = do(t, c, "GET", leader.url+"/api/kv/"+id, "")
			return code != 503
		}, waitFor, tick)
		require.Equal(t, 200, code, "round %d: the new leader %s answered %s", round, leader.id, body)
		old.start(old.listen())
	}
}

// TestClusterPostReads: the reads that take a POST body (_find, _count,
// _search, _distinct, _explain, _aggregate, _changes) are reads: at
// consistency=none a node serves them from its own data, even when the
// cluster has no leader, as it does GET reads; a POST that writes is not.
func TestClusterPostReads(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	c := testClient(t)
	put(t, nodes, "users", "u1", 1)
	for _, tn := range nodes {
		require.Eventually(t, func() bool { return hasDocs(tn, "users", map[string]int{"u1": 1}) }, waitFor, tick)
	}
	// Two nodes down: no leader, no quorum.
	nodes[0].crash()
	nodes[1].crash()
	tn := nodes[2]
	require.Eventually(t, func() bool { _, id := tn.node.raft.LeaderWithID(); return id == "" }, waitFor, tick)

	code, _, body := do(t, c, "GET", tn.url+"/api/users/u1?consistency=none", "")
	require.Equal(t, 200, code, body)
	for _, r := range []struct{ path, body, want string }{
		{"/api/users/_find", `{"filter":{"v":1}}`, `"u1"`},
		{"/api/users/_count", `{"filter":{}}`, `1`},
		{"/api/users/_search", `{"v":1}`, `"u1"`}, // the body is the filter
		{"/api/users/_distinct", `{"field":"v"}`, `1`},
		{"/api/users/_explain", `{"filter":{"v":1}}`, ``},
		{"/api/users/_aggregate", `{"pipeline":[{"$match":{"v":1}}]}`, `"u1"`},
		{"/api/_changes", `{}`, `"u1"`},
		{"/api/users/_changes", `{}`, `"u1"`},
	} {
		code, _, body := do(t, c, "POST", tn.url+r.path+"?consistency=none", r.body)
		require.Equal(t, 200, code, "%s: %s", r.path, body)
		require.Contains(t, body, r.want, r.path)
		code, _, body = do(t, c, "POST", tn.url+r.path, r.body, "X-Consistency", "none")
		require.Equal(t, 200, code, "%s: %s", r.path, body)
	}
	// Writes still need the leader, whatever the consistency.
	for _, r := range []struct{ path, body string }{
		{"/api/users", `{"_id":"u2"}`},
		{"/api/_find", `{"_id":"u2"}`}, // a collection named _find
		{"/api/users/_update", `{"filter":{},"update":{"$set":{"v":2}}}`},
		{"/api/users/_insertMany", `[{"_id":"u3"}]`},
	} {
		code, _, body := do(t, c, "POST", tn.url+r.path+"?consistency=none", r.body)
		require.Equal(t, 503, code, "%s: %s", r.path, body)
		require.Equal(t, "no_leader", errBody(t, body), r.path)
	}
}
