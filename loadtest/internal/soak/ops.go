package soak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/minidbgo/minidbgo/loadtest/internal/runner"
	"github.com/minidbgo/minidbgo/loadtest/internal/workload"
)

// opKinds are the kinds of request, for the report: the mixed load's
// operations first, then the background activities and the samplers.
var opKinds = []string{
	"insert", "insertMany", "get", "put", "patch_set", "patch_inc", "delete", "deleteMany",
	"find_indexed", "find_unindexed", "count",
	"dump", "export", "compact", "metrics", "stats",
}

// mix is the mixed load's share of each operation, in percent. Once the
// data set reaches MaxDocs, insert turns into a delete of the oldest
// document and insertMany into a _delete of the oldest batch.
var mix = []struct {
	kind  string
	share int
}{
	{"get", 33},
	{"insert", 14},
	{"find_indexed", 12},
	{"patch_set", 8},
	{"patch_inc", 8},
	{"delete", 6},
	{"find_unindexed", 5},
	{"count", 5},
	{"insertMany", 4},
	{"put", 5},
}

// opStats records one kind of request. Workers share it under a mutex.
type opStats struct {
	mu       sync.Mutex // protects the fields below
	hist     *hdrhistogram.Histogram
	status   map[string]int64
	errors   int64
	samples  map[string]int64
	bytesIn  int64
	bytesOut int64
}

func newOpStats() *opStats {
	return &opStats{hist: runner.NewHistogram(), status: map[string]int64{}, samples: map[string]int64{}}
}

// record adds one request. status is "" when err is set.
func (o *opStats) record(lat time.Duration, status string, err error, in, out int64) {
	ns := min(max(int64(lat), 1), int64(runner.MaxLatency))
	o.mu.Lock()
	defer o.mu.Unlock()
	_ = o.hist.RecordValue(ns)
	if err != nil {
		o.errors++
		msg := err.Error()
		if _, ok := o.samples[msg]; ok || len(o.samples) < 8 {
			o.samples[msg]++
		}
	} else {
		o.status[status]++
	}
	o.bytesIn += in
	o.bytesOut += out
}

func (o *opStats) result(elapsed time.Duration) *OpResult {
	o.mu.Lock()
	defer o.mu.Unlock()
	us := func(ns int64) float64 { return round(float64(ns)/1e3, 1) }
	r := &OpResult{
		Requests: o.hist.TotalCount(), Status: map[string]int64{}, Errors: o.errors,
		BytesIn: o.bytesIn, BytesOut: o.bytesOut,
		P50US: us(o.hist.ValueAtQuantile(50)), P99US: us(o.hist.ValueAtQuantile(99)),
		P999US: us(o.hist.ValueAtQuantile(99.9)), MaxUS: us(o.hist.Max()),
	}
	for k, v := range o.status {
		r.Status[k] = v
	}
	if elapsed > 0 {
		r.Rate = round(float64(r.Requests)/elapsed.Seconds(), 1)
	}
	return r
}

// maxKeptBody bounds the response bytes kept for the caller.
const maxKeptBody = 16 << 20

// send performs one request and records it. With keep, the body is
// returned (up to 16 MiB); without, it is drained. A 5xx is recorded as
// "<status> <code>", the code from the JSON error body.
func (o *opStats) send(ctx context.Context, s *soak, method, path string, body []byte, keep bool) (int, []byte, error) {
	req, err := newRequest(ctx, s.base, method, path, body)
	if err != nil {
		return 0, nil, err
	}
	begin := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		o.fail(ctx, s, time.Since(begin), err, int64(len(body)))
		return 0, nil, err
	}
	var kept []byte
	var n int64
	if keep || resp.StatusCode >= 500 {
		kept, err = io.ReadAll(io.LimitReader(resp.Body, maxKeptBody))
		n = int64(len(kept))
		if err == nil {
			var m int64
			m, err = io.Copy(io.Discard, resp.Body)
			n += m
		}
	} else {
		n, err = io.Copy(io.Discard, resp.Body)
	}
	resp.Body.Close()
	lat := time.Since(begin)
	if err != nil {
		o.fail(ctx, s, lat, err, int64(len(body)))
		return 0, nil, err
	}
	o.record(lat, statusKey(resp.StatusCode, kept), nil, n, int64(len(body)))
	return resp.StatusCode, kept, nil
}

// fail records a request without a response, unless the run was
// cancelled under it (the end of the run, or a dead server, which is
// reported as such).
func (o *opStats) fail(ctx context.Context, s *soak, lat time.Duration, err error, out int64) {
	if ctx.Err() != nil && s.diedAt.Load() != 0 {
		return
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	// Group the samples by cause, not by ephemeral port.
	err = errors.New(addrRE.ReplaceAllString(err.Error(), "$1"))
	o.record(lat, "", err, 0, out)
}

// addrRE matches the addresses in a net.OpError ("read tcp
// 127.0.0.1:43104->127.0.0.1:40859: …").
var addrRE = regexp.MustCompile(`(tcp) \S+->\S+:`)

// statusKey is the status code, with the error code appended for a 5xx.
func statusKey(status int, body []byte) string {
	k := strconv.Itoa(status)
	if status < 500 {
		return k
	}
	var e struct {
		Code string `json:"code"`
	}
	if json.Unmarshal(body, &e) == nil && e.Code != "" {
		return k + " " + e.Code
	}
	return k
}

// loadGen generates the mixed load over a sliding window of document
// ids: inserts take new ids at the top, deletes of the oldest ids move
// the bottom once the window holds MaxDocs, and every other operation
// picks an id in the window (one deleted meanwhile answers 404, which is
// fine).
type loadGen struct {
	cfg    Config
	gen    workload.DocGen
	col    string
	next   atomic.Uint64 // next id to insert
	oldest atomic.Uint64 // oldest id not yet deleted by the window
	cum    []int         // cumulative shares of mix
}

func newLoadGen(cfg Config) *loadGen {
	g := &loadGen{cfg: cfg, gen: workload.DocGen{Seed: cfg.Seed, Size: cfg.DocSize}, col: "/api/" + url.PathEscape(cfg.Collection)}
	g.next.Store(uint64(cfg.Preload))
	total := 0
	for _, m := range mix {
		total += m.share
		g.cum = append(g.cum, total)
	}
	return g
}

func docID(n uint64) string { return fmt.Sprintf("s%010d", n) }

// doc returns document n, with its sequence number as "seq".
func (g *loadGen) doc(dst []byte, n uint64) []byte {
	dst = g.gen.Append(dst, docID(n), n)
	dst = dst[:len(dst)-1]
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, n, 10)
	return append(dst, '}')
}

// batchBody is the _insertMany body of documents first..first+n-1.
func (g *loadGen) batchBody(first, n uint64) []byte {
	body := make([]byte, 0, int(n)*(g.cfg.DocSize+64)+2)
	body = append(body, '[')
	for j := range n {
		if j > 0 {
			body = append(body, ',')
		}
		body = g.doc(body, first+j)
	}
	return append(body, ']')
}

// pick returns an id in the window.
func (g *loadGen) pick(r *rand.Rand) uint64 {
	lo, hi := g.oldest.Load(), g.next.Load()
	if hi <= lo {
		return lo
	}
	return lo + r.Uint64N(hi-lo)
}

func (g *loadGen) full() bool { return g.next.Load()-g.oldest.Load() >= uint64(g.cfg.MaxDocs) }

// op is the runner's operation: request i of the mixed load.
func (g *loadGen) op(s *soak) runner.Op {
	return func(ctx context.Context, _ int, i uint64) runner.Outcome {
		r := rand.New(rand.NewPCG(g.cfg.Seed, i))
		x := r.IntN(g.cum[len(g.cum)-1])
		kind := mix[0].kind
		for j, c := range g.cum {
			if x < c {
				kind = mix[j].kind
				break
			}
		}
		method, path, body := g.request(kind, r, i)
		if kind == "insert" && method == "DELETE" {
			kind = "delete"
		}
		if kind == "insertMany" && path == g.col+"/_delete" {
			kind = "deleteMany"
		}
		ctx, cancel := context.WithTimeout(ctx, g.cfg.RequestTimeout)
		defer cancel()
		st, _, err := s.ops[kind].send(ctx, s, method, path, body, false)
		if err != nil {
			return runner.Outcome{Err: err}
		}
		return runner.Outcome{Status: strconv.Itoa(st)}
	}
}

// request builds one request of the given kind.
func (g *loadGen) request(kind string, r *rand.Rand, i uint64) (method, path string, body []byte) {
	city := workload.Cities[r.IntN(len(workload.Cities))]
	switch kind {
	case "insert":
		if g.full() {
			return "DELETE", g.col + "/" + docID(g.oldest.Add(1)-1), nil
		}
		n := g.next.Add(1) - 1
		return "POST", g.col, g.doc(nil, n)
	case "insertMany":
		b := uint64(g.cfg.Batch)
		if g.full() {
			lo := g.oldest.Add(b) - b
			f := fmt.Sprintf(`{"filter":{"_id":{"$gte":%q,"$lt":%q}}}`, docID(lo), docID(lo+b))
			return "POST", g.col + "/_delete", []byte(f)
		}
		n := g.next.Add(b) - b
		return "POST", g.col + "/_insertMany", g.batchBody(n, b)
	case "get":
		return "GET", g.col + "/" + docID(g.pick(r)), nil
	case "put":
		n := g.pick(r)
		return "PUT", g.col + "/" + docID(n), g.doc(nil, n)
	case "patch_set":
		b := fmt.Sprintf(`{"$set":{"score":%d.%02d,"city":%q,"note":"soak-%d"}}`, r.IntN(100), r.IntN(100), city, i)
		return "PATCH", g.col + "/" + docID(g.pick(r)), []byte(b)
	case "patch_inc":
		return "PATCH", g.col + "/" + docID(g.pick(r)), []byte(`{"$inc":{"visits":1}}`)
	case "delete":
		return "DELETE", g.col + "/" + docID(g.pick(r)), nil
	case "find_indexed":
		return "POST", g.col + "/_find", []byte(`{"filter":{"city":` + strconv.Quote(city) + `},"limit":20}`)
	case "find_unindexed":
		// An equality on the unindexed name: a collection scan until 10
		// of the ~1 in 500 matching documents are found.
		f := g.gen.Fields(g.pick(r))
		return "POST", g.col + "/_find", []byte(`{"filter":{"name":` + strconv.Quote(f.Name) + `},"limit":10}`)
	case "count":
		return "POST", g.col + "/_count", []byte(`{"filter":{"city":` + strconv.Quote(city) + `}}`)
	}
	panic("soak: unknown operation " + kind)
}
