package storage_test

// BenchmarkMemory shows that the engine's memory is bounded by its
// configuration, not by the data: it writes SIZE of 4 KiB values (random
// keys, small 4 MiB memtables) and then runs a full Compact, sampling the Go
// heap and the process RSS, at each size of MINIDBGO_MEMBENCH_MB (default
// "256,1024"). The peaks must not grow with the size. For clean RSS figures
// run each size in its own process, for example
//
//	MINIDBGO_MEMBENCH_MB=1024 go test -run='^$' -bench=Memory -benchtime=1x .
//
// (VmHWM is reset between sizes where the kernel allows it, but the Go
// runtime keeps heap it has mapped.)

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minidbgo/minidbgo/storage"
)

const memBenchValueLen = 4 << 10

func memBenchSizes(b *testing.B) []int {
	s := os.Getenv("MINIDBGO_MEMBENCH_MB")
	if s == "" {
		s = "256,1024"
	}
	var sizes []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("MINIDBGO_MEMBENCH_MB=%q: want a comma-separated list of sizes in MiB", s)
		}
		sizes = append(sizes, n)
	}
	return sizes
}

func BenchmarkMemory(b *testing.B) {
	for _, mb := range memBenchSizes(b) {
		b.Run(fmt.Sprintf("%dMB", mb), func(b *testing.B) {
			for b.Loop() {
				runMemoryBench(b, int64(mb)<<20)
			}
		})
	}
}

func runMemoryBench(b *testing.B, total int64) {
	b.StopTimer()
	runtime.GC()
	debug.FreeOSMemory()
	hwmReset := resetPeakRSS()
	baseRSS := readProcStatus("VmRSS")
	dir := b.TempDir()
	db := openBench(b, dir, &storage.Options{
		Durability:    storage.Durability{Mode: storage.DurabilityNone},
		MemTableBytes: 4 << 20,
	})
	b.StartTimer()

	busyRetries.Store(0)
	s := startMemSampler()
	n := int(total / memBenchValueLen)
	rng := rand.New(rand.NewPCG(uint64(total), 3))
	val := make([]byte, memBenchValueLen)
	var key []byte
	start := time.Now()
	for i := range n {
		k := permute(i, n)
		key = benchKey(key, k)
		// Incompressible values: the table bytes equal the user bytes.
		for j := 0; j < len(val); j += 8 {
			v := rng.Uint64()
			for x := range 8 {
				val[j+x] = byte(v >> (8 * x))
			}
		}
		if err := retryBusy(func() error { return db.Put(key, val) }); err != nil {
			b.Fatalf("put %d: %v", i, err)
		}
	}
	writeTime := time.Since(start)
	writePeak := s.snapshot()
	start = time.Now()
	// Compact flushes first, and that flush can give up with ErrBusy while
	// compaction debt keeps the immutable queue full: retry.
	if err := retryBusy(db.Compact); err != nil {
		b.Fatal(err)
	}
	compactTime := time.Since(start)
	peak := s.stop()
	m := db.Metrics()
	b.StopTimer()
	closeBench(b, db)
	os.RemoveAll(dir)
	b.StartTimer()

	if hwm := readProcStatus("VmHWM"); hwmReset && hwm > peak.rss {
		peak.rss = hwm // the kernel's own high-water mark, between samples
	}
	const mib = 1 << 20
	b.ReportMetric(float64(total)/mib/writeTime.Seconds(), "write-MiB/s")
	b.ReportMetric(compactTime.Seconds(), "compact-s")
	b.ReportMetric(float64(writePeak.heapAlloc)/mib, "write-peak-heap-MiB")
	b.ReportMetric(float64(peak.heapAlloc)/mib, "peak-heap-MiB")
	b.ReportMetric(float64(peak.heapLive)/mib, "peak-live-heap-MiB")
	b.ReportMetric(float64(peak.rss)/mib, "peak-RSS-MiB")
	b.ReportMetric(float64(baseRSS)/mib, "start-RSS-MiB")
	b.ReportMetric(float64(m.TotalTableBytes)/mib, "table-MiB")
	b.ReportMetric(float64(busyRetries.Load()), "busy-retries")
}

// memPeaks are the highest values seen by the sampler.
type memPeaks struct {
	heapAlloc uint64 // heap objects, live and not yet swept
	heapLive  uint64 // heap marked live by the last GC
	rss       uint64
}

type memSampler struct {
	mu    sync.Mutex
	peaks memPeaks
	done  chan struct{}
	wg    sync.WaitGroup
}

func startMemSampler() *memSampler {
	s := &memSampler{done: make(chan struct{})}
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/heap/live:bytes"},
	}
	sample := func() {
		metrics.Read(samples)
		rss := readProcStatus("VmRSS")
		s.mu.Lock()
		s.peaks.heapAlloc = max(s.peaks.heapAlloc, samples[0].Value.Uint64())
		s.peaks.heapLive = max(s.peaks.heapLive, samples[1].Value.Uint64())
		s.peaks.rss = max(s.peaks.rss, rss)
		s.mu.Unlock()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			sample()
			select {
			case <-s.done:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *memSampler) snapshot() memPeaks {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peaks
}

func (s *memSampler) stop() memPeaks {
	close(s.done)
	s.wg.Wait()
	return s.snapshot()
}

// readProcStatus returns a "kB" field of /proc/self/status in bytes, or 0
// where there is none (not Linux).
func readProcStatus(field string) uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}

// resetPeakRSS resets the kernel's VmHWM for this process (Linux >= 4.0),
// so that it covers one size only, and reports whether it could. Without
// it the sampler's peak (every 5 ms) stands alone.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}
