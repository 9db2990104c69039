// Package runner drives closed-loop load: a fixed number of workers, each of
// which issues one operation, waits for it, records its latency and issues
// the next, like hey and db_bench. A run stops by itself after a number of
// operations, after a duration, or when its context is cancelled.
//
// Operations are numbered by a shared ticket counter, so operation i is the
// same whichever worker performs it: a workload that derives request i from
// (seed, i) alone is deterministic whatever the scheduling.
//
// Latencies go into HDR histograms (github.com/HdrHistogram/hdrhistogram-go)
// in nanoseconds, from 1 ns to one minute at 3 significant digits. Workers
// share a few histogram shards under mutexes, so memory stays small at high
// concurrency.
package runner

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds: latencies are recorded in nanoseconds; anything slower
// than MaxLatency is recorded as MaxLatency.
const (
	MaxLatency = time.Minute
	sigFigs    = 3
	maxShards  = 8
	maxSamples = 8 // distinct error messages kept per run
)

// Op performs operation number i on behalf of worker w (0 ≤ w < Concurrency)
// and reports its outcome. It is called concurrently by different workers,
// never concurrently for the same w.
type Op func(ctx context.Context, w int, i uint64) Outcome

// Outcome is the result of one operation.
type Outcome struct {
	// Status classifies a completed operation: an HTTP status code ("200")
	// or an engine outcome ("ok", "notfound"). Ignored when Err is set.
	Status string
	// Err is a transport or engine error: the operation did not complete.
	Err error
	// BytesIn and BytesOut are payload bytes received and sent.
	BytesIn, BytesOut int64
	// Items is how many logical items the operation covered (documents in
	// a batch, keys in a scan); zero means one.
	Items int64
}

// Config bounds a run. At least one of Requests and Duration must be set;
// the run stops at whichever comes first.
type Config struct {
	// Concurrency is the number of workers. Default 1.
	Concurrency int
	// Requests is the number of operations to perform; zero is unlimited.
	Requests int64
	// Duration is how long to keep issuing operations; zero is unlimited.
	// Operations in flight at the deadline complete and are counted.
	Duration time.Duration
	// FirstTicket is the number of the first operation. Default 0.
	FirstTicket uint64
}

// Result is what a run measured.
type Result struct {
	// Requests is the number of operations performed, failed ones included.
	Requests int64
	// Items is the sum of Outcome.Items (each zero counted as one).
	Items int64
	// Elapsed is the wall time from the first operation's start to the
	// last one's end.
	Elapsed time.Duration
	// Latency holds every operation's latency in nanoseconds, failed ones
	// included.
	Latency *hdrhistogram.Histogram
	// Status counts completed operations by Outcome.Status.
	Status map[string]int64
	// Errors counts operations that returned an error.
	Errors int64
	// ErrorSamples counts the first few distinct error messages.
	ErrorSamples map[string]int64
	// BytesIn and BytesOut total the operations' payload bytes.
	BytesIn, BytesOut int64
}

// Rate returns operations per second.
func (r *Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// ItemRate returns items per second.
func (r *Result) ItemRate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Items) / r.Elapsed.Seconds()
}

// NewHistogram returns an empty latency histogram with the runner's bounds.
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(MaxLatency), sigFigs)
}

// Runner runs one closed-loop load. Create it with New, watch it with Done
// from any goroutine, and start it once with Run.
type Runner struct {
	cfg  Config
	op   Op
	done atomic.Int64
	next atomic.Uint64

	shards []shard
}

type shard struct {
	mu           sync.Mutex // protects following fields
	hist         *hdrhistogram.Histogram
	status       map[string]int64
	errors       int64
	samples      map[string]int64
	items        int64
	bytesIn, out int64
}

// New returns a Runner for op. It fails when cfg sets neither Requests nor
// Duration.
func New(cfg Config, op Op) (*Runner, error) {
	if cfg.Requests <= 0 && cfg.Duration <= 0 {
		return nil, errors.New("runner: set a number of requests or a duration")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1
	}
	if cfg.Requests > 0 && int64(cfg.Concurrency) > cfg.Requests {
		cfg.Concurrency = int(cfg.Requests)
	}
	n := min(cfg.Concurrency, maxShards)
	r := &Runner{cfg: cfg, op: op, shards: make([]shard, n)}
	for i := range r.shards {
		r.shards[i].hist = NewHistogram()
		r.shards[i].status = map[string]int64{}
		r.shards[i].samples = map[string]int64{}
	}
	return r, nil
}

// Issued returns how many tickets the run has handed out: after Run
// returns, the next run continues at FirstTicket+Issued to send new
// requests (every issued ticket was performed unless ctx was cancelled).
func (r *Runner) Issued() uint64 {
	n := r.next.Load()
	if r.cfg.Requests > 0 {
		n = min(n, uint64(r.cfg.Requests))
	}
	return n
}

// Merge adds o's measurements to r, as if both runs had been one whose
// elapsed time is the sum of theirs (for runs split into rounds).
func (r *Result) Merge(o *Result) {
	r.Requests += o.Requests
	r.Items += o.Items
	r.Elapsed += o.Elapsed
	r.Latency.Merge(o.Latency)
	for k, v := range o.Status {
		r.Status[k] += v
	}
	for k, v := range o.ErrorSamples {
		if _, ok := r.ErrorSamples[k]; ok || len(r.ErrorSamples) < maxSamples {
			r.ErrorSamples[k] += v
		}
	}
	r.Errors += o.Errors
	r.BytesIn += o.BytesIn
	r.BytesOut += o.BytesOut
}

// NewResult returns an empty Result to Merge runs into.
func NewResult() *Result {
	return &Result{Latency: NewHistogram(), Status: map[string]int64{}, ErrorSamples: map[string]int64{}}
}

// Config returns the run's configuration, defaults applied.
func (r *Runner) Config() Config { return r.cfg }

// Done returns how many operations have completed so far.
func (r *Runner) Done() int64 { return r.done.Load() }

// Run performs the load and returns what it measured. It returns early,
// with what was measured so far and ctx's error, when ctx is cancelled;
// operations see ctx and should abandon their work then.
func (r *Runner) Run(ctx context.Context) (*Result, error) {
	stop := make(chan struct{})
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }) }
	if r.cfg.Duration > 0 {
		t := time.AfterFunc(r.cfg.Duration, halt)
		defer t.Stop()
	}
	defer halt()

	start := time.Now()
	var wg sync.WaitGroup
	for w := range r.cfg.Concurrency {
		wg.Go(func() { r.work(ctx, w, stop) })
	}
	wg.Wait()
	elapsed := time.Since(start)

	res := NewResult()
	res.Elapsed = elapsed
	for i := range r.shards {
		s := &r.shards[i]
		res.Latency.Merge(s.hist)
		for k, v := range s.status {
			res.Status[k] += v
		}
		for k, v := range s.samples {
			if _, ok := res.ErrorSamples[k]; ok || len(res.ErrorSamples) < maxSamples {
				res.ErrorSamples[k] += v
			}
		}
		res.Errors += s.errors
		res.Items += s.items
		res.BytesIn += s.bytesIn
		res.BytesOut += s.out
	}
	res.Requests = res.Latency.TotalCount()
	return res, ctx.Err()
}

func (r *Runner) work(ctx context.Context, w int, stop <-chan struct{}) {
	s := &r.shards[w%len(r.shards)]
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		t := r.next.Add(1) - 1
		if r.cfg.Requests > 0 && t >= uint64(r.cfg.Requests) {
			return
		}
		begin := time.Now()
		o := r.op(ctx, w, r.cfg.FirstTicket+t)
		lat := time.Since(begin)
		if ctx.Err() != nil && o.Err != nil {
			return // cancelled, not measured
		}
		r.record(s, lat, o)
	}
}

func (r *Runner) record(s *shard, lat time.Duration, o Outcome) {
	ns := min(max(int64(lat), 1), int64(MaxLatency))
	items := o.Items
	if items <= 0 {
		items = 1
	}
	s.mu.Lock()
	_ = s.hist.RecordValue(ns) // in range by construction
	if o.Err != nil {
		s.errors++
		msg := o.Err.Error()
		if _, ok := s.samples[msg]; ok || len(s.samples) < maxSamples {
			s.samples[msg]++
		}
	} else {
		s.status[o.Status]++
	}
	s.items += items
	s.bytesIn += o.BytesIn
	s.out += o.BytesOut
	s.mu.Unlock()
	r.done.Add(1)
}

// Run is shorthand for New followed by Runner.Run.
func Run(ctx context.Context, cfg Config, op Op) (*Result, error) {
	r, err := New(cfg, op)
	if err != nil {
		return nil, err
	}
	return r.Run(ctx)
}

// String summarises the configuration, as "50 workers, 10000 requests".
func (c Config) String() string {
	s := fmt.Sprintf("%d workers", max(c.Concurrency, 1))
	if c.Requests > 0 {
		s += fmt.Sprintf(", %d requests", c.Requests)
	}
	if c.Duration > 0 {
		s += fmt.Sprintf(", %s", c.Duration)
	}
	return s
}
