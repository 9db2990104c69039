//go:build !killpoints || !unix

package storage

// killpoint marks a place where a crash test may kill the process. Without
// the killpoints build tag it does nothing and is inlined away; with it
// (killpoint_on.go) MINIDBGO_KILLPOINT=name:odds makes the process SIGKILL
// itself at the named point with probability 1/odds per pass.
//
// The points: wal.append.after, wal.sync.before, wal.sync.after,
// sst.write.mid (per entry written by a flush), manifest.current.before,
// manifest.current.after (around the CURRENT rename) and compaction.mid
// (per entry merged by a compaction).
func killpoint(string) {}
