package e2etest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minidbgo/minidbgo/httpd/client"
	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// clusterNode is one minidbgo-server of a test cluster: its ports are
// fixed for the test so that it restarts with the same identity.
type clusterNode struct {
	id, dir, url string
	httpPort     int
	raftPort     int
	srv          *server
}

type testCluster struct {
	t     *testing.T
	bin   string
	nodes []*clusterNode
	hc    *http.Client
}

// freePort returns a port that was free on 127.0.0.1 a moment ago.
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startCluster starts n nodes with BOOTSTRAP_EXPECT=n, each with the
// same JOIN list, and waits until every node knows the leader's URL.
func startCluster(t *testing.T, n int, env ...string) *testCluster {
	c := &testCluster{t: t, bin: buildServer(t, ""), hc: &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	var urls []string
	for i := range n {
		nd := &clusterNode{id: fmt.Sprintf("n%d", i+1), dir: t.TempDir(), httpPort: freePort(t), raftPort: freePort(t)}
		nd.url = fmt.Sprintf("http://127.0.0.1:%d", nd.httpPort)
		urls = append(urls, nd.url)
		c.nodes = append(c.nodes, nd)
	}
	join := strings.Join(urls, ",")
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, nd := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.start(nd, append([]string{"JOIN=" + join, fmt.Sprintf("BOOTSTRAP_EXPECT=%d", n)}, env...)...)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	c.waitLeader(30*time.Second, nil)
	return c
}

func (c *testCluster) start(nd *clusterNode, env ...string) error {
	s, err := startServer(c.t, c.bin, nd.dir, append([]string{
		"NODE_ID=" + nd.id,
		fmt.Sprintf("RAFT_ADDR=127.0.0.1:%d", nd.raftPort),
		fmt.Sprintf("PORT=%d", nd.httpPort),
	}, env...)...)
	if err != nil {
		return err
	}
	nd.srv = s
	return nil
}

// clusterStatus is GET /api/_cluster.
type clusterStatus struct {
	NodeID       string `json:"node_id"`
	Role         string `json:"role"`
	LeaderID     string `json:"leader_id"`
	LeaderURL    string `json:"leader_url"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	Nodes        []struct {
		ID  string `json:"id"`
		URL string `json:"url"`
	} `json:"nodes"`
}

func (c *testCluster) status(nd *clusterNode) (*clusterStatus, error) {
	resp, err := c.hc.Get(nd.url + "/api/_cluster")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var st clusterStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, err
	}
	return &st, nil
}

// waitLeader waits until every running node but skip names the same
// leader, whose URL it knows, and every member's URL is known; it returns
// the leader.
func (c *testCluster) waitLeader(d time.Duration, skip *clusterNode) *clusterNode {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		leader, ok := "", true
		for _, nd := range c.nodes {
			if nd == skip || nd.srv == nil || nd.srv.exited() {
				continue
			}
			st, err := c.status(nd)
			if err != nil || st.LeaderID == "" || st.LeaderURL == "" || (leader != "" && st.LeaderID != leader) {
				ok = false
				break
			}
			for _, m := range st.Nodes {
				ok = ok && m.URL != ""
			}
			leader = st.LeaderID
		}
		if ok && leader != "" {
			for _, nd := range c.nodes {
				if nd.id == leader {
					return nd
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("no common leader within %v", d)
	return nil
}

// do sends a request to a node and returns the status and body.
func (c *testCluster) do(nd *clusterNode, method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, nd.url+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// put writes doc col/id through nd; it reports whether the write was
// acknowledged.
func (c *testCluster) put(nd *clusterNode, col, id string, v int) bool {
	st, _, err := c.do(nd, "PUT", "/api/"+col+"/"+id, []byte(fmt.Sprintf(`{"v":%d}`, v)))
	return err == nil && (st == 200 || st == 201)
}

// waitCaughtUp waits until every running node applied what the leader
// applied.
func (c *testCluster) waitCaughtUp(d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		var leaderApplied, minApplied uint64 = 0, ^uint64(0)
		for _, nd := range c.nodes {
			if nd.srv == nil || nd.srv.exited() {
				continue
			}
			st, err := c.status(nd)
			if err != nil {
				minApplied = 0
				continue
			}
			if st.Role == "leader" {
				// The leader applied every acknowledged write.
				leaderApplied = st.AppliedIndex
			}
			minApplied = min(minApplied, st.AppliedIndex)
		}
		if leaderApplied > 0 && minApplied >= leaderApplied {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("nodes did not catch up within %v", d)
}

// dump returns a node's dumpDB at consistency none, without its header
// (whose seq is the node's engine's).
func (c *testCluster) dump(nd *clusterNode) string {
	st, b, err := c.do(nd, "GET", "/api/dumpDB?consistency=none", nil)
	if err != nil || st != 200 {
		c.t.Fatalf("dump of %s: %d %v %s", nd.id, st, err, b)
	}
	s := string(b)
	return s[strings.IndexByte(s, '\n')+1:]
}

// checkAcked checks that every acknowledged write is on every running
// node (read locally), and that the nodes' dumps are equal.
func (c *testCluster) checkAcked(col string, acked map[string]int) {
	c.t.Helper()
	c.waitCaughtUp(30 * time.Second)
	var first string
	for _, nd := range c.nodes {
		for id, v := range acked {
			st, b, err := c.do(nd, "GET", "/api/"+col+"/"+id+"?consistency=none", nil)
			if err != nil || st != 200 {
				c.t.Fatalf("node %s: acknowledged %s/%s: %d %v %s", nd.id, col, id, st, err, b)
			}
			var doc struct{ V int }
			if err := json.Unmarshal(b, &doc); err != nil || doc.V < v {
				c.t.Fatalf("node %s: %s/%s is %s, acknowledged v >= %d", nd.id, col, id, b, v)
			}
		}
		d := c.dump(nd)
		if first == "" {
			first = d
		} else if d != first {
			c.t.Fatalf("node %s's dump differs from n1's", nd.id)
		}
	}
}

// TestClusterFailover (short, in `make test`): three nodes bootstrap
// with BOOTSTRAP_EXPECT=3; writes through a follower are forwarded; the
// leader is SIGKILLed, a new one is elected and takes writes; the killed
// node restarts from its own state and catches up; every acknowledged
// write is on every node and the dumps are equal.
func TestClusterFailover(t *testing.T) {
	c := startCluster(t, 3)
	leader := c.waitLeader(30*time.Second, nil)
	var follower *clusterNode
	for _, nd := range c.nodes {
		if nd != leader {
			follower = nd
		}
	}
	acked := map[string]int{}
	for i := range 50 {
		id := fmt.Sprintf("k%d", i)
		if !c.put(follower, "t", id, i) {
			t.Fatalf("write %s through follower %s not acknowledged", id, follower.id)
		}
		acked[id] = i
	}
	// A write with ?redirect=true is answered 307 at the leader.
	st, _, err := c.do(follower, "PUT", "/api/t/r?redirect=true", []byte(`{"v":1}`))
	if err != nil || st != http.StatusTemporaryRedirect {
		t.Fatalf("redirect: %d %v", st, err)
	}

	killed := time.Now()
	leader.srv.kill()
	var took time.Duration
	for i := 0; ; i++ {
		if c.put(follower, "t", "after", 1) {
			took = time.Since(killed)
			acked["after"] = 1
			break
		}
		if time.Since(killed) > 30*time.Second {
			t.Fatal("no write acknowledged within 30 s of killing the leader")
		}
		time.Sleep(20 * time.Millisecond)
	}
	newLeader := c.waitLeader(30*time.Second, leader)
	if newLeader == leader {
		t.Fatal("the killed node is still the leader")
	}
	for i := range 20 {
		id := fmt.Sprintf("m%d", i)
		if !c.put(newLeader, "t", id, i) {
			t.Fatalf("write %s to the new leader not acknowledged", id)
		}
		acked[id] = i
	}
	// A linearizable read through a follower of the new leader (the Go
	// client's Consistency) sees the last acknowledged write.
	for _, nd := range c.nodes {
		if nd != leader && nd != newLeader {
			cl := client.New(nd.url)
			cl.Consistency = client.ConsistencyLinearizable
			var doc struct{ V int }
			if _, err := cl.Get(context.Background(), "t", "m19", &doc); err != nil || doc.V != 19 {
				t.Fatalf("linearizable read through %s: %v %+v", nd.id, err, doc)
			}
		}
	}
	if err := c.start(leader); err != nil {
		t.Fatal(err)
	}
	c.waitLeader(30*time.Second, nil)
	c.checkAcked("t", acked)
	figure(t, "cluster failover (3 nodes, short): kill of the leader to the next acknowledged write %v", took.Round(time.Millisecond))
}

// TestClusterTTLExpiry (short): with TTL_INTERVAL=1s a document whose
// _expiresAt passes is deleted on all three nodes by the leader's
// reaper through the log: each node's feed has exactly one expire record
// for it, at the same seq, the feeds are equal and so are the dumps.
func TestClusterTTLExpiry(t *testing.T) {
	c := startCluster(t, 3, "TTL_INTERVAL=1s")
	leader := c.waitLeader(30*time.Second, nil)
	var follower *clusterNode
	for _, nd := range c.nodes {
		if nd != leader {
			follower = nd
		}
	}
	exp := time.Now().Add(3 * time.Second).UTC().Format(time.RFC3339Nano)
	for id, body := range map[string]string{"gone": `{"_expiresAt":"` + exp + `"}`, "kept": `{"v":1}`} {
		if st, b, err := c.do(follower, "PUT", "/api/ttl/"+id, []byte(body)); err != nil || (st != 200 && st != 201) {
			t.Fatalf("put %s: %d %v %s", id, st, err, b)
		}
	}
	feed := func(nd *clusterNode) api.Changes {
		st, b, err := c.do(nd, "GET", "/api/ttl/_changes?consistency=none", nil)
		if err != nil || st != 200 {
			t.Fatalf("feed of %s: %d %v %s", nd.id, st, err, b)
		}
		var ch api.Changes
		if err := json.Unmarshal(b, &ch); err != nil {
			t.Fatalf("feed of %s: %v %s", nd.id, err, b)
		}
		return ch
	}
	expires := func(ch api.Changes) []uint64 {
		var seqs []uint64
		for _, r := range ch.Results {
			if r.Op == "expire" && r.ID == "gone" {
				seqs = append(seqs, r.Seq)
			}
		}
		return seqs
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		done := true
		for _, nd := range c.nodes {
			done = done && len(expires(feed(nd))) > 0
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the expired document was not reaped on every node within 30 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // more reaper runs: none may write again
	c.waitCaughtUp(30 * time.Second)
	// A write after the reap: the feed stays in commit order.
	if st, b, err := c.do(follower, "PUT", "/api/ttl/after", []byte(`{"v":2}`)); err != nil || (st != 200 && st != 201) {
		t.Fatalf("put after: %d %v %s", st, err, b)
	}
	c.waitCaughtUp(30 * time.Second)
	first := feed(c.nodes[0])
	want := expires(first)
	if len(want) != 1 {
		t.Fatalf("n1's feed has %d expire records for the document, want 1: %+v", len(want), first.Results)
	}
	var order []string
	for _, r := range first.Results {
		order = append(order, r.Op+" "+r.ID)
	}
	if got := strings.Join(order, ","); got != "insert gone,insert kept,expire gone,insert after" &&
		got != "insert kept,insert gone,expire gone,insert after" {
		t.Fatalf("n1's feed in seq order: %s", got)
	}
	d0 := c.dump(c.nodes[0])
	if !strings.Contains(d0, `"kept"`) || strings.Contains(d0, `"gone"`) {
		t.Fatalf("n1's dump: %s", d0)
	}
	for _, nd := range c.nodes[1:] {
		ch := feed(nd)
		if got := expires(ch); len(got) != 1 || got[0] != want[0] {
			t.Fatalf("node %s's expire records %v, n1's %v", nd.id, got, want)
		}
		if fmt.Sprint(ch.Results) != fmt.Sprint(first.Results) {
			t.Fatalf("node %s's feed %+v differs from n1's %+v", nd.id, ch.Results, first.Results)
		}
		if c.dump(nd) != d0 {
			t.Fatalf("node %s's dump differs from n1's", nd.id)
		}
	}
}
