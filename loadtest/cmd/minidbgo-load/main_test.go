package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/loadtest/internal/report"
	"github.com/minidbgo/minidbgo/loadtest/internal/target"
	"github.com/minidbgo/minidbgo/loadtest/internal/workload"
)

// TestMain lets this test binary serve as the baseline child process that
// --baseline starts beside a server in another process.
func TestMain(m *testing.M) {
	if served, err := target.ServeBaselineProcess(); served {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runJSON(t *testing.T, args ...string) *report.Report {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, &stdout, &stderr)
	require.NoError(t, err, "stderr: %s", stderr.String())
	assert.Empty(t, stderr.String(), "no progress bar when not on a terminal")
	var rep report.Report
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rep), stdout.String())
	assert.Equal(t, report.Schema, rep.Schema)
	return &rep
}

// TestScenariosAgainstEmbedded runs every HTTP scenario briefly against an
// in-process server: the requests must match the server's API (2xx only).
func TestScenariosAgainstEmbedded(t *testing.T) {
	for _, name := range workload.Names {
		t.Run(name, func(t *testing.T) {
			rep := runJSON(t, name, "--embedded", "-n", "60", "-c", "4", "--keys", "200", "--warmup", "0",
				"--batch", "10", "--json", "--server-gc=false")
			require.Len(t, rep.Runs, 1)
			r := rep.Runs[0]
			assert.EqualValues(t, 60, r.Requests)
			assert.Zero(t, r.Errors, "%v", r.ErrorCause)
			assert.Zero(t, r.Non2xx, "%v", r.Status)
			assert.Greater(t, r.PeakRSSMB, 0.0)
			assert.Nil(t, r.Baseline)
		})
	}
	t.Run("search-scan", func(t *testing.T) {
		r := runJSON(t, "search", "--search", "scan", "--embedded", "-n", "20", "-c", "2", "--keys", "100",
			"--warmup", "0", "--json", "--server-gc=false").Runs[0]
		assert.Zero(t, r.Errors+r.Non2xx, "%v %v", r.Status, r.ErrorCause)
	})
}

func TestBaselineRatio(t *testing.T) {
	r := runJSON(t, "read", "--embedded", "-d", "300ms", "-c", "4", "--keys", "100", "--warmup", "50ms",
		"--baseline", "--json", "--server-gc=false").Runs[0]
	require.NotNil(t, r.Baseline)
	assert.Equal(t, "baseline", r.Baseline.Target)
	assert.Greater(t, r.Baseline.Rate, 0.0)
	assert.Greater(t, r.Ratio, 0.0)
	assert.Zero(t, r.Limit, "-d alone has no request limit")
	assert.EqualValues(t, r.Baseline.Status["200"], r.Baseline.Requests, "baseline imitates the status")
}

// TestBaselineProcess: against a server in another process (--url), the
// baseline runs in a child process of its own, whose memory is measured.
func TestBaselineProcess(t *testing.T) {
	e, err := target.StartEmbedded(target.EmbeddedConfig{})
	require.NoError(t, err)
	defer e.Close()
	r := runJSON(t, "read", "--url", e.URL(), "-n", "200", "-c", "4", "--keys", "50", "--warmup", "0",
		"--baseline", "--json").Runs[0]
	require.NotNil(t, r.Baseline)
	assert.EqualValues(t, 200, r.Baseline.Requests)
	assert.Equal(t, map[string]int64{"200": 200}, r.Baseline.Status)
	assert.Contains(t, r.Baseline.RSSSource, "child process")
	assert.Greater(t, r.Baseline.PeakRSSMB, 0.0)
	assert.Greater(t, r.Ratio, 0.0)
}

func TestBaselineRounds(t *testing.T) {
	r := runJSON(t, "write", "--embedded", "-n", "90", "-c", "3", "--warmup", "0", "--baseline", "--rounds", "3",
		"--json", "--server-gc=false").Runs[0]
	assert.EqualValues(t, 90, r.Requests)
	// 201 Created for every write: rounds continue the ids, none repeats.
	assert.Equal(t, map[string]int64{"201": 90}, r.Status)
	assert.Equal(t, "3", r.Params["rounds"])
	require.NotNil(t, r.Baseline)
	assert.EqualValues(t, 90, r.Baseline.Requests)
	assert.Equal(t, map[string]int64{"201": 90}, r.Baseline.Status, "the baseline answers the server's status")
}

func TestGuide(t *testing.T) {
	rep := runJSON(t, "guide", "--embedded", "-n", "100", "-c", "5", "--json", "--server-gc=false")
	require.Len(t, rep.Runs, 2)
	w, r := rep.Runs[0], rep.Runs[1]
	assert.Equal(t, "guide-write", w.Name)
	assert.Equal(t, "guide-read", r.Name)
	assert.Equal(t, report.GuideWrites, *w.Expected)
	assert.Equal(t, report.GuideReads, *r.Expected)
	assert.Equal(t, map[string]int64{"201": 100}, w.Status)
	assert.Equal(t, map[string]int64{"200": 100}, r.Status)

	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"guide", "--embedded", "-n", "50", "-c", "5", "--server-gc=false"}, &out, &out))
	for _, s := range []string{"writes (requests/s)", "2,000–5,000", "10,000–20,000", "50–150"} {
		assert.Contains(t, out.String(), s)
	}
}

func TestEngineAndMarkdown(t *testing.T) {
	dir := t.TempDir()
	rep := runJSON(t, "engine", "-n", "500", "--benchmarks", "fillseq,readrandom,scan,compact", "--scan-length", "10", "--json")
	require.Len(t, rep.Runs, 4)
	for _, r := range rep.Runs {
		assert.Equal(t, "engine", r.Kind)
		assert.Zero(t, r.Errors, r.Name)
		assert.Contains(t, r.Extra, "flushes")
	}
	assert.EqualValues(t, 50, rep.Runs[2].Requests, "scan: n/scan-length scans")

	jsonPath := filepath.Join(dir, "engine.json")
	b, _ := json.Marshal(rep)
	require.NoError(t, os.WriteFile(jsonPath, b, 0o644))
	mdPath := filepath.Join(dir, "out.md")
	var stderr bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"markdown", "-o", mdPath, jsonPath}, &stderr, &stderr))
	md, err := os.ReadFile(mdPath)
	require.NoError(t, err)
	assert.Contains(t, string(md), "| fillseq |")
	assert.Contains(t, string(md), "| compact |")
}

func TestUsageErrors(t *testing.T) {
	var out bytes.Buffer
	for _, args := range [][]string{
		nil,
		{"frobnicate"},
		{"write", "--url", "http://127.0.0.1:1", "--embedded"},
		{"write", "-n", "0"},
		{"write", "--server-bin", "/bin/true"},
		{"engine", "--benchmarks", "fillfast"},
		{"markdown"},
		{"soak"},
		{"soak", "-d", "1s", "stray"},
	} {
		err := run(context.Background(), args, &out, &out)
		assert.ErrorIs(t, err, errUsage, "%q", args)
	}
	err := run(context.Background(), []string{"soak", "--server-bin", "/nonexistent/minidbgo-server", "--progress=false"}, &out, &out)
	assert.Error(t, err, "no such binary")
	assert.NotErrorIs(t, err, errUsage)
	err = run(context.Background(), []string{"read", "--url", "http://127.0.0.1:1", "-n", "1", "--keys", "1"}, &out, &out)
	assert.Error(t, err, "nothing listens")
	assert.NotContains(t, strings.ToLower(err.Error()), "panic")
}
