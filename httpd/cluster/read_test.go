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
