// Package report turns runner results into minidbgo-load's output: a text
// summary for people, a JSON document for machines (Report, schema
// "minidbgo-load/v1"), and the Markdown section of docs/benchmarks-load.md
// generated from those JSON documents. It also draws the progress bar and
// describes the machine.
package report

import (
	"math"
	"sort"
	"time"

	"github.com/minidbgo/minidbgo/loadtest/internal/runner"
)

// Schema identifies the JSON layout of Report; it changes when a field
// changes meaning or disappears.
const Schema = "minidbgo-load/v1"

// Report is the JSON output of one minidbgo-load command.
type Report struct {
	Schema  string   `json:"schema"`
	Command string   `json:"command"` // the command line, argv[0] trimmed
	Machine Machine  `json:"machine"`
	Runs    []*Run   `json:"runs"`
	Notes   []string `json:"notes,omitempty"`
}

// Latency holds latency statistics in microseconds.
type Latency struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

// Range is an expected interval, from the guide.
type Range struct {
	Min float64 `json:"min"`
	Max float64 `json:"max"`
}

// Run is one measured load: an HTTP scenario against one target, or one
// engine workload.
type Run struct {
	// Name is the scenario or workload ("write", "guide-read", "fillseq").
	Name string `json:"name"`
	// Kind is "http" or "engine".
	Kind string `json:"kind"`
	// Target describes what was measured: "embedded", a URL, "baseline",
	// or the engine's directory settings.
	Target string `json:"target"`
	// Params are the workload's settings.
	Params map[string]string `json:"params,omitempty"`

	Concurrency int     `json:"concurrency"`
	Limit       int64   `json:"limit_requests,omitempty"`   // -n
	LimitSec    float64 `json:"limit_duration_s,omitempty"` // -d

	Requests   int64   `json:"requests"`
	Items      int64   `json:"items"` // documents or keys; equals requests unless batched
	ElapsedSec float64 `json:"elapsed_s"`
	// Rate is requests (operations) per second.
	Rate float64 `json:"requests_per_s"`
	// ItemRate is items per second.
	ItemRate float64 `json:"items_per_s"`
	// MBPerSec is payload megabytes (10^6) sent per second (engine: user
	// key and value bytes written or read).
	MBPerSec   float64          `json:"mb_per_s,omitempty"`
	LatencyUS  Latency          `json:"latency_us"`
	Status     map[string]int64 `json:"status"`
	Non2xx     int64            `json:"non_2xx,omitempty"`
	Errors     int64            `json:"errors"`
	ErrorCause map[string]int64 `json:"error_samples,omitempty"`
	BytesIn    int64            `json:"bytes_in"`
	BytesOut   int64            `json:"bytes_out"`

	// PeakRSSMB is the server's peak resident memory during the run, when
	// it could be seen; RSSSource says how it was measured.
	PeakRSSMB float64 `json:"peak_rss_mb,omitempty"`
	RSSSource string  `json:"rss_source,omitempty"`

	// Baseline is the same scenario against the trivial handler, and
	// Ratio this run's Rate divided by the baseline's.
	Baseline *Run    `json:"baseline,omitempty"`
	Ratio    float64 `json:"ratio_to_baseline,omitempty"`

	// Expected is the guide's range for Rate, and ExpectedRSS for
	// PeakRSSMB (guide runs only).
	Expected    *Range `json:"expected_requests_per_s,omitempty"`
	ExpectedRSS *Range `json:"expected_rss_mb,omitempty"`

	// Extra holds engine figures: write amplification, stalls, flushes.
	Extra map[string]float64 `json:"extra,omitempty"`
}

// FromResult fills a Run's measurements from a runner result.
func FromResult(name, kind, target string, cfg runner.Config, res *runner.Result) *Run {
	r := &Run{
		Name: name, Kind: kind, Target: target,
		Concurrency: cfg.Concurrency, Limit: cfg.Requests, LimitSec: cfg.Duration.Seconds(),
		Requests: res.Requests, Items: res.Items, ElapsedSec: round(res.Elapsed.Seconds(), 4),
		Rate: round(res.Rate(), 1), ItemRate: round(res.ItemRate(), 1),
		Status: res.Status, Errors: res.Errors, ErrorCause: res.ErrorSamples,
		BytesIn: res.BytesIn, BytesOut: res.BytesOut,
	}
	if len(r.ErrorCause) == 0 {
		r.ErrorCause = nil
	}
	if kind == "http" {
		for code, n := range res.Status {
			if len(code) != 3 || code[0] != '2' {
				r.Non2xx += n
			}
		}
	}
	h := res.Latency
	if h.TotalCount() > 0 {
		us := func(ns int64) float64 { return round(float64(ns)/1e3, 1) }
		r.LatencyUS = Latency{
			Mean: round(h.Mean()/1e3, 1),
			P50:  us(h.ValueAtQuantile(50)),
			P90:  us(h.ValueAtQuantile(90)),
			P99:  us(h.ValueAtQuantile(99)),
			P999: us(h.ValueAtQuantile(99.9)),
			Max:  us(h.Max()),
		}
	}
	return r
}

// SetBaseline attaches the baseline run and computes the ratio.
func (r *Run) SetBaseline(b *Run) {
	r.Baseline = b
	if b != nil && b.Rate > 0 {
		r.Ratio = round(r.Rate/b.Rate, 3)
	}
}

// Elapsed returns the run's wall time.
func (r *Run) Elapsed() time.Duration { return time.Duration(r.ElapsedSec * float64(time.Second)) }

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Round1 rounds v to one decimal.
func Round1(v float64) float64 { return round(v, 1) }
