package cluster

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/storage"
)

// TestClusterFromRestoredBackup follows docs/operations.md, "Backup and
// restore of a cluster": a backup of one cluster restored on a node
// started alone founds a new cluster whose later writes are stored (they
// were acknowledged and skipped: the new log began again at index 1,
// below the data's applied index), and a node started empty with JOIN
// receives the data. A node with such data and JOIN, or
// BOOTSTRAP_EXPECT, refuses to start.
func TestClusterFromRestoredBackup(t *testing.T) {
	old := startCluster(t, 1, nil)
	want := map[string]int{}
	for i := range 30 {
		id := fmt.Sprintf("d%02d", i)
		put(t, old, "c", id, i)
		want[id] = i
	}
	var backup bytes.Buffer
	_, err := old[0].node.DB().Backup(context.Background(), &backup, nil)
	require.NoError(t, err)
	applied := old[0].node.DB().AppliedIndex()
	require.Greater(t, applied, uint64(30))
	old[0].stop()

	restoreInto := func(tn *testNode) {
		_, err := storage.RestoreBackup(bytes.NewReader(backup.Bytes()), filepath.Join(tn.dir, "data"), nil)
		require.NoError(t, err)
	}
	first := newTestNode(t, "r1", nil)
	restoreInto(first)
	first.start(first.listen())
	nodes := []*testNode{first}
	waitRegistered(t, nodes)
	require.True(t, hasDocs(first, "c", want), "the restored documents")
	for i := 30; i < 40; i++ {
		id := fmt.Sprintf("d%02d", i)
		put(t, nodes, "c", id, i)
		want[id] = i
	}
	require.True(t, hasDocs(first, "c", want), "writes after the restore are stored")
	require.Greater(t, first.node.DB().AppliedIndex(), applied, "the log went on after the data's index")

	// A node started empty with JOIN gets everything.
	second := newTestNode(t, "r2", func(c *Config) { c.Join = []string{first.url} })
	second.start(second.listen())
	nodes = append(nodes, second)
	waitRegistered(t, nodes)
	require.Eventually(t, func() bool { return hasDocs(second, "c", want) }, waitFor, tick, "the joined node has the data")
	put(t, nodes, "c", "after-join", 1)
	want["after-join"] = 1
	for _, tn := range nodes {
		require.Eventually(t, func() bool { return hasDocs(tn, "c", want) }, waitFor, tick, tn.id)
	}

	// Restored data with JOIN, or BOOTSTRAP_EXPECT, is refused.
	for _, mod := range []func(*Config){
		func(c *Config) { c.Join = []string{first.url} },
		func(c *Config) { c.BootstrapExpect = 3 },
	} {
		tn := newTestNode(t, "r3", mod)
		restoreInto(tn)
		cfg := tn.cfg
		cfg.RaftAddr = freeAddr(t)
		cfg.AdvertiseURL = "http://127.0.0.1:1"
		n, err := Open(cfg)
		if n != nil {
			n.Close()
		}
		require.ErrorContains(t, err, "holds the data of a cluster node")
	}
}
