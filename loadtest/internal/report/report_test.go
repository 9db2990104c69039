package report

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/loadtest/internal/runner"
)

func sampleRun(t *testing.T, name, kind string) *Run {
	t.Helper()
	op := func(_ context.Context, _ int, i uint64) runner.Outcome {
		switch {
		case i%50 == 0:
			return runner.Outcome{Err: context.DeadlineExceeded}
		case i%10 == 0:
			return runner.Outcome{Status: "503", BytesIn: 10}
		}
		return runner.Outcome{Status: "201", BytesIn: 100, BytesOut: 200}
	}
	cfg := runner.Config{Concurrency: 2, Requests: 100}
	res, err := runner.Run(context.Background(), cfg, op)
	require.NoError(t, err)
	r := FromResult(name, kind, "embedded http://127.0.0.1:1", cfg, res)
	r.Params = map[string]string{"dist": "zipfian", "keys": "100"}
	return r
}

// TestJSONSchema pins the field names of the JSON report: docs generation
// and other tools read them.
func TestJSONSchema(t *testing.T) {
	r := sampleRun(t, "write", "http")
	b := sampleRun(t, "write", "http")
	b.Rate = r.Rate * 4
	r.SetBaseline(b)
	r.PeakRSSMB, r.RSSSource = 42.5, "test"
	rep := Report{Schema: Schema, Command: "minidbgo-load write", Machine: DescribeMachine(), Runs: []*Run{r}}
	data, err := json.Marshal(rep)
	require.NoError(t, err)

	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	assert.Equal(t, "minidbgo-load/v1", m["schema"])
	keys := func(v any) []string {
		var ks []string
		for k := range v.(map[string]any) {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	assert.Equal(t, []string{"command", "machine", "runs", "schema"}, keys(m))
	machine := m["machine"].(map[string]any)
	for _, k := range []string{"date", "nproc", "gomaxprocs", "go_version", "os", "arch"} {
		assert.Contains(t, machine, k)
	}
	run := m["runs"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "kind", "target", "concurrency", "requests", "items", "elapsed_s",
		"requests_per_s", "items_per_s", "latency_us", "status", "non_2xx", "errors", "error_samples",
		"bytes_in", "bytes_out", "peak_rss_mb", "rss_source", "baseline", "ratio_to_baseline", "params"} {
		assert.Contains(t, run, k)
	}
	assert.Equal(t, []string{"max", "mean", "p50", "p90", "p99", "p99_9"}, keys(run["latency_us"]))
	assert.EqualValues(t, 100, run["requests"])
	assert.EqualValues(t, 2, run["errors"])
	assert.EqualValues(t, 8, run["non_2xx"])
	assert.Equal(t, map[string]any{"201": 90.0, "503": 8.0}, run["status"])
	assert.InDelta(t, 0.25, run["ratio_to_baseline"], 0.001)

	var back Report
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Equal(t, r.Rate, back.Runs[0].Rate)
	assert.Equal(t, r.LatencyUS, back.Runs[0].LatencyUS)
}

func TestLatencyFromHistogram(t *testing.T) {
	res := &runner.Result{Latency: runner.NewHistogram(), Requests: 1000, Elapsed: time.Second}
	for i := int64(1); i <= 1000; i++ {
		require.NoError(t, res.Latency.RecordValue(i*int64(time.Microsecond)))
	}
	r := FromResult("x", "engine", "t", runner.Config{Requests: 1000}, res)
	assert.InDelta(t, 500, r.LatencyUS.P50, 1)
	assert.InDelta(t, 900, r.LatencyUS.P90, 1)
	assert.InDelta(t, 990, r.LatencyUS.P99, 1)
	assert.InDelta(t, 999, r.LatencyUS.P999, 1)
	assert.InDelta(t, 1000, r.LatencyUS.Max, 1)
	assert.InDelta(t, 500.5, r.LatencyUS.Mean, 1)
	assert.Equal(t, 1000.0, r.Rate)
}

func TestText(t *testing.T) {
	r := sampleRun(t, "guide-write", "http")
	r.Expected, r.ExpectedRSS = &GuideWrites, &GuideRSS
	r.PeakRSSMB, r.RSSSource = 80, "test"
	var buf bytes.Buffer
	WriteText(&buf, r)
	out := buf.String()
	for _, s := range []string{"guide-write", "requests/s:", "p99.9", "201×90", "503×8", "2 errors", "8 non-2xx", "2,000–5,000", "peak RSS:", "within"} {
		assert.Contains(t, out, s)
	}
	buf.Reset()
	read := sampleRun(t, "guide-read", "http")
	WriteGuide(&buf, r, read)
	assert.Contains(t, buf.String(), "10,000–20,000")
	assert.Contains(t, buf.String(), "50–150")
}

func TestMarkdown(t *testing.T) {
	w, rd := sampleRun(t, "guide-write", "http"), sampleRun(t, "guide-read", "http")
	w.Expected, rd.Expected = &GuideWrites, &GuideReads
	sc := sampleRun(t, "read", "http")
	sc.SetBaseline(sampleRun(t, "read", "http"))
	eng := sampleRun(t, "fillseq", "engine")
	eng.Extra = map[string]float64{"write_amp": 1.5, "wal_syncs": 0}
	eng.Params = map[string]string{"durability": "none", "compression": "s2"}
	reps := []*Report{
		{Schema: Schema, Command: "minidbgo-load guide --embedded", Machine: DescribeMachine(), Runs: []*Run{w, rd}},
		{Schema: Schema, Command: "minidbgo-load read --embedded", Machine: DescribeMachine(), Runs: []*Run{sc}, Notes: []string{"a note"}},
		{Schema: Schema, Command: "minidbgo-load engine", Machine: DescribeMachine(), Runs: []*Run{eng}},
	}
	md := Markdown(reps)
	for _, s := range []string{"## Load tests", "### The guide's load test", "writes (requests/s)", "2,000–5,000/s",
		"### HTTP scenarios", "| read | dist=zipfian keys=100 |", "### Storage engine", "| fillseq | none, s2, 2 workers |",
		"- a note", "minidbgo-load engine"} {
		assert.Contains(t, md, s)
	}
	// Every table row has as many cells as its header.
	var cols int
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "|") {
			cols = 0
			continue
		}
		n := strings.Count(line, "|")
		if cols == 0 {
			cols = n
		}
		assert.Equal(t, cols, n, line)
	}
}

func TestFormatting(t *testing.T) {
	assert.Equal(t, "12,345", Num(12345))
	assert.Equal(t, "999", Num(999))
	assert.Equal(t, "1,000,000", Num(1e6))
	assert.Equal(t, "31.1", Num(31.1))
	assert.Equal(t, "0.50µs", Dur(0.5))
	assert.Equal(t, "850µs", Dur(850))
	assert.Equal(t, "12.30ms", Dur(12300))
	assert.Equal(t, "1.25s", Dur(1.25e6))
	assert.Equal(t, "1.2 MB", Bytes(1_200_000))
	assert.Equal(t, "below", GuideWrites.Verdict(1999))
	assert.Equal(t, "within", GuideWrites.Verdict(2000))
	assert.Equal(t, "above", GuideWrites.Verdict(5001))
}

func TestProgressOffWhenNoWriter(t *testing.T) {
	p := StartProgress(nil, "x", 10, 0, func() int64 { return 0 })
	p.Stop()
	var buf bytes.Buffer
	p = StartProgress(&buf, "x", 10, 0, func() int64 { return 5 })
	time.Sleep(250 * time.Millisecond)
	p.Stop()
	assert.Contains(t, buf.String(), "x")
}
