package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/minidbgo/minidbgo/loadtest/internal/target"
)

// The run's background activities: the RSS sampler and the server-stats
// poller, the compactor, the two streams and the status line.

// serverGauges are the latest figures the poller read from the server.
type serverGauges struct {
	mu                 sync.Mutex // protects the fields below
	heapInuse, goSys   float64
	numGC, goroutines  int64
	flushes, compacts  int64
	tables, immutable  int64
	statsOK, metricsOK bool
}

// poller reads /api/stats and /api/metrics every SampleEvery into g
// until stop.
func (s *soak) poller(ctx context.Context, stop <-chan struct{}, g *serverGauges) {
	t := time.NewTicker(s.cfg.SampleEvery)
	defer t.Stop()
	for {
		s.poll(ctx, g)
		if !waitFor(ctx, stop, t.C) {
			return
		}
	}
}

func (s *soak) poll(ctx context.Context, g *serverGauges) {
	// The server answers within its REQUEST_TIMEOUT (30 s, then 504); a
	// slow answer is not a failure, so the client waits longer.
	timeout := s.cfg.RequestTimeout
	var st struct {
		HeapInuse  float64 `json:"go_heap_inuse_mb"`
		GoSys      float64 `json:"go_sys_mb"`
		NumGC      int64   `json:"go_num_gc"`
		Goroutines int64   `json:"go_num_goroutine"`
	}
	statsOK := s.getJSON(ctx, "stats", "/api/stats", timeout, &st)
	var m struct {
		Flushes   int64 `json:"flushes"`
		Compacts  int64 `json:"compacts"`
		Tables    int64 `json:"total_tables"`
		Immutable int64 `json:"immutable_memtables"`
	}
	metricsOK := s.getJSON(ctx, "metrics", "/api/metrics", timeout, &m)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.statsOK = statsOK; statsOK {
		g.heapInuse, g.goSys, g.numGC, g.goroutines = st.HeapInuse, st.GoSys, st.NumGC, st.Goroutines
	}
	if g.metricsOK = metricsOK; metricsOK {
		g.flushes, g.compacts, g.tables, g.immutable = m.Flushes, m.Compacts, m.Tables, m.Immutable
	}
}

// sampler records a timeline row every SampleEvery until stop.
func (s *soak) sampler(ctx context.Context, stop <-chan struct{}, g *serverGauges, done func() int64) {
	t := time.NewTicker(s.cfg.SampleEvery)
	defer t.Stop()
	for {
		s.sample(ctx, g, done)
		if !waitFor(ctx, stop, t.C) {
			return
		}
	}
}

// sample reads the child's VmRSS and VmHWM and appends a row.
func (s *soak) sample(ctx context.Context, g *serverGauges, done func() int64) {
	rss, hwm, err := target.ProcMem(s.child.Pid())
	if err != nil {
		return // the child is gone; the watcher reports it
	}
	row := Sample{T: round(time.Since(s.start).Seconds(), 1), RSSMB: round(rss, 1), HWMMB: round(hwm, 1),
		HeapInuseMB: -1, GoSysMB: -1, NumGC: -1, Goroutines: -1, Flushes: -1, Compacts: -1, Tables: -1, Immutable: -1,
		Requests: done(), DiskMB: round(float64(dirSize(s.dir))/(1<<20), 1)}
	g.mu.Lock()
	if g.statsOK {
		row.HeapInuseMB, row.GoSysMB, row.NumGC, row.Goroutines = g.heapInuse, g.goSys, g.numGC, g.goroutines
	}
	if g.metricsOK {
		row.Flushes, row.Compacts, row.Tables, row.Immutable = g.flushes, g.compacts, g.tables, g.immutable
	}
	g.mu.Unlock()
	s.mu.Lock()
	s.timeline = append(s.timeline, row)
	takeProfile := s.cfg.ProfileDir != "" && rss >= 0.8*s.cfg.RSSLimitMB && rss > s.peakProf &&
		time.Since(s.lastProf) >= 10*time.Second
	if takeProfile {
		s.peakProf, s.lastProf = rss, time.Now()
	}
	s.mu.Unlock()
	if takeProfile {
		s.saveHeap(ctx, "heap-peak.pprof")
	}
}

// dirSize returns the bytes of the files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // files come and go under compaction
		}
		if !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// compactor sends POST /api/_compact after CompactEvery/2 (or a third of
// a shorter run) and then every CompactEvery, and waits for each
// compaction it started to finish (also after stop, for at most three
// minutes).
func (s *soak) compactor(ctx context.Context, stop <-chan struct{}) {
	wait := time.NewTimer(min(s.cfg.CompactEvery/2, s.cfg.Duration/3))
	defer wait.Stop()
	for {
		if !waitFor(ctx, stop, wait.C) {
			return
		}
		wait.Reset(s.cfg.CompactEvery)
		var cs struct {
			Status string `json:"status"`
		}
		rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
		st, body, err := s.ops["compact"].send(rctx, s, "POST", "/api/_compact", nil, true)
		cancel()
		s.mu.Lock()
		s.compact.Requested++
		s.mu.Unlock()
		if err != nil || st != 202 || json.Unmarshal(body, &cs) != nil || cs.Status != "started" {
			continue // the status is counted; "running" waits for the next tick
		}
		begin := time.Now()
		ok, msg := s.awaitCompaction(ctx, stop)
		if msg == "" && !ok {
			return // cancelled
		}
		s.mu.Lock()
		if ok {
			s.compact.Completed++
		} else {
			s.compact.Failed++
			s.compact.LastError = msg
		}
		s.compact.MaxSec = max(s.compact.MaxSec, round(time.Since(begin).Seconds(), 1))
		s.mu.Unlock()
	}
}

// awaitCompaction polls /api/metrics until the compaction requested last
// is done: ok, or not ok with msg saying why; ok false and msg empty when
// ctx was cancelled.
func (s *soak) awaitCompaction(ctx context.Context, stop <-chan struct{}) (ok bool, msg string) {
	var deadline <-chan time.Time
	for {
		var m struct {
			Running bool   `json:"compact_running"`
			LastErr string `json:"compact_last_error"`
		}
		if s.getJSON(ctx, "metrics", "/api/metrics", s.cfg.RequestTimeout, &m) && !m.Running {
			if m.LastErr != "" {
				return false, m.LastErr
			}
			return true, ""
		}
		select {
		case <-ctx.Done():
			return false, ""
		case <-deadline:
			return false, "still running 3 minutes after the load ended"
		case <-stop:
			if deadline == nil {
				deadline = time.After(3 * time.Minute)
			}
			stop = nil
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// streamLoop GETs path (a dump or an export) and reads it to the end,
// again and again until stop; one under way at stop finishes (within ten
// minutes).
func (s *soak) streamLoop(ctx context.Context, stop <-chan struct{}, kind, path string, stats *StreamStats) {
	o := s.ops[kind]
	for {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		default:
		}
		begin := time.Now()
		n, status, err := s.stream(ctx, o, path)
		d := time.Since(begin)
		s.mu.Lock()
		switch {
		case err != nil && ctx.Err() != nil:
			// Cut by the end of the run (a dead server): not counted.
		case err != nil:
			stats.Requested++
			stats.Failed++
			stats.LastError = err.Error()
		case status == "200":
			stats.Requested++
			stats.Completed++
			stats.Bytes += n
			stats.LastBytes = n
			stats.MaxSec = max(stats.MaxSec, round(d.Seconds(), 1))
		case isDeliberate503(status):
			stats.Requested++ // refused on purpose; retried after a pause
		default:
			stats.Requested++
			stats.Failed++
			stats.LastError = "HTTP " + status
		}
		s.mu.Unlock()
		if err != nil || status != "200" {
			if !waitFor(ctx, stop, time.After(time.Second)) { // no busy loop on failures
				return
			}
		}
	}
}

// stream reads one streaming response to the end and returns its size
// and status key; a response cut short is an error.
func (s *soak) stream(ctx context.Context, o *opStats, path string) (n int64, status string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	req, err := newRequest(ctx, s.base, "GET", path, nil)
	if err != nil {
		return 0, "", err
	}
	begin := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		o.fail(ctx, s, time.Since(begin), err, 0)
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if rerr != nil {
			o.fail(ctx, s, time.Since(begin), rerr, 0)
			return 0, "", rerr
		}
		key := statusKey(resp.StatusCode, b)
		o.record(time.Since(begin), key, nil, int64(len(b)), 0)
		return int64(len(b)), key, nil
	}
	n, err = io.Copy(io.Discard, resp.Body)
	if err != nil {
		err = fmt.Errorf("after %d bytes: %w", n, err)
		o.fail(ctx, s, time.Since(begin), err, 0)
		return n, "", err
	}
	o.record(time.Since(begin), "200", nil, n, 0)
	return n, "200", nil
}

// statusLoop prints a one-line status every StatusEvery until stop.
func (s *soak) statusLoop(ctx context.Context, stop <-chan struct{}, g *serverGauges, done func() int64) {
	t := time.NewTicker(s.cfg.StatusEvery)
	defer t.Stop()
	for {
		if !waitFor(ctx, stop, t.C) {
			return
		}
		el := time.Since(s.start)
		var unexpected, deliberate, errs int64
		for _, o := range s.ops {
			o.mu.Lock()
			for k, v := range o.status {
				switch {
				case isDeliberate503(k):
					deliberate += v
				case k >= "500":
					unexpected += v
				}
			}
			errs += o.errors
			o.mu.Unlock()
		}
		s.mu.Lock()
		var rss, peak float64
		if n := len(s.timeline); n > 0 {
			rss = s.timeline[n-1].RSSMB
		}
		for _, r := range s.timeline {
			peak = max(peak, r.RSSMB, r.HWMMB)
		}
		cs, ds, es := s.compact, s.dumps, s.exports
		disk := 0.0
		if n := len(s.timeline); n > 0 {
			disk = s.timeline[n-1].DiskMB
		}
		s.mu.Unlock()
		g.mu.Lock()
		heap := g.heapInuse
		g.mu.Unlock()
		req := done()
		fmt.Fprintf(s.cfg.Status, "soak %s/%s: %d requests (%.0f/s), RSS %.1f MiB (peak %.1f), heap %.0f MiB, disk %.0f MB, "+
			"5xx %d (+%d deliberate 503), errors %d, compactions %d/%d, dumps %d, exports %d\n",
			el.Round(time.Second), s.cfg.Duration, req, float64(req)/el.Seconds(), rss, peak, heap, disk,
			unexpected, deliberate, errs, cs.Completed, cs.Requested, ds.Completed, es.Completed)
	}
}

// logFilter receives the server's log line by line: it counts warnings
// and errors, keeps a few, remembers the start-up settings and passes
// every line on to next.
type logFilter struct {
	next io.Writer

	mu       sync.Mutex // protects the fields below
	warnings int
	errors   int
	samples  []string
	start    string
}

const maxLogSamples = 20

func (l *logFilter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	l.mu.Lock()
	switch {
	case strings.Contains(line, `"level":"ERROR"`):
		l.errors++
		l.keep(line)
	case strings.Contains(line, `"level":"WARN"`):
		l.warnings++
		l.keep(line)
	case l.start == "" && strings.Contains(line, `"msg":"minidbgo-server starting"`):
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			var parts []string
			for _, k := range []string{"gomemlimit", "gogc", "durability", "flush_size", "max_mem_mb", "max_immutable", "max_concurrent", "version"} {
				if v, ok := m[k]; ok {
					parts = append(parts, fmt.Sprintf("%s=%v", k, v))
				}
			}
			l.start = strings.Join(parts, " ")
		}
	}
	l.mu.Unlock()
	if l.next != nil {
		_, _ = l.next.Write(p)
	}
	return len(p), nil
}

func (l *logFilter) keep(line string) {
	if len(l.samples) >= maxLogSamples {
		return
	}
	if len(line) > 600 {
		line = line[:600] + "…"
	}
	l.samples = append(l.samples, line)
}

func (l *logFilter) counts() (warnings, errors int, samples []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.warnings, l.errors, append([]string(nil), l.samples...)
}

func (l *logFilter) startSettings() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.start
}

// waitFor waits for c and reports true, or reports false once ctx is done
// or stop is closed: the pause of every background loop here.
func waitFor(ctx context.Context, stop <-chan struct{}, c <-chan time.Time) bool {
	select {
	case <-ctx.Done():
		return false
	case <-stop:
		return false
	case <-c:
		return true
	}
}
