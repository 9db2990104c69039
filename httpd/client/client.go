// Package client is a Go client for MiniDBGo's REST API. It is a module
// of its own (github.com/minidbgo/minidbgo/httpd/client) that depends on
// nothing but the standard library: its wire types are in package
// client/api, which the server imports too, so a program that talks to a
// server never links the database.
//
// Every route has a method; every error response becomes a *Error with
// the server's status, code and message. Documents, filters, updates,
// sort and projection specifications are parameters of type any: a
// value is encoded with encoding/json, except json.RawMessage, []byte and
// string, which are sent as the JSON text they hold.
//
//	c := client.New("http://localhost:6866")
//	c.APIKey = os.Getenv("MINIDBGO_API_KEY") // optional
//	_, err := c.Insert(ctx, "products", Product{ID: "p1", Name: "lamp"}, nil)
//	var p Product
//	rev, err := c.Get(ctx, "products", "p1", &p)
//	for doc, err := range c.Documents(ctx, "products", client.Query{Filter: `{"price": {"$gt": 10}}`}) { ... }
//	if client.IsNotFound(err) { ... }
//
// A Client is safe for concurrent use. docs/client.md is its guide.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// Client talks to one server.
type Client struct {
	// BaseURL is the server's URL, e.g. "http://localhost:6866".
	BaseURL string
	// APIKey, when set, is sent as Authorization: Bearer.
	APIKey string
	// HTTPClient sends the requests. Default: http.DefaultClient.
	HTTPClient *http.Client
	// Retry, when set, resends requests the server refused with 503
	// (overloaded, not ready) or 429 (rate limited). Nil: no retries.
	Retry *Retry
	// Consistency, when set, is sent as X-Consistency: the read
	// consistency a cluster serves reads at (ConsistencyNone, Leader or
	// Linearizable). Empty: the server's default, leader.
	Consistency string
}

// Retry is a Client's retry policy. A request the server answered 503 or
// 429 was not applied, so resending it is safe even for a write. Each
// wait is the server's Retry-After when it sent one, else an exponential
// backoff with jitter between MinBackoff and MaxBackoff. Requests whose
// body is a stream (Import, Restore) are never resent.
type Retry struct {
	// Attempts is the number of tries in all, the first included.
	// Values below 2 mean no retry.
	Attempts int
	// MinBackoff is the first backoff (default 100ms); it doubles after
	// each try.
	MinBackoff time.Duration
	// MaxBackoff caps every wait, Retry-After included (default 5s).
	MaxBackoff time.Duration
}

// wait returns how long to sleep before try number attempt+1 (attempt
// counts from 1) after the error e.
func (r *Retry) wait(attempt int, e *Error) time.Duration {
	lo, hi := r.MinBackoff, r.MaxBackoff
	if lo <= 0 {
		lo = 100 * time.Millisecond
	}
	if hi <= 0 {
		hi = 5 * time.Second
	}
	if e.RetryAfter > 0 {
		return min(e.RetryAfter, hi)
	}
	d := lo << min(attempt-1, 20)
	if d <= 0 || d > hi {
		d = hi
	}
	// Full jitter in [d/2, d], so clients refused together do not all
	// come back together.
	return d/2 + rand.N(d/2+1)
}

// New returns a client for the server at baseURL.
func New(baseURL string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/")}
}

// Error is an error response from the server.
type Error struct {
	Status    int    // HTTP status
	Code      string // machine code, e.g. "not_found", "duplicate_key"
	Message   string
	RequestID string
	// Index is the offending document of a batch or line of a stream, or -1.
	Index int
	// RetryAfter is the Retry-After header of a 429 or 503, or 0.
	RetryAfter time.Duration
}

// Error returns the status, code and message.
func (e *Error) Error() string {
	return fmt.Sprintf("minidbgo: %d %s: %s", e.Status, e.Code, e.Message)
}

// IsNotFound reports whether err is a 404 from the server.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// WriteOptions are a single-document write's preconditions.
type WriteOptions struct {
	// IfMatch, when non-zero, requires the document to be at this
	// revision (412 otherwise).
	IfMatch uint64
	// IfNoneMatch requires the document not to exist (412 otherwise).
	IfNoneMatch bool
	// Upsert makes Patch create a missing document.
	Upsert bool
	// InsertOnly makes Insert fail with duplicate_key (409) when a
	// document has the _id, instead of replacing it (?upsert=false).
	InsertOnly bool
}

// SearchOptions are _search's query parameters.
type SearchOptions struct {
	Limit  int
	Skip   int
	Sort   string // "-price,_id" or a JSON object
	Fields string // "name,price", "-secret" or a JSON object
	Cursor string
}

// Query is a _find or _explain request. Filter, Sort and Fields are any
// value that encodes to the JSON the server takes (nil: absent): a
// filter object, a sort object ({"price": -1}) or string ("-price,_id"),
// a projection object ({"name": 1}) or string ("name,price"). Cursor,
// from a previous FindResult, continues that query after its last page.
type Query struct {
	Filter any
	Sort   any
	Fields any
	Limit  int
	Skip   int
	Cursor string
}

// request encodes q as the wire request.
func (q Query) request() (api.FindRequest, error) {
	r := api.FindRequest{Limit: q.Limit, Skip: q.Skip, Cursor: q.Cursor}
	var err error
	if r.Filter, err = rawJSON(q.Filter); err != nil {
		return r, err
	}
	if r.Sort, err = rawJSON(q.Sort); err != nil {
		return r, err
	}
	if r.Fields, err = rawJSON(q.Fields); err != nil {
		return r, err
	}
	r.Sort, r.Fields = shortForm(q.Sort, r.Sort), shortForm(q.Fields, r.Fields)
	return r, nil
}

// shortForm sends a sort or projection string that is not a JSON object
// ("-price,_id", "name,price") as a JSON string: the server's short form.
func shortForm(v any, enc json.RawMessage) json.RawMessage {
	if s, ok := v.(string); ok && !strings.HasPrefix(strings.TrimSpace(s), "{") && s != "" {
		b, _ := json.Marshal(s)
		return b
	}
	return enc
}

func (c *Client) url(path string, q url.Values) string {
	u := c.BaseURL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// colPath returns /api/{col}[/{rest}], escaping each segment.
func colPath(col string, rest ...string) string {
	p := "/api/" + url.PathEscape(col)
	for _, s := range rest {
		p += "/" + url.PathEscape(s)
	}
	return p
}

// docPath returns /api/{col}/{id}. An id that starts with "_" has its
// underscore escaped (%5F): unescaped, the server takes /api/{col}/_find
// and the like for its collection routes, never for a document.
func docPath(col, id string) string {
	e := url.PathEscape(id)
	if strings.HasPrefix(e, "_") {
		e = "%5F" + e[1:]
	}
	return colPath(col) + "/" + e
}

// rawJSON encodes v: json.RawMessage, []byte and string are JSON text
// already, nil (or an empty one of those) is absent, anything else is
// encoded with encoding/json.
func rawJSON(v any) (json.RawMessage, error) {
	var b []byte
	switch x := v.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		b = x
	case []byte:
		b = x
	case string:
		b = []byte(x)
	default:
		enc, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("minidbgo: encode request: %w", err)
		}
		return enc, nil
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	return json.RawMessage(b), nil
}

// do sends a request and returns the response when its status is 2xx (or
// 304), else the server's *Error. A body that is an io.Reader is
// streamed (and never resent); anything else is encoded by rawJSON.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in any, contentType string, hdr http.Header) (*http.Response, error) {
	var stream io.Reader
	var payload []byte
	if r, ok := in.(io.Reader); ok {
		stream = r
	} else {
		b, err := rawJSON(in)
		if err != nil {
			return nil, err
		}
		payload = b
	}
	for attempt := 1; ; attempt++ {
		var rd io.Reader
		switch {
		case stream != nil:
			rd = stream
		case payload != nil:
			rd = bytes.NewReader(payload)
		}
		resp, err := c.send(ctx, method, path, q, rd, contentType, hdr)
		var e *Error
		if err == nil || !errors.As(err, &e) || stream != nil || !c.retryable(e, attempt) {
			return resp, err
		}
		t := time.NewTimer(c.Retry.wait(attempt, e))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

func (c *Client) retryable(e *Error, attempt int) bool {
	return c.Retry != nil && attempt < c.Retry.Attempts &&
		(e.Status == http.StatusServiceUnavailable || e.Status == http.StatusTooManyRequests)
}

// send makes one try of a request.
func (c *Client) send(ctx context.Context, method, path string, q url.Values, rd io.Reader, contentType string, hdr http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, q), rd)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if rd != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if c.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
	if c.Consistency != "" {
		req.Header.Set("X-Consistency", c.Consistency)
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 300 || resp.StatusCode == http.StatusNotModified {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	e := &Error{Status: resp.StatusCode, Index: -1, RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	var ae api.Error
	if json.Unmarshal(b, &ae) == nil && ae.Code != "" {
		e.Code, e.Message, e.RequestID = ae.Code, ae.Error, ae.RequestID
		if ae.Index != nil {
			e.Index = *ae.Index
		}
	} else {
		e.Code, e.Message = "http_"+strconv.Itoa(resp.StatusCode), strings.TrimSpace(string(b))
	}
	return nil, e
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	if n, err := strconv.ParseInt(strings.TrimSpace(h), 10, 64); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(min(n, 1<<30)) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// call sends a JSON request and decodes a JSON response into out (unless
// nil).
func (c *Client) call(ctx context.Context, method, path string, q url.Values, in, out any, hdr http.Header) (*http.Response, error) {
	resp, err := c.do(ctx, method, path, q, in, "application/json", hdr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode != http.StatusNotModified {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp, fmt.Errorf("minidbgo: decode %s %s response: %w", method, path, err)
		}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp, nil
}

func (o *WriteOptions) header() http.Header {
	h := http.Header{}
	if o == nil {
		return h
	}
	if o.IfMatch != 0 {
		h.Set("If-Match", `"`+strconv.FormatUint(o.IfMatch, 10)+`"`)
	}
	if o.IfNoneMatch {
		h.Set("If-None-Match", "*")
	}
	return h
}

// Health calls GET /api/health.
func (c *Client) Health(ctx context.Context) (api.Health, error) {
	var out api.Health
	_, err := c.call(ctx, http.MethodGet, "/api/health", nil, nil, &out, nil)
	return out, err
}

// Ready calls GET /api/ready; a server that is not ready is an *Error
// with status 503.
func (c *Client) Ready(ctx context.Context) (api.Ready, error) {
	var out api.Ready
	_, err := c.call(ctx, http.MethodGet, "/api/ready", nil, nil, &out, nil)
	return out, err
}

// Metrics calls GET /api/metrics.
func (c *Client) Metrics(ctx context.Context) (api.Metrics, error) {
	var out api.Metrics
	_, err := c.call(ctx, http.MethodGet, "/api/metrics", nil, nil, &out, nil)
	return out, err
}

// PrometheusMetrics calls GET /metrics and returns the text exposition.
func (c *Client) PrometheusMetrics(ctx context.Context) ([]byte, error) {
	resp, err := c.do(ctx, http.MethodGet, "/metrics", nil, nil, "", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// Stats calls GET /api/stats.
func (c *Client) Stats(ctx context.Context) (api.Stats, error) {
	var out api.Stats
	_, err := c.call(ctx, http.MethodGet, "/api/stats", nil, nil, &out, nil)
	return out, err
}

// Collections calls GET /api/_collections.
func (c *Client) Collections(ctx context.Context) ([]api.Collection, error) {
	var out []api.Collection
	_, err := c.call(ctx, http.MethodGet, "/api/_collections", nil, nil, &out, nil)
	return out, err
}

// CreateCollection calls POST /api/_collections: creates the empty
// collection name and returns its description. Creating one that exists
// changes nothing and is no error; a name the server refuses is an Error
// with code invalid_name.
func (c *Client) CreateCollection(ctx context.Context, name string) (api.Collection, error) {
	var out api.Collection
	_, err := c.call(ctx, http.MethodPost, "/api/_collections", nil, api.CreateCollectionRequest{Name: name}, &out, nil)
	return out, err
}

// Whoami calls GET /api/_whoami: the scope of the client's API key and
// whether the server requires one.
func (c *Client) Whoami(ctx context.Context) (api.Whoami, error) {
	var out api.Whoami
	_, err := c.call(ctx, http.MethodGet, "/api/_whoami", nil, nil, &out, nil)
	return out, err
}

// Compact calls POST /api/_compact: the compaction runs in the
// background ("started", or "running" when one already was).
func (c *Client) Compact(ctx context.Context) (api.CompactStatus, error) {
	var out api.CompactStatus
	_, err := c.call(ctx, http.MethodPost, "/api/_compact", nil, nil, &out, nil)
	return out, err
}

// GC calls POST /api/debug/gc.
func (c *Client) GC(ctx context.Context) (api.GCResult, error) {
	var out api.GCResult
	_, err := c.call(ctx, http.MethodPost, "/api/debug/gc", nil, nil, &out, nil)
	return out, err
}

// Insert calls POST /api/{col}: stores doc (JSON bytes or any value to
// encode), replacing any document with its _id. opts may be nil.
func (c *Client) Insert(ctx context.Context, col string, doc any, opts *WriteOptions) (api.WriteResult, error) {
	var q url.Values
	if opts != nil && opts.InsertOnly {
		q = url.Values{"upsert": {"false"}}
	}
	var out api.WriteResult
	_, err := c.call(ctx, http.MethodPost, colPath(col), q, doc, &out, opts.header())
	return out, err
}

// Get calls GET /api/{col}/{id}, decodes the document into v (a pointer,
// as for json.Unmarshal; a *json.RawMessage receives the bytes as they
// are; nil discards them) and returns its revision.
func (c *Client) Get(ctx context.Context, col, id string, v any) (uint64, error) {
	resp, err := c.do(ctx, http.MethodGet, docPath(col, id), nil, nil, "", nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	rev, _ := strconv.ParseUint(strings.Trim(resp.Header.Get("ETag"), `"`), 10, 64)
	switch out := v.(type) {
	case nil:
	case *json.RawMessage:
		*out = json.RawMessage(bytes.TrimSpace(b))
	default:
		if err := json.Unmarshal(b, v); err != nil {
			return rev, fmt.Errorf("minidbgo: decode %s/%s: %w", col, id, err)
		}
	}
	return rev, nil
}

// Put calls PUT /api/{col}/{id}: stores doc under id (an upsert).
func (c *Client) Put(ctx context.Context, col, id string, doc any, opts *WriteOptions) (api.WriteResult, error) {
	var out api.WriteResult
	_, err := c.call(ctx, http.MethodPut, docPath(col, id), nil, doc, &out, opts.header())
	return out, err
}

// Patch calls PATCH /api/{col}/{id} with an update document
// ({"$inc": {"n": 1}}) or a JSON merge patch (a body without operators).
func (c *Client) Patch(ctx context.Context, col, id string, update any, opts *WriteOptions) (api.WriteResult, error) {
	var q url.Values
	if opts != nil && opts.Upsert {
		q = url.Values{"upsert": {"true"}}
	}
	var out api.WriteResult
	_, err := c.call(ctx, http.MethodPatch, docPath(col, id), q, update, &out, opts.header())
	return out, err
}

// Delete calls DELETE /api/{col}/{id}.
func (c *Client) Delete(ctx context.Context, col, id string, opts *WriteOptions) error {
	_, err := c.call(ctx, http.MethodDelete, docPath(col, id), nil, nil, nil, opts.header())
	return err
}

// InsertMany calls POST /api/{col}/_insertMany with docs, a value that
// encodes to a JSON array (e.g. []Product or []json.RawMessage): up to
// the server's batch limit of documents, stored atomically.
func (c *Client) InsertMany(ctx context.Context, col string, docs any) (api.InsertManyResult, error) {
	var out api.InsertManyResult
	_, err := c.call(ctx, http.MethodPost, colPath(col, "_insertMany"), nil, docs, &out, nil)
	return out, err
}

// InsertNew calls POST /api/{col}/_insertMany?upsert=false: like
// InsertMany, but an existing _id fails the whole batch with duplicate_key.
func (c *Client) InsertNew(ctx context.Context, col string, docs any) (api.InsertManyResult, error) {
	var out api.InsertManyResult
	_, err := c.call(ctx, http.MethodPost, colPath(col, "_insertMany"), url.Values{"upsert": {"false"}}, docs, &out, nil)
	return out, err
}

// Search calls POST /api/{col}/_search with filter as the body. It returns
// the documents and the cursor of the next page ("" on the last). The
// next page is the same call with opts.Cursor set (or a nil filter and
// only the cursor in opts).
func (c *Client) Search(ctx context.Context, col string, filter any, opts SearchOptions) ([]json.RawMessage, string, error) {
	q := url.Values{}
	if opts.Limit != 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.Skip != 0 {
		q.Set("skip", strconv.Itoa(opts.Skip))
	}
	if opts.Sort != "" {
		q.Set("sort", opts.Sort)
	}
	if opts.Fields != "" {
		q.Set("fields", opts.Fields)
	}
	if opts.Cursor != "" {
		q.Set("cursor", opts.Cursor)
	}
	var out []json.RawMessage
	resp, err := c.call(ctx, http.MethodPost, colPath(col, "_search"), q, filter, &out, nil)
	if err != nil {
		return nil, "", err
	}
	return out, resp.Header.Get("X-Next-Cursor"), nil
}

// Find calls POST /api/{col}/_find and returns one page. To page, call
// it again with Query{Cursor: res.Cursor} (the cursor carries its query
// and page size) until res.Cursor is empty, or use Documents.
func (c *Client) Find(ctx context.Context, col string, q Query) (api.FindResult, error) {
	var out api.FindResult
	req, err := q.request()
	if err != nil {
		return out, err
	}
	_, err = c.call(ctx, http.MethodPost, colPath(col, "_find"), nil, req, &out, nil)
	return out, err
}

// Documents runs q with _find and yields every document of every page,
// fetching the next page when the loop reaches the end of one (q.Limit is
// then the page size, the server's default when 0). An error is yielded
// once, with a nil document, and ends the iteration; so does breaking
// out of the loop.
//
//	for doc, err := range c.Documents(ctx, "products", client.Query{Filter: filter}) {
//		if err != nil { return err }
//		...
//	}
func (c *Client) Documents(ctx context.Context, col string, q Query) iter.Seq2[json.RawMessage, error] {
	return allDocs(func(cursor string) (api.FindResult, error) {
		if cursor != "" {
			return c.Find(ctx, col, Query{Cursor: cursor})
		}
		return c.Find(ctx, col, q)
	})
}

// allDocs yields every document of every page that page fetches: the
// first with cursor "", each next one with the cursor of the one before,
// until a page has no cursor. An error is yielded once, with a nil
// document, and ends the iteration.
func allDocs(page func(cursor string) (api.FindResult, error)) iter.Seq2[json.RawMessage, error] {
	return func(yield func(json.RawMessage, error) bool) {
		cursor := ""
		for {
			p, err := page(cursor)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, d := range p.Docs {
				if !yield(d, nil) {
					return
				}
			}
			if p.Cursor == "" {
				return
			}
			cursor = p.Cursor
		}
	}
}

// Explain calls POST /api/{col}/_explain.
func (c *Client) Explain(ctx context.Context, col string, q Query) (api.Explanation, error) {
	var out api.Explanation
	req, err := q.request()
	if err != nil {
		return out, err
	}
	_, err = c.call(ctx, http.MethodPost, colPath(col, "_explain"), nil, req, &out, nil)
	return out, err
}

// Count calls POST /api/{col}/_count; a nil filter counts every document.
func (c *Client) Count(ctx context.Context, col string, filter any) (int64, error) {
	f, err := rawJSON(filter)
	if err != nil {
		return 0, err
	}
	var out api.CountResult
	_, err = c.call(ctx, http.MethodPost, colPath(col, "_count"), nil, api.CountRequest{Filter: f}, &out, nil)
	return out.Count, err
}

// Distinct calls POST /api/{col}/_distinct and returns the distinct values
// of the dot path field in the documents matching filter (nil: all), in
// sort order.
func (c *Client) Distinct(ctx context.Context, col, field string, filter any) ([]json.RawMessage, error) {
	f, err := rawJSON(filter)
	if err != nil {
		return nil, err
	}
	var out api.DistinctResult
	_, err = c.call(ctx, http.MethodPost, colPath(col, "_distinct"), nil, api.DistinctRequest{Field: field, Filter: f}, &out, nil)
	return out.Values, err
}

// UpdateMany calls POST /api/{col}/_update: applies update (operators,
// e.g. {"$inc": {"n": 1}}) to every document matching filter ({} for all).
func (c *Client) UpdateMany(ctx context.Context, col string, filter, update any) (api.UpdateResult, error) {
	return c.updateMany(ctx, col, filter, update, false)
}

// UpsertMany calls POST /api/{col}/_update with "upsert": true: when no
// document matches, one is created and its _id is UpsertedID.
func (c *Client) UpsertMany(ctx context.Context, col string, filter, update any) (api.UpdateResult, error) {
	return c.updateMany(ctx, col, filter, update, true)
}

func (c *Client) updateMany(ctx context.Context, col string, filter, update any, upsert bool) (api.UpdateResult, error) {
	var out api.UpdateResult
	f, err := rawJSON(filter)
	if err != nil {
		return out, err
	}
	u, err := rawJSON(update)
	if err != nil {
		return out, err
	}
	_, err = c.call(ctx, http.MethodPost, colPath(col, "_update"), nil, api.UpdateRequest{Filter: f, Update: u, Upsert: upsert}, &out, nil)
	return out, err
}

// DeleteMany calls POST /api/{col}/_delete; filter {} deletes every
// document.
func (c *Client) DeleteMany(ctx context.Context, col string, filter any) (int64, error) {
	f, err := rawJSON(filter)
	if err != nil {
		return 0, err
	}
	var out api.DeleteManyResult
	_, err = c.call(ctx, http.MethodPost, colPath(col, "_delete"), nil, api.DeleteManyRequest{Filter: f}, &out, nil)
	return out.Deleted, err
}

// Indexes calls GET /api/{col}/_indexes.
func (c *Client) Indexes(ctx context.Context, col string) ([]api.Index, error) {
	var out []api.Index
	_, err := c.call(ctx, http.MethodGet, colPath(col, "_indexes"), nil, nil, &out, nil)
	return out, err
}

// CreateIndex calls POST /api/{col}/_indexes and returns the index, built
// — or, when an identical index is still building, at once with Building
// and Progress set.
func (c *Client) CreateIndex(ctx context.Context, col string, req api.IndexRequest) (api.Index, error) {
	var out api.Index
	_, err := c.call(ctx, http.MethodPost, colPath(col, "_indexes"), nil, req, &out, nil)
	return out, err
}

// DropIndex calls DELETE /api/{col}/_indexes/{name}.
func (c *Client) DropIndex(ctx context.Context, col, name string) error {
	_, err := c.call(ctx, http.MethodDelete, colPath(col, "_indexes", name), nil, nil, nil, nil)
	return err
}

// Collection calls GET /api/{col}.
func (c *Client) Collection(ctx context.Context, col string) (api.Collection, error) {
	var out api.Collection
	_, err := c.call(ctx, http.MethodGet, colPath(col), nil, nil, &out, nil)
	return out, err
}

// DropCollection calls DELETE /api/{col}.
func (c *Client) DropCollection(ctx context.Context, col string) error {
	_, err := c.call(ctx, http.MethodDelete, colPath(col), nil, nil, nil, nil)
	return err
}

// stream copies a streamed response body into w.
func (c *Client) stream(ctx context.Context, path string, w io.Writer) (int64, error) {
	resp, err := c.do(ctx, http.MethodGet, path, nil, nil, "", nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("minidbgo: %s cut short after %d bytes: %w", path, n, err)
	}
	return n, nil
}

// Export calls GET /api/{col}/_export, copying the NDJSON into w, and
// returns the bytes copied. A response the server cut short is an error.
func (c *Client) Export(ctx context.Context, col string, w io.Writer) (int64, error) {
	return c.stream(ctx, colPath(col, "_export"), w)
}

// Import calls POST /api/{col}/_import with NDJSON documents from r.
func (c *Client) Import(ctx context.Context, col string, r io.Reader) (api.ImportResult, error) {
	var out api.ImportResult
	resp, err := c.do(ctx, http.MethodPost, colPath(col, "_import"), nil, r, "application/x-ndjson", nil)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

// Dump calls GET /api/dumpDB, copying the NDJSON into w, and returns the
// bytes copied. A dump the server cut short is an error.
func (c *Client) Dump(ctx context.Context, w io.Writer) (int64, error) {
	return c.stream(ctx, "/api/dumpDB", w)
}

// BackupOptions configure Client.Backup. The zero value asks for a
// zstd-compressed archive.
type BackupOptions struct {
	// Uncompressed asks for a plain tar (compress=none).
	Uncompressed bool
}

// Backup calls GET /api/backup (admin), copying the physical backup
// archive into w as it streams, and returns the bytes copied. The archive
// is what `minidbgo restore --from FILE --dir D` restores offline; a
// backup the server cut short is an error here, and a truncated archive
// also fails restore's checks.
func (c *Client) Backup(ctx context.Context, w io.Writer, opts *BackupOptions) (int64, error) {
	q := url.Values{}
	if opts != nil && opts.Uncompressed {
		q.Set("compress", "none")
	}
	resp, err := c.do(ctx, http.MethodGet, "/api/backup", q, nil, "", nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("minidbgo: /api/backup cut short after %d bytes: %w", n, err)
	}
	return n, nil
}

// Restore calls POST /api/restoreDB with what Dump wrote.
func (c *Client) Restore(ctx context.Context, r io.Reader) (api.DumpStats, error) {
	var out api.DumpStats
	resp, err := c.do(ctx, http.MethodPost, "/api/restoreDB", nil, r, "application/x-ndjson", nil)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	return out, json.NewDecoder(resp.Body).Decode(&out)
}
