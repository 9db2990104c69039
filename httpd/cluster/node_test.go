package cluster

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/docstore"
)

// TestOpenConfigErrors: a node without NODE_ID or RAFT_ADDR, or with a
// RAFT_ADDR it cannot use, does not start, and the error names the
// setting; nothing stays open (the same directory opens afterwards).
func TestOpenConfigErrors(t *testing.T) {
	dir := t.TempDir()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	for _, c := range []struct {
		name     string
		id, addr string
		want     []string
	}{
		{"no NODE_ID", "", "127.0.0.1:1", []string{"NODE_ID", "RAFT_ADDR"}},
		{"no RAFT_ADDR", "n1", "", []string{"NODE_ID", "RAFT_ADDR"}},
		{"no port", "n1", "127.0.0.1", []string{"RAFT_ADDR", `"127.0.0.1"`}},
		{"bad port", "n1", "127.0.0.1:port", []string{"RAFT_ADDR", `"127.0.0.1:port"`}},
		{"unspecified host", "n1", "0.0.0.0:0", []string{"RAFT_ADDR", `"0.0.0.0:0"`, "not advertisable"}},
		{"in use", "n1", busy.Addr().String(), []string{"RAFT_ADDR", busy.Addr().String()}},
	} {
		t.Run(c.name, func(t *testing.T) {
			n, err := Open(Config{NodeID: c.id, RaftAddr: c.addr, Dir: dir})
			require.Error(t, err)
			require.Nil(t, n)
			for _, w := range c.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
	// The failed opens released the Raft log (bolt holds a file lock).
	tn := newTestNode(t, "n1", func(c *Config) { c.Dir = dir })
	tn.start(tn.listen())
	waitRegistered(t, []*testNode{tn})
}

// TestOpenDefaults: zero durations and counts take the documented
// defaults.
func TestOpenDefaults(t *testing.T) {
	n, err := Open(Config{NodeID: "n1", RaftAddr: freeAddr(t), Dir: t.TempDir()})
	require.NoError(t, err)
	defer func() { require.NoError(t, n.Close()) }()
	require.Equal(t, time.Second, n.cfg.HeartbeatTimeout)
	require.Equal(t, time.Second, n.cfg.ElectionTimeout)
	require.Equal(t, uint64(8192), n.cfg.SnapshotThreshold)
	require.Equal(t, 30*time.Second, n.cfg.SnapshotInterval)
	require.Equal(t, uint64(10240), n.cfg.TrailingLogs)
	require.NotNil(t, n.logger)
}

// TestOthers: JOIN entries are trimmed of blanks and trailing slashes,
// empty ones dropped, and the node's own URL left out (a deployment gives
// every node the same JOIN list).
func TestOthers(t *testing.T) {
	for _, c := range []struct {
		self string
		join []string
		want []string
	}{
		{"http://a:1", nil, nil},
		{"http://a:1", []string{"http://a:1"}, nil},
		{"http://a:1", []string{"http://a:1/", " http://b:2 ", "", "  ", "http://c:3//"}, []string{"http://b:2", "http://c:3"}},
		{"http://a:1/", []string{"http://a:1", "http://b:2/"}, []string{"http://b:2"}},
		// Another host or scheme is another node.
		{"http://a:1", []string{"https://a:1", "http://a:10"}, []string{"https://a:1", "http://a:10"}},
	} {
		n := &Node{cfg: Config{AdvertiseURL: c.self, Join: c.join}}
		require.Equal(t, c.want, n.others(), "self %s, JOIN %q", c.self, c.join)
	}
}

// TestSingleNode: a node without JOIN or BOOTSTRAP_EXPECT bootstraps a
// one-node cluster, leads it, records its URL, and commits writes through
// Raft; reopened, it leads again from its own state with its data.
func TestSingleNode(t *testing.T) {
	tn := newTestNode(t, "solo", nil)
	tn.start(tn.listen())
	nodes := []*testNode{tn}
	waitRegistered(t, nodes)
	st := tn.node.Status().(Status)
	require.Equal(t, "cluster", st.Mode)
	require.Equal(t, "leader", st.Role)
	require.Equal(t, "solo", st.LeaderID)
	require.Equal(t, tn.url, st.LeaderURL)
	require.Equal(t, []NodeStatus{{ID: "solo", RaftAddr: tn.raftAddr, URL: tn.url, Voter: true}}, st.Nodes)

	for i := range 5 {
		put(t, nodes, "c", fmt.Sprint("d", i), i)
	}
	applied := tn.node.DB().AppliedIndex()
	require.NotZero(t, applied, "writes go through the Raft log")
	require.Equal(t, applied, tn.node.applied.Load())
	want := dumpDocs(t, tn.node.DB())
	require.NotEmpty(t, want)

	tn.stop()
	tn.start(tn.listen()) // a new HTTP port: the URL changes
	waitRegistered(t, nodes)
	require.Equal(t, want, dumpDocs(t, tn.node.DB()))
	put(t, nodes, "c", "after", 9)
	require.True(t, hasDocs(tn, "c", map[string]int{"d0": 0, "d4": 4, "after": 9}))
}

// dumpDocs returns db's dump without its header line (the feed's seq,
// which the node's metadata writes move too).
func dumpDocs(t *testing.T, db *docstore.DB) string {
	t.Helper()
	d := dump(t, db)
	_, rest, _ := strings.Cut(d, "\n")
	return rest
}

// TestClusterReplicates: three nodes bootstrap from a shared JOIN list; a
// write on the leader is on every follower; a follower's own DB refuses
// writes (no_leader), as do its membership calls.
func TestClusterReplicates(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	leader := waitLeader(t, nodes)
	st := leader.node.Status().(Status)
	require.Len(t, st.Nodes, 3)
	for i, s := range st.Nodes {
		require.Equal(t, nodes[i].id, s.ID)
		require.Equal(t, nodes[i].raftAddr, s.RaftAddr)
		require.True(t, s.Voter)
	}

	want := map[string]int{}
	for i := range 10 {
		id := fmt.Sprint("k", i)
		put(t, nodes, "kv", id, i)
		want[id] = i
	}
	for _, tn := range nodes {
		require.Eventually(t, func() bool { return hasDocs(tn, "kv", want) }, waitFor, tick, "node %s", tn.id)
	}
	require.Eventually(t, func() bool {
		d := dump(t, nodes[0].node.DB())
		return d == dump(t, nodes[1].node.DB()) && d == dump(t, nodes[2].node.DB())
	}, waitFor, tick, "the replicas' dumps differ")

	for _, tn := range nodes {
		if tn == leader {
			continue
		}
		st := tn.node.Status().(Status)
		require.Equal(t, "follower", st.Role)
		require.Equal(t, leader.id, st.LeaderID)
		require.Equal(t, leader.url, st.LeaderURL)
		ctx := context.Background()
		_, err := tn.node.DB().InsertOne(ctx, "kv", []byte(`{"_id":"x"}`), docstore.WriteOptions{})
		require.Equal(t, docstore.CodeNoLeader, errCode(err), "%v", err)
		require.Equal(t, docstore.CodeNoLeader, errCode(tn.node.Join(ctx, "n9", "127.0.0.1:1", "http://127.0.0.1:2")))
		require.Equal(t, docstore.CodeNoLeader, errCode(tn.node.Remove(ctx, leader.id)))
		require.Equal(t, docstore.CodeNoLeader, errCode(tn.node.TransferLeadership(ctx, "")))
	}
	_, err := leader.node.DB().Get(context.Background(), "kv", "x")
	require.Equal(t, docstore.CodeNotFound, errCode(err))
}

// TestClusterHTTP: a write sent to a follower is forwarded to the leader
// (or redirected with ?redirect=true); reads are served at the consistency
// asked; a request forwarded once is never forwarded again.
func TestClusterHTTP(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	leader := waitLeader(t, nodes)
	var follower *testNode
	for _, tn := range nodes {
		if tn != leader {
			follower = tn
		}
	}
	c := testClient(t)

	// A write to the follower is forwarded and applied by the leader.
	code, _, body := do(t, c, "POST", follower.url+"/api/users", `{"_id":"u1","name":"ann"}`)
	require.True(t, code == 200 || code == 201, "%d %s", code, body)
	require.JSONEq(t, `{"_id":"u1","name":"ann"}`, docJSON(t, leader.node.DB(), "users", "u1"),
		"acknowledged by the leader once applied there")
	for _, tn := range nodes {
		require.Eventually(t, func() bool {
			_, err := tn.node.DB().Get(context.Background(), "users", "u1")
			return err == nil
		}, waitFor, tick, "node %s", tn.id)
	}

	// Reads: the default (leader) and linearizable ones go to the leader;
	// consistency=none is served by the follower's own data.
	for _, q := range []string{"", "?consistency=leader", "?consistency=linearizable", "?consistency=none"} {
		code, _, body := do(t, c, "GET", follower.url+"/api/users/u1"+q, "")
		require.Equal(t, 200, code, "%s: %s", q, body)
		require.Contains(t, body, `"ann"`, q)
	}
	code, _, body = do(t, c, "GET", follower.url+"/api/users/u1", "", "X-Consistency", "linearizable")
	require.Equal(t, 200, code, body)
	code, _, body = do(t, c, "GET", leader.url+"/api/users/u1?consistency=linearizable", "")
	require.Equal(t, 200, code, body)

	// ?redirect=true answers 307 to the leader, without the routing
	// parameters.
	code, hdr, _ := do(t, c, "GET", follower.url+"/api/users/u1?redirect=true&consistency=leader&x=1", "")
	require.Equal(t, 307, code)
	require.Equal(t, leader.url+"/api/users/u1?x=1", hdr.Get("Location"))
	code, hdr, _ = do(t, c, "PUT", follower.url+"/api/users/u2?redirect=true", `{"name":"bob"}`)
	require.Equal(t, 307, code)
	require.Equal(t, leader.url+"/api/users/u2", hdr.Get("Location"))
	_, err := leader.node.DB().Get(context.Background(), "users", "u2")
	require.Equal(t, docstore.CodeNotFound, errCode(err), "a redirected write is not applied")

	// A bad consistency is a 400 that names the parameter.
	code, _, body = do(t, c, "GET", follower.url+"/api/users/u1?consistency=eventual", "")
	require.Equal(t, 400, code)
	require.Equal(t, "invalid_parameter", errBody(t, body))
	require.Contains(t, body, "consistency")
	require.Contains(t, body, "eventual")

	// A request a node forwarded must not be forwarded again.
	code, hdr, body = do(t, c, "POST", follower.url+"/api/users", `{"_id":"u3"}`, forwardedHeader, "n9")
	require.Equal(t, 503, code, body)
	require.Equal(t, "no_leader", errBody(t, body))
	require.Equal(t, "1", hdr.Get("Retry-After"))
	_, err = leader.node.DB().Get(context.Background(), "users", "u3")
	require.Equal(t, docstore.CodeNotFound, errCode(err))

	// Node-local routes answer for the node reached.
	code, _, body = do(t, c, "GET", follower.url+"/api/_cluster", "")
	require.Equal(t, 200, code, body)
	require.Contains(t, body, `"role":"follower"`)
	require.Contains(t, body, fmt.Sprintf(`"node_id":%q`, follower.id))
	code, _, body = do(t, c, "GET", follower.url+"/api/health", "")
	require.Equal(t, 200, code, body)
}

// TestClusterFailover: when the leader dies, the others elect a new one
// that has every acknowledged write; the old leader restarts from its
// own state (no new bootstrap), catches up, and its new URL is recorded.
func TestClusterFailover(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	old := waitLeader(t, nodes)
	want := map[string]int{}
	for i := range 10 {
		id := fmt.Sprint("a", i)
		put(t, nodes, "kv", id, i)
		want[id] = i
	}
	term := old.node.Status().(Status).Term

	old.crash()
	leader := waitLeader(t, nodes)
	require.NotEqual(t, old.id, leader.id)
	require.Greater(t, leader.node.Status().(Status).Term, term)
	// It applies the entries of earlier terms once an entry of its own
	// term commits.
	require.Eventually(t, func() bool { return hasDocs(leader, "kv", want) }, waitFor, tick,
		"the new leader lacks acknowledged writes")
	for i := range 5 {
		id := fmt.Sprint("b", i)
		put(t, nodes, "kv", id, 100+i)
		want[id] = 100 + i
	}

	oldURL := old.url
	old.start(old.listen())
	require.NotEqual(t, oldURL, old.url)
	require.True(t, old.node.hadState, "a restarted node has its Raft state")
	require.Eventually(t, func() bool { return hasDocs(old, "kv", want) }, waitFor, tick)
	leader = waitRegistered(t, nodes)
	st := leader.node.Status().(Status)
	require.Len(t, st.Nodes, 3)
	require.Eventually(t, func() bool {
		d := dump(t, nodes[0].node.DB())
		return d == dump(t, nodes[1].node.DB()) && d == dump(t, nodes[2].node.DB())
	}, waitFor, tick, "the replicas' dumps differ")
}

// TestClusterMembership: nodes join an existing cluster through JOIN (via
// a follower, which forwards the join to the leader); Remove and Join
// change the voters; leadership moves to a named node.
func TestClusterMembership(t *testing.T) {
	a := newTestNode(t, "a", nil)
	a.start(a.listen())
	waitRegistered(t, []*testNode{a})

	b := newTestNode(t, "b", nil)
	lnB := b.listen()
	b.cfg.Join = []string{a.url, b.url}
	b.start(lnB)
	waitRegistered(t, []*testNode{a, b})

	// c knows only b, a follower: its join is forwarded to the leader.
	c := newTestNode(t, "c", nil)
	lnC := c.listen()
	c.cfg.Join = []string{b.url}
	c.start(lnC)
	nodes := []*testNode{a, b, c}
	leader := waitRegistered(t, nodes)
	require.Equal(t, "a", leader.id, "joins do not move leadership")
	put(t, nodes, "kv", "one", 1)
	require.Eventually(t, func() bool { return hasDocs(c, "kv", map[string]int{"one": 1}) }, waitFor, tick)

	ctx := context.Background()
	require.NoError(t, a.node.Remove(ctx, "c"))
	st := a.node.Status().(Status)
	require.Len(t, st.Nodes, 2)
	for _, s := range st.Nodes {
		require.NotEqual(t, "c", s.ID)
	}
	meta, err := a.node.DB().ClusterMeta()
	require.NoError(t, err)
	require.NotContains(t, meta, "url/c")
	put(t, nodes, "kv", "two", 2)

	// Joined again (as the join route would), c catches up.
	require.NoError(t, a.node.Join(ctx, "c", c.raftAddr, c.url))
	waitRegistered(t, nodes)
	require.Eventually(t, func() bool { return hasDocs(c, "kv", map[string]int{"one": 1, "two": 2}) }, waitFor, tick)
	// Joining a member again with the same address changes nothing.
	require.NoError(t, a.node.Join(ctx, "c", c.raftAddr, c.url))
	require.Len(t, a.node.Status().(Status).Nodes, 3)

	err = a.node.TransferLeadership(ctx, "nobody")
	require.Equal(t, docstore.CodeNotFound, errCode(err), "%v", err)
	require.Contains(t, err.Error(), `"nobody"`)
	require.NoError(t, a.node.TransferLeadership(ctx, "b"))
	require.Eventually(t, func() bool {
		l := leaderOf(nodes)
		return l != nil && l.id == "b"
	}, waitFor, tick)

	// c comes back on another Raft address (and URL): its join replaces
	// its entry rather than adding a fourth voter.
	c.stop()
	oldAddr := c.raftAddr
	c.raftAddr = ""
	c.start(c.listen())
	require.NotEqual(t, oldAddr, c.raftAddr)
	leader = waitRegistered(t, nodes)
	require.Eventually(t, func() bool {
		st := leader.node.Status().(Status)
		for _, s := range st.Nodes {
			if s.ID == "c" && s.RaftAddr != c.raftAddr {
				return false
			}
		}
		return len(st.Nodes) == 3
	}, waitFor, tick, "c's entry keeps its old address")
	put(t, nodes, "kv", "three", 3)
	require.Eventually(t, func() bool { return hasDocs(c, "kv", map[string]int{"one": 1, "two": 2, "three": 3}) }, waitFor, tick)
}
