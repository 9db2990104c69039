// Package workload generates the requests of minidbgo-load's scenarios,
// deterministically: request i of a workload is a pure function of its
// Config and i, so a run can be repeated exactly and workers need not
// coordinate.
//
// The HTTP scenarios (see Names) speak MiniDBGo's REST API; engine.go holds
// the db_bench-style workloads that drive package storage directly.
package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/minidbgo/minidbgo/loadtest/internal/runner"
)

// Names lists the HTTP scenarios, in the order the benchmark report shows them.
var Names = []string{"write", "read", "mixed", "search", "bulk", "update"}

// Config parameterises an HTTP workload. A zero field selects its default.
type Config struct {
	// Seed makes the documents and key choices reproducible. Default 1.
	Seed uint64
	// Collection receives the documents. Default "loadtest".
	Collection string
	// IDPrefix starts the _id of every document a write creates, so that
	// runs against the same server write distinct documents. Default
	// "w<Seed>".
	IDPrefix string
	// DocSize is the approximate size of generated documents in bytes.
	// Default 0: unpadded, about 200 bytes.
	DocSize int
	// Keys is the number of documents preloaded for read, mixed, search
	// and update. Default 10,000.
	Keys int
	// Dist chooses documents for read and mixed: "hot" (one document, as
	// the guide's read run), "uniform" or "zipfian". Default "zipfian".
	Dist string
	// ReadRatio is mixed's share of reads in [0, 1]; the rest replace
	// documents. Default 0.9.
	ReadRatio float64
	// Batch is the documents per _insertMany of bulk. Default 100.
	Batch int
	// HotDocs is how many documents update increments. Default 10.
	HotDocs int
	// Search is search's kind of filter: "index" (equality on the indexed
	// city field, Limit results), "range" (a range on the indexed age
	// field, Limit results) or "scan" (equality on the unindexed e-mail
	// field: a full collection scan for one document). Default "index".
	Search string
	// Limit caps search results per request. Default 20.
	Limit int
}

func (c Config) withDefaults() Config {
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Collection == "" {
		c.Collection = "loadtest"
	}
	if c.IDPrefix == "" {
		c.IDPrefix = "w" + strconv.FormatUint(c.Seed, 10)
	}
	if c.Keys <= 0 {
		c.Keys = 10000
	}
	if c.Dist == "" {
		c.Dist = "zipfian"
	}
	if c.ReadRatio == 0 {
		c.ReadRatio = 0.9
	}
	if c.Batch <= 0 {
		c.Batch = 100
	}
	if c.HotDocs <= 0 {
		c.HotDocs = 10
	}
	if c.Search == "" {
		c.Search = "index"
	}
	if c.Limit <= 0 {
		c.Limit = 20
	}
	return c
}

// Workload is an HTTP scenario.
type Workload interface {
	// Name names the scenario ("read", "guide-write", ...).
	Name() string
	// Params describes the workload's settings for reports.
	Params() map[string]string
	// Setup prepares the server: preloads documents, creates indexes. It
	// is not timed and is idempotent against the same server.
	Setup(ctx context.Context, c *runner.Client) error
	// Request returns request i. It is safe for concurrent use.
	Request(i uint64) runner.Request
	// Items returns how many documents request i carries (bulk: Batch;
	// every other workload: 1).
	Items(i uint64) int64
}

// New returns the named HTTP workload: one of Names, or "guide-write" and
// "guide-read", the guide's two hey runs.
func New(name string, cfg Config) (Workload, error) {
	cfg = cfg.withDefaults()
	if cfg.ReadRatio < 0 || cfg.ReadRatio > 1 {
		return nil, fmt.Errorf("workload: read ratio %v outside [0, 1]", cfg.ReadRatio)
	}
	if cfg.Batch > 1000 {
		return nil, fmt.Errorf("workload: batch %d over the server's 1000-document limit", cfg.Batch)
	}
	b := base{cfg: cfg, gen: DocGen{Seed: cfg.Seed, Size: cfg.DocSize}, col: "/api/" + url.PathEscape(cfg.Collection)}
	switch name {
	case "write":
		return &write{b}, nil
	case "read", "mixed":
		d, err := distribution(cfg.Dist, uint64(cfg.Keys))
		if err != nil {
			return nil, err
		}
		if name == "read" {
			return &read{base: b, dist: d}, nil
		}
		return &mixed{base: b, dist: d}, nil
	case "search":
		switch cfg.Search {
		case "index", "range", "scan":
		default:
			return nil, fmt.Errorf("workload: unknown search kind %q (want index, range or scan)", cfg.Search)
		}
		return &search{b}, nil
	case "bulk":
		return &bulk{b}, nil
	case "update":
		cfg.HotDocs = min(cfg.HotDocs, cfg.Keys)
		b.cfg = cfg
		return &update{b}, nil
	case "guide-write":
		return &guideWrite{prefix: cfg.IDPrefix}, nil
	case "guide-read":
		return guideRead{}, nil
	}
	return nil, fmt.Errorf("workload: unknown scenario %q (want %s, guide-write or guide-read)", name, strings.Join(Names, ", "))
}

func distribution(name string, n uint64) (Distribution, error) {
	switch name {
	case "hot":
		return Hot{Item: 0}, nil
	case "uniform":
		return Uniform{N: n}, nil
	case "zipfian":
		return NewZipfian(n, 0.99), nil
	}
	return nil, fmt.Errorf("workload: unknown distribution %q (want hot, uniform or zipfian)", name)
}

// base holds what every scenario shares.
type base struct {
	cfg Config
	gen DocGen
	col string // "/api/<collection>"
}

func (b *base) Items(uint64) int64 { return 1 }

func (b *base) params(extra ...string) map[string]string {
	p := map[string]string{
		"seed":       strconv.FormatUint(b.cfg.Seed, 10),
		"collection": b.cfg.Collection,
		"doc_size":   strconv.Itoa(b.docSize()),
	}
	for i := 0; i+1 < len(extra); i += 2 {
		p[extra[i]] = extra[i+1]
	}
	return p
}

// docSize is the size of document 0, as a representative.
func (b *base) docSize() int { return len(b.gen.Append(nil, b.preloadID(0), 0)) }

// preloadID is the _id of preloaded document k.
func (b *base) preloadID(k uint64) string { return fmt.Sprintf("doc-%08d", k) }

func (b *base) docPath(id string) string { return b.col + "/" + url.PathEscape(id) }

// preload inserts documents 0..n-1 with _insertMany batches of 1000,
// unless the last of them is already there.
func (b *base) preload(ctx context.Context, c *runner.Client, n int) error {
	last := b.preloadID(uint64(n - 1))
	if st, _, err := c.Do(ctx, runner.Request{Method: "GET", Path: b.docPath(last)}); err != nil {
		return fmt.Errorf("workload: preload: %w", err)
	} else if st == 200 {
		return nil
	}
	const batch = 1000
	for k := 0; k < n; k += batch {
		body := []byte{'['}
		for j := k; j < min(k+batch, n); j++ {
			if j > k {
				body = append(body, ',')
			}
			body = b.gen.Append(body, b.preloadID(uint64(j)), uint64(j))
		}
		body = append(body, ']')
		if err := expect2xx(ctx, c, runner.Request{Method: "POST", Path: b.col + "/_insertMany", Body: body}); err != nil {
			return fmt.Errorf("workload: preload documents %d..%d: %w", k, min(k+batch, n)-1, err)
		}
	}
	return nil
}

func expect2xx(ctx context.Context, c *runner.Client, r runner.Request) error {
	st, body, err := c.Do(ctx, r)
	if err != nil {
		return err
	}
	if st/100 != 2 {
		if len(body) > 300 {
			body = body[:300]
		}
		return fmt.Errorf("%s %s: HTTP %d: %s", r.Method, r.Path, st, strings.TrimSpace(string(body)))
	}
	return nil
}

// write POSTs a new document per request: _id <IDPrefix>-<i>.
type write struct{ base }

func (w *write) Name() string              { return "write" }
func (w *write) Params() map[string]string { return w.params("id_prefix", w.cfg.IDPrefix) }
func (w *write) Setup(context.Context, *runner.Client) error {
	return nil
}
func (w *write) Request(i uint64) runner.Request {
	id := w.cfg.IDPrefix + "-" + strconv.FormatUint(i, 10)
	return runner.Request{Method: "POST", Path: w.col, Body: w.gen.Append(nil, id, i)}
}

// read GETs preloaded documents by _id.
type read struct {
	base
	dist Distribution
}

func (r *read) Name() string { return "read" }
func (r *read) Params() map[string]string {
	return r.params("keys", strconv.Itoa(r.cfg.Keys), "dist", r.dist.String())
}
func (r *read) Setup(ctx context.Context, c *runner.Client) error {
	return r.preload(ctx, c, r.cfg.Keys)
}
func (r *read) Request(i uint64) runner.Request {
	rg := newRNG(r.cfg.Seed, i)
	return runner.Request{Method: "GET", Path: r.docPath(r.preloadID(r.dist.Pick(&rg)))}
}

// mixed reads (GET) or replaces (PUT) preloaded documents, ReadRatio of
// them reads.
type mixed struct {
	base
	dist Distribution
}

func (m *mixed) Name() string { return "mixed" }
func (m *mixed) Params() map[string]string {
	return m.params("keys", strconv.Itoa(m.cfg.Keys), "dist", m.dist.String(),
		"read_ratio", strconv.FormatFloat(m.cfg.ReadRatio, 'f', -1, 64))
}
func (m *mixed) Setup(ctx context.Context, c *runner.Client) error {
	return m.preload(ctx, c, m.cfg.Keys)
}
func (m *mixed) Request(i uint64) runner.Request {
	rg := newRNG(m.cfg.Seed, i)
	k := m.dist.Pick(&rg)
	id := m.preloadID(k)
	if rg.Float64() < m.cfg.ReadRatio {
		return runner.Request{Method: "GET", Path: m.docPath(id)}
	}
	// A new version: the fields of another document under this _id.
	return runner.Request{Method: "PUT", Path: m.docPath(id), Body: m.gen.Append(nil, id, uint64(m.cfg.Keys)+i)}
}

// search POSTs _find queries over the preloaded documents.
type search struct{ base }

func (s *search) Name() string { return "search" }
func (s *search) Params() map[string]string {
	return s.params("keys", strconv.Itoa(s.cfg.Keys), "search", s.cfg.Search, "limit", strconv.Itoa(s.cfg.Limit))
}
func (s *search) Setup(ctx context.Context, c *runner.Client) error {
	if err := s.preload(ctx, c, s.cfg.Keys); err != nil {
		return err
	}
	for _, f := range []string{"city", "age"} {
		body, _ := json.Marshal(map[string]any{"fields": []string{f}})
		st, resp, err := c.Do(ctx, runner.Request{Method: "POST", Path: s.col + "/_indexes", Body: body})
		if err != nil {
			return fmt.Errorf("workload: create index on %s: %w", f, err)
		}
		if st/100 != 2 && st != 409 { // 409: it exists already
			return fmt.Errorf("workload: create index on %s: HTTP %d: %s", f, st, strings.TrimSpace(string(resp)))
		}
	}
	return nil
}
func (s *search) Request(i uint64) runner.Request {
	rg := newRNG(s.cfg.Seed, i)
	var filter string
	switch s.cfg.Search {
	case "index":
		filter = `{"city":` + strconv.Quote(Cities[rg.IntN(len(Cities))]) + `}`
	case "range":
		lo := 18 + rg.IntN(65)
		filter = `{"age":{"$gte":` + strconv.Itoa(lo) + `,"$lt":` + strconv.Itoa(lo+5) + `}}`
	case "scan":
		f := s.gen.Fields(rg.Uint64N(uint64(s.cfg.Keys)))
		filter = `{"email":` + strconv.Quote(f.Email) + `}`
	}
	body := `{"filter":` + filter + `,"limit":` + strconv.Itoa(s.cfg.Limit) + `}`
	return runner.Request{Method: "POST", Path: s.col + "/_find", Body: []byte(body)}
}

// bulk POSTs _insertMany batches of new documents.
type bulk struct{ base }

func (b *bulk) Name() string { return "bulk" }
func (b *bulk) Params() map[string]string {
	return b.params("batch", strconv.Itoa(b.cfg.Batch), "id_prefix", b.cfg.IDPrefix)
}
func (b *bulk) Setup(context.Context, *runner.Client) error { return nil }
func (b *bulk) Items(uint64) int64                          { return int64(b.cfg.Batch) }
func (b *bulk) Request(i uint64) runner.Request {
	body := make([]byte, 0, b.cfg.Batch*(max(b.cfg.DocSize, 200)+40))
	body = append(body, '[')
	for j := range uint64(b.cfg.Batch) {
		if j > 0 {
			body = append(body, ',')
		}
		k := i*uint64(b.cfg.Batch) + j
		body = b.gen.Append(body, b.cfg.IDPrefix+"-b"+strconv.FormatUint(k, 10), k)
	}
	body = append(body, ']')
	return runner.Request{Method: "POST", Path: b.col + "/_insertMany", Body: body}
}

// update PATCHes {"$inc": {"visits": 1}} onto HotDocs documents, uniformly.
type update struct{ base }

func (u *update) Name() string { return "update" }
func (u *update) Params() map[string]string {
	return u.params("keys", strconv.Itoa(u.cfg.Keys), "hot_docs", strconv.Itoa(u.cfg.HotDocs))
}
func (u *update) Setup(ctx context.Context, c *runner.Client) error {
	return u.preload(ctx, c, u.cfg.Keys)
}

var incBody = []byte(`{"$inc":{"visits":1}}`)

func (u *update) Request(i uint64) runner.Request {
	rg := newRNG(u.cfg.Seed, i)
	k := permute(rg.Uint64N(uint64(u.cfg.HotDocs)), uint64(u.cfg.Keys))
	return runner.Request{Method: "PATCH", Path: u.docPath(u.preloadID(k)), Body: incBody}
}

// The guide's runs:
//
//	hey -n 10000 -c 50 -m POST -H "Content-Type: application/json" \
//	  -d '{"_id":"test-${RANDOM}","data":"test"}' http://localhost:6866/api/products
//	hey -n 10000 -c 50 http://localhost:6866/api/products/p1
//
// In single quotes ${RANDOM} is not expanded, so the guide's write run
// overwrites one document 10,000 times; guideWrite gives every request
// its own _id, as the guide intended.
type guideWrite struct{ prefix string }

// GuideHotID is the document the guide's read run fetches.
const GuideHotID = "p1"

func (g *guideWrite) Name() string { return "guide-write" }
func (g *guideWrite) Params() map[string]string {
	return map[string]string{"collection": "products", "body": `{"_id":"test-<unique>","data":"test"}`, "id_prefix": g.prefix}
}
func (g *guideWrite) Setup(context.Context, *runner.Client) error { return nil }
func (g *guideWrite) Items(uint64) int64                          { return 1 }
func (g *guideWrite) Request(i uint64) runner.Request {
	b := make([]byte, 0, 64)
	b = append(b, `{"_id":"test-`...)
	b = append(b, g.prefix...)
	b = append(b, '-')
	b = strconv.AppendUint(b, i, 10)
	b = append(b, `","data":"test"}`...)
	return runner.Request{Method: "POST", Path: "/api/products", Body: b}
}

type guideRead struct{}

func (guideRead) Name() string { return "guide-read" }
func (guideRead) Params() map[string]string {
	return map[string]string{"collection": "products", "id": GuideHotID}
}

// Setup stores the guide's own example document as p1.
func (guideRead) Setup(ctx context.Context, c *runner.Client) error {
	return expect2xx(ctx, c, runner.Request{Method: "PUT", Path: "/api/products/" + GuideHotID,
		Body: []byte(`{"_id":"p1","name":"test"}`)})
}
func (guideRead) Items(uint64) int64 { return 1 }
func (guideRead) Request(uint64) runner.Request {
	return runner.Request{Method: "GET", Path: "/api/products/" + GuideHotID}
}
