package shell

import (
	"context"

	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// The cluster commands talk to a server (--url); the embedded database is
// a single node.

func clusterClient(s *Shell) (*remoteBackend, error) {
	rb, ok := s.be.(*remoteBackend)
	if !ok {
		return nil, &cmdError{code: "not_clustered", msg: "this is a single node, not a cluster: start minidbgo-server with NODE_ID and RAFT_ADDR for cluster mode"}
	}
	return rb, nil
}

func cmdClusterStatus(s *Shell, ctx context.Context, _ string, _ []arg) error {
	rb, ok := s.be.(*remoteBackend)
	if !ok {
		return s.out.value(api.ClusterStatus{Mode: "single"})
	}
	st, err := rb.c.ClusterStatus(ctx)
	if err != nil {
		return err
	}
	return s.out.value(st)
}

func cmdClusterJoin(s *Shell, ctx context.Context, _ string, args []arg) error {
	rb, err := clusterClient(s)
	if err != nil {
		return err
	}
	st, err := rb.c.ClusterJoin(ctx, args[0].text, args[1].text, args[2].text)
	if err != nil {
		return err
	}
	return s.out.value(st)
}

func cmdClusterRemove(s *Shell, ctx context.Context, _ string, args []arg) error {
	rb, err := clusterClient(s)
	if err != nil {
		return err
	}
	st, err := rb.c.ClusterRemove(ctx, args[0].text)
	if err != nil {
		return err
	}
	return s.out.value(st)
}

func cmdClusterTransfer(s *Shell, ctx context.Context, _ string, args []arg) error {
	rb, err := clusterClient(s)
	if err != nil {
		return err
	}
	id := ""
	if len(args) > 0 {
		id = args[0].text
	}
	st, err := rb.c.ClusterTransferLeadership(ctx, id)
	if err != nil {
		return err
	}
	return s.out.value(st)
}
