package client

import (
	"context"
	"net/http"

	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// The read consistencies of a cluster (Client.Consistency).
const (
	ConsistencyNone         = "none"         // the node reached; may be stale
	ConsistencyLeader       = "leader"       // the leader (the default)
	ConsistencyLinearizable = "linearizable" // the leader, after a Raft barrier confirms it leads
)

// ClusterStatus calls GET /api/_cluster.
func (c *Client) ClusterStatus(ctx context.Context) (api.ClusterStatus, error) {
	var out api.ClusterStatus
	_, err := c.call(ctx, http.MethodGet, "/api/_cluster", nil, nil, &out, nil)
	return out, err
}

// ClusterJoin calls POST /api/_cluster/join: it adds the node (id, Raft
// address, HTTP URL) as a voter.
func (c *Client) ClusterJoin(ctx context.Context, id, raftAddr, url string) (api.ClusterStatus, error) {
	var out api.ClusterStatus
	_, err := c.call(ctx, http.MethodPost, "/api/_cluster/join", nil, api.ClusterNode{ID: id, RaftAddr: raftAddr, URL: url}, &out, nil)
	return out, err
}

// ClusterRemove calls POST /api/_cluster/remove.
func (c *Client) ClusterRemove(ctx context.Context, id string) (api.ClusterStatus, error) {
	var out api.ClusterStatus
	_, err := c.call(ctx, http.MethodPost, "/api/_cluster/remove", nil, api.ClusterNode{ID: id}, &out, nil)
	return out, err
}

// ClusterTransferLeadership calls POST /api/_cluster/transfer-leadership
// (to id, or to the most up-to-date follower when id is empty).
func (c *Client) ClusterTransferLeadership(ctx context.Context, id string) (api.ClusterStatus, error) {
	var out api.ClusterStatus
	_, err := c.call(ctx, http.MethodPost, "/api/_cluster/transfer-leadership", nil, api.ClusterNode{ID: id}, &out, nil)
	return out, err
}
