package api

// ClusterStatus is the body of GET /api/_cluster: {"mode":"single"} on a
// single node; in cluster mode the node's view of the Raft cluster.
type ClusterStatus struct {
	Mode         string        `json:"mode"`
	NodeID       string        `json:"node_id,omitempty"`
	RaftAddr     string        `json:"raft_addr,omitempty"`
	URL          string        `json:"url,omitempty"`
	Role         string        `json:"role,omitempty"`
	LeaderID     string        `json:"leader_id,omitempty"`
	LeaderURL    string        `json:"leader_url,omitempty"`
	Term         uint64        `json:"term,omitempty"`
	CommitIndex  uint64        `json:"commit_index,omitempty"`
	AppliedIndex uint64        `json:"applied_index,omitempty"`
	Nodes        []ClusterNode `json:"nodes,omitempty"`
}

// ClusterNode is a member in ClusterStatus, and the body of the cluster
// management requests (join: id, raft_addr, url; remove and
// transfer-leadership: id).
type ClusterNode struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr,omitempty"`
	URL      string `json:"url,omitempty"`
	Voter    bool   `json:"voter,omitempty"`
}
