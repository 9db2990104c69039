package gctune

import (
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const mib = 1 << 20

func TestPercent(t *testing.T) {
	c := Config{Floor: 64 * mib, MinPercent: 50, MaxPercent: 1000}
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, 1000},       // no live heap: the cap
		{4 * mib, 1000}, // 64/4 - 1 = 1500 %: capped
		{8 * mib, 700},  // goal 64 MiB
		{10 * mib, 540}, // goal 64 MiB
		{40 * mib, 60},  // goal 64 MiB
		{43 * mib, 50},  // 43 × 1.5 > 64: the minimum
		{100 * mib, 50}, // a large heap keeps GOGC=50
		{1 << 40, 50},
	} {
		require.Equal(t, tc.want, c.Percent(tc.live), "live %d MiB", tc.live/mib)
	}
	require.Equal(t, 1000, Config{}.Percent(1), "defaults: 64 MiB floor, 50..1000")
	require.Equal(t, 50, Config{}.Percent(64*mib))
	require.Equal(t, 100, Config{Floor: 64 * mib, MinPercent: 100, MaxPercent: 10}.Percent(1), "the cap is at least the minimum")
}

func TestDefaultFloorAndLimit(t *testing.T) {
	require.Equal(t, uint64(50*mib), DefaultFloor(200*mib), "the guide's GOMEMLIMIT=200MiB")
	require.Equal(t, uint64(32*mib), DefaultFloor(128*mib))
	require.Equal(t, uint64(16*mib), DefaultFloor(20*mib))
	require.Equal(t, uint64(256*mib), DefaultFloor(8<<30))
	require.Equal(t, uint64(64*mib), DefaultFloor(math.MaxInt64), "no limit")
	require.Equal(t, uint64(64*mib), DefaultFloor(0))

	require.Equal(t, int64(200*mib), DefaultMemoryLimit(200*mib, 0, 32*mib), "no cgroup limit")
	require.Equal(t, int64(200*mib), DefaultMemoryLimit(200*mib, 1<<30, 32*mib))
	require.Equal(t, int64(256*mib-256*mib/5), DefaultMemoryLimit(400*mib, 256*mib, 0))
	require.Equal(t, int64(256*mib-256*mib/5-32*mib), DefaultMemoryLimit(200*mib, 256*mib, 32*mib),
		"the guide's 256M container: 80 % of it, less the off-heap block cache")
	require.Equal(t, int64(128*mib-128*mib/5-32*mib), DefaultMemoryLimit(200*mib, 128*mib, 32*mib))
	require.Equal(t, int64(48*mib/4), DefaultMemoryLimit(200*mib, 48*mib, 32*mib), "never below a quarter of the cgroup")
}

func TestCgroupLimit(t *testing.T) {
	write := func(path, s string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(s), 0o644))
	}
	dir := t.TempDir()
	proc := filepath.Join(dir, "cgroup")
	root := filepath.Join(dir, "fs")

	// cgroup v2, the process's own group.
	write(proc, "0::/system.slice/minidbgo.service\n")
	write(filepath.Join(root, "system.slice/minidbgo.service/memory.max"), "268435456\n")
	require.Equal(t, int64(256*mib), cgroupLimit(proc, root))
	write(filepath.Join(root, "system.slice/minidbgo.service/memory.max"), "max\n")
	require.Equal(t, int64(0), cgroupLimit(proc, root), "max: no limit")

	// In a container: the group's directory is the mount's root.
	write(filepath.Join(root, "memory.max"), "134217728\n")
	require.Equal(t, int64(128*mib), cgroupLimit(proc, root))

	// cgroup v1, with its "no limit" value.
	dir = t.TempDir()
	proc = filepath.Join(dir, "cgroup")
	root = filepath.Join(dir, "fs")
	write(proc, "12:cpu,cpuacct:/docker/abc\n11:memory:/docker/abc\n")
	write(filepath.Join(root, "memory/docker/abc/memory.limit_in_bytes"), "9223372036854771712\n")
	require.Equal(t, int64(0), cgroupLimit(proc, root))
	write(filepath.Join(root, "memory/docker/abc/memory.limit_in_bytes"), "536870912\n")
	require.Equal(t, int64(512*mib), cgroupLimit(proc, root))

	require.Equal(t, int64(0), cgroupLimit(filepath.Join(dir, "missing"), filepath.Join(dir, "none")))
}

// gogc reads the collector's percentage in force.
func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

var sink []byte

// TestTunerFollowsLiveHeap: a small live heap gets a high percentage, a
// live heap above the floor GOGC=50, after each collection; Stop
// restores the percentage of before.
func TestTunerFollowsLiveHeap(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	tu := Start(Config{Floor: 32 * mib})
	runtime.GC()
	require.Eventually(t, func() bool { return tu.Tunes() >= 2 }, 10*time.Second, time.Millisecond, "the tuner runs after a collection")
	require.Greater(t, tu.Percent(), 100, "a small live heap")
	require.Equal(t, tu.Percent(), gogc())

	sink = make([]byte, 48*mib) // live: above the floor
	for i := range sink {
		sink[i] = byte(i)
	}
	n := tu.Tunes()
	runtime.GC()
	require.Eventually(t, func() bool { return tu.Tunes() > n }, 10*time.Second, time.Millisecond)
	require.Equal(t, 50, tu.Percent())
	require.Equal(t, 50, gogc())

	sink = nil
	n = tu.Tunes()
	runtime.GC()
	require.Eventually(t, func() bool { return tu.Tunes() > n }, 10*time.Second, time.Millisecond)
	require.Greater(t, tu.Percent(), 100, "the heap shrank again")

	tu.Stop()
	require.Equal(t, 100, gogc(), "Stop restores the percentage of before")
	n = tu.Tunes()
	runtime.GC()
	runtime.GC()
	require.Equal(t, n, tu.Tunes(), "a stopped tuner does not run")
	require.Equal(t, 100, gogc())
}
