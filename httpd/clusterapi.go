package httpd

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Cluster is what the server asks of its Raft cluster in cluster mode
// (package httpd/cluster implements it); Config.Cluster is nil on a
// single node.
type Cluster interface {
	// Status is the body of GET /api/_cluster.
	Status() any
	// Join adds a node as a voter (or updates its URL) on the leader.
	Join(ctx context.Context, id, raftAddr, url string) error
	// Remove removes a node from the cluster, on the leader.
	Remove(ctx context.Context, id string) error
	// TransferLeadership hands leadership to id (any node if empty).
	TransferLeadership(ctx context.Context, id string) error
	// Metrics are the node's figures for GET /metrics.
	Metrics() ClusterMetrics
}

// ClusterMetrics are a cluster node's figures, exported on /metrics as
// minidbgo_cluster_*.
type ClusterMetrics struct {
	Leader    bool // this node leads
	HasLeader bool // this node knows a leader
	// Term is the Raft term; CommitIndex the log's commit index as this
	// node knows it; AppliedIndex the last entry its data applied.
	Term, CommitIndex, AppliedIndex uint64
	// Voters and Nodes count the configuration's voters and members.
	Voters, Nodes int
	// LastContact is how long ago this node last heard from a leader
	// (0 on the leader).
	LastContact time.Duration
}

// ClusterNode names a node in the cluster management requests.
type ClusterNode struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr,omitempty"`
	URL      string `json:"url,omitempty"`
}

const codeNotClustered = "not_clustered"

// clusterStatus is GET /api/_cluster: {"mode":"single"} on a single node.
func (s *Server) clusterStatus(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Cluster == nil {
		writeJSON(w, http.StatusOK, map[string]string{"mode": "single"})
		return
	}
	writeJSON(w, http.StatusOK, s.cfg.Cluster.Status())
}

// clusterAdmin serves POST /api/_cluster/{join,remove,transfer-leadership}.
func (s *Server) clusterAdmin(op string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Cluster == nil {
			s.writeError(w, r, reqErr(codeNotClustered, "this is a single node, not a cluster: start minidbgo-server with NODE_ID and RAFT_ADDR for cluster mode"))
			return
		}
		body, err := readBody(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		var n ClusterNode
		if len(body) > 0 {
			if err := json.Unmarshal(body, &n); err != nil {
				s.writeError(w, r, reqErr(codeBadBody, "cluster request body: "+err.Error()))
				return
			}
		}
		if n.ID == "" && op != "transfer-leadership" {
			s.writeError(w, r, reqErr(codeBadBody, `cluster request body needs "id"`))
			return
		}
		switch op {
		case "join":
			if n.RaftAddr == "" || n.URL == "" {
				s.writeError(w, r, reqErr(codeBadBody, `join needs "id", "raft_addr" and "url"`))
				return
			}
			err = s.cfg.Cluster.Join(r.Context(), n.ID, n.RaftAddr, n.URL)
		case "remove":
			err = s.cfg.Cluster.Remove(r.Context(), n.ID)
		default:
			err = s.cfg.Cluster.TransferLeadership(r.Context(), n.ID)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, s.cfg.Cluster.Status())
	}
}
