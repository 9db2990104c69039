// Package client is a Go client for MiniDBGo's REST API (package httpd),
// used by the shell and the load tester. Every route has a typed method;
// every error response becomes a *Error with the server's status, code
// and message.
//
//	c := client.New("http://localhost:6866")
//	c.APIKey = os.Getenv("MINIDBGO_API_KEY") // optional
//	res, err := c.Insert(ctx, "products", map[string]any{"_id": "p1", "name": "test"})
//	doc, rev, err := c.Get(ctx, "products", "p1")
//	var e *client.Error
//	if errors.As(err, &e) && e.Status == http.StatusNotFound { ... }
//
// A Client is safe for concurrent use.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/minidbgo/minidbgo/httpd/api"
)

// Client talks to one server.
type Client struct {
	// BaseURL is the server's URL, e.g. "http://localhost:6866".
	BaseURL string
	// APIKey, when set, is sent as Authorization: Bearer.
	APIKey string
	// HTTPClient sends the requests. Default: http.DefaultClient.
	HTTPClient *http.Client
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
	// RetryAfter is the Retry-After header of a 429 or 503, or "".
	RetryAfter string
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

// body encodes a request body: []byte, json.RawMessage and string are
// sent as they are, nil as nothing, anything else as JSON.
func body(v any) (io.Reader, error) {
	switch b := v.(type) {
	case nil:
		return nil, nil
	case []byte:
		return bytes.NewReader(b), nil
	case json.RawMessage:
		return bytes.NewReader(b), nil
	case string:
		return strings.NewReader(b), nil
	case io.Reader:
		return b, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("minidbgo: encode request: %w", err)
	}
	return bytes.NewReader(b), nil
}

// do sends a request and returns the response when its status is 2xx (or
// 304), else the server's *Error.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in any, contentType string, hdr http.Header) (*http.Response, error) {
	rd, err := body(in)
	if err != nil {
		return nil, err
	}
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
	e := &Error{Status: resp.StatusCode, Index: -1, RetryAfter: resp.Header.Get("Retry-After")}
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

// Get calls GET /api/{col}/{id} and returns the document and its revision.
func (c *Client) Get(ctx context.Context, col, id string) (json.RawMessage, uint64, error) {
	resp, err := c.do(ctx, http.MethodGet, colPath(col, id), nil, nil, "", nil)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, err
	}
	rev, _ := strconv.ParseUint(strings.Trim(resp.Header.Get("ETag"), `"`), 10, 64)
	return json.RawMessage(bytes.TrimSpace(b)), rev, nil
}

// Put calls PUT /api/{col}/{id}: stores doc under id (an upsert).
func (c *Client) Put(ctx context.Context, col, id string, doc any, opts *WriteOptions) (api.WriteResult, error) {
	var out api.WriteResult
	_, err := c.call(ctx, http.MethodPut, colPath(col, id), nil, doc, &out, opts.header())
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
	_, err := c.call(ctx, http.MethodPatch, colPath(col, id), q, update, &out, opts.header())
	return out, err
}

// Delete calls DELETE /api/{col}/{id}.
func (c *Client) Delete(ctx context.Context, col, id string, opts *WriteOptions) error {
	_, err := c.call(ctx, http.MethodDelete, colPath(col, id), nil, nil, nil, opts.header())
	return err
}

// InsertMany calls POST /api/{col}/_insertMany: up to the server's batch
// limit of documents, stored atomically.
func (c *Client) InsertMany(ctx context.Context, col string, docs []json.RawMessage) (api.InsertManyResult, error) {
	var out api.InsertManyResult
	_, err := c.call(ctx, http.MethodPost, colPath(col, "_insertMany"), nil, docs, &out, nil)
	return out, err
}

// InsertNew calls POST /api/{col}/_insertMany?upsert=false: like
// InsertMany, but an existing _id fails the whole batch with duplicate_key.
func (c *Client) InsertNew(ctx context.Context, col string, docs []json.RawMessage) (api.InsertManyResult, error) {
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

// Find calls POST /api/{col}/_find. To page, call it again with
// api.FindRequest{Cursor: res.Cursor} (the cursor carries its query and
// page size) until res.Cursor is empty.
func (c *Client) Find(ctx context.Context, col string, req api.FindRequest) (api.FindResult, error) {
	var out api.FindResult
	_, err := c.call(ctx, http.MethodPost, colPath(col, "_find"), nil, req, &out, nil)
	return out, err
}

// Explain calls POST /api/{col}/_explain.
func (c *Client) Explain(ctx context.Context, col string, req api.FindRequest) (api.Explanation, error) {
	var out api.Explanation
	_, err := c.call(ctx, http.MethodPost, colPath(col, "_explain"), nil, req, &out, nil)
	return out, err
}

// Count calls POST /api/{col}/_count; a nil filter counts every document.
func (c *Client) Count(ctx context.Context, col string, filter json.RawMessage) (int64, error) {
	var out api.CountResult
	_, err := c.call(ctx, http.MethodPost, colPath(col, "_count"), nil, api.CountRequest{Filter: filter}, &out, nil)
	return out.Count, err
}

// Distinct calls POST /api/{col}/_distinct and returns the distinct values
// of the dot path field in the documents matching filter (nil: all), in
// sort order.
func (c *Client) Distinct(ctx context.Context, col, field string, filter json.RawMessage) ([]json.RawMessage, error) {
	var out api.DistinctResult
	_, err := c.call(ctx, http.MethodPost, colPath(col, "_distinct"), nil, api.DistinctRequest{Field: field, Filter: filter}, &out, nil)
	return out.Values, err
}

// UpdateMany calls POST /api/{col}/_update.
func (c *Client) UpdateMany(ctx context.Context, col string, filter, update json.RawMessage) (api.UpdateResult, error) {
	var out api.UpdateResult
	_, err := c.call(ctx, http.MethodPost, colPath(col, "_update"), nil, api.UpdateRequest{Filter: filter, Update: update}, &out, nil)
	return out, err
}

// UpsertMany calls POST /api/{col}/_update with "upsert": true: when no
// document matches, one is created and its _id is UpsertedID.
func (c *Client) UpsertMany(ctx context.Context, col string, filter, update json.RawMessage) (api.UpdateResult, error) {
	var out api.UpdateResult
	_, err := c.call(ctx, http.MethodPost, colPath(col, "_update"), nil, api.UpdateRequest{Filter: filter, Update: update, Upsert: true}, &out, nil)
	return out, err
}

// DeleteMany calls POST /api/{col}/_delete; filter {} deletes every
// document.
func (c *Client) DeleteMany(ctx context.Context, col string, filter json.RawMessage) (int64, error) {
	var out api.DeleteManyResult
	_, err := c.call(ctx, http.MethodPost, colPath(col, "_delete"), nil, api.DeleteManyRequest{Filter: filter}, &out, nil)
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
