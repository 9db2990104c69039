// Package cluster runs MiniDBGo as a replicated cluster on
// github.com/hashicorp/raft: every write is a docstore.WriteCommand in
// the Raft log, applied in log order on every node (docstore's
// ApplyCommands), so that a majority of nodes holds every acknowledged
// write and a new leader is elected when the leader dies.
//
// # Layout under DB_PATH
//
//	DATA                 the name of the live data directory (absent: "data")
//	data/ or data-<n>/   the storage engine (a snapshot restore makes a new one)
//	raft/raft.db         the Raft log and stable store (raft-boltdb)
//	raft/snapshots/      Raft snapshots: storage backup archives
//
// # Durability
//
// The Raft log is the durable log: an entry is acknowledged once a
// majority fsynced it. The engine's WAL is written to the OS at each
// apply but fsynced only every second (storage.DurabilityPeriodic): a
// process crash loses nothing of it, and after a power cut the engine's
// stored applied index says where to resume. Open restores the latest
// snapshot first when the engine is behind it (the log before it may be
// gone), then Raft replays the log after it; entries the engine already
// holds are skipped (docstore.ApplyCommands).
//
// # Requests
//
// Handler (http.go) forwards a write that reaches a follower to the
// leader, with the client's credentials, or answers 307 with
// ?redirect=true; it serves reads at the consistency asked
// (?consistency= or X-Consistency: none, leader — the default — or
// linearizable).
package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd"
	"github.com/minidbgo/minidbgo/storage"
)

// Config configures a node.
type Config struct {
	NodeID          string   // NODE_ID
	RaftAddr        string   // RAFT_ADDR: host:port of Raft traffic, as the others reach it
	AdvertiseURL    string   // ADVERTISE_URL: this node's HTTP base URL
	Join            []string // JOIN: the nodes' HTTP base URLs (may include this one)
	BootstrapExpect int      // BOOTSTRAP_EXPECT: bootstrap once this many nodes are known
	Dir             string   // DB_PATH
	// Docstore are the options of the data's docstore.DB; its storage's
	// durability is set to periodic (see the package doc).
	Docstore *docstore.Options
	// Logger receives the node's lines and Raft's (elections, leader
	// changes, peers, snapshots; with "module":"raft"), at
	// its own level; nil discards them.
	Logger *slog.Logger
	// APIKey, when set, is sent by this node's join requests (an admin key).
	APIKey string
	// HeartbeatTimeout and ElectionTimeout are Raft's (default 1 s).
	HeartbeatTimeout, ElectionTimeout time.Duration
	// SnapshotThreshold is how many log entries since the last snapshot
	// trigger a snapshot (checked every SnapshotInterval); TrailingLogs
	// how many stay in the log after one. Defaults 8192, 30 s, 10240.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
}

// Node is one member of a cluster.
type Node struct {
	cfg    Config
	logger *slog.Logger
	raft   *raft.Raft
	trans  *raft.NetworkTransport
	logs   *raftboltdb.BoltStore
	snaps  *raft.FileSnapshotStore

	db  atomic.Pointer[docstore.DB]
	srv atomic.Pointer[httpd.Server]
	// srvMu orders Serve's setting of newServer and srv with a restore's
	// swap of db and srv: Raft may install a snapshot before Serve runs.
	srvMu sync.Mutex
	// newServer makes the HTTP server of a DB (Serve sets it).
	newServer func(*docstore.DB) *httpd.Server

	hadState bool
	// applied is the last log index the state machine has applied
	// (ApplyBatch), or the data's stored one after an open or a restore.
	applied atomic.Uint64
	// readyTerm is the term in which this node, leading, saw a barrier
	// complete: it has applied every entry of earlier terms (caughtUp).
	readyTerm atomic.Uint64

	closing chan struct{}
	started chan struct{} // closed once raft is set
	wg      sync.WaitGroup
	proxy   proxyCache
}

const dataPointer = "DATA"

// Open opens the node's data and Raft state under cfg.Dir and starts
// Raft; a new node bootstraps or joins in the background (see
// Config.Join and BootstrapExpect).
func Open(cfg Config) (*Node, error) {
	if cfg.NodeID == "" || cfg.RaftAddr == "" {
		return nil, errors.New("cluster: NODE_ID and RAFT_ADDR are both needed")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HeartbeatTimeout <= 0 {
		cfg.HeartbeatTimeout = time.Second
	}
	if cfg.ElectionTimeout <= 0 {
		cfg.ElectionTimeout = time.Second
	}
	if cfg.SnapshotThreshold == 0 {
		cfg.SnapshotThreshold = 8192
	}
	if cfg.SnapshotInterval <= 0 {
		cfg.SnapshotInterval = 30 * time.Second
	}
	if cfg.TrailingLogs == 0 {
		cfg.TrailingLogs = 10240
	}
	n := &Node{cfg: cfg, logger: cfg.Logger, closing: make(chan struct{}), started: make(chan struct{})}
	raftDir := filepath.Join(cfg.Dir, "raft")
	if err := os.MkdirAll(raftDir, 0o755); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			n.closeStores()
		}
	}()
	var err error
	if n.logs, err = raftboltdb.New(raftboltdb.Options{Path: filepath.Join(raftDir, "raft.db")}); err != nil {
		return nil, fmt.Errorf("cluster: raft log: %w", err)
	}
	hlog := newRaftLogger(cfg.Logger)
	if n.snaps, err = raft.NewFileSnapshotStoreWithLogger(raftDir, 2, hlog); err != nil {
		return nil, fmt.Errorf("cluster: raft snapshots: %w", err)
	}
	addr, err := net.ResolveTCPAddr("tcp", cfg.RaftAddr)
	if err != nil {
		return nil, fmt.Errorf("cluster: RAFT_ADDR %q: %w", cfg.RaftAddr, err)
	}
	if n.trans, err = raft.NewTCPTransportWithLogger(cfg.RaftAddr, addr, 5, 5*time.Second, hlog); err != nil {
		return nil, fmt.Errorf("cluster: RAFT_ADDR %q: %w", cfg.RaftAddr, err)
	}
	if err := n.openData(); err != nil {
		return nil, err
	}
	if n.hadState, err = raft.HasExistingState(n.logs, n.logs, n.snaps); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if err := n.adoptData(); err != nil {
		return nil, err
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.HeartbeatTimeout / 2
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	rc.MaxAppendEntries = 256
	rc.BatchApplyCh = true
	// The engine keeps its state across restarts: Raft must not restore
	// the snapshot at every start, only replay the log after it (entries
	// the engine holds are skipped). openData restored it when needed.
	rc.NoSnapshotRestoreOnStart = true
	rc.Logger = hlog
	if n.raft, err = raft.NewRaft(rc, (*fsm)(n), n.logs, n.logs, n.snaps, n.trans); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	close(n.started)
	ok = true
	n.wg.Add(1)
	go n.membershipLoop()
	return n, nil
}

// adoptData starts a new cluster from data a node of another cluster
// applied (a restored backup): data with an applied index but no Raft
// state. Bootstrapping would begin the log again at index 1, below the
// data's applied index, and the data would skip those entries —
// acknowledged writes never stored — while a node joining the cluster
// would get the entries, not the data. Instead the data becomes the
// node's first Raft snapshot, at its applied index, with this node the
// only voter: the log goes on after that index (revisions and feed
// sequences keep growing), the node elects itself, and a node that
// joins later receives the data as that snapshot. Only a node started
// alone (no BOOTSTRAP_EXPECT, no other JOIN address) adopts its data;
// any other refuses to start, since it would found a cluster of its own
// or mix two clusters' logs.
func (n *Node) adoptData() error {
	applied := n.DB().AppliedIndex()
	if n.hadState || applied == 0 {
		return nil
	}
	if n.cfg.BootstrapExpect > 0 || len(n.others()) > 0 {
		return fmt.Errorf("cluster: %s holds the data of a cluster node (applied index %d) but no Raft state; "+
			"to start a new cluster from it (a restored backup), start this node alone, without BOOTSTRAP_EXPECT "+
			"and without other JOIN addresses, then the others with empty data directories and JOIN; "+
			"to join an existing cluster, start with an empty data directory", n.cfg.Dir, applied)
	}
	conf := raft.Configuration{Servers: []raft.Server{n.self()}}
	sink, err := n.snaps.Create(raft.SnapshotVersionMax, applied, 1, conf, applied, n.trans)
	if err != nil {
		return fmt.Errorf("cluster: snapshot of the data: %w", err)
	}
	if _, err := n.DB().Backup(context.Background(), sink, nil); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("cluster: snapshot of the data: %w", err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("cluster: snapshot of the data: %w", err)
	}
	// The term must not be behind the snapshot's.
	if err := n.logs.SetUint64([]byte("CurrentTerm"), 1); err != nil {
		return fmt.Errorf("cluster: raft state: %w", err)
	}
	n.hadState = true
	n.logger.Info("a new cluster starts from the data in DB_PATH, this node its only member until others join", "applied_index", applied)
	return nil
}

// openData opens the live data directory and, when the engine is behind
// the latest snapshot, restores the snapshot first.
func (n *Node) openData() error {
	dir := n.dataDir()
	db, err := n.openDB(dir)
	if err != nil {
		return err
	}
	n.db.Store(db)
	n.noteApplied(db.AppliedIndex())
	metas, err := n.snaps.List()
	if err != nil {
		return fmt.Errorf("cluster: raft snapshots: %w", err)
	}
	if len(metas) > 0 && metas[0].Index > db.AppliedIndex() {
		n.logger.Warn("the data is behind the latest snapshot: restoring it", "applied", db.AppliedIndex(), "snapshot", metas[0].Index)
		_, rc, err := n.snaps.Open(metas[0].ID)
		if err != nil {
			return fmt.Errorf("cluster: open snapshot: %w", err)
		}
		defer rc.Close()
		return n.restore(rc)
	}
	return nil
}

func (n *Node) dataDir() string {
	name := "data"
	if b, err := os.ReadFile(filepath.Join(n.cfg.Dir, dataPointer)); err == nil {
		if s := strings.TrimSpace(string(b)); s != "" && !strings.ContainsAny(s, `/\`) {
			name = s
		}
	}
	return filepath.Join(n.cfg.Dir, name)
}

func (n *Node) openDB(dir string) (*docstore.DB, error) {
	var o docstore.Options
	if n.cfg.Docstore != nil {
		o = *n.cfg.Docstore
	}
	var so storage.Options
	if o.Storage != nil {
		so = *o.Storage
	}
	so.Durability = storage.Durability{Mode: storage.DurabilityPeriodic, Interval: time.Second}
	o.Storage = &so
	db, err := docstore.Open(dir, &o)
	if err != nil {
		return nil, err
	}
	db.SetProposer(n.propose)
	// Only the leader reaps expired documents, proposing the deletes.
	db.SetReaperGate(n.leads)
	return db, nil
}

// restore replaces the data with the snapshot archive r: unpacked into a
// new directory, opened, then swapped in (the DATA file names it) and the
// old one closed and removed. A snapshot whose data is older than the
// live data (a lower applied index: the checkpoint of another node's
// snapshot may have been taken before entries this node applied) is
// dropped instead: both are states of the same committed log, and the
// entries Raft replays after the snapshot are skipped up to the live
// data's index, so moving back would only hide applied writes for a while.
func (n *Node) restore(r io.Reader) error {
	name := fmt.Sprintf("data-%d", time.Now().UnixNano())
	dir := filepath.Join(n.cfg.Dir, name)
	if _, err := storage.RestoreBackup(r, dir, nil); err != nil {
		return fmt.Errorf("cluster: restore snapshot: %w", err)
	}
	db, err := n.openDB(dir)
	if err != nil {
		return fmt.Errorf("cluster: open restored snapshot: %w", err)
	}
	if cur := n.db.Load(); cur != nil && db.AppliedIndex() < cur.AppliedIndex() {
		n.logger.Info("kept the data: newer than the snapshot's", "applied_index", cur.AppliedIndex(), "snapshot_applied_index", db.AppliedIndex())
		_ = db.Close()
		_ = os.RemoveAll(dir)
		return nil
	}
	if err := writeFileSync(filepath.Join(n.cfg.Dir, dataPointer), []byte(name+"\n")); err != nil {
		_ = db.Close()
		return err
	}
	n.srvMu.Lock()
	old := n.db.Swap(db)
	n.noteApplied(db.AppliedIndex())
	var oldSrv *httpd.Server
	if n.newServer != nil {
		oldSrv = n.srv.Swap(n.newServer(db))
	}
	n.srvMu.Unlock()
	if old != nil {
		old.SetProposer(nil)
		if oldSrv != nil {
			oldSrv.Close()
		}
		if err := old.Close(); err != nil {
			n.logger.Warn("closing the replaced data", "error", err.Error())
		}
	}
	// Remove every other data directory (the old one, crash leftovers).
	entries, _ := os.ReadDir(n.cfg.Dir)
	for _, e := range entries {
		if e.IsDir() && (e.Name() == "data" || strings.HasPrefix(e.Name(), "data-")) && e.Name() != name {
			_ = os.RemoveAll(filepath.Join(n.cfg.Dir, e.Name()))
		}
	}
	n.logger.Info("restored a snapshot", "applied_index", db.AppliedIndex())
	return nil
}

func writeFileSync(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("cluster: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("cluster: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// DB returns the node's live docstore.DB (a snapshot restore replaces it).
func (n *Node) DB() *docstore.DB { return n.db.Load() }

// propose is the docstore Proposer: it replicates cmd through the leader's
// log and returns the result of its application here.
func (n *Node) propose(ctx context.Context, cmd *docstore.WriteCommand) (docstore.CommandResult, error) {
	if n.raft.State() != raft.Leader {
		return docstore.CommandResult{}, noLeader("this node is not the leader")
	}
	b, err := docstore.EncodeCommand(cmd)
	if err != nil {
		return docstore.CommandResult{}, err
	}
	timeout := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d), time.Millisecond)
	}
	f := n.raft.Apply(b, timeout)
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrLeadershipLost) {
			// The entry may still commit under the next leader: the
			// outcome is unknown (504), not refused (503, which the
			// client may resend as never applied).
			return docstore.CommandResult{}, fmt.Errorf("cluster: leadership was lost before the write committed; it may or may not be applied: %w", context.DeadlineExceeded)
		}
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipTransferInProgress) || errors.Is(err, raft.ErrEnqueueTimeout) || errors.Is(err, raft.ErrRaftShutdown) {
			return docstore.CommandResult{}, noLeader("the write could not be committed: " + err.Error())
		}
		return docstore.CommandResult{}, err
	}
	switch r := f.Response().(type) {
	case docstore.CommandResult:
		return r, nil
	case error:
		return docstore.CommandResult{}, r
	}
	return docstore.CommandResult{}, fmt.Errorf("cluster: unexpected apply response %T", f.Response())
}

func noLeader(msg string) error {
	return &docstore.Error{Code: docstore.CodeNoLeader, Index: -1, Msg: msg}
}

// leads is IsLeader for the reaper, which may run before Raft started.
func (n *Node) leads() bool {
	select {
	case <-n.started:
		return n.IsLeader()
	default:
		return false
	}
}

// IsLeader reports whether this node is the leader.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// LeaderURL returns the leader's ADVERTISE_URL ("" when there is no
// leader or its URL is not known yet).
func (n *Node) LeaderURL() (string, string) {
	_, id := n.raft.LeaderWithID()
	if id == "" {
		return "", ""
	}
	meta, _ := n.DB().ClusterMeta()
	return meta["url/"+string(id)], string(id)
}

// NodeStatus is one member in Status.
type NodeStatus struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	URL      string `json:"url"`
	Voter    bool   `json:"voter"`
}

// Status is the body of GET /api/_cluster in cluster mode.
type Status struct {
	Mode         string       `json:"mode"`
	NodeID       string       `json:"node_id"`
	RaftAddr     string       `json:"raft_addr"`
	URL          string       `json:"url"`
	Role         string       `json:"role"`
	LeaderID     string       `json:"leader_id"`
	LeaderURL    string       `json:"leader_url"`
	Term         uint64       `json:"term"`
	CommitIndex  uint64       `json:"commit_index"`
	AppliedIndex uint64       `json:"applied_index"`
	Nodes        []NodeStatus `json:"nodes"`
}

// Status reports the node's view of the cluster.
func (n *Node) Status() any {
	st := Status{Mode: "cluster", NodeID: n.cfg.NodeID, RaftAddr: n.cfg.RaftAddr, URL: n.cfg.AdvertiseURL, Nodes: []NodeStatus{}}
	switch n.raft.State() {
	case raft.Leader:
		st.Role = "leader"
	case raft.Candidate:
		st.Role = "candidate"
	case raft.Shutdown:
		st.Role = "shutdown"
	default:
		st.Role = "follower"
	}
	st.LeaderURL, st.LeaderID = n.LeaderURL()
	st.Term, _ = strconv.ParseUint(n.raft.Stats()["term"], 10, 64)
	st.CommitIndex = n.raft.CommitIndex()
	st.AppliedIndex = n.applied.Load()
	meta, _ := n.DB().ClusterMeta()
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			st.Nodes = append(st.Nodes, NodeStatus{ID: string(s.ID), RaftAddr: string(s.Address), URL: meta["url/"+string(s.ID)], Voter: s.Suffrage == raft.Voter})
		}
	}
	sort.Slice(st.Nodes, func(i, j int) bool { return st.Nodes[i].ID < st.Nodes[j].ID })
	return st
}

// Metrics reports the node's figures for GET /metrics.
func (n *Node) Metrics() httpd.ClusterMetrics {
	m := httpd.ClusterMetrics{Leader: n.IsLeader(), CommitIndex: n.raft.CommitIndex(), AppliedIndex: n.applied.Load()}
	_, id := n.raft.LeaderWithID()
	m.HasLeader = id != ""
	m.Term, _ = strconv.ParseUint(n.raft.Stats()["term"], 10, 64)
	if !m.Leader {
		if t := n.raft.LastContact(); !t.IsZero() {
			m.LastContact = time.Since(t)
		}
	}
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			m.Nodes++
			if s.Suffrage == raft.Voter {
				m.Voters++
			}
		}
	}
	return m
}

// Join adds a voter (or changes its address) and records its URL; on
// the leader only.
func (n *Node) Join(ctx context.Context, id, raftAddr, url string) error {
	if !n.IsLeader() {
		return noLeader("join must reach the leader")
	}
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return err
	}
	member := false
	for _, s := range f.Configuration().Servers {
		switch {
		case s.ID == raft.ServerID(id) && s.Address == raft.ServerAddress(raftAddr):
			member = true
		case s.ID == raft.ServerID(id) || s.Address == raft.ServerAddress(raftAddr):
			if err := n.raft.RemoveServer(s.ID, 0, 10*time.Second).Error(); err != nil {
				return fmt.Errorf("cluster: remove the old entry of %s: %w", s.ID, err)
			}
		}
	}
	if !member {
		if err := n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(raftAddr), 0, 10*time.Second).Error(); err != nil {
			return fmt.Errorf("cluster: add voter %s: %w", id, err)
		}
		n.logger.Info("node joined", "id", id, "raft_addr", raftAddr, "url", url)
	}
	meta, err := n.DB().ClusterMeta()
	if err != nil {
		return err
	}
	if meta["url/"+id] != url {
		_, err := propose(ctx, n, &docstore.WriteCommand{Kind: docstore.CmdSetMeta, ID: "url/" + id, Bodies: [][]byte{[]byte(url)}})
		return err
	}
	return nil
}

// Remove removes a node; on the leader only.
func (n *Node) Remove(ctx context.Context, id string) error {
	if !n.IsLeader() {
		return noLeader("remove must reach the leader")
	}
	if err := n.raft.RemoveServer(raft.ServerID(id), 0, 10*time.Second).Error(); err != nil {
		return fmt.Errorf("cluster: remove %s: %w", id, err)
	}
	_, err := propose(ctx, n, &docstore.WriteCommand{Kind: docstore.CmdSetMeta, ID: "url/" + id})
	return err
}

// TransferLeadership hands leadership to id (to the most up-to-date
// follower when id is empty); on the leader only.
func (n *Node) TransferLeadership(ctx context.Context, id string) error {
	if !n.IsLeader() {
		return noLeader("transfer-leadership must reach the leader")
	}
	var f raft.Future
	if id == "" {
		f = n.raft.LeadershipTransfer()
	} else {
		cf := n.raft.GetConfiguration()
		if err := cf.Error(); err != nil {
			return err
		}
		var addr raft.ServerAddress
		for _, s := range cf.Configuration().Servers {
			if s.ID == raft.ServerID(id) {
				addr = s.Address
			}
		}
		if addr == "" {
			return &docstore.Error{Code: docstore.CodeNotFound, Index: -1, Msg: fmt.Sprintf("no node %q in the cluster", id)}
		}
		f = n.raft.LeadershipTransferToServer(raft.ServerID(id), addr)
	}
	if err := f.Error(); err != nil {
		return fmt.Errorf("cluster: transfer leadership: %w", err)
	}
	return nil
}

// propose replicates cmd (a helper for the node's own commands).
func propose(ctx context.Context, n *Node, cmd *docstore.WriteCommand) (docstore.CommandResult, error) {
	cmd.Now = time.Now().UnixNano()
	r, err := n.propose(ctx, cmd)
	if err != nil {
		return r, err
	}
	return r, r.Err
}

// Close hands leadership over when this node leads, stops Raft and
// closes the data.
func (n *Node) Close() error {
	select {
	case <-n.closing:
		return nil
	default:
	}
	close(n.closing)
	n.wg.Wait()
	if n.IsLeader() {
		_ = n.raft.LeadershipTransfer().Error()
	}
	var errs []error
	if err := n.raft.Shutdown().Error(); err != nil {
		errs = append(errs, err)
	}
	if srv := n.srv.Load(); srv != nil {
		srv.Close()
	}
	if db := n.db.Load(); db != nil {
		if err := db.Flush(); err != nil && !errors.Is(err, storage.ErrClosed) {
			errs = append(errs, err)
		}
		if err := db.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	n.closeStores()
	return errors.Join(errs...)
}

func (n *Node) closeStores() {
	if n.trans != nil {
		// Close drops only the listener: close the pooled connections too,
		// so that the peers' handlers of them see EOF and end.
		n.trans.CloseStreams()
		_ = n.trans.Close()
	}
	if n.logs != nil {
		_ = n.logs.Close()
	}
	if n.raft == nil {
		if db := n.db.Load(); db != nil {
			_ = db.Close()
		}
	}
}

// noteApplied raises the applied index to i.
func (n *Node) noteApplied(i uint64) {
	for {
		cur := n.applied.Load()
		if i <= cur || n.applied.CompareAndSwap(cur, i) {
			return
		}
	}
}
