package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/raft"
)

// membershipLoop makes a new node a member — it bootstraps the cluster
// with the nodes JOIN lists once BOOTSTRAP_EXPECT of them answer, or
// joins the existing cluster through any JOIN address — and then makes
// sure the leader knows this node's URL. A node with Raft state (a
// restart) never bootstraps again.
func (n *Node) membershipLoop() {
	defer n.wg.Done()
	member := n.hadState
	t := time.NewTicker(300 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-n.closing:
			return
		case <-t.C:
		}
		if !member {
			member = n.tryBecomeMember()
			continue
		}
		if n.registered() {
			// Keep checking now and then: a restored snapshot or a
			// re-added node may have lost the URL.
			t.Reset(5 * time.Second)
			continue
		}
		n.register()
	}
}

// tryBecomeMember bootstraps or joins; it reports success.
func (n *Node) tryBecomeMember() bool {
	// Raft state may have arrived from a leader meanwhile.
	if _, id := n.raft.LeaderWithID(); id != "" {
		return true
	}
	peers := n.others()
	if n.cfg.BootstrapExpect <= 0 && len(peers) == 0 {
		// Alone: a one-node cluster.
		err := n.raft.BootstrapCluster(raft.Configuration{Servers: []raft.Server{n.self()}}).Error()
		return err == nil || errors.Is(err, raft.ErrCantBootstrap)
	}
	found := map[raft.ServerID]raft.Server{raft.ServerID(n.cfg.NodeID): n.self()}
	for _, u := range peers {
		st, err := n.fetchStatus(u)
		if err != nil || st.Mode != "cluster" || st.NodeID == "" {
			continue
		}
		if st.LeaderID != "" && len(st.Nodes) > 0 {
			// A cluster exists: join it.
			return n.postJoin(u) == nil
		}
		found[raft.ServerID(st.NodeID)] = raft.Server{ID: raft.ServerID(st.NodeID), Address: raft.ServerAddress(st.RaftAddr), Suffrage: raft.Voter}
	}
	if n.cfg.BootstrapExpect <= 0 || len(found) < n.cfg.BootstrapExpect {
		return false
	}
	var conf raft.Configuration
	for _, s := range found {
		conf.Servers = append(conf.Servers, s)
	}
	sort.Slice(conf.Servers, func(i, j int) bool { return conf.Servers[i].ID < conf.Servers[j].ID })
	err := n.raft.BootstrapCluster(conf).Error()
	if err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		n.logger.Warn("bootstrap failed", "error", err.Error())
		return false
	}
	n.logger.Info("cluster bootstrapped", "nodes", len(conf.Servers))
	return true
}

func (n *Node) self() raft.Server {
	return raft.Server{ID: raft.ServerID(n.cfg.NodeID), Address: raft.ServerAddress(n.cfg.RaftAddr), Suffrage: raft.Voter}
}

// others are the JOIN URLs but this node's own.
func (n *Node) others() []string {
	var out []string
	for _, u := range n.cfg.Join {
		u = strings.TrimRight(strings.TrimSpace(u), "/")
		if u != "" && u != strings.TrimRight(n.cfg.AdvertiseURL, "/") {
			out = append(out, u)
		}
	}
	return out
}

// registered reports whether the cluster's metadata has this node's URL.
func (n *Node) registered() bool {
	meta, err := n.DB().ClusterMeta()
	return err == nil && meta["url/"+n.cfg.NodeID] == n.cfg.AdvertiseURL
}

// register asks the leader to record this node's URL.
func (n *Node) register() {
	if n.IsLeader() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := n.Join(ctx, n.cfg.NodeID, n.cfg.RaftAddr, n.cfg.AdvertiseURL); err != nil {
			n.logger.Warn("recording this node's URL failed", "error", err.Error())
		}
		return
	}
	for _, u := range append(n.others(), n.cfg.Join...) {
		if n.postJoin(strings.TrimRight(u, "/")) == nil {
			return
		}
	}
}

var peerClient = &http.Client{Timeout: 3 * time.Second}

func (n *Node) fetchStatus(base string) (*Status, error) {
	resp, err := peerClient.Get(base + "/api/_cluster")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	var st Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, err
	}
	return &st, nil
}

// postJoin asks the node at base (which forwards to the leader) to add
// this one.
func (n *Node) postJoin(base string) error {
	body, _ := json.Marshal(map[string]string{"id": n.cfg.NodeID, "raft_addr": n.cfg.RaftAddr, "url": n.cfg.AdvertiseURL})
	req, err := http.NewRequest(http.MethodPost, base+"/api/_cluster/join", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if n.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+n.cfg.APIKey)
	}
	resp, err := peerClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("join through %s: status %d", base, resp.StatusCode)
	}
	return nil
}
