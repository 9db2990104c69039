package e2etest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/minidbgo/minidbgo/httpd/client"
)

// longCluster skips the long cluster suite unless MINIDBGO_CLUSTER_LONG is
// set (`make cluster-test`).
func longCluster(t *testing.T) {
	if os.Getenv("MINIDBGO_CLUSTER_LONG") == "" {
		t.Skip("the long cluster suite runs with `make cluster-test` (MINIDBGO_CLUSTER_LONG=1)")
	}
}

// peakRSS returns a process's peak resident set (VmHWM) in bytes.
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// TestClusterFailoverRounds: writers on every node; the leader is
// SIGKILLed every ~5 s for 10 rounds (MINIDBGO_CLUSTER_ROUNDS) and
// restarted; afterwards every acknowledged write is on every node and the
// dumps are equal. It reports the time from each kill to the first
// acknowledged write sent after it (p50, max) and the nodes' peak RSS.
func TestClusterFailoverRounds(t *testing.T) {
	longCluster(t)
	c := startCluster(t, 3)
	rounds := envInt("MINIDBGO_CLUSTER_ROUNDS", 10)
	var (
		mu       sync.Mutex
		acked    = map[string]int{}
		killedAt atomic.Int64 // UnixNano of this round's kill, 0 before it
		firstAck atomic.Int64 // UnixNano of the first acknowledged write sent after it
		stop     atomic.Bool
		wg       sync.WaitGroup
		ackCount atomic.Int64
	)
	for i, nd := range c.nodes {
		for w := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for seq := 0; !stop.Load(); seq++ {
					id := fmt.Sprintf("w%d-%d-%d", i, w, seq)
					sent := time.Now().UnixNano()
					if c.put(nd, "f", id, seq) {
						// A write sent before the kill may be acknowledged
						// just after it (its answer was on the way): only
						// one sent after the kill shows a working cluster.
						if k := killedAt.Load(); k != 0 && sent > k {
							firstAck.CompareAndSwap(0, time.Now().UnixNano())
						}
						ackCount.Add(1)
						mu.Lock()
						acked[id] = seq
						mu.Unlock()
					} else {
						time.Sleep(20 * time.Millisecond)
					}
				}
			}()
		}
	}
	var took []time.Duration
	var maxRSS int64
	for r := range rounds {
		time.Sleep(5 * time.Second)
		leader := c.waitLeader(30*time.Second, nil)
		for _, nd := range c.nodes {
			if nd.srv != nil && !nd.srv.exited() {
				maxRSS = max(maxRSS, peakRSS(nd.srv.cmd.Process.Pid))
			}
		}
		firstAck.Store(0)
		killed := time.Now()
		killedAt.Store(killed.UnixNano())
		leader.srv.kill()
		for firstAck.Load() == 0 {
			if time.Since(killed) > 30*time.Second {
				t.Fatalf("round %d: no write sent after the kill acknowledged within 30 s", r)
			}
			time.Sleep(10 * time.Millisecond)
		}
		took = append(took, time.Duration(firstAck.Load()-killed.UnixNano()))
		killedAt.Store(0)
		if err := c.start(leader); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	c.waitLeader(30*time.Second, nil)
	c.checkAcked("f", acked)
	figure(t, "cluster failover (3 nodes, %d leader SIGKILLs, 9 writers): kill to the first acknowledged write sent after it p50 %v max %v; %d writes acknowledged; peak RSS per node %d MiB",
		rounds, percentile(took, 50).Round(time.Millisecond), percentile(took, 100).Round(time.Millisecond), ackCount.Load(), maxRSS>>20)
}

// TestClusterSnapshotCatchUp: a follower stopped while many documents
// (MINIDBGO_CLUSTER_DOCS, default 200,000) are written, with a log
// trimmed well below that, catches up through a snapshot when it
// restarts: its data equals the leader's.
func TestClusterSnapshotCatchUp(t *testing.T) {
	longCluster(t)
	c := startCluster(t, 3, "RAFT_SNAPSHOT_THRESHOLD=64", "RAFT_TRAILING_LOGS=32", "RAFT_SNAPSHOT_INTERVAL=1s")
	leader := c.waitLeader(30*time.Second, nil)
	var lagger *clusterNode
	for _, nd := range c.nodes {
		if nd != leader {
			lagger = nd
		}
	}
	lagger.srv.kill()
	docs := envInt("MINIDBGO_CLUSTER_DOCS", 200000)
	const batch = 100
	t0 := time.Now()
	for i := 0; i < docs; i += batch {
		var b bytes.Buffer
		b.WriteByte('[')
		for j := i; j < min(i+batch, docs); j++ {
			if j > i {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"_id":"d%07d","n":%d,"pad":"%s"}`, j, j, strings.Repeat("x", 40))
		}
		b.WriteByte(']')
		st, body, err := c.do(leader, "POST", "/api/s/_insertMany", b.Bytes())
		if err != nil || st != 201 && st != 200 {
			t.Fatalf("insertMany at %d: %d %v %s", i, st, err, body)
		}
	}
	loadTook := time.Since(t0)
	t1 := time.Now()
	if err := c.start(lagger); err != nil {
		t.Fatal(err)
	}
	c.waitCaughtUp(5 * time.Minute)
	catchUp := time.Since(t1)
	if _, err := os.Stat(filepath.Join(lagger.dir, "DATA")); err != nil {
		t.Fatalf("the restarted follower did not install a snapshot (no DATA file): %v", err)
	}
	if a, b := c.dump(lagger), c.dump(leader); a != b {
		t.Fatalf("the caught-up follower's dump differs from the leader's: %s", firstDiff(a, b))
	}
	figure(t, "cluster snapshot catch-up: %d docs written in %v while a follower was down; it caught up by snapshot in %v",
		docs, loadTook.Round(time.Millisecond), catchUp.Round(time.Millisecond))
}

// writeRate runs 50 writers for d, each PUTting new documents to the
// URLs given (round robin by writer), and returns acknowledged writes/s.
func writeRate(t *testing.T, urls []string, d time.Duration) float64 {
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer hc.CloseIdleConnections()
	var n atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	for w := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			base := urls[w%len(urls)]
			for i := 0; time.Now().Before(end); i++ {
				req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/api/tp/w%d-%d", base, w, i), strings.NewReader(`{"name":"load","n":1,"tags":["a","b"]}`))
				req.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(req)
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 || resp.StatusCode == 201 {
					n.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / d.Seconds()
}

// TestClusterThroughput measures 50 concurrent writers against a single
// node (group commit) and against a three-node cluster on this machine,
// in the same run, and reports both and their ratio.
func TestClusterThroughput(t *testing.T) {
	longCluster(t)
	d := 5 * time.Second
	single, err := startServer(t, buildServer(t, ""), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	singleRate := writeRate(t, []string{"http://" + single.addr}, d)
	single.kill()
	c := startCluster(t, 3)
	leader := c.waitLeader(30*time.Second, nil)
	leaderRate := writeRate(t, []string{leader.url}, d)
	var all []string
	for _, nd := range c.nodes {
		all = append(all, nd.url)
	}
	allRate := writeRate(t, all, d)
	figure(t, "cluster throughput (50 writers, PUT, same run): single node %.0f/s; 3-node cluster via the leader %.0f/s (%.2f×), via all nodes %.0f/s (%.2f×)",
		singleRate, leaderRate, leaderRate/singleRate, allRate, allRate/singleRate)
}

// TestClusterLinearizability: 9 clients (3 per node) put and read
// (consistency=linearizable) five keys while the leader is SIGKILLed and
// restarted twice and a node is paused (SIGSTOP for 3 s, then SIGCONT),
// then a porcupine check of each key's history (the model of
// TestLinearizability: a write with no answer, or a 5xx, may take effect
// at any later point or never). consistency=none reads may be stale and
// are not made.
func TestClusterLinearizability(t *testing.T) {
	longCluster(t)
	c := startCluster(t, 3)
	h := &linHistory{t0: time.Now()}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var ops, unknowns atomic.Int64
	for i, nd := range c.nodes {
		for w := range 3 {
			cli := i*3 + w
			cr := rand.New(rand.NewPCG(uint64(cli), 0xc1))
			wg.Go(func() {
				cl := client.New(nd.url)
				cl.HTTPClient = &http.Client{Timeout: 5 * time.Second}
				cl.Consistency = client.ConsistencyLinearizable
				for n := 0; ctx.Err() == nil; n++ {
					time.Sleep(10 * time.Millisecond)
					k := cr.IntN(linKeys)
					if cr.IntN(2) == 0 {
						call := h.now()
						v, _, err := linGet(context.Background(), cl, k)
						ret := h.now()
						if err == nil {
							h.add(k, cli, linInput{op: "get"}, linOutput{val: v}, call, ret)
							ops.Add(1)
						} else {
							time.Sleep(20 * time.Millisecond)
						}
						continue
					}
					val := fmt.Sprintf("c%d-%d", cli, n)
					call := h.now()
					_, err := cl.Put(context.Background(), linCol, linID(k), map[string]any{"v": val}, nil)
					ret := h.now()
					o, _ := classify(err)
					var ce *client.Error
					if errors.As(err, &ce) && ce.Status == http.StatusServiceUnavailable {
						// 503 (no_leader, overloaded): not applied — a
						// write whose outcome the node cannot know is 504.
						o = failed
					}
					switch o {
					case acked:
						h.add(k, cli, linInput{op: "put", to: val}, linOutput{}, call, ret)
						ops.Add(1)
					case unknown:
						h.add(k, cli, linInput{op: "put", to: val}, linOutput{unknown: true}, call, math.MaxInt64)
						unknowns.Add(1)
						time.Sleep(20 * time.Millisecond)
					default:
						time.Sleep(20 * time.Millisecond)
					}
				}
			})
		}
	}
	for round := range 2 {
		time.Sleep(4 * time.Second)
		leader := c.waitLeader(30*time.Second, nil)
		leader.srv.kill()
		time.Sleep(2 * time.Second)
		if err := c.start(leader); err != nil {
			t.Fatal(err)
		}
		_ = round
	}
	time.Sleep(3 * time.Second)
	paused := c.waitLeader(30*time.Second, nil) // pause the leader: a partition of one
	_ = paused.srv.cmd.Process.Signal(syscall.SIGSTOP)
	time.Sleep(3 * time.Second)
	_ = paused.srv.cmd.Process.Signal(syscall.SIGCONT)
	time.Sleep(3 * time.Second)
	cancel()
	wg.Wait()
	// A final linearizable read of every key.
	c.waitLeader(30*time.Second, nil)
	cl := client.New(c.nodes[0].url)
	cl.Consistency = client.ConsistencyLinearizable
	for k := range linKeys {
		call := h.now()
		v, _, err := linGet(context.Background(), cl, k)
		if err != nil {
			t.Fatalf("final read of %s: %v", linID(k), err)
		}
		h.add(k, 99, linInput{op: "get"}, linOutput{val: v}, call, h.now())
	}
	violations, undecided := 0, 0
	for k := range linKeys {
		res, _ := porcupine.CheckOperationsVerbose(linModel(""), h.ops[k], 30*time.Second)
		switch res {
		case porcupine.Illegal:
			violations++
			t.Errorf("key %s: the history is not linearizable", linID(k))
		case porcupine.Unknown:
			undecided++
			t.Logf("key %s: porcupine timed out", linID(k))
		}
	}
	figure(t, "cluster linearizability (3 nodes, 9 clients, 2 leader kills, leader paused 3 s): %d operations, %d with no answer; %d violations, %d of %d keys undecided (porcupine timed out)",
		ops.Load(), unknowns.Load(), violations, undecided, linKeys)
}

// firstDiff describes where two dumps first differ.
func firstDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(la) && i < len(lb); i++ {
		if la[i] != lb[i] {
			return fmt.Sprintf("line %d: %.200q vs %.200q (%d and %d lines)", i+1, la[i], lb[i], len(la), len(lb))
		}
	}
	return fmt.Sprintf("%d lines vs %d", len(la), len(lb))
}
