package httpd

import (
	"math"
	"net/http"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/shirou/gopsutil/v4/process"

	"github.com/minidbgo/minidbgo/httpd/client/api"
	"github.com/minidbgo/minidbgo/httpd/internal/gctune"
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

// memoryLimit returns the process's memory limit: its cgroup's (v2
// memory.max, else v1 memory.limit_in_bytes), else the host's memory.
func memoryLimit() uint64 {
	if v := gctune.CgroupLimit(); v > 0 {
		return uint64(v)
	}
	if vm, err := mem.VirtualMemory(); err == nil {
		return vm.Total
	}
	return 0
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
