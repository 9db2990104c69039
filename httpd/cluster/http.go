package cluster

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/raft"
)

// forwardedHeader marks a request a node forwarded to the leader: the
// leader serves it or answers no_leader, never forwards it again.
const forwardedHeader = "X-Minidbgo-Forwarded-By"

// ServeHTTP routes a request: node-local routes are served here; a read
// at consistency none is served here; anything else is served by the
// leader — here when this node leads (after a ReadIndex for a
// linearizable read, and once it has applied the entries of earlier
// terms for the others), else forwarded to it (or redirected with
// ?redirect=true), or answered 503 no_leader.
func (n *Node) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	srv := n.srv.Load()
	if local(r) {
		srv.ServeHTTP(w, r)
		return
	}
	q := r.URL.Query()
	cons := r.Header.Get("X-Consistency")
	if v := q.Get("consistency"); v != "" {
		cons = v
	}
	if cons == "" {
		cons = "leader"
	}
	if cons != "none" && cons != "leader" && cons != "linearizable" {
		writeErr(w, http.StatusBadRequest, "invalid_parameter", `consistency must be "none", "leader" or "linearizable", got `+quote(cons))
		return
	}
	redirect := q.Get("redirect") == "true"
	if q.Has("consistency") || q.Has("redirect") {
		q.Del("consistency")
		q.Del("redirect")
		r.URL.RawQuery = q.Encode()
		r.RequestURI = r.URL.RequestURI()
	}
	read := isRead(r)
	if read && cons == "none" {
		srv.ServeHTTP(w, r)
		return
	}
	if n.raft.State() != raft.Leader {
		leaderURL, _ := n.LeaderURL()
		if leaderURL == "" || r.Header.Get(forwardedHeader) != "" {
			w.Header().Set("Retry-After", "1")
			writeErr(w, http.StatusServiceUnavailable, "no_leader", "the cluster has no leader at the moment; retry")
			return
		}
		if redirect {
			w.Header().Set("Location", strings.TrimRight(leaderURL, "/")+r.URL.RequestURI())
			w.WriteHeader(http.StatusTemporaryRedirect)
			return
		}
		r.Header.Set("X-Consistency", cons)
		n.proxy.get(leaderURL, n.cfg.NodeID).ServeHTTP(w, r)
		return
	}
	if read && cons == "linearizable" {
		if err := n.readIndex(r); err != nil {
			w.Header().Set("Retry-After", "1")
			writeErr(w, http.StatusServiceUnavailable, "no_leader", "cannot confirm leadership for a linearizable read: "+err.Error())
			return
		}
	} else if err := n.caughtUp(r); err != nil {
		w.Header().Set("Retry-After", "1")
		writeErr(w, http.StatusServiceUnavailable, "no_leader", "the new leader has not caught up yet: "+err.Error())
		return
	}
	srv.ServeHTTP(w, r)
}

// caughtUp makes what the leader serves see every acknowledged write: a
// new leader applies the entries of earlier terms only once an entry of
// its own term commits, so the first request it serves in a term waits
// for a barrier (readIndex); the next ones in the term need nothing more.
func (n *Node) caughtUp(r *http.Request) error {
	term := n.raft.CurrentTerm()
	if n.readyTerm.Load() == term {
		return nil
	}
	if err := n.readIndex(r); err != nil {
		return err
	}
	// The barrier committed in term or a later one: in either, every
	// entry before it is applied.
	n.readyTerm.Store(term)
	return nil
}

// postReads are the last path segments of the reads that take a POST
// body: /api/{col}/<name> (and /api/_changes).
var postReads = map[string]bool{"_find": true, "_search": true, "_count": true, "_distinct": true,
	"_explain": true, "_aggregate": true, "_changes": true}

// isRead reports whether r reads only: a GET or HEAD, or a POST to one of
// the query routes.
func isRead(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return true
	case http.MethodPost:
		p := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/"), "/")
		return strings.HasPrefix(r.URL.Path, "/api/") &&
			(len(p) == 2 && postReads[p[1]] || len(p) == 1 && p[0] == "_changes")
	}
	return false
}

// local reports whether r is served by the node it reaches whatever the
// consistency: health, readiness, the cluster's status, metrics and
// debugging are about this node.
func local(r *http.Request) bool {
	p := r.URL.Path
	switch {
	case p == "/api/health", p == "/api/ready", p == "/metrics", p == "/api/metrics", p == "/api/stats",
		p == "/api/_cluster" && r.Method != http.MethodPost,
		p == "/api/_compact", p == "/api/debug/gc", strings.HasPrefix(p, "/debug/"):
		return true
	}
	return false
}

// readIndex makes a linearizable read safe: a Raft barrier — an entry
// through the log, committed by a majority in this leader's term, that
// completes once the state machine has applied every entry before it.
// (hashicorp/raft's applied index counts entries handed to the state
// machine, not applied ones, and a new leader's commit index lags until
// an entry of its term commits: the ReadIndex shortcut of waiting for the
// applied index to reach the commit index is not safe on them.) Barriers
// of concurrent reads share log appends like writes do.
func (n *Node) readIndex(r *http.Request) error {
	timeout := 5 * time.Second
	if d, ok := r.Context().Deadline(); ok {
		timeout = max(time.Until(d), time.Millisecond)
	}
	return n.raft.Barrier(timeout).Error()
}

// proxyCache keeps one reverse proxy per leader URL.
type proxyCache struct {
	mu  sync.Mutex
	url string
	p   *httputil.ReverseProxy
}

var forwardTransport = &http.Transport{
	Proxy:               nil,
	MaxIdleConnsPerHost: 64,
	IdleConnTimeout:     90 * time.Second,
	DisableCompression:  true,
}

func (c *proxyCache) get(leaderURL, self string) *httputil.ReverseProxy {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p != nil && c.url == leaderURL {
		return c.p
	}
	target, err := url.Parse(leaderURL)
	if err != nil {
		target = &url.URL{Scheme: "http", Host: "invalid"}
	}
	c.url = leaderURL
	c.p = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host
			pr.Out.Header.Set(forwardedHeader, self)
			pr.SetXForwarded()
		},
		Transport:     forwardTransport,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, syscall.ECONNREFUSED) {
				// The request never reached the leader.
				w.Header().Set("Retry-After", "1")
				writeErr(w, http.StatusServiceUnavailable, "no_leader", "the leader is not reachable: retry")
				return
			}
			// It may have reached the leader, and a write may be applied.
			writeErr(w, http.StatusGatewayTimeout, "timeout", "the leader did not answer; a write may or may not be applied")
		},
	}
	return c.p
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": msg, "status": status, "code": code, "request_id": ""})
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
