package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd"
)

// Short Raft timeouts keep the tests fast; they stay well above what a
// loaded machine under -race needs for a heartbeat round.
const (
	testHeartbeat = 400 * time.Millisecond
	testElection  = 400 * time.Millisecond
	// waitFor bounds each wait for the cluster to converge.
	waitFor = 15 * time.Second
	tick    = 20 * time.Millisecond
)

// testNode is one in-process node: a Node served by cluster.Serve on a
// 127.0.0.1 port, with its data under a t.TempDir().
type testNode struct {
	t        *testing.T
	id       string
	dir      string
	raftAddr string
	url      string
	cfg      Config // as given to Open (before its defaults)
	node     *Node
	cancel   context.CancelFunc
	done     chan error
}

// freeAddr returns a 127.0.0.1 address whose port was free a moment ago
// (Open binds RAFT_ADDR itself, and a node keeps its address across
// restarts).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// newTestNode prepares (does not start) a node; mod adjusts its Config.
func newTestNode(t *testing.T, id string, mod func(*Config)) *testNode {
	tn := &testNode{t: t, id: id, dir: t.TempDir()}
	tn.cfg = Config{
		NodeID:           id,
		Dir:              tn.dir,
		HeartbeatTimeout: testHeartbeat,
		ElectionTimeout:  testElection,
	}
	if mod != nil {
		mod(&tn.cfg)
	}
	t.Cleanup(tn.stop)
	return tn
}

// listen makes the node's HTTP listener, which fixes its URL.
func (tn *testNode) listen() net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tn.t, err)
	tn.url = "http://" + ln.Addr().String()
	return ln
}

// start opens the node (keeping its RAFT_ADDR once it has one) and
// serves it on ln.
func (tn *testNode) start(ln net.Listener) {
	t := tn.t
	t.Helper()
	require.Nil(t, tn.node, "node %s is running", tn.id)
	cfg := tn.cfg
	cfg.AdvertiseURL = tn.url
	restart := tn.raftAddr != ""
	var err error
	for attempt := 0; ; attempt++ {
		if !restart {
			tn.raftAddr = freeAddr(t)
		}
		cfg.RaftAddr = tn.raftAddr
		tn.node, err = Open(cfg)
		// The free port may have been taken meanwhile: try another, for
		// a new node only (a restart keeps its address).
		if err == nil || restart || !errors.Is(err, syscall.EADDRINUSE) || attempt == 3 {
			break
		}
	}
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	tn.cancel = cancel
	tn.done = make(chan error, 1)
	hc := httpd.Config{Logger: slog.New(slog.DiscardHandler), ShutdownTimeout: 5 * time.Second}
	go func(n *Node, done chan<- error) { done <- Serve(ctx, ln, n, hc) }(tn.node, tn.done)
}

// stop stops serving and closes the node (Serve closes it); a no-op when
// it is not running.
func (tn *testNode) stop() {
	if tn.node == nil {
		return
	}
	tn.cancel()
	select {
	case err := <-tn.done:
		if err != nil {
			tn.t.Errorf("node %s: Serve: %v", tn.id, err)
		}
	case <-time.After(30 * time.Second):
		tn.t.Errorf("node %s did not stop", tn.id)
	}
	tn.node = nil
}

// crash stops Raft first, as a process that dies would (no leadership
// hand-over), then the rest of the node.
func (tn *testNode) crash() {
	require.NoError(tn.t, tn.node.raft.Shutdown().Error())
	tn.stop()
}

func (tn *testNode) running() bool { return tn.node != nil }

// startCluster starts n nodes with BOOTSTRAP_EXPECT=n whose JOIN lists
// all of them (each its own URL too, as a deployment's shared JOIN does),
// and waits for a leader that knows every node's URL.
func startCluster(t *testing.T, n int, mod func(*Config)) []*testNode {
	t.Helper()
	nodes := make([]*testNode, n)
	lns := make([]net.Listener, n)
	var urls []string
	for i := range nodes {
		nodes[i] = newTestNode(t, fmt.Sprintf("n%d", i+1), mod)
		lns[i] = nodes[i].listen()
		urls = append(urls, nodes[i].url)
	}
	for i, tn := range nodes {
		tn.cfg.BootstrapExpect = n
		// A trailing slash and blanks, as a hand-written JOIN has.
		tn.cfg.Join = append([]string{" " + urls[len(urls)-1] + "/ "}, urls[:len(urls)-1]...)
		tn.start(lns[i])
	}
	waitRegistered(t, nodes)
	return nodes
}

// leaderOf returns the leader when the running nodes agree on one whose
// URL they know.
func leaderOf(nodes []*testNode) *testNode {
	var leader *testNode
	var id string
	for _, tn := range nodes {
		if !tn.running() {
			continue
		}
		url, lid := tn.node.LeaderURL()
		if lid == "" || url == "" || id != "" && lid != id {
			return nil
		}
		id = lid
		if tn.node.IsLeader() {
			leader = tn
		}
	}
	if leader == nil || leader.id != id {
		return nil
	}
	return leader
}

// waitLeader waits until the running nodes agree on a leader whose URL
// they know, and returns it.
func waitLeader(t *testing.T, nodes []*testNode) *testNode {
	t.Helper()
	var leader *testNode
	require.Eventually(t, func() bool {
		leader = leaderOf(nodes)
		return leader != nil
	}, waitFor, tick, "no leader agreed on")
	return leader
}

// waitRegistered waits for a leader whose status lists every running
// node, each with its current URL, and returns the leader.
func waitRegistered(t *testing.T, nodes []*testNode) *testNode {
	t.Helper()
	var leader *testNode
	require.Eventually(t, func() bool {
		if leader = leaderOf(nodes); leader == nil {
			return false
		}
		st := leader.node.Status().(Status)
		urls := map[string]string{}
		for _, s := range st.Nodes {
			urls[s.ID] = s.URL
		}
		for _, tn := range nodes {
			if tn.running() && urls[tn.id] != tn.url {
				return false
			}
		}
		return true
	}, waitFor, tick, "the leader does not list every node's URL")
	return leader
}

// put writes {"_id":id,"v":v} to col through the current leader's DB
// (the docstore Proposer: Raft), retrying while leadership moves; it
// returns once the write is acknowledged.
func put(t *testing.T, nodes []*testNode, col, id string, v int) {
	t.Helper()
	body := fmt.Sprintf(`{"_id":%q,"v":%d}`, id, v)
	require.Eventually(t, func() bool {
		for _, tn := range nodes {
			if !tn.running() || !tn.node.IsLeader() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := tn.node.DB().InsertOne(ctx, col, []byte(body), docstore.WriteOptions{})
			return err == nil
		}
		return false
	}, waitFor, tick, "write %s/%s", col, id)
}

// hasDocs reports whether tn's local data holds {"_id":id,"v":v} for
// every id → v of want.
func hasDocs(tn *testNode, col string, want map[string]int) bool {
	for id, v := range want {
		d, err := tn.node.DB().Get(context.Background(), col, id)
		if err != nil {
			return false
		}
		var doc struct {
			V int `json:"v"`
		}
		if json.Unmarshal(d.JSON, &doc) != nil || doc.V != v {
			return false
		}
	}
	return true
}

// testClient does not follow redirects; its idle connections are closed
// at the end of the test.
func testClient(t *testing.T) *http.Client {
	c := &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// do sends a request and returns the response's status, headers and body.
func do(t *testing.T, c *http.Client, method, url, body string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(b)
}

// errBody decodes an error response's code.
func errBody(t *testing.T, body string) string {
	t.Helper()
	var e struct {
		Code string `json:"code"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &e), "body %s", body)
	return e.Code
}
