package main

import (
	"context"
	"encoding/json"
	"time"

	"github.com/minidbgo/minidbgo/loadtest/internal/runner"
)

// serverCounters are the /api/metrics counters whose change during a run
// the report shows: they explain latency tails (stalls, flushes) and
// rejected requests.
var serverCounters = []string{
	"puts", "gets", "flushes", "compacts", "commit_groups", "wal_syncs",
	"write_stalls", "busy_rejections", "l0_stalls", "http_rejected_busy", "http_server_errors",
}

// serverMetrics fetches GET /api/metrics; nil when the server has none.
func serverMetrics(ctx context.Context, c *runner.Client) map[string]float64 {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, body, err := c.Do(ctx, runner.Request{Method: "GET", Path: "/api/metrics"})
	if err != nil || st != 200 {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	out := map[string]float64{}
	for _, k := range serverCounters {
		if v, ok := m[k].(float64); ok {
			out[k] = v
		}
	}
	return out
}

// metricsDelta returns after-before for every counter in both, keyed
// "server_<name>".
func metricsDelta(before, after map[string]float64) map[string]float64 {
	if before == nil || after == nil {
		return nil
	}
	d := map[string]float64{}
	for k, a := range after {
		if b, ok := before[k]; ok {
			d["server_"+k] = a - b
		}
	}
	return d
}
