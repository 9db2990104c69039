package cluster

import (
	"context"
	"fmt"
	"io"

	"github.com/hashicorp/raft"

	"github.com/minidbgo/minidbgo/docstore"
)

// fsm is the Node as Raft's state machine (a raft.BatchingFSM).
type fsm Node

// ApplyBatch applies committed entries: each run of consecutive command
// entries goes to docstore.ApplyCommands at once. The response of a
// command entry is its docstore.CommandResult (an error for one that
// does not decode). An engine failure stops the node: a replica that
// cannot apply the log must not go on with a hole in it.
func (f *fsm) ApplyBatch(logs []*raft.Log) []interface{} {
	out := make([]interface{}, len(logs))
	db := (*Node)(f).DB()
	for i := 0; i < len(logs); {
		if logs[i].Type != raft.LogCommand {
			i++
			continue
		}
		j := i
		var cmds []*docstore.WriteCommand
		var pos []int
		for ; j < len(logs) && logs[j].Type == raft.LogCommand && logs[j].Index == logs[i].Index+uint64(j-i); j++ {
			c, err := docstore.DecodeCommand(logs[j].Data)
			if err != nil {
				// Applied as a no-op everywhere: the same on every node.
				out[j] = err
				c = &docstore.WriteCommand{Kind: docstore.CmdNoop}
			}
			cmds = append(cmds, c)
			pos = append(pos, j)
		}
		rs, err := db.ApplyCommands(context.Background(), logs[i].Index, cmds)
		if err != nil {
			panic(fmt.Sprintf("cluster: applying entries from index %d: %v", logs[i].Index, err))
		}
		for k, r := range rs {
			if out[pos[k]] == nil {
				out[pos[k]] = r
			}
		}
		i = j
	}
	if len(logs) > 0 {
		(*Node)(f).noteApplied(logs[len(logs)-1].Index)
	}
	return out
}

// Apply applies one entry.
func (f *fsm) Apply(l *raft.Log) interface{} { return f.ApplyBatch([]*raft.Log{l})[0] }

// Snapshot returns a snapshot whose Persist streams a storage backup of
// the data. The backup's checkpoint is taken when Persist runs, so it may
// hold entries after the snapshot's index: its stored applied index says
// so, and a node that restores it skips them when Raft replays them.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return &snapshot{db: (*Node)(f).DB()}, nil
}

// Restore replaces the data with a snapshot's.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	return (*Node)(f).restore(rc)
}

type snapshot struct{ db *docstore.DB }

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.db.Backup(context.Background(), sink, nil); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *snapshot) Release() {}
