package httpd

import (
	"context"
	"net/http"
	"testing"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd/client"
	"github.com/stretchr/testify/require"
)

// TestClusterSingleMode: a single node says so, and refuses cluster
// management.
func TestClusterSingleMode(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := mustStatus(t, e.do("GET", "/api/_cluster", nil), http.StatusOK)
	require.JSONEq(t, `{"mode":"single"}`, string(r.body))
	errorBody(t, e.do("POST", "/api/_cluster/join", `{"id":"n2","raft_addr":"127.0.0.1:1","url":"http://127.0.0.1:2"}`), http.StatusBadRequest, "not_clustered")
	errorBody(t, e.do("POST", "/api/_cluster/remove", `{"id":"n2"}`), http.StatusBadRequest, "not_clustered")
	errorBody(t, e.do("POST", "/api/_cluster/transfer-leadership", `{}`), http.StatusBadRequest, "not_clustered")

	// The Go client; its consistency header is ignored on a single node.
	c := client.New(e.url)
	c.Consistency = client.ConsistencyLinearizable
	st, err := c.ClusterStatus(context.Background())
	require.NoError(t, err)
	require.Equal(t, "single", st.Mode)
	_, err = c.ClusterRemove(context.Background(), "n2")
	var ce *client.Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "not_clustered", ce.Code)
}

// TestNoLeaderIs503: a write whose replication finds no leader is 503
// no_leader with Retry-After, and changes nothing.
func TestNoLeaderIs503(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.db.SetProposer(func(context.Context, *docstore.WriteCommand) (docstore.CommandResult, error) {
		return docstore.CommandResult{}, &docstore.Error{Code: docstore.CodeNoLeader, Index: -1, Msg: "no leader"}
	})
	r := errorBody(t, e.do("PUT", "/api/c/x", `{"a":1}`), http.StatusServiceUnavailable, "no_leader")
	require.Equal(t, "1", r2h(e.do("PUT", "/api/c/x", `{"a":1}`)).Get("Retry-After"))
	_ = r
	e.db.SetProposer(nil)
	errorBody(t, e.do("GET", "/api/c/x", nil), http.StatusNotFound, "not_found")
}

func r2h(r response) http.Header { return r.header }
