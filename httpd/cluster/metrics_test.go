package cluster

import (
	"net/http"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// metricValue returns the value of an unlabelled metric in a Prometheus
// text exposition.
func metricValue(t *testing.T, body, name string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindStringSubmatch(body)
	require.NotNil(t, m, "%s in /metrics", name)
	v, err := strconv.ParseFloat(m[1], 64)
	require.NoError(t, err)
	return v
}

// TestClusterMetrics: every node's /metrics has the minidbgo_cluster_*
// figures of its own view: one leader, the others following it with
// their data applied as far as the leader's.
func TestClusterMetrics(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	put(t, nodes, "c", "a", 1)
	leader := waitLeader(t, nodes)
	c := testClient(t)
	leaders := 0
	for _, tn := range nodes {
		require.Eventually(t, func() bool { return hasDocs(tn, "c", map[string]int{"a": 1}) }, waitFor, tick)
		st, _, body := do(t, c, "GET", tn.url+"/metrics", "")
		require.Equal(t, http.StatusOK, st, body)
		isLeader := metricValue(t, body, "minidbgo_cluster_leader")
		leaders += int(isLeader)
		require.Equal(t, tn == leader, isLeader == 1, tn.id)
		require.Equal(t, 1.0, metricValue(t, body, "minidbgo_cluster_has_leader"), tn.id)
		require.Equal(t, 3.0, metricValue(t, body, "minidbgo_cluster_voters"), tn.id)
		require.Equal(t, 3.0, metricValue(t, body, "minidbgo_cluster_nodes"), tn.id)
		require.GreaterOrEqual(t, metricValue(t, body, "minidbgo_cluster_term"), 1.0, tn.id)
		// The document's write, at least, is applied and committed.
		require.GreaterOrEqual(t, metricValue(t, body, "minidbgo_cluster_applied_index"), 3.0, tn.id)
		require.GreaterOrEqual(t, metricValue(t, body, "minidbgo_cluster_commit_index"), 3.0, tn.id)
		if tn == leader {
			require.Equal(t, 0.0, metricValue(t, body, "minidbgo_cluster_last_contact_seconds"))
		} else {
			require.Less(t, metricValue(t, body, "minidbgo_cluster_last_contact_seconds"), 10.0, tn.id)
		}
	}
	require.Equal(t, 1, leaders)
}
