package target

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RSSFunc returns a process's resident set size in MiB.
type RSSFunc func(ctx context.Context) (float64, error)

// ProcRSS returns an RSSFunc reading VmRSS from /proc/<pid>/status; pid 0
// means this process.
func ProcRSS(pid int) RSSFunc {
	path := "/proc/self/status"
	if pid > 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/status"
	}
	return func(context.Context) (float64, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return 0, err
		}
		return parseVmRSS(b)
	}
}

// parseVmRSS finds "VmRSS:   12345 kB" in a /proc status file.
func parseVmRSS(status []byte) (float64, error) { return parseStatusKB(status, "VmRSS:") }

// StatsRSS returns an RSSFunc that asks a running server: GET
// <base>/api/stats and its process_rss_mb field.
func StatsRSS(client *http.Client, base string) RSSFunc {
	return func(ctx context.Context) (float64, error) {
		req, err := http.NewRequestWithContext(ctx, "GET", base+"/api/stats", nil)
		if err != nil {
			return 0, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return 0, err
		}
		if resp.StatusCode != 200 {
			return 0, fmt.Errorf("target: GET /api/stats: HTTP %d", resp.StatusCode)
		}
		var s struct {
			RSS *float64 `json:"process_rss_mb"`
		}
		if err := json.Unmarshal(b, &s); err != nil {
			return 0, fmt.Errorf("target: GET /api/stats: %w", err)
		}
		if s.RSS == nil {
			return 0, errors.New("target: GET /api/stats has no process_rss_mb")
		}
		return *s.RSS, nil
	}
}

// RSSSampler polls an RSSFunc and keeps the peak. Start it before a run and
// Stop it after.
type RSSSampler struct {
	fn       RSSFunc
	interval time.Duration
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	mu      sync.Mutex // protects following fields
	peak    float64
	samples int
	err     error
}

// StartRSS starts sampling fn every interval (default 100ms), once
// immediately.
func StartRSS(fn RSSFunc, interval time.Duration) *RSSSampler {
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &RSSSampler{fn: fn, interval: interval, cancel: cancel}
	s.sample(ctx)
	s.wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.sample(ctx)
			}
		}
	})
	return s
}

func (s *RSSSampler) sample(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, s.interval*5)
	defer cancel()
	v, err := s.fn(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if s.err == nil && ctx.Err() == nil {
			s.err = err
		}
		return
	}
	s.samples++
	s.peak = max(s.peak, v)
}

// Stop takes a last sample, stops sampling and returns the peak in MiB. ok
// is false when no sample succeeded; err is then the first failure.
func (s *RSSSampler) Stop() (peak float64, ok bool, err error) {
	s.sample(context.Background())
	s.cancel()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak, s.samples > 0, s.err
}

// ProcMem reads a process's current resident set size (VmRSS) and its
// peak (VmHWM, the kernel's high-water mark since the process started) in
// MiB from /proc/<pid>/status; pid 0 means this process.
func ProcMem(pid int) (rss, hwm float64, err error) {
	path := "/proc/self/status"
	if pid > 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/status"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	if rss, err = parseVmRSS(b); err != nil {
		return 0, 0, err
	}
	hwm, err = parseStatusKB(b, "VmHWM:")
	return rss, hwm, err
}

// parseStatusKB finds "<field>   12345 kB" in a /proc status file and
// returns it in MiB.
func parseStatusKB(status []byte, field string) (float64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte(field))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) < 1 {
			break
		}
		kb, err := strconv.ParseFloat(string(f[0]), 64)
		if err != nil {
			return 0, err
		}
		return kb / 1024, nil
	}
	return 0, fmt.Errorf("target: no %s in /proc status", strings.TrimSuffix(field, ":"))
}
