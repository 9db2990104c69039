package cluster

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the package when its tests leave goroutines behind —
// Raft's, the transports', HTTP servers' or clients' — once they had a
// few seconds to end: every node a test starts must be shut down.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if left := goroutinesLeft(10 * time.Second); left != "" {
			fmt.Fprintf(os.Stderr, "FAIL: goroutines left after the tests:\n\n%s\n", left)
			code = 1
		}
	}
	os.Exit(code)
}

// goroutinesLeft waits up to wait for every goroutine but this one to
// end, and returns the stacks of those left.
func goroutinesLeft(wait time.Duration) string {
	deadline := time.Now().Add(wait)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var left []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if !strings.Contains(g, "cluster.TestMain") {
				left = append(left, g)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return strings.Join(left, "\n\n")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
