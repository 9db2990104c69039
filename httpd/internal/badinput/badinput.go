// Package badinput is the bad-input table of RELIABILITY.md §4 (rows
// 1–31, the server's) plus the rows added since, and the checks of an
// answer, so that one table runs both against the handler in process
// (httpd/badinput_test.go) and against the built minidbgo-server binary
// (httpd/e2etest/badinput_test.go).
//
// Every row is one malformed request (or a few, for the rows that need
// several or a raw connection). A Runner sends it and checks the status,
// the JSON error body {"error", "status", "code", "request_id"}, the
// headers a status promises (Allow on 405, WWW-Authenticate on 401,
// Retry-After on 429), a database unchanged (State before and after) and
// a server still healthy.
//
// The package has no test dependencies: checks return errors.
package badinput

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// Target is a server under test, reached over HTTP.
type Target struct {
	// BaseURL is the server's root, such as "http://127.0.0.1:40887".
	BaseURL string
	// Client sends the requests; nil means http.DefaultClient.
	Client *http.Client
	// Key, when set, is sent as a bearer token by the requests the package
	// makes for itself (Seed, State), never by the rows, whose headers say
	// what they send.
	Key string
}

// Response is a finished HTTP exchange.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// String shows the status and the start of the body, for messages.
func (r Response) String() string {
	b := r.Body
	if len(b) > 300 {
		b = append(b[:300:300], "…"...)
	}
	return fmt.Sprintf("%d %s", r.Status, bytes.TrimSpace(b))
}

// Do sends a request and reads the whole answer. A body (and
// Content-Type: application/json) is sent with POST, PUT and PATCH, and
// with any method when body is not empty. hdr holds header name, value
// pairs applied after that: an empty value deletes the header.
func (tg *Target) Do(method, path, body string, hdr ...string) (Response, error) {
	var rd io.Reader
	if body != "" || method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, tg.BaseURL+path, rd)
	if err != nil {
		return Response{}, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	hc := tg.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// own sends a request of the package's own (seeding, state), with Key.
func (tg *Target) own(method, path, body string, want int) (Response, error) {
	var hdr []string
	if tg.Key != "" {
		hdr = []string{"Authorization", "Bearer " + tg.Key}
	}
	r, err := tg.Do(method, path, body, hdr...)
	if err != nil {
		return r, err
	}
	if r.Status != want {
		return r, fmt.Errorf("%s %s: want %d, got %s", method, path, want, r)
	}
	return r, nil
}

// host returns the target's host:port, for raw connections.
func (tg *Target) host() (string, error) {
	u, err := url.Parse(tg.BaseURL)
	if err != nil {
		return "", err
	}
	return u.Host, nil
}

// State fingerprints a database: Dump is the hex SHA-256 of a full dump
// (DumpHash) and LastSeq the engine's last sequence number, which every
// write advances.
type State struct {
	Dump    string
	LastSeq uint64
}

// String shows the state briefly, for messages.
func (s State) String() string { return fmt.Sprintf("dump %.16s… seq %d", s.Dump, s.LastSeq) }

// State reads the target's state over HTTP: GET /api/dumpDB and the
// last_seq of GET /api/metrics.
func (tg *Target) State() (State, error) {
	d, err := tg.own(http.MethodGet, "/api/dumpDB", "", http.StatusOK)
	if err != nil {
		return State{}, err
	}
	m, err := tg.own(http.MethodGet, "/api/metrics", "", http.StatusOK)
	if err != nil {
		return State{}, err
	}
	var v struct {
		LastSeq *uint64 `json:"last_seq"`
	}
	if err := json.Unmarshal(m.Body, &v); err != nil || v.LastSeq == nil {
		return State{}, fmt.Errorf("GET /api/metrics: no last_seq in %s (%v)", m, err)
	}
	return State{Dump: DumpHash(d.Body), LastSeq: *v.LastSeq}, nil
}

// DumpHash is the hex SHA-256 of a dump without its header line
// ({"dump":1,"seq":N}): the header's seq is the engine's, which moves with
// every write, a rolled-back one too (State.LastSeq tells those).
func DumpHash(dump []byte) string {
	if bytes.HasPrefix(dump, []byte(`{"dump":`)) {
		if i := bytes.IndexByte(dump, '\n'); i >= 0 {
			dump = dump[i+1:]
		}
	}
	sum := sha256.Sum256(dump)
	return hex.EncodeToString(sum[:])
}

// Healthy checks that GET /api/health answers 200 {"status": "ok"}.
func (tg *Target) Healthy() error {
	r, err := tg.Do(http.MethodGet, "/api/health", "")
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	var h api.Health
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &h) != nil || h.Status != "ok" {
		return fmt.Errorf("health: %s", r)
	}
	return nil
}

// Seed stores the documents the rows refer to: products p1–p4 and an
// index by_price on products. It returns p1's ETag from before p1 was
// rewritten, a stale ETag for rows 30.
func Seed(tg *Target) (staleETag string, err error) {
	for _, d := range []string{
		`{"_id":"p1","name":"lamp","category":"home","price":20}`,
		`{"_id":"p2","name":"desk","category":"home","price":150}`,
		`{"_id":"p3","name":"pen","category":"office","price":2}`,
		`{"_id":"p4","name":"chair","category":"office","price":90}`,
	} {
		if _, err := tg.own(http.MethodPost, "/api/products", d, http.StatusCreated); err != nil {
			return "", err
		}
	}
	if _, err := tg.own(http.MethodPost, "/api/products/_indexes", `{"fields":["price"],"name":"by_price"}`, http.StatusCreated); err != nil {
		return "", err
	}
	r, err := tg.own(http.MethodGet, "/api/products/p1", "", http.StatusOK)
	if err != nil {
		return "", err
	}
	staleETag = r.Header.Get("ETag")
	if staleETag == "" {
		return "", errors.New("GET /api/products/p1: no ETag")
	}
	if _, err := tg.own(http.MethodPut, "/api/products/p1", `{"name":"lamp","price":21}`, http.StatusOK); err != nil {
		return "", err
	}
	return staleETag, nil
}

// errorFields are the keys an error body may have.
var errorFields = []string{"error", "status", "code", "request_id", "index"}

// CheckError checks a JSON error answer: the status; Content-Type
// application/json; a body {"error", "status", "code", "request_id"} (and
// "index" for batch and stream errors) and nothing else; the code, unless
// code is empty; a request id equal to the X-Request-ID header; no stack
// trace; and the header each status promises: Allow on 405,
// WWW-Authenticate: Bearer on 401, Retry-After in seconds on 429 and 503.
func CheckError(r Response, status int, code string) (api.Error, error) {
	var e api.Error
	if r.Status != status {
		return e, fmt.Errorf("status: want %d, got %s", status, r)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		return e, fmt.Errorf("Content-Type %q, want application/json: %s", ct, r)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &fields); err != nil {
		return e, fmt.Errorf("the body is not a JSON object: %v: %s", err, r)
	}
	for k := range fields {
		if !slices.Contains(errorFields, k) {
			return e, fmt.Errorf("unexpected field %q in the error body: %s", k, r)
		}
	}
	if err := json.Unmarshal(r.Body, &e); err != nil {
		return e, fmt.Errorf("error body: %v: %s", err, r)
	}
	switch {
	case e.Status != status:
		return e, fmt.Errorf("body status %d, want %d: %s", e.Status, status, r)
	case e.Error == "":
		return e, fmt.Errorf("empty error message: %s", r)
	case e.Code == "":
		return e, fmt.Errorf("empty code: %s", r)
	case code != "" && e.Code != code:
		return e, fmt.Errorf("code %q, want %q: %s", e.Code, code, r)
	case e.RequestID == "":
		return e, fmt.Errorf("empty request_id: %s", r)
	case e.RequestID != r.Header.Get("X-Request-ID"):
		return e, fmt.Errorf("request_id %q differs from X-Request-ID %q", e.RequestID, r.Header.Get("X-Request-ID"))
	case bytes.Contains(r.Body, []byte("goroutine ")):
		return e, fmt.Errorf("a stack trace in the answer: %s", r)
	}
	switch status {
	case http.StatusMethodNotAllowed:
		if r.Header.Get("Allow") == "" {
			return e, fmt.Errorf("405 without Allow: %s", r)
		}
	case http.StatusUnauthorized:
		if got := r.Header.Get("WWW-Authenticate"); got != `Bearer realm="minidbgo"` {
			return e, fmt.Errorf(`401 with WWW-Authenticate %q, want Bearer realm="minidbgo"`, got)
		}
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if n, err := strconv.Atoi(r.Header.Get("Retry-After")); (err != nil || n < 1) && e.Code != "unavailable" {
			return e, fmt.Errorf("%d with Retry-After %q, want whole seconds", status, r.Header.Get("Retry-After"))
		}
	}
	return e, nil
}

// Row is one bad input.
type Row struct {
	// N is the row of RELIABILITY.md §4; 0 for a row added here.
	N    int
	Name string

	// The request, sent with Target.Do.
	Method, Path, Body string
	Header             []string

	// Status and Code are the expected answer, checked by CheckError
	// (Code "" accepts any code).
	Status int
	Code   string
	// Also, when set, checks more of the answer after CheckError.
	Also func(Response) error
	// Check, when set, replaces CheckError (rows not answered with one
	// known error).
	Check func(Response) error

	// Exchange, when set, replaces the request and its checks: rows that
	// take several requests or a raw connection. It returns every answer
	// it got and the first failed check.
	Exchange func(*Target) ([]Response, error)

	// Writes marks a valid request that changes the database (row 10):
	// the state is not compared.
	Writes bool
	// RollsBack marks a request that writes and undoes its writes (a
	// failed index build): the dump must be unchanged, the sequence
	// number may advance.
	RollsBack bool
}

// Title names the row for a subtest: "07 65 nested objects", or
// "new …" for a row added here.
func (row Row) Title() string {
	if row.N == 0 {
		return "new " + row.Name
	}
	return fmt.Sprintf("%02d %s", row.N, row.Name)
}

func (row Row) exchange(tg *Target) ([]Response, error) {
	if row.Exchange != nil {
		return row.Exchange(tg)
	}
	r, err := tg.Do(row.Method, row.Path, row.Body, row.Header...)
	if err != nil {
		return nil, err
	}
	rs := []Response{r}
	if row.Check != nil {
		return rs, row.Check(r)
	}
	if _, err := CheckError(r, row.Status, row.Code); err != nil {
		return rs, err
	}
	if row.Also != nil {
		return rs, row.Also(r)
	}
	return rs, nil
}

// Runner runs rows against a target.
type Runner struct {
	Target *Target
	// State fingerprints the database; nil means Target.State.
	State func() (State, error)
	// Healthy checks the server after each row; nil means Target.Healthy.
	Healthy func() error
}

// Result is what running one row found.
type Result struct {
	// Responses are every answer the row got.
	Responses []Response
	// StateChanged reports a database changed by a row that must not
	// change it.
	StateChanged bool
	// Err is the row's failures, nil when it passed.
	Err error
}

// ServerErrors counts the answers with a 5xx status.
func (res Result) ServerErrors() int {
	n := 0
	for _, r := range res.Responses {
		if r.Status >= 500 {
			n++
		}
	}
	return n
}

// Run sends a row and checks the answer, the state before and after and
// the server's health.
func (rn *Runner) Run(row Row) Result {
	state, healthy := rn.State, rn.Healthy
	if state == nil {
		state = rn.Target.State
	}
	if healthy == nil {
		healthy = rn.Target.Healthy
	}
	var res Result
	before, err := state()
	if err != nil {
		res.Err = fmt.Errorf("state before the row: %w", err)
		return res
	}
	var errs []error
	res.Responses, err = row.exchange(rn.Target)
	if err != nil {
		errs = append(errs, err)
	}
	after, err := state()
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("state after the row: %w", err))
	case row.Writes:
	case before.Dump != after.Dump || (!row.RollsBack && before.LastSeq != after.LastSeq):
		res.StateChanged = true
		errs = append(errs, fmt.Errorf("the database changed: before %v, after %v", before, after))
	}
	if err := healthy(); err != nil {
		errs = append(errs, fmt.Errorf("unhealthy after the row: %w", err))
	}
	res.Err = errors.Join(errs...)
	return res
}

// message checks that the error message contains s.
func message(s string) func(Response) error {
	return func(r Response) error {
		var e api.Error
		_ = json.Unmarshal(r.Body, &e)
		if !strings.Contains(e.Error, s) {
			return fmt.Errorf("error message %q does not contain %q", e.Error, s)
		}
		return nil
	}
}

// index checks the error body's index.
func index(n int) func(Response) error {
	return func(r Response) error {
		var e api.Error
		_ = json.Unmarshal(r.Body, &e)
		if e.Index == nil || *e.Index != n {
			return fmt.Errorf("want index %d: %s", n, r)
		}
		return nil
	}
}

// header checks that the answer has header name with value.
func header(name, value string) func(Response) error {
	return func(r Response) error {
		if got := r.Header.Get(name); got != value {
			return fmt.Errorf("header %s: %q, want %q", name, got, value)
		}
		return nil
	}
}

// status checks the status only (answers net/http writes itself).
func status(want int) func(Response) error {
	return func(r Response) error {
		if r.Status != want {
			return fmt.Errorf("status: want %d, got %s", want, r)
		}
		return nil
	}
}
