package httpd

import (
	"bufio"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/shirou/gopsutil/v4/process"

	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// sampler measures CPU use and RSS in a background goroutine, so that
// GET /api/stats only reads cached values and never blocks (the seed's
// stats handler slept a second per request to measure CPU).
type sampler struct {
	limitBytes uint64 // memory limit, read once

	mu   sync.Mutex // protects last
	last sample

	stop chan struct{}
	done chan struct{}
}

type sample struct {
	processCPU, systemCPU float64
	rss                   uint64
}

// newSampler starts sampling every interval; a negative interval samples
// nothing (tests). Close stops it.
func newSampler(interval time.Duration) *sampler {
	s := &sampler{limitBytes: memoryLimit(), stop: make(chan struct{}), done: make(chan struct{})}
	if interval < 0 {
		close(s.done)
		return s
	}
	go s.run(interval)
	return s
}

func (s *sampler) run(interval time.Duration) {
	defer close(s.done)
	proc, _ := process.NewProcess(int32(os.Getpid()))
	// gopsutil's cpu.Percent(0) compares with the previous call; the very
	// first call has none and can report 100. Prime it so the first
	// published sample is a real one (or 0).
	_, _ = cpu.Percent(0, false)
	first := true
	measure := func() {
		var smp sample
		if proc != nil {
			// Percent(0) compares with the previous call: the first is 0.
			if v, err := proc.Percent(0); err == nil {
				smp.processCPU = round2(v)
			}
			if mi, err := proc.MemoryInfo(); err == nil {
				smp.rss = mi.RSS
			}
		}
		if v, err := cpu.Percent(0, false); err == nil && len(v) > 0 && !first {
			smp.systemCPU = round2(v[0])
		}
		first = false
		s.mu.Lock()
		s.last = smp
		s.mu.Unlock()
	}
	measure()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			measure()
		case <-s.stop:
			return
		}
	}
}

func (s *sampler) snapshot() sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Close stops the sampler and waits for it.
func (s *sampler) Close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// memoryLimit returns the process's memory limit: the cgroup v2
// memory.max of its cgroup, else the cgroup v1 limit, else the host's
// memory.
func memoryLimit() uint64 {
	for _, p := range cgroupLimitFiles() {
		if v, ok := readLimit(p); ok {
			return v
		}
	}
	if vm, err := mem.VirtualMemory(); err == nil {
		return vm.Total
	}
	return 0
}

// cgroupLimitFiles lists the files that may hold the memory limit, most
// specific first.
func cgroupLimitFiles() []string {
	var files []string
	if f, err := os.Open("/proc/self/cgroup"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// v2: "0::/path"; v1: "N:memory:/path".
			parts := strings.SplitN(sc.Text(), ":", 3)
			if len(parts) != 3 {
				continue
			}
			switch {
			case parts[0] == "0" && parts[1] == "":
				files = append(files, filepath.Join("/sys/fs/cgroup", parts[2], "memory.max"))
			case strings.Contains(","+parts[1]+",", ",memory,"):
				files = append(files, filepath.Join("/sys/fs/cgroup/memory", parts[2], "memory.limit_in_bytes"))
			}
		}
		f.Close()
	}
	return append(files, "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
}

// readLimit reads a cgroup limit; "max" and the v1 "no limit" value
// (close to MaxInt64) are no limit.
func readLimit(path string) (uint64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	s := strings.TrimSpace(string(b))
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v == 0 || v >= 1<<62 {
		return 0, false
	}
	return v, true
}

const mib = 1 << 20

// statsHandler serves GET /api/stats with exactly the guide's fields.
func (s *Server) statsHandler(w http.ResponseWriter, r *http.Request) {
	smp := s.stats.snapshot()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	writeJSON(w, http.StatusOK, api.Stats{
		ProcessCPUPercent: smp.processCPU,
		ProcessRSSMB:      smp.rss / mib,
		ProcessRSSLimitMB: s.stats.limitBytes / mib,
		GoNumGoroutine:    runtime.NumGoroutine(),
		GoAllocMB:         ms.Alloc / mib,
		GoSysMB:           ms.Sys / mib,
		GoHeapAllocMB:     ms.HeapAlloc / mib,
		GoHeapInuseMB:     ms.HeapInuse / mib,
		GoNumGC:           ms.NumGC,
		SystemCPUPercent:  smp.systemCPU,
	})
}
