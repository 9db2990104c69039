// Package gctune sets the garbage collector's percentage (GOGC) from the
// live heap, so that a server with a small heap does not collect every
// few megabytes allocated, while one with a large heap keeps the
// percentage the operator's guide recommends.
//
// # Policy
//
// After every collection the tuner reads the live heap L (the bytes the
// collection marked, runtime/metrics /gc/heap/live:bytes) and sets the
// percentage P so that the next heap goal L × (1 + P/100) is
//
//	max(L × (1 + MinPercent/100), Floor)
//
// with P at most MaxPercent. A live heap above Floor / (1 + MinPercent/100)
// gets MinPercent (GOGC=50 by default: the guide's heap discipline); a
// small one grows up to Floor before the next collection, so a few MB of
// live data no longer mean a collection every megabyte or two allocated.
// The Go memory limit (GOMEMLIMIT) stays in force above all of it: as
// the heap nears the limit the runtime collects whatever the percentage,
// so Floor is kept well below it (DefaultFloor: a quarter of it).
//
// The tuner runs from a finalizer: a sentinel object, unreachable, whose
// finalizer runs once per collection, re-arms itself and sets the
// percentage. It costs a runtime/metrics read per collection and no
// goroutine.
//
// # Limits
//
// DefaultMemoryLimit derives the memory limit from the cgroup's
// (memory.max, cgroup v2, or memory.limit_in_bytes, v1) when the process
// runs in a container with a limit: 80 % of it, if that is below the
// default.
package gctune

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
)

// Config is the tuner's policy. The zero value of a field selects its
// default.
type Config struct {
	// Floor is the least heap goal, in bytes. Default 64 MiB.
	Floor uint64
	// MinPercent is the percentage of a heap too large for Floor to
	// matter. Default 50.
	MinPercent int
	// MaxPercent bounds the percentage of a small heap, so that a heap
	// that grows at once (a large request) is collected before it has
	// grown by more than MaxPercent. Default 1000.
	MaxPercent int
}

const (
	defaultFloor      = 64 << 20
	defaultMinPercent = 50
	defaultMaxPercent = 1000
)

func (c Config) withDefaults() Config {
	if c.Floor == 0 {
		c.Floor = defaultFloor
	}
	if c.MinPercent <= 0 {
		c.MinPercent = defaultMinPercent
	}
	if c.MaxPercent <= 0 {
		c.MaxPercent = defaultMaxPercent
	}
	c.MaxPercent = max(c.MaxPercent, c.MinPercent)
	return c
}

// Percent returns the percentage for a live heap of live bytes.
func (c Config) Percent(live uint64) int {
	c = c.withDefaults()
	live = max(live, 1)
	if live >= c.Floor {
		return c.MinPercent
	}
	// The least P with live × (1 + P/100) ≥ Floor.
	p := (c.Floor*100+live-1)/live - 100
	return int(min(max(p, uint64(c.MinPercent)), uint64(c.MaxPercent)))
}

// DefaultFloor is the floor for a Go memory limit of limit bytes: a
// quarter of it, between 16 MiB and 256 MiB; 64 MiB without a limit
// (limit ≤ 0 or math.MaxInt64).
func DefaultFloor(limit int64) uint64 {
	if limit <= 0 || limit == math.MaxInt64 {
		return defaultFloor
	}
	return uint64(min(max(limit/4, 16<<20), 256<<20))
}

// Tuner sets the collector's percentage after each collection. Stop it
// with Stop.
type Tuner struct {
	cfg     Config
	samples []metrics.Sample

	mu      sync.Mutex // protects the fields below
	stopped bool
	percent int // the percentage set last
	before  int // the percentage in force before Start
	tunes   uint64
}

// sentinel is the object whose finalizer runs after each collection.
// Its pointer keeps it out of the tiny allocator (whose blocks are
// shared, so that a finalizer on them may never run).
type sentinel struct {
	t *Tuner
	_ [16]byte
}

// Start sets the percentage for the live heap now, and again after every
// collection until Stop.
func Start(cfg Config) *Tuner {
	t := &Tuner{
		cfg:     cfg.withDefaults(),
		samples: []metrics.Sample{{Name: "/gc/heap/live:bytes"}},
	}
	t.mu.Lock()
	t.before = debug.SetGCPercent(t.cfg.MinPercent)
	t.percent = t.cfg.MinPercent
	t.mu.Unlock()
	t.tune()
	runtime.SetFinalizer(&sentinel{t: t}, onGC)
	return t
}

func onGC(s *sentinel) {
	if !s.t.tune() {
		return
	}
	runtime.SetFinalizer(s, onGC) // again after the next collection
}

// tune sets the percentage for the live heap; it reports false once the
// tuner is stopped.
func (t *Tuner) tune() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	metrics.Read(t.samples)
	var live uint64
	if v := t.samples[0].Value; v.Kind() == metrics.KindUint64 {
		live = v.Uint64()
	}
	p := t.cfg.Percent(live)
	// Small moves are not worth the runtime's lock.
	if d := p - t.percent; d > t.percent/20 || -d > t.percent/20 {
		debug.SetGCPercent(p)
		t.percent = p
	}
	t.tunes++
	return true
}

// Percent returns the percentage the tuner set last.
func (t *Tuner) Percent() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.percent
}

// Tunes returns how many times the tuner ran (once at Start, then once
// per collection).
func (t *Tuner) Tunes() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tunes
}

// Stop stops the tuning and restores the percentage in force before
// Start.
func (t *Tuner) Stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.stopped {
		t.stopped = true
		debug.SetGCPercent(t.before)
	}
}

// DefaultMemoryLimit returns the Go memory limit to use when the
// operator set none: def, or, when it is lower, 80 % of the cgroup's
// memory limit (cgroupLimit bytes; 0 for none) less offHeap, the memory
// the process holds outside the Go heap (the engine's block cache lives
// in mmap'd slabs the Go runtime does not count), and never below a
// quarter of the cgroup's limit.
func DefaultMemoryLimit(def, cgroupLimit, offHeap int64) int64 {
	if cgroupLimit > 0 {
		return min(def, max(cgroupLimit-cgroupLimit/5-offHeap, cgroupLimit/4))
	}
	return def
}

// CgroupLimit returns the memory limit of this process's cgroup: the v2
// memory.max, else the v1 memory.limit_in_bytes; 0 when there is none.
func CgroupLimit() int64 {
	return cgroupLimit("/proc/self/cgroup", "/sys/fs/cgroup")
}

// cgroupLimit reads the limit of the cgroup that the file procCgroup
// (/proc/self/cgroup) names, under the cgroup filesystem at root.
func cgroupLimit(procCgroup, root string) int64 {
	var files []string
	if f, err := os.Open(procCgroup); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// v2: "0::/path"; v1: "N:memory:/path" (or "N:cpu,memory:…").
			parts := strings.SplitN(sc.Text(), ":", 3)
			if len(parts) != 3 {
				continue
			}
			switch {
			case parts[0] == "0" && parts[1] == "":
				files = append(files, filepath.Join(root, parts[2], "memory.max"))
			case strings.Contains(","+parts[1]+",", ",memory,"):
				files = append(files, filepath.Join(root, "memory", parts[2], "memory.limit_in_bytes"))
			}
		}
		f.Close()
	}
	// In a container the cgroup's own directory is mounted at the root.
	files = append(files, filepath.Join(root, "memory.max"), filepath.Join(root, "memory", "memory.limit_in_bytes"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// "max" and v1's "no limit" (close to MaxInt64) are no limit.
		v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || v <= 0 || v >= 1<<62 {
			continue
		}
		return v
	}
	return 0
}
